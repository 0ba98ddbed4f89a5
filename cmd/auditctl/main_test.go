package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	"go.uber.org/goleak"

	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ctl runs auditctl with args and returns its exit code and output.
func ctl(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// keyFile writes a new key file and returns its path.
func keyFile(t *testing.T) string {
	t.Helper()
	code, out, stderr := ctl(t, "keygen", "-hmac-id", "k1", "-signing-key-id", "s1")
	if code != 0 {
		t.Fatalf("keygen: exit %d: %s", code, stderr)
	}
	k, err := chain.ReadKeyFile(strings.NewReader(out))
	if err != nil || len(k.HMACKeys()) != 1 || len(k.Current().Secret) != 32 || k.SigningKey() == nil {
		t.Fatalf("keygen wrote a key file that does not read back (%v)", err)
	}
	p := filepath.Join(t.TempDir(), "keys.json")
	if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage: auditctl"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"verify", "-export", "x.ndjson"}, 2, "no key file"},
		{[]string{"verify", "-keys", "/nonexistent/keys.json", "-export", "x"}, 2, "no such file"},
		{[]string{"migrate", "-db", ""}, 2, "no database"},
		{[]string{"query", "-db", "postgres://x", "-status", "maybe"}, 2, "status"},
		{[]string{"query", "-db", "postgres://x", "-since", "yesterday"}, 2, "--since"},
		{[]string{"verify", "-h"}, 0, "-checkpoints"},
	}
	for _, tt := range tests {
		code, out, errOut := ctl(t, tt.args...)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("auditctl %v: exit %d, output %q; want exit %d mentioning %q", tt.args, code, out+errOut, tt.code, tt.want)
		}
	}
}

func TestMigratePrint(t *testing.T) {
	code, out, _ := ctl(t, "migrate", "-print", "-schema", "audit", "-table", "events")
	if code != 0 || !strings.Contains(out, `CREATE TABLE "audit"."events" (`) || !strings.Contains(out, `"audit"."events_seals"`) {
		t.Errorf("migrate -print: exit %d, %.200q", code, out)
	}
}

// TestVerifyExport seals a memory store with the keys of a key file,
// exports it, and verifies the export offline, before and after editing it.
func TestVerifyExport(t *testing.T) {
	keys := keyFile(t)
	kr, err := cli{stderr: io.Discard}.readKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	cfg := kr.SealerOptions()
	ctx := context.Background()
	s := memory.New(nil)
	// records as a service writes them: some without Details or Changes
	for range 5 {
		storetest.LoggedRecords(t, s, time.Now().Add(-time.Hour))
	}
	if err := s.Append(ctx, storetest.Records(0, 20)...); err != nil {
		t.Fatal(err)
	}
	sl, err := chain.NewSealer(s, kr.Current(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := sl.Checkpoint(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cpFile := filepath.Join(dir, "cps.ndjson")
	var cps bytes.Buffer
	chain.WriteCheckpoint(&cps, cp)
	os.WriteFile(cpFile, cps.Bytes(), 0o644)
	var exp bytes.Buffer
	if _, err := chain.ExportChain(ctx, s, &exp); err != nil {
		t.Fatal(err)
	}
	expFile := filepath.Join(dir, "chain.ndjson")
	os.WriteFile(expFile, exp.Bytes(), 0o644)

	code, out, errOut := ctl(t, "verify", "-keys", keys, "-export", expFile, "-checkpoints", cpFile)
	if code != 0 || !strings.Contains(out, "verification OK") || !strings.Contains(out, "50 records verified") {
		t.Fatalf("verify of a good export: exit %d\n%s%s", code, out, errOut)
	}
	// the JSON report: snake_case names, problems an empty list
	jcode, jout, jerr := ctl(t, "verify", "-keys", keys, "-export", expFile, "-checkpoints", cpFile, "-q", "-json")
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(jout), &fields); jcode != 0 || err != nil {
		t.Fatalf("verify -json: exit %d, %v\n%s%s", jcode, err, jout, jerr)
	}
	for k, want := range map[string]string{"first_seq": "1", "last_seq": "50", "seals": "50", "records": "50", "purged": "0",
		"unsealed": "0", "checkpoints": "1", "problem_count": "0", "problems": "[]"} {
		if got := string(fields[k]); got != want {
			t.Errorf("verify -json: %q is %s, want %s", k, got, want)
		}
	}
	if len(fields) != 9 {
		t.Errorf("verify -json: fields %v; want the 9 of the report", fields)
	}
	// progress goes to stderr, the report to stdout
	if !strings.Contains(errOut, "verified 50 seals") {
		t.Errorf("no progress on stderr: %q", errOut)
	}

	// an auditor's copy that someone edited
	edited := bytes.Replace(exp.Bytes(), []byte(`"status":"failure"`), []byte(`"status":"success"`), 1)
	os.WriteFile(expFile, edited, 0o644)
	code, out, _ = ctl(t, "verify", "-keys", keys, "-export", expFile, "-checkpoints", cpFile, "-q")
	if code != 1 || !strings.Contains(out, "verification FAILED") || !strings.Contains(out, "modified_event") {
		t.Errorf("verify of an edited export: exit %d\n%s", code, out)
	}
	// the newest records cut off: found against the checkpoint file
	lines := bytes.Split(exp.Bytes(), []byte("\n"))
	os.WriteFile(expFile, bytes.Join(lines[:40], []byte("\n")), 0o644)
	code, out, _ = ctl(t, "verify", "-keys", keys, "-export", expFile, "-checkpoints", cpFile, "-q", "-json")
	var rep chain.Report
	if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || rep.OK() || rep.Problems[0].Kind != chain.ProblemTruncated {
		t.Errorf("verify of a truncated export: exit %d\n%s", code, out)
	}
}

// dropOnCleanup drops schema and closes db when t ends, after the
// test's deferred calls (a deferred db.Close would run first, and the
// schema would stay).
func dropOnCleanup(t *testing.T, db *sqlx.DB, schema string) {
	t.Cleanup(func() {
		if _, err := db.Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
		db.Close()
	})
}

// TestDatabase runs every database command against PostgreSQL.
func TestDatabase(t *testing.T) {
	dsn := os.Getenv("AUDIT_TEST_DATABASE_URL")
	if dsn == "" {
		t.Skip("AUDIT_TEST_DATABASE_URL not set: no PostgreSQL to test against")
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "trailmark_ctl_" + hex.EncodeToString(b[:])
	dropOnCleanup(t, db, schema)
	dbArgs := []string{"-db", dsn, "-schema", schema}
	args := func(cmd string, more ...string) []string { return append(append([]string{cmd}, dbArgs...), more...) }

	if code, out, errOut := ctl(t, args("migrate")...); code != 0 || !strings.Contains(out, "schema up to date") {
		t.Fatalf("migrate: exit %d: %s%s", code, out, errOut)
	}
	// records, through a Logger as a service would write them
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	old := storetest.Records(0, 20)
	for i := range old {
		old[i].OccurredAt = time.Now().AddDate(0, 0, -200+i)
	}
	if err := st.Append(ctx, old...); err != nil {
		t.Fatal(err)
	}
	recent := storetest.Records(20, 40)
	for i := range recent {
		recent[i].OccurredAt = time.Now().Add(-time.Duration(i) * time.Hour).Truncate(time.Microsecond)
	}
	if err := st.Append(ctx, recent...); err != nil {
		t.Fatal(err)
	}
	storetest.LoggedRecords(t, st, time.Now().Add(-2*time.Hour)) // 6 more, some without Details or Changes
	keys := keyFile(t)
	cps := filepath.Join(t.TempDir(), "cps.ndjson")
	sealed := 0
	seal := func(more ...string) (int, string, string) {
		code, out, errOut := ctl(t, args("seal", append([]string{"-keys", keys}, more...)...)...)
		var n int
		if _, err := fmt.Sscanf(out, "sealed %d record(s)", &n); err == nil {
			sealed += n
		}
		return code, out, errOut
	}
	sealUntil := func(want int) {
		for deadline := time.Now().Add(time.Minute); sealed < want && time.Now().Before(deadline); {
			if code, out, errOut := seal("-checkpoints", cps); code != 0 {
				t.Fatalf("seal: exit %d: %s%s", code, out, errOut)
			}
		}
	}
	sealUntil(46)
	// a transaction open on a second connection holds back what commits after it
	holder := db.MustBegin()
	var pid int
	var xid string // assigns the transaction an ID: only then does it hold sealing back
	if err := holder.QueryRow("SELECT pg_backend_pid(), pg_current_xact_id()::text").Scan(&pid, &xid); err != nil {
		t.Fatal(err)
	}
	late := storetest.Record(100)
	late.OccurredAt, late.UserID = time.Now().Truncate(time.Microsecond), "late"
	if err := st.Append(ctx, late); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := seal()
	holder.Rollback()
	if code != 0 || !strings.Contains(out, "record(s) wait behind an open transaction (pid ") || !strings.Contains(out, "open for ") {
		t.Errorf("seal behind an open transaction: exit %d: %s%s", code, out, errOut)
	} else if !strings.Contains(out, fmt.Sprintf("(pid %d,", pid)) {
		t.Logf("seal names another transaction than ours (pid %d): %s", pid, out)
	}
	sealUntil(47)
	if code, out, errOut := ctl(t, args("verify", "-keys", keys, "-checkpoints", cps, "-q")...); code != 0 || !strings.Contains(out, "47 records verified") {
		t.Fatalf("verify: exit %d: %s%s", code, out, errOut)
	}
	exp := filepath.Join(t.TempDir(), "chain.ndjson")
	if code, _, errOut := ctl(t, args("export", "-o", exp)...); code != 0 || !strings.Contains(errOut, "exported 47 seals") {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if code, out, _ := ctl(t, "verify", "-keys", keys, "-export", exp, "-checkpoints", cps, "-q"); code != 0 || !strings.Contains(out, "47 records verified") {
		t.Fatalf("verify -export: exit %d: %s", code, out)
	}
	code, out, _ = ctl(t, args("query", "-user-id", "user-1", "-limit", "0")...)
	if n := strings.Count(out, "\n"); code != 0 || n != 13 {
		t.Errorf("query -user-id user-1: exit %d, %d lines, want 13", code, n)
	}
	code, out, _ = ctl(t, args("query", "-tenant-id", "tenant-b", "-user-id", "user-1", "-limit", "0")...)
	if n := strings.Count(out, "\n"); code != 0 || n != 4 || strings.Count(out, `"tenant_id":"tenant-b"`) != 4 {
		t.Errorf("query -tenant-id tenant-b -user-id user-1: exit %d, %d lines, want 4 of tenant-b: %s", code, n, out)
	}
	code, out, _ = ctl(t, args("query", "-trace-id", "4bf92f3577b34da6a3ce929d00000003", "-limit", "0")...)
	if n := strings.Count(out, "\n"); code != 0 || n != 7 || strings.Count(out, `"trace_id":"4bf92f3577b34da6a3ce929d00000003"`) != 7 {
		t.Errorf("query -trace: exit %d, %d lines, want 7 of the trace: %s", code, n, out)
	}
	if code, out, errOut := ctl(t, args("purge", "-keys", keys, "-max-age", "2160h")...); code != 0 || !strings.Contains(out, "removed 20 record(s)") {
		t.Fatalf("purge: exit %d: %s%s", code, out, errOut)
	}
	if code, out, _ := ctl(t, args("verify", "-keys", keys, "-checkpoints", cps, "-q")...); code != 0 {
		t.Fatalf("verify after purge: exit %d: %s", code, out)
	}
	// the report counts what retention removed, online and in an export
	if code, _, errOut := ctl(t, args("export", "-o", exp)...); code != 0 {
		t.Fatalf("export after purge: exit %d: %s", code, errOut)
	}
	for _, a := range [][]string{args("verify", "-keys", keys, "-checkpoints", cps, "-q", "-json"), {"verify", "-keys", keys, "-export", exp, "-checkpoints", cps, "-q", "-json"}} {
		code, out, _ := ctl(t, a...)
		var rep struct {
			Purged   *uint64         `json:"purged"`
			Records  *uint64         `json:"records"`
			Problems json.RawMessage `json:"problems"`
		}
		if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || rep.Purged == nil || *rep.Purged != 20 || *rep.Records != 27 || string(rep.Problems) != "[]" {
			t.Errorf("%v after purging 20: exit %d (%v)\n%s; want purged 20, records 27 (47 sealed, 20 purged), problems []", a[1:], code, err, out)
		}
	}
	// a superuser edits a record around the guard
	tx := db.MustBegin()
	tx.MustExec("SET LOCAL session_replication_role = replica")
	tx.MustExec("UPDATE "+schema+".audit_logs SET user_id = 'mallory' WHERE id = $1", recent[5].ID)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := ctl(t, args("verify", "-keys", keys, "-checkpoints", cps, "-q")...); code != 1 || !strings.Contains(out, "modified_event") {
		t.Errorf("verify after tampering: exit %d: %s", code, out)
	}
}
