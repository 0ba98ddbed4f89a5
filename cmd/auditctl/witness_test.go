package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/chain/witness"
	"github.com/trailmark/audit/internal/tlogtest"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storetest"
)

// startWitness runs auditctl witness until the test ends, and returns the
// URL it listens on and its verifier key.
func startWitness(t *testing.T, args ...string) (url, vkey string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"witness", "-addr", "127.0.0.1:0"}, args...), &out, &errOut) }()
	re := regexp.MustCompile(`listening on (http://\S+)/add-checkpoint; its verifier key:\n(\S+)\n`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url, vkey = m[1], m[2]
			break
		}
		select {
		case code := <-done:
			t.Fatalf("witness exited %d: %s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("witness did not start: %q %q", out.String(), errOut.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("witness exited %d: %s", code, errOut.String())
		}
	}
	t.Cleanup(stop)
	return url, vkey, stop
}

// TestWitnessCommand runs auditctl witness over loopback HTTP: it cosigns
// a log that only grows, refuses a rewritten history signed with the
// log's own key, and after a restart still remembers what it cosigned.
func TestWitnessCommand(t *testing.T) {
	dir := t.TempDir()
	keyFile, state := filepath.Join(dir, "witness.json"), filepath.Join(dir, "witness-state")
	code, out, errOut := ctl(t, "witness-keygen", "-name", "example.com/witness", "-o", keyFile)
	if code != 0 {
		t.Fatalf("witness-keygen: exit %d: %s", code, errOut)
	}
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v; want mode 0600", fi, err)
	}
	if code, _, errOut := ctl(t, "witness-keygen", "-name", "example.com/witness", "-o", keyFile); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("witness-keygen over an existing file: exit %d: %s", code, errOut)
	}
	keygenVkey := strings.TrimSpace(out)

	const origin = "example.com/audit-log"
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	logSigner, err := checkpoint.NewSigner(origin, priv)
	if err != nil {
		t.Fatal(err)
	}
	logVkey, err := checkpoint.VerifierKey(origin, pub)
	if err != nil {
		t.Fatal(err)
	}
	logVerifier, err := note.NewVerifier(logVkey)
	if err != nil {
		t.Fatal(err)
	}

	url, vkey, stop := startWitness(t, "-key", keyFile, "-state", state, "-log", logVkey)
	if vkey != keygenVkey {
		t.Errorf("the witness's verifier key %q is not the one keygen printed, %q", vkey, keygenVkey)
	}
	wv, err := witness.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	client, err := witness.NewClient(url, wv, nil)
	if err != nil {
		t.Fatal(err)
	}
	tree := &tlogtest.Tree{}
	sign := func(tr *tlogtest.Tree) []byte {
		t.Helper()
		msg, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: origin, Size: tr.Size(), Hash: tr.Root(tr.Size())}, logSigner)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	ctx := context.Background()
	var size int64
	for _, n := range []int{5, 20, 300} {
		for range n {
			tree.Append([]byte("entry"))
		}
		msg := sign(tree)
		lines, wsize, err := client.Cosign(ctx, msg, size, prover(tree))
		if err != nil {
			t.Fatalf("Cosign at %d: %v", tree.Size(), err)
		}
		size = wsize
		if _, err := witness.VerifyCosignatures(append(msg, lines...), origin, logVerifier, []note.Verifier{wv}, 1); err != nil {
			t.Fatalf("cosigned checkpoint at %d: %v", tree.Size(), err)
		}
	}

	// The operator, holding the log's key, rewrites one entry and signs
	// the new history at a larger size: no consistency proof exists.
	forked := &tlogtest.Tree{}
	for i := range tree.Size() + 10 {
		e := []byte("entry")
		if i == 7 {
			e = []byte("rewritten")
		}
		forked.Append(e)
	}
	if _, _, err := client.Cosign(ctx, sign(forked), size, prover(forked)); !errors.Is(err, witness.ErrInconsistent) {
		t.Errorf("rewritten history: %v, want ErrInconsistent", err)
	}

	// Restarted on its state file, it still refuses the fork, and
	// still cosigns the honest log.
	stop()
	url, _, _ = startWitness(t, "-key", keyFile, "-state", state, "-log", logVkey)
	client, err = witness.NewClient(url, wv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.Cosign(ctx, sign(forked), size, prover(forked)); !errors.Is(err, witness.ErrInconsistent) {
		t.Errorf("rewritten history after a restart: %v, want ErrInconsistent", err)
	}
	tree.Append([]byte("entry"))
	if _, _, err := client.Cosign(ctx, sign(tree), size, prover(tree)); err != nil {
		t.Errorf("the honest log after a restart: %v", err)
	}
}

// prover is a witness.ProveFunc over tr.
func prover(tr *tlogtest.Tree) witness.ProveFunc {
	return func(_ context.Context, oldSize, newSize int64) (tlog.TreeProof, error) {
		return tr.ProveTree(newSize, oldSize), nil
	}
}

// TestWitnessCommandRefuses: bad flags and files are refused before the
// witness listens.
func TestWitnessCommandRefuses(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"name":"w","private_key":"c2VjcmV0"}`), 0o600)
	// the seed of one key, the public half of another (found by an
	// outside review: it cosigned what its own vkey does not verify)
	mixed := filepath.Join(dir, "mixed.json")
	a, b := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32)), ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	mk, _ := json.Marshal(witnessKeyFile{Name: "example.com/w", PrivateKey: append(bytes.Clone(a[:32]), b[32:]...)})
	os.WriteFile(mixed, mk, 0o600)
	if _, err := (cli{stderr: io.Discard}).readWitnessKey(mixed); err == nil || !strings.Contains(err.Error(), "public half") {
		t.Errorf("a witness key with another key's public half: %v", err)
	}
	log := "x+00000000+AQ"
	for _, args := range [][]string{
		{"witness"},
		{"witness", "-key", bad, "-state", filepath.Join(dir, "s"), "-log", "not-a-key"},
		{"witness", "-key", mixed, "-state", filepath.Join(dir, "s"), "-log", log},
		{"witness", "-key", filepath.Join(dir, "none.json"), "-state", filepath.Join(dir, "s"), "-log", "x+00000000+AQ"},
		{"witness-keygen", "-o", filepath.Join(dir, "k.json")},
	} {
		code, _, errOut := ctl(t, args...)
		if code != 2 || strings.Contains(errOut, "c2VjcmV0") {
			t.Errorf("%v: exit %d: %s", args, code, errOut)
		}
	}
}

// TestVerifyProofWitnesses: verify-proof --witness requires the
// witnesses' cosignatures on the proof's checkpoint: a proof from a
// Sealer with a witness passes with the witness's key, and fails (exit 1)
// when another witness's cosignature is required.
func TestVerifyProofWitnesses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keyFile, state := filepath.Join(dir, "w.json"), filepath.Join(dir, "w.state")
	code, out, errOut := ctl(t, "witness-keygen", "-name", "w.example.org", "-o", keyFile)
	if code != 0 {
		t.Fatalf("witness-keygen: %s", errOut)
	}
	wvkey := strings.TrimSpace(out)
	keys := keyFile2(t)
	logVkey, err := chain.VerifierKey(chain.DefaultOrigin, keys.SigningKey().Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	url, _, _ := startWitness(t, "-key", keyFile, "-state", state, "-log", logVkey)
	wv, err := witness.NewVerifier(wvkey)
	if err != nil {
		t.Fatal(err)
	}
	client, err := witness.NewClient(url, wv, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := memory.New(nil)
	recs := storetest.Records(0, 5)
	if err := s.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	opts := keys.SealerOptions()
	opts.Witnesses = []*witness.Client{client}
	opts.OnError = func(err error) { t.Error(err) }
	sl, err := chain.NewSealer(s, keys.Current(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.SealOnce(ctx); err != nil {
		t.Fatal(err)
	}
	p, err := chain.Prove(ctx, s, recs[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Get(ctx, recs[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	p.Record = &rec
	b, _ := json.Marshal(p)
	proofFile := filepath.Join(dir, "proof.json")
	os.WriteFile(proofFile, b, 0o600)

	if code, out, errOut := ctl(t, "verify-proof", "-proof", proofFile, "-vkey", logVkey, "-witness", wvkey); code != 0 || !strings.Contains(out, "cosigned by at least 1 of 1 witnesses") {
		t.Errorf("verify-proof with the witness: exit %d: %s%s", code, out, errOut)
	}
	other := mustWitnessKey(t)
	if code, out, _ := ctl(t, "verify-proof", "-proof", proofFile, "-vkey", logVkey, "-witness", wvkey, "-witness", other, "-quorum", "2"); code != 1 || !strings.Contains(out, "FAILED") {
		t.Errorf("verify-proof requiring a witness that did not cosign: exit %d: %s", code, out)
	}
}

// keyFile2 returns a new chain key file.
func keyFile2(t *testing.T) *chain.KeyFile {
	t.Helper()
	var buf bytes.Buffer
	if err := chain.WriteNewKeyFile(&buf, "k1", "s1"); err != nil {
		t.Fatal(err)
	}
	k, err := chain.ReadKeyFile(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// mustWitnessKey returns the verifier key of a witness that cosigns
// nothing.
func mustWitnessKey(t *testing.T) string {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := witness.VerifierKey("other.example.org", pub)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
