package siem_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/store/memory"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testSecret = "whsec-test-0123456789-0123456789-0123"

// fastRetry keeps the tests short: the receivers fail a few times only.
var fastRetry = siem.Retry{MinBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, RetryFor: time.Minute}

// TestTeeDeliversThroughFailures sends records through Logger → Tee →
// HTTPSink to receivers that fail in each way a SIEM collector does, and
// checks that every record arrives, signatures verify, a batch keeps its
// idempotency key across retries and deduplicating by key leaves each
// record exactly once.
func TestTeeDeliversThroughFailures(t *testing.T) {
	t.Parallel()
	var first429 atomic.Int64
	tests := []struct {
		name string
		fail func(n int, w http.ResponseWriter, r *http.Request) mode
		// check runs on the receiver's attempts after delivery.
		check func(t *testing.T, rc *receiver, failedKeys []string)
	}{
		{name: "500 every other request", fail: func(n int, w http.ResponseWriter, _ *http.Request) mode {
			if n%2 == 0 {
				w.WriteHeader(http.StatusInternalServerError)
				return handled
			}
			return normal
		}},
		{name: "429 with Retry-After", fail: func(n int, w http.ResponseWriter, _ *http.Request) mode {
			if n == 0 {
				first429.Store(time.Now().UnixNano())
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusTooManyRequests)
				return handled
			}
			return normal
		}, check: func(t *testing.T, rc *receiver, _ []string) {
			// A lower bound, not a speed check: no request may come
			// before the second the receiver asked for.
			at, _ := rc.seen()
			sent := time.Unix(0, first429.Load())
			for _, a := range at {
				if d := a.at.Sub(sent); d < time.Second {
					t.Errorf("a request came %v after the 429, want at least the 1s of Retry-After", d)
				}
			}
		}},
		{name: "503 with Retry-After as a date", fail: func(n int, w http.ResponseWriter, _ *http.Request) mode {
			if n == 0 {
				w.Header().Set("Retry-After", time.Now().Add(time.Second).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusServiceUnavailable)
				return handled
			}
			return normal
		}},
		{name: "timeouts", fail: func(n int, _ http.ResponseWriter, r *http.Request) mode {
			if n%3 == 0 {
				io.Copy(io.Discard, r.Body) // the server notices a hang-up only after the body
				<-r.Context().Done()        // never answer: the client's timeout ends it
				return handled
			}
			return normal
		}},
		{name: "slow reads", fail: func(n int, _ http.ResponseWriter, r *http.Request) mode {
			// The first request is read so slowly that it times out;
			// the others slowly but within the timeout.
			delay := time.Millisecond
			if n == 0 {
				delay = 100 * time.Millisecond // 64 bytes a tick: far past the 300ms timeout
			}
			r.Body = io.NopCloser(&slowReader{r: r.Body, delay: delay, ctx: r.Context()})
			return normal
		}},
		{name: "connection resets", fail: func(n int, w http.ResponseWriter, _ *http.Request) mode {
			if n%2 == 0 {
				hangUp(w)
				return handled
			}
			return normal
		}},
		{name: "acknowledgement lost", fail: func(n int, _ http.ResponseWriter, _ *http.Request) mode {
			if n%2 == 0 {
				return loseAck // the receiver has the batch; the sender does not know
			}
			return normal
		}, check: func(t *testing.T, rc *receiver, _ []string) {
			at, _ := rc.seen()
			if dup := len(at) - len(uniqueKeys(at)); dup == 0 {
				t.Errorf("no batch arrived twice, want duplicates for the dedupe check")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			var failedKeys []string
			rc := newReceiver(t, testSecret, func(n int, w http.ResponseWriter, r *http.Request) mode {
				m := tt.fail(n, w, r)
				if m != normal {
					mu.Lock()
					failedKeys = append(failedKeys, r.Header.Get("Idempotency-Key"))
					mu.Unlock()
				}
				return m
			})
			sink, err := siem.NewHTTP(rc.srv.URL+"/collect", &siem.HTTPOptions{Secret: []byte(testSecret), Timeout: 300 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close(context.Background())
			primary := memory.New(nil)
			var drops []error
			tee, err := siem.NewTee(primary, []siem.Stream{{
				Name: "siem", Sink: sink, BatchSize: 7, FlushInterval: 5 * time.Millisecond, Retry: fastRetry,
			}}, &siem.TeeOptions{OnError: func(err error) { mu.Lock(); drops = append(drops, err); mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			ids := logN(t, tee, 40)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := tee.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(drops) > 0 {
				t.Errorf("OnError got %v, want nothing", drops)
			}
			at, errs := rc.seen()
			for _, e := range errs {
				t.Errorf("receiver: %s", e)
			}
			checkDelivery(t, ids, at, failedKeys)
			st := tee.Stats().Streams[0]
			if st.Sent != uint64(len(ids)) || st.Queued != 0 || len(st.Dropped) != 0 {
				t.Errorf("stats: sent %d, queued %d, dropped %v; want %d, 0, none", st.Sent, st.Queued, st.Dropped, len(ids))
			}
			if st.Retried == 0 || st.LastError == nil {
				t.Errorf("stats: retried %d, last error %v; want retries and an error", st.Retried, st.LastError)
			}
			if tt.check != nil {
				tt.check(t, rc, failedKeys)
			}
		})
	}
}

// checkDelivery checks the receiver's attempts against the logged IDs.
func checkDelivery(t *testing.T, ids []uuid.UUID, at []attempt, failedKeys []string) {
	t.Helper()
	byKey := map[string][]uuid.UUID{}
	got := map[uuid.UUID]int{}
	for _, a := range at {
		if want := siem.IdempotencyKey(recordsOf(a.ids)); a.key != want {
			t.Errorf("Idempotency-Key %q, want %q (of the batch's IDs)", a.key, want)
		}
		if prev, ok := byKey[a.key]; ok {
			if !slices.Equal(prev, a.ids) {
				t.Errorf("key %s carried different batches: %v and %v", a.key, prev, a.ids)
			}
			continue // a receiver deduplicating by key drops it
		}
		byKey[a.key] = a.ids
		for _, id := range a.ids {
			got[id]++
		}
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("record %s arrived %d times after dedupe by key, want 1", id, got[id])
		}
	}
	if len(got) != len(ids) {
		t.Errorf("%d distinct records arrived, want %d", len(got), len(ids))
	}
	for _, k := range failedKeys {
		if _, ok := byKey[k]; !ok && k != "" {
			t.Errorf("a failed batch's key %s never arrived: the retry changed its key", k)
		}
	}
}

func recordsOf(ids []uuid.UUID) []audit.Record {
	rs := make([]audit.Record, len(ids))
	for i, id := range ids {
		rs[i].ID = id
	}
	return rs
}

func uniqueKeys(at []attempt) map[string]bool {
	m := map[string]bool{}
	for _, a := range at {
		m[a.key] = true
	}
	return m
}

// slowReader reads a byte at a time, pausing delay before each.
type slowReader struct {
	r     io.Reader
	delay time.Duration
	ctx   context.Context
}

func (s *slowReader) Read(p []byte) (int, error) {
	select {
	case <-time.After(s.delay):
	case <-s.ctx.Done():
		return 0, s.ctx.Err()
	}
	return s.r.Read(p[:min(len(p), 64)])
}

// TestHTTPSinkRejected: a 4xx other than 408 and 429 is permanent: the
// batch is dropped at once, reported, and no secret reaches the error.
func TestHTTPSinkRejected(t *testing.T) {
	t.Parallel()
	rc := newReceiver(t, testSecret, func(_ int, w http.ResponseWriter, _ *http.Request) mode {
		w.WriteHeader(http.StatusBadRequest)
		return handled
	})
	u := strings.Replace(rc.srv.URL, "http://", "http://user:pw-in-url@", 1) + "/hooks/token-in-path/in?token=token-in-query"
	sink, err := siem.NewHTTP(u, &siem.HTTPOptions{
		Secret: []byte(testSecret), SplunkToken: "splunk-token-value",
		Header: http.Header{"Authorization": {"Bearer bearer-value"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	var mu sync.Mutex
	var reported []error
	tee, err := siem.NewTee(memory.New(nil), []siem.Stream{{Name: "siem", Sink: sink, BatchSize: 5, Retry: fastRetry}},
		&siem.TeeOptions{OnError: func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	logN(t, tee, 10)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tee.Close(ctx); err != nil {
		t.Fatalf("Close: %v (the rejected batches were retried)", err)
	}
	if n := rc.requests(); n != 2 {
		t.Errorf("receiver got %d requests, want 2 (two batches, no retry)", n)
	}
	st := tee.Stats().Streams[0]
	if st.Dropped[audit.ReasonRejected] != 10 || st.Retried != 0 {
		t.Errorf("dropped %v, retried %d; want 10 rejected, 0", st.Dropped, st.Retried)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reported) != 2 {
		t.Fatalf("OnError got %d errors, want 2", len(reported))
	}
	for _, err := range append(reported, st.LastError) {
		var de *siem.DropError
		if d := (*siem.DropError)(nil); errors.As(err, &d) {
			de = d
		}
		if err != st.LastError && (de == nil || de.Reason != audit.ReasonRejected || de.Count != 5) {
			t.Errorf("OnError got %v, want a DropError of 5 rejected", err)
		}
		msg := err.Error()
		for _, secret := range []string{testSecret, "splunk-token-value", "bearer-value", "pw-in-url", "token-in-path", "token-in-query"} {
			if strings.Contains(msg, secret) {
				t.Errorf("error %q holds the secret %q", msg, secret)
			}
		}
		if !strings.Contains(msg, "400") {
			t.Errorf("error %q does not say the status", msg)
		}
	}
}

// recordingSink keeps what it is sent.
type recordingSink struct {
	mu   sync.Mutex
	recs []audit.Record
}

func (s *recordingSink) Send(_ context.Context, rs []audit.Record) error {
	s.mu.Lock()
	s.recs = append(s.recs, rs...)
	s.mu.Unlock()
	return nil
}

func (s *recordingSink) got() []audit.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.recs)
}

// failingStore refuses every Append.
type failingStore struct{ err error }

func (s failingStore) Append(context.Context, ...audit.Record) error { return s.err }

// TestTeeFeedsOnlyWhatThePrimaryAccepted: Append returns the primary's
// error unchanged, and a record the primary refused reaches no stream.
func TestTeeFeedsOnlyWhatThePrimaryAccepted(t *testing.T) {
	t.Parallel()
	errDown := errors.New("primary down")
	sink := &recordingSink{}
	tee, err := siem.NewTee(failingStore{errDown}, []siem.Stream{{Name: "s", Sink: sink}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = tee.Append(context.Background(), audit.Record{ID: uuid.New(), Action: "doc.read", ResourceType: "doc", Status: audit.StatusSuccess})
	if !errors.Is(err, errDown) {
		t.Errorf("Append: got %v, want the primary's error", err)
	}
	if err := tee.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.got(); len(got) != 0 {
		t.Errorf("the stream got %d records the primary refused, want 0", len(got))
	}

	// And what the primary accepts arrives, stamped with RecordedAt.
	primary, sink := memory.New(nil), &recordingSink{}
	at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	tee, err = siem.NewTee(primary, []siem.Stream{{Name: "s", Sink: sink}}, &siem.TeeOptions{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	ids := logN(t, tee, 3)
	if err := tee.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := sink.got()
	if len(got) != 3 {
		t.Fatalf("the stream got %d records, want 3", len(got))
	}
	for i, r := range got {
		if r.ID != ids[i] || !r.RecordedAt.Equal(at) {
			t.Errorf("record %d: ID %s RecordedAt %v, want %s %v", i, r.ID, r.RecordedAt, ids[i], at)
		}
	}
}

// stalledSink blocks in Send until released (or its context ends).
type stalledSink struct {
	entered chan struct{}
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func newStalledSink() *stalledSink {
	return &stalledSink{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (s *stalledSink) Send(ctx context.Context, rs []audit.Record) error {
	s.entered <- struct{}{}
	select {
	case <-s.release:
		s.mu.Lock()
		s.n += len(rs)
		s.mu.Unlock()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestTeeStalledStreamDoesNotBlockAppend: while a stream's sink is stuck
// in Send, Append keeps returning (the test would hang otherwise), the
// queue holds its bound and the overflow is counted and reported.
func TestTeeStalledStreamDoesNotBlockAppend(t *testing.T) {
	t.Parallel()
	sink := newStalledSink()
	primary := memory.New(nil)
	var mu sync.Mutex
	var reported []*siem.DropError
	tee, err := siem.NewTee(primary, []siem.Stream{{Name: "stuck", Sink: sink, QueueSize: 10, BatchSize: 1}},
		&siem.TeeOptions{OnError: func(err error) {
			var de *siem.DropError
			if errors.As(err, &de) {
				mu.Lock()
				reported = append(reported, de)
				mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done := make(chan error, 1)
	go func() {
		if err := tee.Append(ctx, audit.Record{ID: uuid.New(), Action: "doc.read", ResourceType: "doc", Status: audit.StatusSuccess}); err != nil {
			done <- err
			return
		}
		<-sink.entered // the stream's goroutine is now stuck in Send
		for range 100 {
			if err := tee.Append(ctx, audit.Record{ID: uuid.New(), Action: "doc.read", ResourceType: "doc", Status: audit.StatusSuccess, OccurredAt: time.Unix(1000, 0)}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	// The sink stays stuck until the Appends have returned: were Append
	// to wait for the stream, this would deadlock. The timer only turns
	// that deadlock into a failure; it bounds nothing about speed.
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Append blocked behind a stalled stream")
	}
	// All 100 Appends returned while the sink was stuck.
	st := tee.Stats().Streams[0]
	if st.Queued != 10 || st.Dropped[audit.ReasonQueueFull] != 90 {
		t.Errorf("queued %d, dropped %v; want 10 queued, 90 queue_full", st.Queued, st.Dropped)
	}
	page, _ := primary.Query(ctx, audit.Filter{Limit: audit.MaxLimit})
	if len(page.Records) != 101 {
		t.Errorf("the primary holds %d records, want 101", len(page.Records))
	}
	close(sink.release)
	if err := tee.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if sink.n != 11 {
		t.Errorf("the sink got %d records, want 11", sink.n)
	}
	mu.Lock()
	defer mu.Unlock()
	var n int
	for _, de := range reported {
		if de.Reason != audit.ReasonQueueFull || !de.Oldest.Equal(time.Unix(1000, 0)) {
			t.Errorf("OnError got %v (oldest %v), want queue_full from %v", de, de.Oldest, time.Unix(1000, 0))
		}
		n += de.Count
	}
	if n != 90 {
		t.Errorf("OnError reported %d dropped records, want 90", n)
	}
}

// TestTeeCloseDeadline: when Close's context ends before the stream is
// drained, the batch in flight and the queue are dropped as shutdown,
// counted and reported, and Close says so.
func TestTeeCloseDeadline(t *testing.T) {
	t.Parallel()
	sink := newStalledSink()
	var reported atomic.Int64
	tee, err := siem.NewTee(memory.New(nil), []siem.Stream{{Name: "stuck", Sink: sink, BatchSize: 1}},
		&siem.TeeOptions{OnError: func(err error) {
			var de *siem.DropError
			if errors.As(err, &de) && de.Reason == audit.ReasonShutdown {
				reported.Add(int64(de.Count))
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if err := tee.Append(ctx, audit.Record{ID: uuid.New(), Action: "doc.read", ResourceType: "doc", Status: audit.StatusSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	<-sink.entered
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := tee.Close(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Close: got %v, want context.Canceled", err)
	}
	if err := tee.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("second Close: got %v, want the first one's error", err)
	}
	// After Close, records go to the primary only and are reported.
	if err := tee.Append(ctx, audit.Record{ID: uuid.New(), Action: "doc.read", ResourceType: "doc", Status: audit.StatusSuccess}); err != nil {
		t.Errorf("Append after Close: %v, want the primary's nil", err)
	}
	st := tee.Stats().Streams[0]
	if st.Dropped[audit.ReasonShutdown] != 4 || reported.Load() != 4 {
		t.Errorf("dropped %v, reported %d; want 4 shutdown, 4", st.Dropped, reported.Load())
	}
}

// TestTeeQueueBytes: the byte bound drops records the count bound would
// keep.
func TestTeeQueueBytes(t *testing.T) {
	t.Parallel()
	sink := newStalledSink()
	tee, err := siem.NewTee(memory.New(nil), []siem.Stream{{Name: "s", Sink: sink, BatchSize: 1, QueueBytes: 3000}},
		&siem.TeeOptions{OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	big := func() audit.Record {
		return audit.Record{ID: uuid.New(), Action: "doc.read", ResourceType: "doc", Status: audit.StatusSuccess, Details: []byte(`{"x":"` + strings.Repeat("a", 1000) + `"}`)}
	}
	if err := tee.Append(ctx, big()); err != nil {
		t.Fatal(err)
	}
	<-sink.entered
	for range 5 {
		if err := tee.Append(ctx, big()); err != nil {
			t.Fatal(err)
		}
	}
	st := tee.Stats().Streams[0]
	if st.Queued != 2 || st.Dropped[audit.ReasonQueueFull] != 3 {
		t.Errorf("queued %d (%d bytes), dropped %v; want 2 queued, 3 queue_full", st.Queued, st.QueuedBytes, st.Dropped)
	}
	close(sink.release)
	if err := tee.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestNewTeeErrors(t *testing.T) {
	t.Parallel()
	sink := &recordingSink{}
	tests := []struct {
		name    string
		primary audit.Store
		streams []siem.Stream
		want    string
		opts    *siem.TeeOptions
	}{
		{"nil primary", nil, nil, "primary", nil},
		{"no name", memory.New(nil), []siem.Stream{{Sink: sink}}, "Name is required", nil},
		{"no sink", memory.New(nil), []siem.Stream{{Name: "a"}}, "Sink is required", nil},
		{"duplicate", memory.New(nil), []siem.Stream{{Name: "a", Sink: sink}, {Name: "a", Sink: sink}}, "duplicate", nil},
		{"negative", memory.New(nil), []siem.Stream{{Name: "a", Sink: sink, QueueSize: -1}}, "negative", nil},
		{"backoff", memory.New(nil), []siem.Stream{{Name: "a", Sink: sink, Retry: siem.Retry{MinBackoff: time.Second, MaxBackoff: time.Millisecond}}}, "MaxBackoff", nil},
		{"negative InFlight", memory.New(nil), []siem.Stream{{Name: "a", Sink: sink, InFlight: -1}}, "negative", nil},
		{"durable, primary not a Querier", struct{ audit.Store }{memory.New(nil)}, []siem.Stream{{Name: "a", Sink: sink}}, "audit.Querier", &siem.TeeOptions{Positions: memory.New(nil)}},
		{"durable, name too long", memory.New(nil), []siem.Stream{{Name: strings.Repeat("n", 300), Sink: sink}}, "at most", &siem.TeeOptions{Positions: memory.New(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := siem.NewTee(tt.primary, tt.streams, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "audit: siem: ") {
				t.Errorf("got %v, want an audit: siem: error about %q", err, tt.want)
			}
		})
	}
}

// failingSink fails every Send with a transient error.
type failingSink struct{ sends atomic.Int64 }

func (s *failingSink) Send(context.Context, []audit.Record) error {
	s.sends.Add(1)
	return errors.New("receiver down")
}

// TestTeeReportsDropsDuringBackoff: records dropped while the stream waits
// out a retry backoff are reported to OnError at once, not after the
// backoff (a process killed meanwhile never reported them).
func TestTeeReportsDropsDuringBackoff(t *testing.T) {
	t.Parallel()
	sink := &failingSink{}
	reported := make(chan *siem.DropError, 100)
	tee, err := siem.NewTee(memory.New(nil), []siem.Stream{{Name: "down", Sink: sink, QueueSize: 1, BatchSize: 1,
		Retry: siem.Retry{MinBackoff: time.Hour, MaxBackoff: time.Hour, RetryFor: 2 * time.Hour}}},
		&siem.TeeOptions{OnError: func(err error) {
			var de *siem.DropError
			if errors.As(err, &de) {
				reported <- de
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rec := func() audit.Record {
		return audit.Record{ID: uuid.New(), Action: "doc.read", ResourceType: "doc", Status: audit.StatusSuccess, OccurredAt: time.Now()}
	}
	if err := tee.Append(ctx, rec()); err != nil {
		t.Fatal(err)
	}
	for sink.sends.Load() == 0 { // the stream's goroutine has failed once: it waits an hour
		time.Sleep(time.Millisecond)
	}
	// One fills the queue, the next three are dropped.
	for range 4 {
		if err := tee.Append(ctx, rec()); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	timeout := time.After(30 * time.Second) // turns a hang into a failure; bounds nothing about speed
	for n < 3 {
		select {
		case de := <-reported:
			if de.Reason != audit.ReasonQueueFull {
				t.Fatalf("reported %v, want queue_full", de)
			}
			n += de.Count
		case <-timeout:
			t.Fatalf("%d of 3 drops reported while the stream waits out its backoff", n)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	tee.Close(cctx) // gives up on the batch in its backoff
}
