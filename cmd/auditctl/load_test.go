package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	mrand "math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/trailmark/audit/store/jetstream"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storetest"
)

// TestLoad runs auditctl load from a JetStream stream into PostgreSQL,
// with a password in the NATS URL that must not be printed.
func TestLoad(t *testing.T) {
	dsn, natsURL, schema, stream, subj, db, nc := loadSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := jetstream.New(ctx, nc, &jetstream.Options{Stream: stream, Subject: subj + ".records", Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, storetest.Records(0, 100)...); err != nil {
		t.Fatal(err)
	}

	secretURL := strings.Replace(natsURL, "nats://", "nats://loader:hunter2secret@", 1)
	out, errOut, stop := startLoad(ctx, "-nats", secretURL, "-db", dsn, "-schema", schema, "-stream", stream,
		"-dead-letter", subj+".dead", "-progress", "50ms")
	var rows int
	for deadline := time.Now().Add(30 * time.Second); rows < 100 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := db.Get(&rows, "SELECT count(*) FROM "+schema+".audit_logs"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	if code := stop(); code != 0 || rows != 100 {
		t.Fatalf("load: exit %d, %d rows (want 0, 100): %s%s", code, rows, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "loaded 100, dead-lettered 0") {
		t.Errorf("output %q: want the progress line with 100 loaded", out.String())
	}
	if all := out.String() + errOut.String(); strings.Contains(all, "hunter2secret") {
		t.Errorf("output shows the NATS password:\n%s", all)
	}
}

// loadSetup returns what a test of auditctl load needs: the database and
// NATS URLs, a migrated schema, a stream name and subject prefix of its
// own (removed when t ends), a pool and a connection.
func loadSetup(t *testing.T) (dsn, natsURL, schema, stream, subj string, db *sqlx.DB, nc *nats.Conn) {
	dsn, natsURL = os.Getenv("AUDIT_TEST_DATABASE_URL"), os.Getenv("AUDIT_TEST_NATS_URL")
	if dsn == "" || natsURL == "" {
		t.Skip("AUDIT_TEST_DATABASE_URL or AUDIT_TEST_NATS_URL not set")
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	schema, stream, subj = "trailmark_ctl_"+suffix, "TRAILMARK_CTL_"+suffix, "trailmark_ctl_"+suffix
	dropOnCleanup(t, db, schema)
	if code, out, errOut := ctl(t, "migrate", "-db", dsn, "-schema", schema); code != 0 {
		t.Fatalf("migrate: exit %d: %s%s", code, out, errOut)
	}
	nc, err = nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	j, _ := natsjs.New(nc)
	t.Cleanup(func() {
		j.DeleteStream(context.Background(), stream)
		j.DeleteStream(context.Background(), stream+"_DLQ")
	})
	return dsn, natsURL, schema, stream, subj, db, nc
}

// startLoad runs auditctl load with args until stop, which returns its
// exit code.
func startLoad(ctx context.Context, args ...string) (out, errOut *syncBuffer, stop func() int) {
	out, errOut = &syncBuffer{}, &syncBuffer{}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan int)
	go func() { done <- run(runCtx, append([]string{"load"}, args...), out, errOut) }()
	return out, errOut, func() int { cancel(); return <-done }
}

// TestLoadHostileCorpus runs auditctl load on the hostile corpus, put in
// the stream raw as any producer can (issue 20, item 1): it dead-letters
// what breaks the record contract and loads the rest, and everything
// loaded seals and verifies.
func TestLoadHostileCorpus(t *testing.T) {
	dsn, natsURL, schema, stream, subj, db, nc := loadSetup(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	j, _ := natsjs.New(nc)
	if _, err := j.CreateStream(ctx, natsjs.StreamConfig{Name: stream, Subjects: []string{subj + ".records"}}); err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, h := range storetest.HostileRecords(mrand.New(mrand.NewPCG(20, 2)), 20) {
		if m := storetest.HostileJSON(h.Record); len(m) < 900<<10 {
			if _, err := j.Publish(ctx, subj+".records", m); err != nil {
				t.Fatalf("%s: %v", h.Name, err)
			}
			sent++
		}
	}
	out, errOut, stop := startLoad(ctx, "-nats", natsURL, "-db", dsn, "-schema", schema, "-stream", stream,
		"-dead-letter", subj+".dead", "-progress", "20ms")
	progress := regexp.MustCompile(`loaded (\d+), dead-lettered (\d+)`)
	loaded, dead := 0, 0
	// (a redelivery counts twice)
	for deadline := time.Now().Add(time.Minute); loaded+dead < sent && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := progress.FindAllStringSubmatch(out.String(), -1); m != nil {
			loaded, _ = strconv.Atoi(m[len(m)-1][1])
			dead, _ = strconv.Atoi(m[len(m)-1][2])
		}
	}
	if code := stop(); code != 0 || loaded+dead < sent || dead == 0 {
		t.Fatalf("load: exit %d, %d loaded, %d dead-lettered of %d: %s%s", code, loaded, dead, sent, out.String(), errOut.String())
	}
	s, err := postgres.New(db, &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	var rows int // each record once, however often it was delivered
	if err := db.Get(&rows, "SELECT count(*) FROM "+schema+".audit_logs"); err != nil {
		t.Fatal(err)
	}
	storetest.WantSealed(t, s, rows)
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
