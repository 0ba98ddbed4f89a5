package audit_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeStore wraps a memory store; fail decides, per call, whether Append
// fails instead.
type fakeStore struct {
	*memory.Store
	calls atomic.Int64
	fail  func(call int64, rs []audit.Record) error
	block chan struct{} // when set, Append waits for it or the context
}

func newFake(fail func(int64, []audit.Record) error) *fakeStore {
	return &fakeStore{Store: memory.New(nil), fail: fail}
}

func (s *fakeStore) Append(ctx context.Context, rs ...audit.Record) error {
	n := s.calls.Add(1)
	if s.block != nil {
		select {
		case <-s.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.fail != nil {
		if err := s.fail(n, rs); err != nil {
			return err
		}
	}
	return s.Store.Append(ctx, rs...)
}

// errs collects what the error handler is told.
type errs struct {
	mu  sync.Mutex
	all []error
}

func (e *errs) handle(err error) { e.mu.Lock(); e.all = append(e.all, err); e.mu.Unlock() }
func (e *errs) list() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.all...)
}

// deliveryErrors returns the records reported per reason.
func (e *errs) deliveryErrors() map[audit.DropReason][]audit.Record {
	out := map[audit.DropReason][]audit.Record{}
	for _, err := range e.list() {
		var de *audit.DeliveryError
		if errors.As(err, &de) {
			out[de.Reason] = append(out[de.Reason], de.Records...)
		}
	}
	return out
}

// newLogger returns a Logger without lifecycle events; opts may be nil.
func newLogger(t *testing.T, s audit.Store, opts *audit.Options) *audit.Logger {
	t.Helper()
	var o audit.Options
	if opts != nil {
		o = *opts
	}
	o.NoLifecycleEvents = true
	l, err := audit.New(s, &o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

func ev(action audit.Action) audit.Event {
	return audit.Event{Action: action, ResourceType: "document", ResourceID: "d1", Status: audit.StatusSuccess}
}

func all(t *testing.T, s audit.Store) []audit.Record {
	t.Helper()
	return storetest.QueryAll(t, s.(audit.Querier), audit.Filter{Limit: audit.MaxLimit})
}

func fastAsync() audit.AsyncOptions {
	return audit.AsyncOptions{FlushInterval: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
}

func TestLogFillsFields(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("CEST", 2*3600))
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Now: func() time.Time { return now }, Policy: audit.Policy{Default: audit.Sync}})
	ctx := audit.WithActor(context.Background(), audit.Actor{UserID: "u1", UserEmail: "u1@example.com"})
	ctx = audit.WithRequestInfo(ctx, audit.RequestInfo{
		RequestID: "req-9", IPAddress: netip.MustParseAddr("2001:db8::7"), UserAgent: "curl/8", SessionID: "s-1",
	})
	if err := l.Log(ctx, ev(audit.ActionResourceRead)); err != nil {
		t.Fatal(err)
	}
	// fields set on the event win over the context
	own := ev(audit.ActionResourceRead)
	own.UserID, own.RequestID = "u2", "req-own"
	own.OccurredAt = now.Add(-time.Hour)
	if err := l.Log(ctx, own); err != nil {
		t.Fatal(err)
	}
	rs := all(t, s)
	if len(rs) != 2 {
		t.Fatalf("got %d records, want 2", len(rs))
	}
	r := rs[0]
	switch {
	case r.UserID != "u1" || r.UserEmail != "u1@example.com":
		t.Errorf("actor not filled: %q %q", r.UserID, r.UserEmail)
	case r.RequestID != "req-9" || r.SessionID != "s-1" || r.UserAgent != "curl/8" || r.IPAddress.String() != "2001:db8::7":
		t.Errorf("request info not filled: %+v", r)
	case !r.OccurredAt.Equal(now.Truncate(time.Microsecond)) || r.OccurredAt.Location() != time.UTC:
		t.Errorf("OccurredAt = %v, want %v in UTC", r.OccurredAt, now.Truncate(time.Microsecond))
	case r.ID.Version() != 7 || r.ID.Variant() != uuid.RFC4122:
		t.Errorf("ID %v is not a UUIDv7", r.ID)
	}
	if sec, nsec := r.ID.Time().UnixTime(); time.Since(time.Unix(sec, nsec)).Abs() > time.Minute {
		t.Errorf("UUIDv7 time %v, want the wall clock's (uuid.NewV7), about now", time.Unix(sec, nsec))
	}
	o := rs[1]
	if o.UserID != "u2" || o.UserEmail != "" || o.RequestID != "req-own" || !o.OccurredAt.Equal(now.Add(-time.Hour).Truncate(time.Microsecond)) {
		t.Errorf("the event's own fields were overridden: %+v", o)
	}
}

func TestIDGenerator(t *testing.T) {
	s := memory.New(nil)
	id := uuid.MustParse("018f0000-0000-7000-8000-000000000001")
	l := newLogger(t, s, &audit.Options{NewID: func() uuid.UUID { return id }, Policy: audit.Policy{Default: audit.Sync}})
	for range 3 {
		if err := l.Log(context.Background(), ev(audit.ActionResourceRead)); err != nil {
			t.Fatal(err)
		}
	}
	if rs := all(t, s); len(rs) != 1 || rs[0].ID != id {
		t.Errorf("got %d records, want 1 with the injected ID (idempotent)", len(rs))
	}
	// an ID the caller sets makes its own retries idempotent
	e := ev(audit.ActionResourceRead)
	e.ID = uuid.New()
	e.OccurredAt = time.Now()
	l.Log(context.Background(), e)
	l.Log(context.Background(), e)
	if rs := all(t, s); len(rs) != 2 {
		t.Errorf("got %d records after logging one event twice, want 2", len(rs))
	}
}

func TestUUIDsUnique(t *testing.T) {
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Async: fastAsync()})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				if err := l.Log(context.Background(), ev(audit.ActionResourceRead)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 8000 {
		t.Errorf("stored %d records, want 8000 (IDs must be unique)", n)
	}
}

func TestDeliveryPolicy(t *testing.T) {
	l := newLogger(t, memory.New(nil), &audit.Options{Policy: audit.Policy{
		Actions: map[audit.Action]audit.Delivery{
			"user.":                  audit.Async, // beats the security default of user.login
			"user.password_change":   audit.DefaultDelivery,
			"billing.":               audit.Sync,
			"billing.invoice.":       audit.Async,
			"billing.invoice.void":   audit.Sync,
			audit.ActionResourceRead: audit.Async,
			audit.ActionAPIKeyRevoke: audit.Async,
			"resource.write":         audit.Sync,
		},
	}})
	tests := []struct {
		action audit.Action
		want   audit.Delivery
	}{
		{audit.ActionUserLogin, audit.Async},
		{audit.ActionUserPasswordChange, audit.Async}, // DefaultDelivery: the policy default
		{audit.ActionPermissionGrant, audit.Sync},     // security default
		{audit.ActionAPIKeyCreate, audit.Sync},
		{audit.ActionAPIKeyRevoke, audit.Async},
		{audit.ActionAuditLogExport, audit.Sync},
		{"billing.charge", audit.Sync},
		{"billing.invoice.create", audit.Async},
		{"billing.invoice.void", audit.Sync},
		{"other.thing", audit.Async},
		{"resource.write", audit.Sync},
	}
	for _, tt := range tests {
		if got := l.DeliveryFor(tt.action); got != tt.want {
			t.Errorf("DeliveryFor(%q) = %v, want %v", tt.action, got, tt.want)
		}
	}
	def := newLogger(t, memory.New(nil), nil)
	// written out, not read from SecurityActions: dropping one fails here
	for _, a := range []audit.Action{
		"user.login", "user.password_change", "user.delete_account",
		"permission.grant", "permission.revoke", "user.role_change",
		"api_key.create", "api_key.revoke",
		"audit_log.read", "audit_log.export", "audit.retention_run",
	} {
		if def.DeliveryFor(a) != audit.Sync {
			t.Errorf("default policy: %s is not Sync", a)
		}
	}
	if def.DeliveryFor(audit.ActionResourceRead) != audit.Async {
		t.Errorf("default policy: resource.read is not Async")
	}
	nosec := newLogger(t, memory.New(nil), &audit.Options{Policy: audit.Policy{NoSecurityDefaults: true}})
	if nosec.DeliveryFor(audit.ActionUserLogin) != audit.Async {
		t.Errorf("NoSecurityDefaults: user.login still Sync")
	}
}

func TestSyncReturnsStoreError(t *testing.T) {
	bad := errors.New("disk on fire")
	s := newFake(func(int64, []audit.Record) error { return storekit.Permanent(bad) })
	l := newLogger(t, s, nil)
	err := l.Log(context.Background(), ev(audit.ActionUserLogin))
	if !errors.Is(err, bad) || !strings.HasPrefix(err.Error(), "audit: ") {
		t.Fatalf("got %v, want the store's error wrapped with an audit: prefix", err)
	}
	if n := s.calls.Load(); n != 1 {
		t.Errorf("a permanent error was retried: %d calls", n)
	}
	st := l.Stats()
	if st.Accepted != 1 || st.Failed != 1 || st.Written != 0 {
		t.Errorf("stats %+v, want 1 accepted, 1 failed", st)
	}
}

func TestSyncRetriesTransient(t *testing.T) {
	s := newFake(func(n int64, _ []audit.Record) error {
		if n < 3 {
			return errors.New("connection reset")
		}
		return nil
	})
	l := newLogger(t, s, &audit.Options{Async: fastAsync()})
	if err := l.Log(context.Background(), ev(audit.ActionUserLogin)); err != nil {
		t.Fatalf("Log: %v", err)
	}
	if st := l.Stats(); st.Retried != 2 || st.Written != 1 {
		t.Errorf("stats %+v, want 2 retries and 1 written", st)
	}
}

func TestSyncDeadline(t *testing.T) {
	s := newFake(nil)
	s.block = make(chan struct{}) // never answers
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{SyncTimeout: 50 * time.Millisecond}})
	// a cancelled caller context does not cancel the write; the deadline does
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	err := l.Log(ctx, ev(audit.ActionUserLogin))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("got %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Log took %v with a 50ms SyncTimeout", d)
	}
}

// TestSyncTransientFailsClosed: a store that fails transiently for longer
// than SyncTimeout makes a Sync Log, and a wrapped Sync call, return an
// error: the failure is never swallowed once the retries give up.
func TestSyncTransientFailsClosed(t *testing.T) {
	s := newFake(func(int64, []audit.Record) error { return errors.New("connection refused") })
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{SyncTimeout: 30 * time.Millisecond}, Async: audit.AsyncOptions{MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond}})
	err := l.Log(context.Background(), ev(audit.ActionUserLogin))
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Log: %v, want the transient error after SyncTimeout", err)
	}
	if st := l.Stats(); st.Failed != 1 || st.Written != 0 || st.Retried == 0 {
		t.Errorf("stats %+v, want 1 failed after retries", st)
	}
	grant := must(audit.Wrap(l, audit.Operation[struct{}, string]{Action: audit.ActionPermissionGrant, ResourceType: "permission"},
		func(context.Context, struct{}) (string, error) { return "editor", nil }))
	if got, err := grant(context.Background(), struct{}{}); got != "editor" || !errors.Is(err, audit.ErrNotRecorded) {
		t.Errorf("wrapped Sync call: %q, %v; want the result and ErrNotRecorded", got, err)
	}
	if n := s.calls.Load(); n < 4 {
		t.Errorf("store called %d times, want retries for each", n)
	}
}

func TestCancelledContextStillRecorded(t *testing.T) {
	s := memory.New(nil)
	l := newLogger(t, s, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client went away
	if err := l.Log(ctx, ev(audit.ActionUserLogin)); err != nil {
		t.Fatalf("sync Log with a cancelled context: %v", err)
	}
	if err := l.Log(ctx, ev(audit.ActionResourceRead)); err != nil {
		t.Fatalf("async Log with a cancelled context: %v", err)
	}
	l.Flush(context.Background())
	if n := s.Len(); n != 2 {
		t.Errorf("stored %d records, want 2", n)
	}
}

func TestAsyncBatchesBySize(t *testing.T) {
	var sizes []int
	var mu sync.Mutex
	s := newFake(func(_ int64, rs []audit.Record) error {
		mu.Lock()
		sizes = append(sizes, len(rs))
		mu.Unlock()
		return nil
	})
	l := newLogger(t, s, &audit.Options{Async: audit.AsyncOptions{BatchSize: 10, FlushInterval: time.Hour}})
	log := func(n int) {
		for range n {
			if err := l.Log(context.Background(), ev(audit.ActionResourceRead)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// less than a batch waits for FlushInterval (or Flush)
	log(5)
	time.Sleep(30 * time.Millisecond)
	if n := s.Len(); n != 0 {
		t.Errorf("%d records written before the batch filled or the interval passed", n)
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 5 {
		t.Errorf("after Flush: %d records, want 5", n)
	}
	// full batches are written without waiting: of 35, all but a last
	// partial batch (fewer than 10) go without Flush
	log(35)
	waitFor(t, func() bool { return s.Len() >= 5+26 })
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.Len(); n != 40 {
		t.Errorf("after Flush: %d records, want 40", n)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, n := range sizes {
		if n > 10 {
			t.Errorf("batch of %d records, BatchSize is 10", n)
		}
	}
}

func TestAsyncFlushesByInterval(t *testing.T) {
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Async: audit.AsyncOptions{FlushInterval: 20 * time.Millisecond}})
	l.Log(context.Background(), ev(audit.ActionResourceRead))
	// the record reaches the store before the writer counts it written
	waitFor(t, func() bool { st := l.Stats(); return st.Written == 1 && st.QueueDepth == 0 })
	if n := s.Len(); n != 1 {
		t.Errorf("%d records stored, want 1", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestAsyncRetriesWithoutDuplicates(t *testing.T) {
	// the store writes the batch, then reports an error: the classic lost
	// acknowledgement
	var s *fakeStore
	s = newFake(func(n int64, rs []audit.Record) error {
		if n%2 == 1 {
			s.Store.Append(context.Background(), rs...)
			return errors.New("connection reset during COMMIT")
		}
		return nil
	})
	var e errs
	l := newLogger(t, s, &audit.Options{Async: fastAsync(), OnError: e.handle})
	for range 500 {
		l.Log(context.Background(), ev(audit.ActionResourceRead))
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if n := s.Len(); n != 500 || st.Written != 500 || st.Retried == 0 {
		t.Errorf("stored %d, stats %+v; want 500 written after retries", n, st)
	}
	if len(e.list()) != 0 {
		t.Errorf("error handler called: %v", e.list())
	}
}

func TestAsyncIsolatesRejectedRecords(t *testing.T) {
	bad := map[string]bool{"poison-1": true, "poison-2": true}
	s := newFake(func(_ int64, rs []audit.Record) error {
		for _, r := range rs {
			if bad[r.ResourceID] {
				return storekit.Permanent(fmt.Errorf("invalid input for %s", r.ResourceID))
			}
		}
		return nil
	})
	var e errs
	l := newLogger(t, s, &audit.Options{Async: fastAsync(), OnError: e.handle})
	for i := range 100 {
		x := ev(audit.ActionResourceRead)
		switch i {
		case 17:
			x.ResourceID = "poison-1"
		case 60:
			x.ResourceID = "poison-2"
		}
		l.Log(context.Background(), x)
	}
	l.Close(context.Background())
	if n := s.Len(); n != 98 {
		t.Errorf("stored %d records, want 98: one bad record must not lose its batch", n)
	}
	rej := e.deliveryErrors()[audit.ReasonRejected]
	if len(rej) != 2 || !bad[rej[0].ResourceID] || !bad[rej[1].ResourceID] {
		t.Errorf("rejected records reported: %v, want the two poison records", rej)
	}
	if st := l.Stats(); st.Failed != 2 || st.Written != 98 || st.Accepted != 100 {
		t.Errorf("stats %+v", st)
	}
}

func TestAsyncRetriesExhausted(t *testing.T) {
	s := newFake(func(int64, []audit.Record) error { return errors.New("down") })
	var e errs
	cfg := fastAsync()
	cfg.RetryFor = 30 * time.Millisecond
	l := newLogger(t, s, &audit.Options{Async: cfg, OnError: e.handle})
	for range 3 {
		l.Log(context.Background(), ev(audit.ActionResourceRead))
	}
	l.Close(context.Background())
	got := e.deliveryErrors()[audit.ReasonRetriesExhausted]
	if len(got) != 3 {
		t.Fatalf("reported %d records as retries_exhausted, want 3 (errors: %v)", len(got), e.list())
	}
	var de *audit.DeliveryError
	errors.As(e.list()[0], &de)
	if de.Err == nil || !strings.Contains(de.Error(), "down") {
		t.Errorf("DeliveryError %v does not carry the store error", de)
	}
	if st := l.Stats(); st.Failed != 3 || st.Retried == 0 {
		t.Errorf("stats %+v, want 3 failed after retries", st)
	}
}

func TestOverflowDrop(t *testing.T) {
	s := newFake(nil)
	s.block = make(chan struct{})
	var e errs
	l := newLogger(t, s, &audit.Options{OnError: e.handle, Async: audit.AsyncOptions{
		QueueSize: 4, BatchSize: 2, FlushInterval: time.Millisecond, Overflow: audit.OverflowDrop,
	}})
	var full int
	for range 20 {
		if err := l.Log(context.Background(), ev(audit.ActionResourceRead)); errors.Is(err, audit.ErrQueueFull) {
			full++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	st := l.Stats()
	if full == 0 || st.Dropped[audit.ReasonQueueFull] != uint64(full) || st.Accepted != uint64(20-full) {
		t.Errorf("%d ErrQueueFull, stats %+v", full, st)
	}
	if got := len(e.deliveryErrors()[audit.ReasonQueueFull]); got != full {
		t.Errorf("error handler told of %d drops, want %d", got, full)
	}
	close(s.block)
	l.Close(context.Background())
	if n := s.Len(); uint64(n) != st.Accepted {
		t.Errorf("stored %d, accepted %d", n, st.Accepted)
	}
}

func TestOverflowBlock(t *testing.T) {
	s := newFake(nil)
	s.block = make(chan struct{})
	var e errs
	l := newLogger(t, s, &audit.Options{OnError: e.handle, Async: audit.AsyncOptions{
		QueueSize: 2, BatchSize: 1, FlushInterval: time.Millisecond, BlockTimeout: 30 * time.Millisecond,
	}})
	// fill: one record held by the blocked store, two queued
	for range 3 {
		if err := l.Log(context.Background(), ev(audit.ActionResourceRead)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	err := l.Log(context.Background(), ev(audit.ActionResourceRead))
	if !errors.Is(err, audit.ErrQueueFull) || time.Since(start) < 25*time.Millisecond {
		t.Errorf("got %v after %v, want ErrQueueFull after blocking ~30ms", err, time.Since(start))
	}
	// room appears while Log waits: the event is accepted
	done := make(chan error)
	go func() { done <- l.Log(context.Background(), ev(audit.ActionResourceRead)) }()
	time.Sleep(5 * time.Millisecond)
	close(s.block)
	if err := <-done; err != nil {
		t.Errorf("Log blocked on a full queue then got room: %v", err)
	}
	l.Close(context.Background())
	if n := s.Len(); n != 4 {
		t.Errorf("stored %d, want 4", n)
	}
}

func TestCloseDrainsAndRefuses(t *testing.T) {
	s := memory.New(nil)
	l, err := audit.New(s, &audit.Options{Async: audit.AsyncOptions{FlushInterval: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	for range 1000 {
		l.Log(context.Background(), ev(audit.ActionResourceRead))
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := l.Log(context.Background(), ev(audit.ActionResourceRead)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Log after Close: %v, want ErrClosed", err)
	}
	if err := l.Log(context.Background(), ev(audit.ActionUserLogin)); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("sync Log after Close: %v, want ErrClosed", err)
	}
	if err := l.Flush(context.Background()); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Flush after Close: %v, want ErrClosed", err)
	}
	rs := all(t, s)
	if len(rs) != 1002 {
		t.Fatalf("stored %d, want 1000 and the logger's start and stop", len(rs))
	}
	if rs[0].Action != audit.ActionAuditLoggerStop || rs[len(rs)-1].Action != audit.ActionAuditLoggerStart {
		t.Errorf("lifecycle: newest %s, oldest %s", rs[0].Action, rs[len(rs)-1].Action)
	}
	if rs[0].ResourceID != rs[len(rs)-1].ResourceID || rs[0].ResourceType != "audit_logger" {
		t.Errorf("start and stop do not name the same logger instance")
	}
}

func TestCloseDeadline(t *testing.T) {
	s := newFake(nil)
	s.block = make(chan struct{}) // the store hangs
	var e errs
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, OnError: e.handle, Async: audit.AsyncOptions{FlushInterval: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		l.Log(context.Background(), ev(audit.ActionResourceRead))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = l.Close(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Errorf("Close: %v after %v, want DeadlineExceeded promptly", err, time.Since(start))
	}
	st := l.Stats()
	lost := e.deliveryErrors()[audit.ReasonShutdown]
	if len(lost) != 10 || st.Dropped[audit.ReasonShutdown] != 10 {
		t.Errorf("shutdown drops: %d reported, stats %+v; want 10", len(lost), st)
	}
	if err2 := l.Close(context.Background()); !errors.Is(err2, context.DeadlineExceeded) {
		t.Errorf("second Close: %v, want the first one's result", err2)
	}
}

// TestNoSilentLoss hammers a flaky store with sync and async events from
// many goroutines while Close races them: every accepted event is written
// or reported.
func TestNoSilentLoss(t *testing.T) {
	var s *fakeStore
	s = newFake(func(n int64, rs []audit.Record) error {
		switch n % 7 {
		case 3:
			return errors.New("transient")
		case 5:
			s.Store.Append(context.Background(), rs...)
			return errors.New("ack lost")
		}
		return nil
	})
	var e errs
	cfg := fastAsync()
	cfg.QueueSize, cfg.BatchSize, cfg.Overflow = 64, 16, audit.OverflowDrop
	l, err := audit.New(s, &audit.Options{OnError: e.handle, Async: cfg})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ok, refused atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				a := audit.ActionResourceRead
				if (g+i)%5 == 0 {
					a = audit.ActionUserLogin // sync
				}
				if err := l.Log(context.Background(), ev(a)); err == nil {
					ok.Add(1)
				} else {
					refused.Add(1)
				}
			}
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	st := l.Stats()
	reported := 0
	for _, rs := range e.deliveryErrors() {
		reported += len(rs)
	}
	stored := uint64(s.Len())
	if st.Accepted != st.Written+st.Failed+st.Dropped[audit.ReasonShutdown] {
		t.Errorf("accepted %d != written %d + failed %d + shutdown %d", st.Accepted, st.Written, st.Failed, st.Dropped[audit.ReasonShutdown])
	}
	if stored != st.Written {
		t.Errorf("stored %d, written %d", stored, st.Written)
	}
	// Log returned nil for every accepted event but the logger's own two
	if uint64(ok.Load())+2 < st.Accepted-st.Failed {
		t.Errorf("ok %d, accepted %d", ok.Load(), st.Accepted)
	}
	if int(st.Dropped[audit.ReasonQueueFull]+st.Failed+st.Dropped[audit.ReasonShutdown]) > reported {
		t.Errorf("drops %+v not all reported (%d reported)", st, reported)
	}
}

func TestInvalidEventsAreCounted(t *testing.T) {
	l := newLogger(t, memory.New(nil), nil)
	err := l.Log(context.Background(), audit.Event{ResourceType: "x", Status: audit.StatusSuccess})
	if !errors.Is(err, audit.ErrInvalidEvent) || !strings.Contains(err.Error(), "action") {
		t.Errorf("got %v, want ErrInvalidEvent naming action", err)
	}
	if st := l.Stats(); st.Invalid != 1 || st.Accepted != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestLogTo(t *testing.T) {
	main, other := memory.New(nil), memory.New(nil)
	l := newLogger(t, main, nil)
	e := ev(audit.ActionResourceRead)
	e.Details = map[string]any{"password": "x"}
	if err := l.LogTo(context.Background(), other, e); err != nil {
		t.Fatal(err)
	}
	if main.Len() != 0 || other.Len() != 1 {
		t.Fatalf("main %d, other %d; want the record in other only", main.Len(), other.Len())
	}
	if r := all(t, other)[0]; string(r.Details) != `{"password":"[REDACTED]"}` {
		t.Errorf("LogTo skipped cleaning: %s", r.Details)
	}
	failing := newFake(func(int64, []audit.Record) error { return errors.New("tx aborted") })
	if err := l.LogTo(context.Background(), failing, e); err == nil || failing.calls.Load() != 1 {
		t.Errorf("LogTo: %v after %d calls; want the error after one attempt", err, failing.calls.Load())
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opts audit.Options
		want string
	}{
		{"queue", audit.Options{Async: audit.AsyncOptions{QueueSize: -1}}, "QueueSize"},
		{"batch", audit.Options{Async: audit.AsyncOptions{BatchSize: -5}}, "BatchSize"},
		{"queue bytes", audit.Options{Async: audit.AsyncOptions{QueueBytes: -1}}, "QueueBytes"},
		{"backoff", audit.Options{Async: audit.AsyncOptions{MinBackoff: time.Second, MaxBackoff: time.Millisecond}}, "MaxBackoff"},
		{"overflow", audit.Options{Async: audit.AsyncOptions{Overflow: 9}}, "Overflow"},
		{"limits", audit.Options{Limits: audit.Limits{MaxJSONBytes: 100}}, "MaxJSONBytes"},
		{"delivery", audit.Options{Policy: audit.Policy{Default: 7}}, "Default"},
		{"action delivery", audit.Options{Policy: audit.Policy{Actions: map[audit.Action]audit.Delivery{"x": 9}}}, "Actions"},
		{"sync timeout", audit.Options{Policy: audit.Policy{SyncTimeout: -1}}, "SyncTimeout"},
		{"empty hash key", audit.Options{Redaction: audit.Redaction{HashKey: []byte{}}}, "HashKey"},
		{"one-byte hash key", audit.Options{Redaction: audit.Redaction{HashKey: []byte{1}}}, "HashKey"},
		{"31-byte hash key", audit.Options{Redaction: audit.Redaction{HashKey: make([]byte, 31)}}, "at least 32 bytes"},
	}
	for _, tt := range tests {
		_, err := audit.New(memory.New(nil), &tt.opts)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "audit: ") {
			t.Errorf("%s: got %v, want an error naming %s", tt.name, err, tt.want)
		}
	}
	// a key of 32 bytes is accepted, and hashes
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Redaction: audit.Redaction{HashKey: make([]byte, audit.MinHashKeyBytes)}, Policy: audit.Policy{Default: audit.Sync}})
	e := ev(audit.ActionResourceRead)
	e.Details = map[string]any{"password": "1234"}
	if err := l.Log(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if d := string(all(t, s)[0].Details); !strings.Contains(d, "hmac-sha256:") || strings.Contains(d, "1234") {
		t.Errorf("details with a 32-byte HashKey: %s", d)
	}
	if l, err := audit.New(nil, nil); l != nil || err == nil || !strings.HasPrefix(err.Error(), "audit: ") {
		t.Errorf("New(nil): %v, %v; want no Logger and an audit: error", l, err)
	}
}

func TestStartFailsWhenStartCannotBeRecorded(t *testing.T) {
	s := newFake(func(int64, []audit.Record) error { return storekit.Permanent(errors.New("read-only")) })
	_, err := audit.New(s, &audit.Options{Policy: audit.Policy{Actions: map[audit.Action]audit.Delivery{audit.ActionAuditLoggerStart: audit.Sync}}})
	if err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("New: %v, want the store error for a Sync logger_start", err)
	}
}

func TestUUIDsIncrease(t *testing.T) {
	s := memory.New(nil)
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newLogger(t, s, &audit.Options{Now: func() time.Time { return now }, Policy: audit.Policy{Default: audit.Sync}})
	// the clock stands still: 5000 IDs in one millisecond
	for range 5000 {
		if err := l.Log(context.Background(), ev(audit.ActionResourceRead)); err != nil {
			t.Fatal(err)
		}
	}
	rs := storetest.QueryAll(t, s, audit.Filter{Limit: audit.MaxLimit})
	for i := 1; i < len(rs); i++ {
		if storekit.CompareIDs(rs[i-1].ID, rs[i].ID) <= 0 {
			t.Fatalf("IDs %d and %d not decreasing newest first: %v, %v", i-1, i, rs[i-1].ID, rs[i].ID)
		}
	}
	// IDs take the wall clock's time, not the Logger's
	if sec, nsec := rs[0].ID.Time().UnixTime(); time.Since(time.Unix(sec, nsec)).Abs() > time.Minute {
		t.Errorf("the last ID's time is %v, want about now", time.Unix(sec, nsec))
	}
}

// TestAsyncIDs checks the IDs of Async events, whose random bits the
// batcher draws: each a UUIDv7 of its record's time, and increasing in
// the order the events were logged, the Sync ones among them included;
// and an event refused for a full queue is reported with its whole ID.
func TestAsyncIDs(t *testing.T) {
	s := newFake(nil)
	s.block = make(chan struct{}) // until the queue is full
	var e errs
	l := newLogger(t, s, &audit.Options{OnError: e.handle, Async: audit.AsyncOptions{FlushInterval: time.Millisecond, QueueSize: 64, Overflow: audit.OverflowDrop},
		Policy: audit.Policy{Actions: map[audit.Action]audit.Delivery{"sync.one": audit.Sync}}})
	const n = 3000
	for i := range n {
		switch {
		case i == 200:
			close(s.block)
			fallthrough
		case i > 200 && i%50 == 0:
			if err := l.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		e := ev(audit.ActionResourceRead)
		if i%100 == 99 && i > 200 {
			e.Action = "sync.one"
		}
		e.ResourceID = strconv.Itoa(i)
		if err := l.Log(context.Background(), e); errors.Is(err, audit.ErrQueueFull) {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	written := all(t, s)
	dropped := e.deliveryErrors()[audit.ReasonQueueFull]
	refused := map[uuid.UUID]bool{}
	for _, r := range dropped {
		refused[r.ID] = true
	}
	byLog := make([]audit.Record, n)
	for _, r := range slices.Concat(written, dropped) {
		i, err := strconv.Atoi(r.ResourceID)
		if err != nil || byLog[i].ID != (uuid.UUID{}) {
			t.Fatalf("record %q twice or unknown", r.ResourceID)
		}
		byLog[i] = r
	}
	var prev uuid.UUID
	for i, r := range byLog {
		if r.ID.Version() != 7 || r.ID.Variant() != uuid.RFC4122 {
			t.Fatalf("event %d: ID %v is not a UUIDv7", i, r.ID)
		}
		sec, nsec := r.ID.Time().UnixTime()
		if at := time.Unix(sec, nsec); at.Before(r.OccurredAt.Truncate(time.Millisecond)) || at.Sub(r.OccurredAt) > 10*time.Millisecond {
			t.Errorf("event %d: ID time %v, want its OccurredAt's, %v", i, at, r.OccurredAt)
		}
		if storekit.CompareIDs(prev, r.ID) >= 0 {
			t.Fatalf("event %d (%s): ID %v not above the one logged before, %v", i, r.Action, r.ID, prev)
		}
		prev = r.ID
	}
	if len(dropped) == 0 || len(written) < n/2 {
		t.Errorf("%d written, %d refused for a full queue: want both", len(written), len(dropped))
	}
	t.Logf("%d written, %d refused for a full queue", len(written), len(dropped))
}

// TestAsyncIDBeforeLaterSync checks that an Async event waiting in the
// queue keeps the place of its ID among the Logger's IDs: a Sync event
// logged after it has a greater ID, and its own ID keeps its time.
func TestAsyncIDBeforeLaterSync(t *testing.T) {
	s := newFake(nil)
	l := newLogger(t, s, &audit.Options{Async: audit.AsyncOptions{FlushInterval: time.Hour},
		Policy: audit.Policy{Actions: map[audit.Action]audit.Delivery{"sync.one": audit.Sync}}})
	first := ev(audit.ActionResourceRead)
	first.ResourceID = "first"
	if err := l.Log(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	second := ev("sync.one")
	second.ResourceID = "second"
	if err := l.Log(context.Background(), second); err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := map[string]audit.Record{}
	for _, r := range all(t, s) {
		got[r.ResourceID] = r
	}
	a, b := got["first"], got["second"]
	if storekit.CompareIDs(a.ID, b.ID) >= 0 {
		t.Errorf("the Async event logged first has ID %v, not below the later Sync event's %v", a.ID, b.ID)
	}
	sec, nsec := a.ID.Time().UnixTime()
	if at := time.Unix(sec, nsec); at.Sub(a.OccurredAt.Truncate(time.Millisecond)).Abs() > 5*time.Millisecond {
		t.Errorf("the Async event's ID has time %v, not its OccurredAt's, %v", at, a.OccurredAt)
	}
}

// TestStatsWhileWriting checks the Stats invariant while a batch is being
// written: nothing is counted twice.
func TestStatsWhileWriting(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	s := newFake(func(n int64, _ []audit.Record) error {
		if calls.Add(1) == 2 {
			<-release // the second batch hangs
		}
		return nil
	})
	l := newLogger(t, s, &audit.Options{Async: audit.AsyncOptions{BatchSize: 10, FlushInterval: time.Hour}})
	for range 30 {
		l.Log(context.Background(), ev(audit.ActionResourceRead))
	}
	waitFor(t, func() bool { return calls.Load() >= 2 })
	st := l.Stats()
	if st.Written+uint64(st.QueueDepth) != st.Accepted || st.Written != 10 || st.QueueDepth != 20 {
		t.Errorf("while a batch is written: written %d + queue depth %d, accepted %d; want 10 + 20 = 30", st.Written, st.QueueDepth, st.Accepted)
	}
	close(release)
	l.Close(context.Background())
	if st := l.Stats(); st.Written != 30 || st.QueueDepth != 0 || st.SyncInFlight != 0 {
		t.Errorf("after Close: %+v", st)
	}
}

// TestStoreDownFailsFast: once a batch has exhausted its retries, the
// batches after it get one attempt each (Close with the store down no
// longer takes RetryFor per batch), and the first batch written ends it.
func TestStoreDownFailsFast(t *testing.T) {
	var down atomic.Bool
	var flaky atomic.Int64 // transient failures to come while up
	var mu sync.Mutex
	attempts := map[uuid.UUID]int{} // per batch, by its first record
	s := newFake(func(_ int64, rs []audit.Record) error {
		mu.Lock()
		attempts[rs[0].ID]++
		mu.Unlock()
		if down.Load() || flaky.Add(-1) >= 0 {
			return errors.New("connection refused")
		}
		return nil
	})
	var e errs
	l := newLogger(t, s, &audit.Options{OnError: e.handle, Async: audit.AsyncOptions{
		BatchSize: 10, FlushInterval: time.Hour, RetryFor: 20 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
	}})
	logN := func(n int) []uuid.UUID {
		var ids []uuid.UUID
		for range n {
			x := ev(audit.ActionResourceRead)
			x.ID = uuid.Must(uuid.NewV7())
			if err := l.Log(context.Background(), x); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, x.ID)
		}
		return ids
	}

	down.Store(true)
	logN(60)
	if err := l.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	retried, once := 0, 0
	for _, n := range attempts {
		if n > 1 {
			retried++
		} else {
			once++
		}
	}
	mu.Unlock()
	if retried != 1 || once < 1 {
		t.Errorf("store down: %d batches retried, %d tried once; want only the first retried, the rest tried once", retried, once)
	}
	if got := len(e.deliveryErrors()[audit.ReasonRetriesExhausted]); got != 60 {
		t.Errorf("%d records reported retries_exhausted, want 60", got)
	}
	if !l.Stats().StoreDown {
		t.Errorf("Stats.StoreDown not set while the store is down")
	}

	// the store is back: the first batch written closes the circuit
	down.Store(false)
	logN(10)
	l.Flush(context.Background())
	if st := l.Stats(); st.Written != 10 || st.StoreDown {
		t.Errorf("store back: written %d, StoreDown %v; want 10 and false", st.Written, st.StoreDown)
	}
	// and transient errors are retried again
	flaky.Store(2)
	ids := logN(10)
	l.Flush(context.Background())
	mu.Lock()
	n := attempts[ids[0]]
	mu.Unlock()
	if st := l.Stats(); st.Written != 20 || n != 3 {
		t.Errorf("after recovery: written %d, the batch tried %d times; want 20 written after 3 attempts", st.Written, n)
	}
}

// TestQueueBytesBound: records with large details fill the queue by bytes
// long before its count bound; the overflow behaves as a full queue.
func TestQueueBytesBound(t *testing.T) {
	const limit = 64 << 10
	big := ev(audit.ActionResourceRead)
	big.Details = map[string]any{"blob": strings.Repeat("x", 8<<10)} // ~8 KiB each
	tests := []struct {
		name     string
		overflow audit.Overflow
	}{
		{"drop", audit.OverflowDrop},
		{"block", audit.OverflowBlock},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFake(nil)
			s.block = make(chan struct{}) // the store hangs: nothing leaves the queue
			var e errs
			l := newLogger(t, s, &audit.Options{OnError: e.handle, Async: audit.AsyncOptions{
				QueueSize: 1000, QueueBytes: limit, BatchSize: 4, FlushInterval: time.Millisecond,
				Overflow: tt.overflow, BlockTimeout: 5 * time.Millisecond,
			}})
			full := 0
			for range 20 {
				if err := l.Log(context.Background(), big); errors.Is(err, audit.ErrQueueFull) {
					full++
				} else if err != nil {
					t.Fatal(err)
				}
			}
			st := l.Stats()
			if st.Accepted < 2 || st.Accepted > 8 || full != 20-int(st.Accepted) {
				t.Errorf("accepted %d, %d ErrQueueFull; want about 64 KiB / 8 KiB = 7 accepted, the rest refused", st.Accepted, full)
			}
			if st.QueueBytes > limit || st.QueueBytes < int64(st.Accepted)*8<<10 || st.QueueDepth != int(st.Accepted) {
				t.Errorf("queue holds %d records, %d bytes; want the accepted records, at most %d bytes", st.QueueDepth, st.QueueBytes, limit)
			}
			if st.Dropped[audit.ReasonQueueFull] != uint64(full) || len(e.deliveryErrors()[audit.ReasonQueueFull]) != full {
				t.Errorf("drops counted %d, reported %d; want %d", st.Dropped[audit.ReasonQueueFull], len(e.deliveryErrors()[audit.ReasonQueueFull]), full)
			}
			// once written, the bytes are free again
			close(s.block)
			if err := l.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if err := l.Log(context.Background(), big); err != nil {
				t.Errorf("Log after the queue drained: %v", err)
			}
			l.Flush(context.Background())
			if st := l.Stats(); st.QueueBytes != 0 || st.Written != st.Accepted {
				t.Errorf("after writing: %d bytes held, written %d of %d", st.QueueBytes, st.Written, st.Accepted)
			}
		})
	}
}
