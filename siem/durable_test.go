package siem_test

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/store/sqlite"
	"github.com/trailmark/audit/storekit"
)

// positionStore is a primary store that keeps stream positions: what a
// durable stream needs.
type positionStore interface {
	audit.Store
	audit.Querier
	storekit.PositionStore
}

// reopener opens the store of one test again, as a restarted process
// would: the same file, the same schema, a new handle. close closes a
// handle (memory: nothing, the data lives in the handle).
type reopener struct {
	name  string
	open  func(t *testing.T) (positionStore, func())
	reuse bool // the memory store: one handle for the test's life
}

// durableStores returns a reopener per store: memory, SQLite, and
// PostgreSQL when AUDIT_TEST_DATABASE_URL is set. Each test gets its own
// file or schema.
func durableStores(t *testing.T) []reopener {
	mem := memory.New(nil)
	stores := []reopener{
		{name: "memory", reuse: true, open: func(*testing.T) (positionStore, func()) { return mem, func() {} }},
	}
	path := filepath.Join(t.TempDir(), "audit.db")
	stores = append(stores, reopener{name: "sqlite", open: func(t *testing.T) (positionStore, func()) {
		s, err := sqlite.Open(context.Background(), path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s, func() { s.Close(context.Background()) }
	}})
	if dsn := os.Getenv("AUDIT_TEST_DATABASE_URL"); dsn != "" {
		var b [6]byte
		crand.Read(b[:])
		schema := "trailmark_test_" + hex.EncodeToString(b[:])
		t.Cleanup(func() {
			s, err := postgres.Open(context.Background(), dsn, &postgres.Options{Schema: schema})
			if err != nil {
				t.Errorf("dropping schema %s: %v", schema, err)
				return
			}
			defer s.Close(context.Background())
			if _, err := s.DB().Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err != nil {
				t.Errorf("dropping schema %s: %v", schema, err)
			}
		})
		stores = append(stores, reopener{name: "postgres", open: func(t *testing.T) (positionStore, func()) {
			ctx := context.Background()
			s, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Migrate(ctx); err != nil {
				s.Close(ctx)
				t.Fatal(err)
			}
			return s, func() { s.Close(context.Background()) }
		}})
	}
	return stores
}

// idReceiver is an NDJSON receiver on loopback that counts, per record
// ID, the deliveries it accepted (2xx). While down it answers 503; with a
// failure rate it answers 503 to that share of requests, at random,
// before reading them.
type idReceiver struct {
	srv      *httptest.Server
	down     atomic.Bool
	failRate atomic.Uint64 // math.Float64bits of the rate
	requests atomic.Int64
	attempts atomic.Int64 // records in every request, failed ones included

	mu       sync.Mutex
	accepted map[uuid.UUID]int
	total    int
	log      []logEntry
}

type logEntry struct {
	at time.Time
	n  int
}

func newIDReceiver(t testing.TB) *idReceiver {
	rc := &idReceiver{accepted: map[uuid.UUID]int{}}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.requests.Add(1)
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		lines := bytes.Count(body, []byte("\n"))
		rc.attempts.Add(int64(lines))
		if rc.down.Load() || rand.Float64() < rc.rate() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var ids []uuid.UUID
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var rec struct {
				ID uuid.UUID `json:"id"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			ids = append(ids, rec.ID)
		}
		rc.mu.Lock()
		rc.log = append(rc.log, logEntry{time.Now(), len(ids)})
		for _, id := range ids {
			rc.accepted[id]++
			rc.total++
		}
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *idReceiver) rate() float64 { return float64FromBits(rc.failRate.Load()) }

// distinct returns how many records arrived, and how many deliveries.
func (rc *idReceiver) counts() (distinct, deliveries int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.accepted), rc.total
}

// has reports whether every one of ids arrived.
func (rc *idReceiver) has(ids []uuid.UUID) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, id := range ids {
		if rc.accepted[id] == 0 {
			return false
		}
	}
	return true
}

func (rc *idReceiver) sink(t testing.TB) *siem.HTTPSink {
	s, err := siem.NewHTTP(rc.srv.URL, &siem.HTTPOptions{NoGzip: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// appendN appends n records, in batches of 100, and returns their IDs.
func appendN(t testing.TB, s audit.Store, n int) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for len(ids) < n {
		recs := make([]audit.Record, min(100, n-len(ids)))
		for i := range recs {
			recs[i] = audit.Record{ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now().UTC().Truncate(time.Microsecond),
				Action: "doc.read", ResourceType: "doc", Status: audit.StatusSuccess}
			ids = append(ids, recs[i].ID)
		}
		if err := s.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// TestDurableStreamResumesAfterRestart: a durable stream delivers part
// of the records, then its receiver goes down and the Tee is closed with
// records undelivered (its Close gives up, as a process killed during an
// outage). A new Tee over the same store — reopened, for SQLite and
// PostgreSQL — resumes from the saved position and delivers them all;
// what it sends again is at most what came after the last saved
// position. No record is reported dropped.
func TestDurableStreamResumesAfterRestart(t *testing.T) {
	for _, st := range durableStores(t) {
		t.Run(st.name, func(t *testing.T) {
			rc := newIDReceiver(t)
			sink := rc.sink(t)
			var dropped atomic.Int64
			opts := func(ps storekit.PositionStore) *siem.TeeOptions {
				return &siem.TeeOptions{Positions: ps, OnError: func(err error) {
					var de *siem.DropError
					if errors.As(err, &de) {
						dropped.Add(int64(de.Count))
					}
					t.Logf("OnError: %v", err)
				}}
			}
			streams := []siem.Stream{{Name: "siem", Sink: sink, FlushInterval: 50 * time.Millisecond, BatchSize: 200, QueueSize: 10, Retry: fastRetry}}

			store, closeStore := st.open(t)
			tee, err := siem.NewTee(store, streams, opts(store))
			if err != nil {
				t.Fatal(err)
			}
			first := appendN(t, tee, 1000)
			if !waitFor(30*time.Second, func() bool { return rc.has(first) }) {
				d, _ := rc.counts()
				t.Fatalf("the first 1000 records: %d arrived", d)
			}
			rc.down.Store(true)
			// more than the queue would hold, also through another
			// writer than the Tee
			second := appendN(t, tee, 1500)
			second = append(second, appendN(t, store, 500)...)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			if err := tee.Close(ctx); err == nil {
				t.Error("Close returned nil while the receiver was down, want an error: records not delivered")
			}
			cancel()
			if rc.has(second) {
				t.Fatal("the records appended during the outage arrived: the test proves nothing")
			}
			_, before := rc.counts()
			closeStore()

			// the restart
			rc.down.Store(false)
			store, closeStore = st.open(t)
			defer closeStore()
			tee, err = siem.NewTee(store, streams, opts(store))
			if err != nil {
				t.Fatal(err)
			}
			if !waitFor(30*time.Second, func() bool { return rc.has(second) }) {
				d, _ := rc.counts()
				t.Errorf("after the restart: %d distinct records arrived, want all 3000", d)
			}
			if err := tee.Close(context.Background()); err != nil {
				t.Error(err)
			}
			distinct, total := rc.counts()
			if distinct != 3000 {
				t.Errorf("%d distinct records arrived, want 3000", distinct)
			}
			if again := total - before - len(second); again > 1000 {
				t.Errorf("the new Tee sent %d records again, want at most the first 1000 (the position was saved after them)", again)
			}
			if n := dropped.Load(); n != 0 {
				t.Errorf("%d records reported dropped, want 0", n)
			}
			t.Logf("%d deliveries for %d records (%.3f per record)", total, distinct, float64(total)/float64(distinct))
		})
	}
}

func float64FromBits(b uint64) float64 { return math.Float64frombits(b) }

// rejectingSink refuses, permanently, every batch that holds a record of
// action "bad", and keeps the others.
type rejectingSink struct {
	mu  sync.Mutex
	got map[uuid.UUID]int
}

func (s *rejectingSink) Send(_ context.Context, recs []audit.Record) error {
	for _, r := range recs {
		if r.Action == "bad" {
			return storekit.Permanent(errors.New("refused"))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range recs {
		s.got[r.ID]++
	}
	return nil
}

// TestDurableStreamSinceAndRejected: a durable stream without a saved
// position sends the records that occurred at or after Stream.Since,
// then everything committed later whatever its time; a batch the sink
// refuses is reported dropped (ReasonRejected) and skipped, and the
// stream goes on; a second Tee resumes after it, sending nothing again.
func TestDurableStreamSinceAndRejected(t *testing.T) {
	t.Parallel()
	store := memory.New(nil)
	now := time.Now().UTC().Truncate(time.Microsecond)
	rec := func(at time.Time, action audit.Action) audit.Record {
		return audit.Record{ID: uuid.Must(uuid.NewV7()), OccurredAt: at, Action: action, ResourceType: "doc", Status: audit.StatusSuccess}
	}
	old, recent := rec(now.Add(-2*time.Hour), "doc.read"), rec(now.Add(-time.Minute), "doc.read")
	if err := store.Append(context.Background(), old, recent); err != nil {
		t.Fatal(err)
	}
	sink := &rejectingSink{got: map[uuid.UUID]int{}}
	var mu sync.Mutex
	var drops []*siem.DropError
	opts := &siem.TeeOptions{Positions: store, OnError: func(err error) {
		var de *siem.DropError
		if !errors.As(err, &de) {
			t.Errorf("OnError: %v", err)
			return
		}
		mu.Lock()
		drops = append(drops, de)
		mu.Unlock()
	}}
	streams := []siem.Stream{{Name: "s", Sink: sink, BatchSize: 1, FlushInterval: 10 * time.Millisecond, Since: now.Add(-time.Hour), Retry: fastRetry}}
	tee, err := siem.NewTee(store, streams, opts)
	if err != nil {
		t.Fatal(err)
	}
	bad, late := rec(now, "bad"), rec(now.Add(-3*time.Hour), "doc.read") // late: committed after the first walk, with an old time
	has := func(id uuid.UUID) bool {
		sink.mu.Lock()
		defer sink.mu.Unlock()
		return sink.got[id] > 0
	}
	if !waitFor(10*time.Second, func() bool { return has(recent.ID) }) {
		t.Fatal("the record after Since did not arrive")
	}
	if err := tee.Append(context.Background(), bad, late); err != nil {
		t.Fatal(err)
	}
	if !waitFor(10*time.Second, func() bool { return has(late.ID) }) {
		t.Fatal("the record committed after the first walk, with an old time, did not arrive")
	}
	if err := tee.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if has(old.ID) {
		t.Error("the record before Since arrived")
	}
	mu.Lock()
	if len(drops) != 1 || drops[0].Reason != audit.ReasonRejected || drops[0].Count != 1 {
		t.Errorf("drops %+v, want one record rejected", drops)
	}
	mu.Unlock()
	if st := tee.Stats().Streams[0]; st.Sent != 2 || st.Dropped[audit.ReasonRejected] != 1 || st.LastSaved.IsZero() {
		t.Errorf("Stats: %+v; want 2 sent, 1 rejected, a position saved", st)
	}
	// a new Tee resumes after all of it: nothing is sent again
	tee, err = siem.NewTee(store, streams, opts)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if err := tee.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for id, n := range sink.got {
		if n != 1 {
			t.Errorf("record %s arrived %d times, want once", id, n)
		}
	}
	if len(sink.got) != 2 {
		t.Errorf("%d records arrived, want 2 (recent, late)", len(sink.got))
	}
}

// TestDurableStreamBadPosition: a saved position that is not one, or
// that the primary refuses (made by another store, or altered), stops
// the stream with an error to OnError that names the position, instead
// of failing every FlushInterval.
func TestDurableStreamBadPosition(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, pos, want string }{
		{"not JSON", "garbage", "the saved position"},
		{"altered tail", `{"after":"AAAA"}`, `delete the position "siem/s"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store := memory.New(nil)
			if err := store.SavePosition(context.Background(), "siem/s", tt.pos); err != nil {
				t.Fatal(err)
			}
			errs := make(chan error, 10)
			tee, err := siem.NewTee(store, []siem.Stream{{Name: "s", Sink: &rejectingSink{got: map[uuid.UUID]int{}}, FlushInterval: time.Millisecond}},
				&siem.TeeOptions{Positions: store, OnError: func(err error) { errs <- err }})
			if err != nil {
				t.Fatal(err)
			}
			appendN(t, tee, 3)
			select {
			case err := <-errs:
				if !strings.Contains(err.Error(), tt.want) {
					t.Errorf("OnError: %v, want an error with %q", err, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no error")
			}
			if err := tee.Close(context.Background()); err != nil {
				t.Error(err)
			}
			if n := len(errs); n != 0 {
				t.Errorf("%d more errors, want the stream stopped after one", n)
			}
		})
	}
}

// TestDurableStreamOneProcessAtATime (PostgreSQL): two Tees over one
// schema, as two processes of a service would run: one holds the lock
// of the stream's position and sends, the other waits (Stats.Standby);
// when the first closes, the second takes over from the saved position,
// and every record arrives once.
func TestDurableStreamOneProcessAtATime(t *testing.T) {
	var pg *reopener
	for _, st := range durableStores(t) {
		if st.name == "postgres" {
			pg = &st
		}
	}
	if pg == nil {
		t.Skip("AUDIT_TEST_DATABASE_URL not set: no PostgreSQL to test against")
	}
	rc := newIDReceiver(t)
	sink := rc.sink(t)
	streams := []siem.Stream{{Name: "siem", Sink: sink, FlushInterval: 20 * time.Millisecond, Retry: fastRetry}}
	onError := func(err error) { t.Errorf("OnError: %v", err) }
	storeA, closeA := pg.open(t)
	defer closeA()
	storeB, closeB := pg.open(t)
	defer closeB()
	a, err := siem.NewTee(storeA, streams, &siem.TeeOptions{Positions: storeA, OnError: onError})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(context.Background())
	first := appendN(t, a, 1)
	if !waitFor(10*time.Second, func() bool { return rc.has(first) }) {
		t.Fatal("the first Tee did not take the lead")
	}
	b, err := siem.NewTee(storeB, streams, &siem.TeeOptions{Positions: storeB, OnError: onError})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close(context.Background())
	if !waitFor(10*time.Second, func() bool { return b.Stats().Streams[0].Standby }) {
		t.Fatal("the second Tee is not on standby")
	}
	ids := appendN(t, a, 299)
	ids = append(ids, appendN(t, b, 300)...)
	if !waitFor(20*time.Second, func() bool { return rc.has(ids) }) {
		t.Fatal("the records did not arrive")
	}
	if st := b.Stats().Streams[0]; st.Sent != 0 || !st.Standby {
		t.Errorf("the second Tee sent %d records (standby %v), want 0 while the first leads", st.Sent, st.Standby)
	}
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	more := appendN(t, b, 300)
	if !waitFor(20*time.Second, func() bool { return rc.has(more) }) {
		t.Fatal("after the first Tee closed, the second did not take over")
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats().Streams[0]; st.Standby || st.Sent != 300 {
		t.Errorf("the second Tee: %+v, want it leading, 300 records sent", st)
	}
	if distinct, total := rc.counts(); distinct != 900 || total != 900 {
		t.Errorf("%d deliveries of %d records, want 900 of 900", total, distinct)
	}
}
