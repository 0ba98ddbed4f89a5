package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit/store/sqlite"
	"github.com/trailmark/audit/storetest"
)

func TestSQLitePath(t *testing.T) {
	tests := []struct {
		db, path string
		ok       bool
	}{
		{"sqlite:./audit.db", "./audit.db", true},
		{"sqlite:///var/lib/app/audit", "/var/lib/app/audit", true},
		{"audit.db", "audit.db", true},
		{"/data/log.sqlite", "/data/log.sqlite", true},
		{"x.sqlite3", "x.sqlite3", true},
		{"postgres://u@h/app.db", "", false},
		{"host=localhost dbname=app", "", false},
	}
	for _, tt := range tests {
		if path, ok := sqlitePath(tt.db); path != tt.path || ok != tt.ok {
			t.Errorf("sqlitePath(%q): got %q, %v; want %q, %v", tt.db, path, ok, tt.path, tt.ok)
		}
	}
}

// TestSQLiteCommands runs every command that uses a store on an SQLite
// file, with the flags and exit codes of PostgreSQL.
func TestSQLiteCommands(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	args := func(cmd string, more ...string) []string {
		return append([]string{cmd, "-db", "sqlite:" + path}, more...)
	}
	if code, _, errOut := ctl(t, args("verify", "-keys", keyFile(t))...); code != 2 || !strings.Contains(errOut, "no such file") {
		t.Errorf("verify on a missing file: exit %d: %s", code, errOut)
	}
	if code, out, _ := ctl(t, args("migrate", "-print")...); code != 0 || !strings.Contains(out, "CREATE TABLE audit_logs") || strings.Contains(out, "plpgsql") {
		t.Errorf("migrate -print of an SQLite file: exit %d, want its SQLite schema:\n%.300s", code, out)
	}
	if code, out, errOut := ctl(t, args("migrate")...); code != 0 || !strings.Contains(out, "created "+path) {
		t.Fatalf("migrate of a new file: exit %d: %s%s, want it to say it created the file", code, out, errOut)
	}
	if code, out, errOut := ctl(t, args("migrate")...); code != 0 || !strings.Contains(out, "schema up to date") {
		t.Fatalf("migrate again: exit %d: %s%s", code, out, errOut)
	}
	st, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(0, 40)
	for i := range recs {
		recs[i].OccurredAt = time.Now().AddDate(0, 0, -200+5*i).Truncate(time.Microsecond)
	}
	if err := st.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	st.Close(context.Background())
	keys := keyFile(t)
	cps := filepath.Join(t.TempDir(), "cps.ndjson")
	if code, out, errOut := ctl(t, args("seal", "-keys", keys, "-checkpoints", cps)...); code != 0 || !strings.Contains(out, "sealed 40 record(s)") {
		t.Fatalf("seal: exit %d: %s%s", code, out, errOut)
	}
	// A second run with nothing new signs no second checkpoint.
	if code, out, errOut := ctl(t, args("seal", "-keys", keys, "-checkpoints", cps)...); code != 0 || !strings.Contains(out, "sealed 0 record(s)") || strings.Contains(out, "checkpoint at seal") {
		t.Fatalf("seal with nothing new: exit %d: %s%s, want no checkpoint", code, out, errOut)
	}
	if b, err := os.ReadFile(cps); err != nil || bytes.Count(b, []byte("\n")) != 1 {
		t.Fatalf("checkpoint file after two seals: %d lines (%v), want 1", bytes.Count(b, []byte("\n")), err)
	}
	if code, out, errOut := ctl(t, args("verify", "-keys", keys, "-checkpoints", cps, "-q")...); code != 0 || !strings.Contains(out, "40 records verified") {
		t.Fatalf("verify: exit %d: %s%s", code, out, errOut)
	}
	exp := filepath.Join(t.TempDir(), "chain.ndjson")
	if code, _, errOut := ctl(t, args("export", "-o", exp)...); code != 0 || !strings.Contains(errOut, "exported 40 seals") {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if code, out, _ := ctl(t, "verify", "-keys", keys, "-export", exp, "-checkpoints", cps, "-q"); code != 0 {
		t.Fatalf("verify -export: exit %d: %s", code, out)
	}
	// the export of one tenant: tenant-b's records are a quarter
	texp := filepath.Join(t.TempDir(), "tenant.ndjson")
	if code, _, errOut := ctl(t, args("export", "-tenant-id", "tenant-b", "-o", texp)...); code != 0 || !strings.Contains(errOut, "(10 with records)") || !strings.Contains(errOut, "30 seal(s) of other tenants redacted") {
		t.Fatalf("export -tenant: exit %d: %s", code, errOut)
	}
	if b, _ := os.ReadFile(texp); bytes.Contains(b, []byte("tenant-a")) {
		t.Errorf("the export of tenant-b holds tenant-a")
	}
	if code, out, _ := ctl(t, "verify", "-keys", keys, "-export", texp, "-checkpoints", cps); code != 0 || !strings.Contains(out, `export of tenant "tenant-b" only: 30 position(s)`) {
		t.Fatalf("verify -export of a tenant: exit %d: %s", code, out)
	}
	code, out, _ := ctl(t, args("query", "-user-id", "user-1", "-limit", "0")...)
	if n := strings.Count(out, "\n"); code != 0 || n != 13 {
		t.Errorf("query -user-id user-1: exit %d, %d lines, want 13", code, n)
	}
	if code, _, errOut := ctl(t, args("purge", "-keys", keys, "-tenant-max-age", "tenant-b")...); code != 2 || !strings.Contains(errOut, "want tenant=duration") {
		t.Errorf("purge -tenant-max-age without a duration: exit %d: %s", code, errOut)
	}
	// tenant-b keeps 180 days, the others 90
	var want int
	for _, r := range recs {
		age := 90 * 24 * time.Hour
		if r.TenantID == "tenant-b" {
			age *= 2
		}
		if time.Since(r.OccurredAt) > age {
			want++
		}
	}
	if code, out, errOut := ctl(t, args("purge", "-keys", keys, "-max-age", "2160h", "-tenant-max-age", "tenant-b=4320h")...); code != 0 ||
		!strings.Contains(out, fmt.Sprintf("removed %d record(s)", want)) || !strings.Contains(out, "(1 tenant(s) by their own retention)") {
		t.Fatalf("purge: exit %d: %s%s; want %d removed", code, out, errOut, want)
	}
	if code, out, _ := ctl(t, args("verify", "-keys", keys, "-checkpoints", cps, "-q")...); code != 0 {
		t.Fatalf("verify after purge: exit %d: %s", code, out)
	}
	// someone with the file edits a record around the guard
	db := sqlx.MustOpen("sqlite", path)
	defer db.Close()
	db.MustExec("DROP TRIGGER audit_logs_no_update")
	db.MustExec("UPDATE audit_logs SET user_id = 'mallory' WHERE id = ?", recs[30].ID[:])
	if code, out, _ := ctl(t, args("verify", "-keys", keys, "-checkpoints", cps, "-q")...); code != 1 || !strings.Contains(out, "modified_event") {
		t.Errorf("verify after tampering: exit %d: %s", code, out)
	}
}
