package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
)

const pwMark = "pw-MARK-41"

// TestNoSecretInHelpOrErrors runs every subcommand's help, and commands
// given malformed database URLs, with a password in $DATABASE_URL and in
// --db: the password must appear in no output.
func TestNoSecretInHelpOrErrors(t *testing.T) {
	t.Setenv("DATABASE_URL", "postgres://u:"+pwMark+"@127.0.0.1:1/x")
	t.Setenv("AUDIT_KEYS", "")
	var runs [][]string
	for _, cmd := range []string{"keygen", "migrate", "seal", "verify", "export", "query", "purge", "backup"} {
		runs = append(runs, []string{cmd, "-h"}, []string{cmd, "--help"}, []string{"help", cmd})
	}
	keys := keyFile(t)
	for _, dsn := range []string{
		"postgres://u:" + pwMark + "@127.0.0.1:notaport/x",
		"postgres://u:" + pwMark + "@[::1/x",
		"postgres://u:" + pwMark + "@127.0.0.1:1/x?sslmode=bogus",
		"postgres://u:pw%2DMARK%2D41@127.0.0.1:bad/x",
		"postgres://u:" + pwMark + "@127.0.0.1:1/x%zz",
		"host=127.0.0.1 port=notaport password=" + pwMark,
		"host=127.0.0.1 password='" + pwMark + "' port=1 sslmode=bogus",
		"postgres://u:" + pwMark + "@127.0.0.1:1/x", // nothing listens on port 1
	} {
		runs = append(runs,
			[]string{"migrate", "-db", dsn},
			[]string{"query", "-db", dsn},
			[]string{"export", "-db", dsn, "-o", filepath.Join(t.TempDir(), "x")},
			[]string{"verify", "-db", dsn, "-keys", keys, "-q"},
			[]string{"seal", "-db", dsn, "-keys", keys},
			[]string{"purge", "-db", dsn, "-keys", keys},
			[]string{"backup", "-db", dsn, "-o", filepath.Join(t.TempDir(), "b.db")})
	}
	runs = append(runs, []string{"migrate"}, []string{"query"}, []string{"backup", "-o", filepath.Join(t.TempDir(), "b.db")}, []string{"postgres://u:" + pwMark + "@h/x"})
	for _, args := range runs {
		code, out, errOut := ctl(t, args...)
		if strings.Contains(out+errOut, "MARK") {
			t.Errorf("auditctl %q: exit %d, printed the password: %q", args, code, out+errOut)
		}
	}
	// the help still says where the default comes from
	if _, _, errOut := ctl(t, "query", "-h"); !strings.Contains(errOut, "$DATABASE_URL") {
		t.Errorf("query -h: %q, want the flag described", errOut)
	}
}

func TestHelpExitsZero(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}, {"-help"}} {
		code, out, errOut := ctl(t, args...)
		if code != 0 || !strings.Contains(out, "usage: auditctl") {
			t.Errorf("auditctl %v: exit %d, output %q %q; want exit 0 and the usage", args, code, out, errOut)
		}
	}
	if code, _, errOut := ctl(t, "help", "verify"); code != 0 || !strings.Contains(errOut, "-checkpoints") {
		t.Errorf("auditctl help verify: exit %d, %q", code, errOut)
	}
}

func TestKeygenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys.json")
	code, out, errOut := ctl(t, "keygen", "-o", p)
	if code != 0 || out != "" {
		t.Fatalf("keygen -o: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %04o, want 0600", fi.Mode().Perm())
	}
	before, _ := os.ReadFile(p)
	if code, _, errOut := ctl(t, "keygen", "-o", p); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("keygen -o over an existing file: exit %d, %q; want a refusal", code, errOut)
	}
	if after, _ := os.ReadFile(p); string(after) != string(before) {
		t.Error("keygen -o overwrote an existing key file")
	}
	if _, err := (cli{stderr: &strings.Builder{}}).readKeyring(p); err != nil {
		t.Errorf("the key file does not read back: %v", err)
	}
}

func TestKeyFileReadableWarning(t *testing.T) {
	p := keyFile(t)
	var errOut strings.Builder
	if _, err := (cli{stderr: &errOut}).readKeyring(p); err != nil || errOut.Len() != 0 {
		t.Fatalf("0600 key file: %v, warned %q", err, errOut.String())
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		errOut.Reset()
		if _, err := (cli{stderr: &errOut}).readKeyring(p); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(errOut.String(), "warning") || !strings.Contains(errOut.String(), "chmod 600") {
			t.Errorf("mode %04o: warned %q, want a warning", mode, errOut.String())
		}
	}
}

// TestKeyFileErrorsQuoteNoContent: a damaged key file's error shows no
// character of the file.
func TestKeyFileErrorsQuoteNoContent(t *testing.T) {
	for _, content := range []string{`{"hmac_keys":[{"id":"k","secret":"Q`, `Qsecret-MARK`, `{"hmac_keys":"Qsecret-MARK"}`, `{"hmac_keys":[{"id":"k","secret":"!!MARK!!"}]}`} {
		p := filepath.Join(t.TempDir(), "keys.json")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := (cli{stderr: &strings.Builder{}}).readKeyring(p)
		if err == nil {
			t.Fatalf("key file %q: no error", content)
		}
		msg := strings.TrimPrefix(err.Error(), "key file "+p)
		if strings.ContainsAny(msg, "Q!") || strings.Contains(msg, "MARK") {
			t.Errorf("key file %q: error %q quotes the file", content, err)
		}
	}
}

// TestExportFileModeAndQueryEscapes: export -o writes 0600 over a 0644
// file; query prints C1 and bidi controls as \uXXXX escapes.
func TestExportFileModeAndQueryEscapes(t *testing.T) {
	dsn := os.Getenv("AUDIT_TEST_DATABASE_URL")
	if dsn == "" {
		t.Skip("AUDIT_TEST_DATABASE_URL not set: no PostgreSQL to test against")
	}
	p := filepath.Join(t.TempDir(), "chain.ndjson")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "trailmark_ctlmode_" + hex.EncodeToString(b[:])
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	dropOnCleanup(t, db, schema)
	if code, _, errOut := ctl(t, "migrate", "-db", dsn, "-schema", schema); code != 0 {
		t.Fatalf("migrate: %d %s", code, errOut)
	}
	ctx := context.Background()
	st, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(context.Background())
	l, err := audit.New(st, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	err = l.Log(ctx, audit.Event{Action: audit.ActionUserLogin, ResourceType: "user", Status: audit.StatusSuccess,
		UserID: "u\u202eevil", UserEmail: "u\u009b2J@example.com", Details: map[string]any{"k": "\u0085\u2066x"}})
	if cerr := l.Close(ctx); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	code, out, errOut := ctl(t, "query", "-db", dsn, "-schema", schema)
	if code != 0 || !strings.Contains(out, `u\u202eevil`) || !strings.Contains(out, `u\u009b2J@example.com`) || strings.ContainsAny(out, "\u009b\u202e\u0085\u2066") {
		t.Errorf("query: exit %d, %q %s; want the controls escaped", code, out, errOut)
	}
	if code, _, errOut := ctl(t, "export", "-db", dsn, "-schema", schema, "-o", p); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errOut)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("export file: %v, mode %04o; want 0600", err, fi.Mode().Perm())
	}
}

// TestKeyFileUnknownCurrent: a key file whose current names no HMAC key
// is refused, not read as if it named the last one.
func TestKeyFileUnknownCurrent(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys.json")
	k := `{"hmac_keys":[{"id":"k1","secret":"` + strings.Repeat("A", 44) + `"}],"current":"k2"}`
	if err := os.WriteFile(p, []byte(k), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (cli{stderr: &strings.Builder{}}).readKeyring(p); err == nil || !strings.Contains(err.Error(), "current") {
		t.Errorf("got %v, want an error naming current", err)
	}
}

// TestPasswordInQueryOrSpacedKeyword: the password of a URL's query
// (?password=…) and of a keyword DSN written "password = …" is masked
// too: lib/pq reads both, and a connection error echoed the URL (found by
// an outside review).
func TestPasswordInQueryOrSpacedKeyword(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	const pw = "pw-MARK-77"
	for _, dsn := range []string{
		"postgres://u@127.0.0.1:1/x?password=" + pw,
		"postgres://u@127.0.0.1:1/x?sslmode=disable&password=" + pw,
		"postgres://u@127.0.0.1:1/x?password=" + url.QueryEscape(pw+" &x"),
		"host=127.0.0.1 port=1 password = " + pw,
		"host=127.0.0.1 port=1 password =" + pw,
	} {
		args := []string{"evidence", "-db", dsn, "-tenant-id", "t1", "-o", filepath.Join(t.TempDir(), "e")}
		code, out, errOut := ctl(t, args...)
		if code == 0 || strings.Contains(out+errOut, "MARK") {
			t.Errorf("auditctl %q: exit %d, printed %q", args, code, out+errOut)
		}
	}
}
