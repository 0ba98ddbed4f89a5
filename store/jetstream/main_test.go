package jetstream_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/trailmark/audit/store/jetstream"
	"github.com/trailmark/audit/store/postgres"
)

// Environment variables that point the tests at servers; tests that need
// one skip without it.
const (
	envNATS = "AUDIT_TEST_NATS_URL"
	envDSN  = "AUDIT_TEST_DATABASE_URL"
	// envRole makes the test binary act as a child process of the
	// end-to-end test (see child).
	envRole = "AUDIT_TEST_JS_ROLE"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(envRole); role != "" {
		os.Exit(child(role))
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func natsURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(envNATS)
	if u == "" {
		t.Skipf("%s not set: no NATS server to test against", envNATS)
	}
	return u
}

func dsn(t testing.TB) string {
	t.Helper()
	d := os.Getenv(envDSN)
	if d == "" {
		t.Skipf("%s not set: no PostgreSQL to test against", envDSN)
	}
	return d
}

func randomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// connect returns a connection to url, closed when t ends.
func connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// testStream returns publisher and loader options naming a stream, subject,
// dead-letter subject and consumer of t's own; the streams are deleted
// when t ends.
func testStream(t testing.TB, nc *nats.Conn) (jetstream.Options, jetstream.LoaderOptions) {
	t.Helper()
	name := randomName("TRAILMARK_TEST_")
	subj := strings.ToLower(name)
	t.Cleanup(func() {
		j, _ := natsjs.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, s := range []string{name, name + "_DLQ"} {
			if err := j.DeleteStream(ctx, s); err != nil && !errors.Is(err, natsjs.ErrStreamNotFound) {
				t.Errorf("deleting stream %s: %v", s, err)
			}
		}
	})
	return jetstream.Options{Stream: name, Subject: subj + ".records", Replicas: 1}, // one server: R1 by choice
		jetstream.LoaderOptions{Stream: name, Consumer: "loader", DeadLetterSubject: subj + ".dead"}
}

// testSchema returns a fresh schema name, dropped with everything in it
// when t ends, and a pool.
func testSchema(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	db, err := sqlx.Open("postgres", dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	schema := randomName("trailmark_js_")
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
		db.Close()
	})
	return db, schema
}

// pgStore returns a migrated PostgreSQL store in a schema of t's own.
func pgStore(t testing.TB) (*postgres.Store, string) {
	t.Helper()
	db, schema := testSchema(t)
	s, err := postgres.New(db, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s, schema
}

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// streamMsgs returns the number of messages in the named stream.
func streamMsgs(t testing.TB, nc *nats.Conn, name string) uint64 {
	t.Helper()
	j, _ := natsjs.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := j.Stream(ctx, name)
	if errors.Is(err, natsjs.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.CachedInfo().State.Msgs
}
