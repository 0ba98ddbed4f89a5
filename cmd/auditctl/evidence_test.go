package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit/store/sqlite"
	"github.com/trailmark/audit/storetest"
)

// TestEvidenceCommands: evidence and verify-evidence on an SQLite file:
// a tenant's evidence checks with the public key only, holds no other
// tenant's record, and a changed record or another tenant's check fails
// with exit status 1.
func TestEvidenceCommands(t *testing.T) {
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
	for i := range recs {
		recs[i].TenantID = []string{"org-1", "org-2", "org-3"}[i%3]
	}
	if err := st.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	st.Close(ctx)
	keys := keyFile(t)
	if code, out, errOut := ctl(t, "seal", "-db", db, "-keys", keys); code != 0 {
		t.Fatalf("seal: exit %d: %s%s", code, out, errOut)
	}
	_, vkey, _ := ctl(t, "vkey", "-keys", keys)
	vkey = strings.TrimSpace(vkey)

	ev := filepath.Join(dir, "org-1.ndjson")
	code, _, errOut := ctl(t, "evidence", "-db", db, "-tenant-id", "org-1", "-o", ev)
	if code != 0 || !strings.Contains(errOut, "evidence of 10 record(s) against the checkpoint of 30 records") {
		t.Fatalf("evidence: exit %d: %s", code, errOut)
	}
	if fi, err := os.Stat(ev); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("evidence file mode %v, %v; want 0600", fi.Mode(), err)
	}
	b, _ := os.ReadFile(ev)
	for _, r := range recs {
		if r.TenantID != "org-1" && strings.Contains(string(b), r.ID.String()) {
			t.Errorf("org-1's evidence holds %s's record %s", r.TenantID, r.ID)
		}
	}
	if strings.Contains(string(b), "org-2") || strings.Contains(string(b), "org-3") {
		t.Error("org-1's evidence names another tenant")
	}
	kept := filepath.Join(dir, "kept.txt")
	code, out, errOut := ctl(t, "verify-evidence", "-evidence", ev, "-tenant-id", "org-1", "-vkey", vkey, "-keep", kept)
	if code != 0 || !strings.Contains(out, `evidence OK: 10 record(s) of tenant "org-1", each in the tree of 30 records`) {
		t.Fatalf("verify-evidence: exit %d: %s%s", code, out, errOut)
	}
	// the kept checkpoint serves consistency later
	if code, out, errOut := ctl(t, "consistency", "-db", db, "-old", kept, "-vkey", vkey); code != 0 {
		t.Fatalf("consistency from the kept checkpoint: exit %d: %s%s", code, out, errOut)
	}
	// a range
	since := recs[9].OccurredAt.Format(time.RFC3339Nano)
	if code, _, errOut := ctl(t, "evidence", "-db", db, "-tenant-id", "org-1", "-since", since, "-o", filepath.Join(dir, "r.ndjson")); code != 0 || !strings.Contains(errOut, "evidence of 7 record(s)") {
		t.Fatalf("evidence -since: exit %d: %s", code, errOut)
	}

	// as another tenant's evidence; with a record changed; with another key
	if code, out, _ := ctl(t, "verify-evidence", "-evidence", ev, "-tenant-id", "org-2", "-vkey", vkey); code != 1 || !strings.Contains(out, "wrong_tenant") {
		t.Fatalf("verify-evidence as org-2: exit %d: %s", code, out)
	}
	changed := filepath.Join(dir, "changed.ndjson")
	os.WriteFile(changed, []byte(strings.Replace(string(b), `"resource_id":"`, `"resource_id":"x`, 1)), 0o600)
	if code, out, _ := ctl(t, "verify-evidence", "-evidence", changed, "-tenant-id", "org-1", "-vkey", vkey); code != 1 || !strings.Contains(out, "evidence FAILED: 1 finding(s)") || !strings.Contains(out, "bad_proof") {
		t.Fatalf("verify-evidence of a changed record: exit %d: %s", code, out)
	}
	if code, out, _ := ctl(t, "verify-evidence", "-evidence", ev, "-tenant-id", "org-1", "-keys", keyFile(t)); code != 1 || !strings.Contains(out, "bad_checkpoint") {
		t.Fatalf("verify-evidence with another key: exit %d: %s", code, out)
	}
	// a record of org-1 removed from the database: a tenant that kept
	// the earlier evidence finds it missing from the next
	raw := sqlx.MustOpen("sqlite", path)
	raw.MustExec("DROP TRIGGER audit_logs_no_delete")
	if n, _ := raw.MustExec("DELETE FROM audit_logs WHERE id = ?", recs[6].ID[:]).RowsAffected(); n != 1 {
		t.Fatalf("deleted %d rows", n)
	}
	raw.Close()
	next := filepath.Join(dir, "next.ndjson")
	if code, _, errOut := ctl(t, "evidence", "-db", db, "-tenant-id", "org-1", "-o", next); code != 0 || !strings.Contains(errOut, "evidence of 9 record(s)") {
		t.Fatalf("evidence after a removal: exit %d: %s", code, errOut)
	}
	if code, out, _ := ctl(t, "verify-evidence", "-evidence", next, "-tenant-id", "org-1", "-vkey", vkey); code != 0 {
		t.Fatalf("the next evidence alone: exit %d: %s", code, out)
	}
	code, out, _ = ctl(t, "verify-evidence", "-evidence", next, "-earlier", ev, "-tenant-id", "org-1", "-vkey", vkey)
	if code != 1 || !strings.Contains(out, "missing_record") || !strings.Contains(out, recs[6].ID.String()) {
		t.Fatalf("verify-evidence -earlier after a removal: exit %d: %s", code, out)
	}

	// usage errors: exit 2
	if code, _, _ := ctl(t, "evidence", "-db", db, "-o", filepath.Join(dir, "x")); code != 2 {
		t.Errorf("evidence without --tenant-id: exit %d, want 2", code)
	}
	if code, _, _ := ctl(t, "verify-evidence", "-evidence", ev, "-vkey", vkey); code != 2 {
		t.Errorf("verify-evidence without --tenant-id: exit %d, want 2", code)
	}
}
