package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	"go.uber.org/goleak"

	"github.com/trailmark/audit/store/postgres"
)

// envDSN names the environment variable that points the tests at a
// PostgreSQL server. Tests that need one skip without it.
const envDSN = "AUDIT_TEST_DATABASE_URL"

// shared is the connection pool of the tests that do not need their own,
// set by TestMain when envDSN is set.
var shared *sqlx.DB

func TestMain(m *testing.M) {
	flag.Parse() // before setupExamples reads -test.skip
	if dsn := os.Getenv(envDSN); dsn != "" {
		db, err := sqlx.Open("postgres", dsn)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		db.SetMaxOpenConns(30)
		db.SetMaxIdleConns(30)
		shared = db
	}
	cleanup := setupExamples()
	code := m.Run()
	cleanup()
	if shared != nil {
		shared.Close()
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// dsn returns the test server's connection string, or skips t.
func dsn(t testing.TB) string {
	t.Helper()
	d := os.Getenv(envDSN)
	if d == "" {
		t.Skipf("%s not set: no PostgreSQL to test against", envDSN)
	}
	return d
}

// testDB returns the shared pool, or skips t.
func testDB(t testing.TB) *sqlx.DB {
	t.Helper()
	dsn(t)
	return shared
}

// randomName returns a fresh identifier starting with prefix.
func randomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newSchema returns the name of a schema for t alone, dropped with
// everything in it when t ends.
func newSchema(t testing.TB) string {
	t.Helper()
	db := testDB(t)
	schema := randomName("trailmark_test_")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return schema
}

// newStore returns a migrated Store on the shared pool, in a schema of its
// own.
func newStore(t testing.TB, opts *postgres.Options) *postgres.Store {
	t.Helper()
	db := testDB(t)
	schema := newSchema(t)
	s, err := postgres.New(db, withDefaults(opts, postgres.Options{Schema: schema, OnError: func(err error) { t.Errorf("store error: %v", err) }}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

// longCtx is testCtx for a test whose work grows with the load of the
// machine (a million rows to insert): it ends a minute before the test
// binary's deadline, not after two minutes, so that a busy machine makes
// the test slower, never failing.
func longCtx(t *testing.T) context.Context {
	end, ok := t.Deadline()
	if !ok {
		end = time.Now().Add(30 * time.Minute)
	}
	ctx, cancel := context.WithDeadline(context.Background(), end.Add(-time.Minute))
	t.Cleanup(cancel)
	return ctx
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// withDefaults returns a copy of o whose zero fields are those of def.
func withDefaults(o *postgres.Options, def postgres.Options) *postgres.Options {
	if o == nil {
		return &def
	}
	r := *o
	if r.Schema == "" {
		r.Schema = def.Schema
	}
	if r.Table == "" {
		r.Table = def.Table
	}
	if r.PartitionsPast == 0 && r.PartitionsAhead == 0 {
		r.PartitionsPast, r.PartitionsAhead = def.PartitionsPast, def.PartitionsAhead
	}
	if r.PurgeBatch == 0 {
		r.PurgeBatch = def.PurgeBatch
	}
	if r.Now == nil {
		r.Now = def.Now
	}
	if r.OnError == nil {
		r.OnError = def.OnError
	}
	return &r
}
