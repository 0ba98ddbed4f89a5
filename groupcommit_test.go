package audit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

// gatedStore is a memory store whose Append calls wait, one by one, for
// the test to open their gate: gates[n] for the nth call (from 1). Calls
// without a gate go at once.
type gatedStore struct {
	*memory.Store
	mu    sync.Mutex
	gates map[int64]chan struct{}
	calls atomic.Int64
	sizes []int
	fail  func(rs []audit.Record) error
}

func newGated(gated ...int64) *gatedStore {
	s := &gatedStore{Store: memory.New(nil), gates: map[int64]chan struct{}{}}
	for _, n := range gated {
		s.gates[n] = make(chan struct{})
	}
	return s
}

func (s *gatedStore) open(n int64) { close(s.gates[n]) }

func (s *gatedStore) Append(ctx context.Context, rs ...audit.Record) error {
	n := s.calls.Add(1)
	s.mu.Lock()
	s.sizes = append(s.sizes, len(rs))
	gate := s.gates[n]
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.fail != nil {
		if err := s.fail(rs); err != nil {
			return err
		}
	}
	return s.Store.Append(ctx, rs...)
}

func (s *gatedStore) batchSizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

// waitInFlight waits until n Sync writes are in progress.
func waitInFlight(t *testing.T, l *audit.Logger, n int) {
	t.Helper()
	waitFor(t, func() bool { return l.Stats().SyncInFlight == n })
}

// logAll logs one Sync event per resource id, each from its own goroutine,
// and returns the results by resource id once all have returned.
func logAll(l *audit.Logger, ids []string) map[string]error {
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		out = map[string]error{}
	)
	for _, id := range ids {
		wg.Go(func() {
			e := ev(audit.ActionUserLogin)
			e.ResourceID = id
			err := l.Log(context.Background(), e)
			mu.Lock()
			out[id] = err
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return out
}

func TestGroupCommitBatchesWaitingCallers(t *testing.T) {
	s := newGated(1)
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{SyncWriters: 1}})
	first := make(chan error, 1)
	go func() { first <- l.Log(context.Background(), ev(audit.ActionUserLogin)) }()
	waitInFlight(t, l, 1) // the first write holds the only writer
	waitFor(t, func() bool { return s.calls.Load() == 1 })
	done := make(chan map[string]error, 1)
	go func() { done <- logAll(l, names("r", 50)) }()
	waitInFlight(t, l, 51)
	s.open(1)
	if err := <-first; err != nil {
		t.Fatalf("first Log: %v", err)
	}
	for id, err := range <-done {
		if err != nil {
			t.Errorf("Log %s: %v", id, err)
		}
	}
	if got := s.batchSizes(); len(got) != 2 || got[0] != 1 || got[1] != 50 {
		t.Errorf("Append batch sizes %v, want [1 50]: the 50 callers who waited share one write", got)
	}
	if st := l.Stats(); st.Accepted != 51 || st.Written != 51 || st.Failed != 0 || st.SyncInFlight != 0 {
		t.Errorf("stats %+v, want 51 accepted and written", st)
	}
	if n := len(all(t, s)); n != 51 {
		t.Errorf("%d records stored, want 51", n)
	}
}

func TestGroupCommitBatchBound(t *testing.T) {
	s := newGated(1)
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{SyncWriters: 1, SyncBatchSize: 8}})
	first := make(chan error, 1)
	go func() { first <- l.Log(context.Background(), ev(audit.ActionUserLogin)) }()
	waitFor(t, func() bool { return s.calls.Load() == 1 })
	done := make(chan map[string]error, 1)
	go func() { done <- logAll(l, names("r", 20)) }()
	waitInFlight(t, l, 21)
	s.open(1)
	<-first
	<-done
	for i, n := range s.batchSizes() {
		if n > 8 {
			t.Errorf("batch %d holds %d records, want at most SyncBatchSize 8", i, n)
		}
	}
	if n := len(all(t, s)); n != 21 {
		t.Errorf("%d records stored, want 21", n)
	}
}

func TestGroupCommitIsolatesRejectedRecord(t *testing.T) {
	bad := errors.New("poison record")
	s := newGated(1)
	s.fail = func(rs []audit.Record) error {
		for _, r := range rs {
			if r.ResourceID == "poison" {
				return storekit.Permanent(bad)
			}
		}
		return nil
	}
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{SyncWriters: 1}})
	first := make(chan error, 1)
	go func() { first <- l.Log(context.Background(), ev(audit.ActionUserLogin)) }()
	waitFor(t, func() bool { return s.calls.Load() == 1 })
	ids := append(names("r", 19), "poison")
	done := make(chan map[string]error, 1)
	go func() { done <- logAll(l, ids) }()
	waitInFlight(t, l, 21)
	s.open(1)
	<-first
	for id, err := range <-done {
		if id == "poison" {
			if !errors.Is(err, bad) || !storekit.IsPermanent(err) {
				t.Errorf("poison caller: got %v, want the store's permanent error", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("caller %s failed with its batch's poison record: %v", id, err)
		}
	}
	st := l.Stats()
	if st.Accepted != 21 || st.Written != 20 || st.Failed != 1 {
		t.Errorf("stats %+v, want 21 accepted, 20 written, 1 failed", st)
	}
	if n := len(all(t, s)); n != 20 {
		t.Errorf("%d records stored, want 20", n)
	}
}

// TestGroupCommitStoreDown: while the store fails, every caller gets an
// error within its SyncTimeout; a store that committed before failing
// (a lost COMMIT acknowledgement) is retried without duplicates.
func TestGroupCommitStoreDown(t *testing.T) {
	var down atomic.Bool
	var lostAcks atomic.Int64
	s := newGated()
	inner := s.Store
	s.fail = func(rs []audit.Record) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		if lostAcks.Add(-1) >= 0 {
			inner.Append(context.Background(), rs...) // committed, then the connection dropped
			return errors.New("connection reset during COMMIT")
		}
		return nil
	}
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{SyncTimeout: 300 * time.Millisecond}, Async: fastAsync()})

	down.Store(true)
	for id, err := range logAll(l, names("down", 40)) {
		if err == nil {
			t.Errorf("caller %s: Log returned nil with the store down", id)
		}
	}
	if st := l.Stats(); st.Failed != 40 || st.Written != 0 || st.SyncInFlight != 0 {
		t.Errorf("stats %+v, want 40 failed", st)
	}

	down.Store(false)
	lostAcks.Store(3)
	ids := names("up", 60)
	for id, err := range logAll(l, ids) {
		if err != nil {
			t.Errorf("caller %s after recovery: %v", id, err)
		}
	}
	recs := all(t, s)
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.ResourceID]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("record %s stored %d times, want once", id, seen[id])
		}
	}
	if st := l.Stats(); st.Written != 60 || st.Failed != 40 || st.Retried == 0 {
		t.Errorf("stats %+v, want 60 written, 40 failed and some retries", st)
	}
}

// TestGroupCommitOwnDeadlines: a caller whose deadline ends while its
// batch commits fails alone; the other caller of the batch, whose deadline
// is later, gets its record written.
func TestGroupCommitOwnDeadlines(t *testing.T) {
	const timeout = 2 * time.Second
	s := newGated(1, 2)
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{SyncWriters: 1, SyncTimeout: timeout}})
	warm := make(chan error, 1)
	go func() { warm <- l.Log(context.Background(), ev(audit.ActionUserLogin)) }()
	waitFor(t, func() bool { return s.calls.Load() == 1 })

	logOne := func(id string) chan error {
		c := make(chan error, 1)
		e := ev(audit.ActionUserLogin)
		e.ResourceID = id
		go func() { c <- l.Log(context.Background(), e) }()
		return c
	}
	early := logOne("early")
	waitInFlight(t, l, 2)
	time.Sleep(timeout / 2)
	late := logOne("late")
	waitInFlight(t, l, 3)
	s.open(1) // the warm-up write ends; early and late go together
	if err := <-warm; err != nil {
		t.Fatalf("warm-up Log: %v", err)
	}
	waitFor(t, func() bool { return s.calls.Load() == 2 })
	if got := s.batchSizes(); got[1] != 2 {
		t.Fatalf("second batch holds %d records, want early and late", got[1])
	}
	if err := <-early; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("early caller: got %v, want its deadline", err)
	}
	s.open(2)
	if err := <-late; err != nil {
		t.Errorf("late caller: got %v, want nil: another caller's deadline cut its write short", err)
	}
	if st := l.Stats(); st.Accepted != 3 || st.Written != 2 || st.Failed != 1 {
		t.Errorf("stats %+v, want 3 accepted, 2 written, 1 failed", st)
	}
}

// TestGroupCommitManyCallers: 256 concurrent Sync callers all succeed,
// each record once, with fewer Append calls than callers.
func TestGroupCommitManyCallers(t *testing.T) {
	s := newGated()
	s.fail = func([]audit.Record) error { time.Sleep(time.Millisecond); return nil }
	l := newLogger(t, s, nil)
	ids := names("m", 256)
	for id, err := range logAll(l, ids) {
		if err != nil {
			t.Errorf("Log %s: %v", id, err)
		}
	}
	if n := len(all(t, s)); n != 256 {
		t.Errorf("%d records stored, want 256", n)
	}
	if st := l.Stats(); st.Written != 256 || st.SyncInFlight != 0 {
		t.Errorf("stats %+v, want 256 written", st)
	}
}

func TestGroupCommitAfterClose(t *testing.T) {
	s := memory.New(nil)
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Log(context.Background(), ev(audit.ActionUserLogin)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Sync Log after Close: got %v, want ErrClosed", err)
	}
}

// panickyStore panics in the Append calls for which panics says so.
type panickyStore struct {
	*memory.Store
	panics atomic.Int64 // how many more Appends panic
}

func (s *panickyStore) Append(ctx context.Context, rs ...audit.Record) error {
	if s.panics.Add(-1) >= 0 {
		panic("store bug")
	}
	return s.Store.Append(ctx, rs...)
}

// TestGroupCommitStorePanics: a store that panics in a lone caller's own
// write panics that caller (as an HTTP server recovers a handler's
// panic), and gives its write slot back: the next Sync calls are written.
func TestGroupCommitStorePanics(t *testing.T) {
	s := &panickyStore{Store: memory.New(nil)}
	s.panics.Store(2)
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{SyncWriters: 1, SyncTimeout: 2 * time.Second}})
	for range 2 {
		func() {
			defer func() {
				if p := recover(); p != "store bug" {
					t.Errorf("recovered %v, want the store's panic", p)
				}
			}()
			l.Log(context.Background(), ev(audit.ActionUserLogin))
		}()
	}
	if err := l.Log(context.Background(), ev(audit.ActionUserLogin)); err != nil {
		t.Errorf("Log after the store's panics: %v, want nil: the write slot was lost", err)
	}
}
