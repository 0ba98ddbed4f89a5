package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"github.com/trailmark/audit/chain/checkpoint"
	"golang.org/x/mod/sumdb/note"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/sqlite"
	"github.com/trailmark/audit/storetest"
)

// TestProofCommands: vkey, proof, verify-proof and consistency on an
// SQLite file: a record's proof checks with the public key only; a
// changed record, and a history rewritten after a checkpoint was kept,
// fail with exit status 1.
func TestProofCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.db")
	db := "sqlite:" + path
	if code, _, errOut := ctl(t, "migrate", "-db", db); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	st, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(0, 30)
	if err := st.Append(ctx, recs[:20]...); err != nil {
		t.Fatal(err)
	}
	keys := keyFile(t)
	if code, out, errOut := ctl(t, "seal", "-db", db, "-keys", keys); code != 0 {
		t.Fatalf("seal: exit %d: %s%s", code, out, errOut)
	}
	code, vkey, errOut := ctl(t, "vkey", "-keys", keys)
	if code != 0 || !strings.HasPrefix(vkey, "trailmark/audit+") {
		t.Fatalf("vkey: exit %d: %q %s", code, vkey, errOut)
	}
	vkey = strings.TrimSpace(vkey)
	// the checkpoint a tenant keeps
	kept := filepath.Join(dir, "kept.txt")
	if code, out, errOut := ctl(t, "seal", "-db", db, "-keys", keys, "-tree-checkpoint", kept); code != 0 || !strings.Contains(out, "tree checkpoint of 20 records written") {
		t.Fatalf("seal -tree-checkpoint: exit %d: %s%s", code, out, errOut)
	}
	proof := filepath.Join(dir, "proof.json")
	if code, _, errOut := ctl(t, "proof", "-db", db, "-id", recs[7].ID.String(), "-o", proof); code != 0 {
		t.Fatalf("proof: exit %d: %s", code, errOut)
	}
	if fi, err := os.Stat(proof); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("proof file mode %v, %v; want 0600", fi.Mode(), err)
	}
	if code, out, errOut := ctl(t, "verify-proof", "-proof", proof, "-vkey", vkey); code != 0 || !strings.Contains(out, "proof OK") {
		t.Fatalf("verify-proof: exit %d: %s%s", code, out, errOut)
	}
	// a changed record: the proof no longer holds
	b, _ := os.ReadFile(proof)
	forged := filepath.Join(dir, "forged.json")
	os.WriteFile(forged, []byte(strings.Replace(string(b), `"resource_id": "`, `"resource_id": "x`, 1)), 0o600)
	if code, out, errOut := ctl(t, "verify-proof", "-proof", forged, "-vkey", vkey); code != 1 || !strings.Contains(out, "proof FAILED") {
		t.Fatalf("verify-proof of a changed record: exit %d: %s%s", code, out, errOut)
	}
	// the forged value under the field's name, the sealed one under a
	// name that only encoding/json reads as the same field: refused, in
	// the proof and in a --record file (found by an outside review)
	decoy := strings.Replace(string(b), `"resource_id": `, `"resource_id": "forged", "Resource_ID": `, 1)
	os.WriteFile(forged, []byte(decoy), 0o600)
	if code, out, errOut := ctl(t, "verify-proof", "-proof", forged, "-vkey", vkey); code != 1 || !strings.Contains(out, "proof FAILED") || !strings.Contains(out, "differ only in case") {
		t.Errorf("verify-proof of a proof with resource_id and Resource_ID: exit %d: %s%s", code, out, errOut)
	}
	var whole map[string]json.RawMessage
	if err := json.Unmarshal(b, &whole); err != nil {
		t.Fatal(err)
	}
	recFile := filepath.Join(dir, "record.json")
	os.WriteFile(recFile, []byte(strings.Replace(string(whole["record"]), `"action":`, `"action":"user.delete","ACTION":`, 1)), 0o600)
	if code, out, errOut := ctl(t, "verify-proof", "-proof", proof, "-record", recFile, "-vkey", vkey); code != 1 || !strings.Contains(out, "proof FAILED") {
		t.Errorf("verify-proof --record with action and ACTION: exit %d: %s%s", code, out, errOut)
	}
	// another key: refused
	other := keyFile(t)
	if code, out, errOut := ctl(t, "verify-proof", "-proof", proof, "-keys", other); code != 1 {
		t.Fatalf("verify-proof with another key: exit %d: %s%s", code, out, errOut)
	}
	// the log grows: consistent with the kept checkpoint
	if err := st.Append(ctx, recs[20:]...); err != nil {
		t.Fatal(err)
	}
	st.Close(context.Background())
	if code, out, errOut := ctl(t, "seal", "-db", db, "-keys", keys); code != 0 {
		t.Fatalf("seal: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := ctl(t, "consistency", "-db", db, "-old", kept, "-vkey", vkey); code != 0 || !strings.Contains(out, "consistency OK: the tree of 20 records is a prefix of the tree of 30") {
		t.Fatalf("consistency: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := ctl(t, "consistency", "-db", db, "-from", "20"); code != 0 || !strings.Contains(out, `"format": "trailmark.consistency-proof.v1"`) {
		t.Fatalf("consistency -from: exit %d: %s%s", code, out, errOut)
	}
	// a kept checkpoint of another log (another origin, validly signed
	// by its own key) fails the check, exit 1, as a failed proof does
	otherKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	signer, err := checkpoint.NewSigner("example.com/other-log", otherKey)
	if err != nil {
		t.Fatal(err)
	}
	keptBody, _ := os.ReadFile(kept)
	text, _ := checkpoint.Text(keptBody)
	c, err := checkpoint.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	c.Origin = "example.com/other-log"
	body, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	otherNote, err := note.Sign(&note.Note{Text: string(body)}, signer)
	if err != nil {
		t.Fatal(err)
	}
	otherKept := filepath.Join(dir, "other.txt")
	os.WriteFile(otherKept, otherNote, 0o600)
	if code, out, errOut := ctl(t, "consistency", "-db", db, "-old", otherKept, "-vkey", vkey); code != 1 || !strings.Contains(out, "consistency FAILED") {
		t.Errorf("consistency with another log's checkpoint: exit %d: %s%s", code, out, errOut)
	}
	// A history rewritten by whoever holds every key: a new file, the
	// same keys, record 5 changed, sealed anew. The kept checkpoint
	// catches it.
	path2 := filepath.Join(dir, "rewritten.db")
	db2 := "sqlite:" + path2
	if code, _, errOut := ctl(t, "migrate", "-db", db2); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	st2, err := sqlite.Open(ctx, path2, nil)
	if err != nil {
		t.Fatal(err)
	}
	rewritten := append([]audit.Record(nil), recs...)
	rewritten[5].ResourceID = "rewritten"
	if err := st2.Append(ctx, rewritten...); err != nil {
		t.Fatal(err)
	}
	st2.Close(context.Background())
	if code, out, errOut := ctl(t, "seal", "-db", db2, "-keys", keys); code != 0 {
		t.Fatalf("seal: exit %d: %s%s", code, out, errOut)
	}
	if code, out, errOut := ctl(t, "consistency", "-db", db2, "-old", kept, "-vkey", vkey); code != 1 || !strings.Contains(out, "consistency FAILED") {
		t.Fatalf("consistency of a rewritten history: exit %d: %s%s", code, out, errOut)
	}
}
