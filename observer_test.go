package audit_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

// countingObserver adds up what an Observer is told.
type countingObserver struct {
	mu     sync.Mutex
	events map[string]int // "outcome/delivery/action"
	writes map[audit.Delivery]int
	recs   map[audit.Delivery]int // records in writes
	syncs  int
	errs   int // failed Sync writes
}

func newCountingObserver() *countingObserver {
	return &countingObserver{events: map[string]int{}, writes: map[audit.Delivery]int{}, recs: map[audit.Delivery]int{}}
}

func (o *countingObserver) Events(out audit.Outcome, d audit.Delivery, a audit.Action, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events[out.String()+"/"+d.String()+"/"+string(a)] += n
}

func (o *countingObserver) Write(d audit.Delivery, n int, _ time.Duration, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writes[d]++
	o.recs[d] += n
}

func (o *countingObserver) SyncWrite(_ time.Duration, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.syncs++
	if err != nil {
		o.errs++
	}
}

func TestObserverSeesEveryOutcome(t *testing.T) {
	t.Parallel()
	rejected := errors.New("no")
	s := newFake(func(_ int64, rs []audit.Record) error {
		for _, r := range rs {
			if r.ResourceID == "bad" {
				return storekit.Permanent(rejected)
			}
		}
		return nil
	})
	obs := newCountingObserver()
	l := newLogger(t, s, &audit.Options{Observer: obs, OnError: func(error) {}})
	ctx := context.Background()
	ev := func(a audit.Action, id string) audit.Event {
		return audit.Event{Action: a, ResourceType: "doc", ResourceID: id, Status: audit.StatusSuccess}
	}
	for range 3 {
		if err := l.Log(ctx, ev(audit.ActionUserLogin, "u")); err != nil { // Sync
			t.Fatal(err)
		}
	}
	if err := l.Log(ctx, ev(audit.ActionUserLogin, "bad")); err == nil {
		t.Fatal("Sync write of a refused record: got nil error")
	}
	for range 5 {
		if err := l.Log(ctx, ev(audit.ActionResourceRead, "d")); err != nil { // Async
			t.Fatal(err)
		}
	}
	if err := l.Log(ctx, ev(audit.ActionResourceRead, "bad")); err != nil {
		t.Fatal(err)
	}
	if err := l.Log(ctx, audit.Event{Action: audit.ActionResourceRead}); err == nil {
		t.Fatal("invalid event: got nil error")
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{
		"accepted/sync/user.login":     4,
		"written/sync/user.login":      3,
		"rejected/sync/user.login":     1,
		"accepted/async/resource.read": 6,
		"written/async/resource.read":  5,
		"rejected/async/resource.read": 1,
		"invalid/async/resource.read":  1,
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	for k, n := range want {
		if obs.events[k] != n {
			t.Errorf("%s: got %d, want %d", k, obs.events[k], n)
		}
	}
	if len(obs.events) != len(want) {
		t.Errorf("got outcomes %v, want %v", obs.events, want)
	}
	if obs.syncs != 4 || obs.errs != 1 {
		t.Errorf("SyncWrite: got %d calls, %d errors; want 4, 1", obs.syncs, obs.errs)
	}
	if obs.writes[audit.Sync] < 4 || obs.writes[audit.Async] < 2 {
		t.Errorf("Write: got %v calls, want at least 4 sync and 2 async", obs.writes)
	}
	st := l.Stats()
	if got := uint64(obs.events["accepted/sync/user.login"] + obs.events["accepted/async/resource.read"]); got != st.Accepted {
		t.Errorf("accepted: observer %d, Stats %d", got, st.Accepted)
	}
}

func TestObserverQueueFull(t *testing.T) {
	t.Parallel()
	s := newFake(nil)
	s.block = make(chan struct{})
	obs := newCountingObserver()
	l := newLogger(t, s, &audit.Options{Observer: obs, OnError: func(error) {},
		Async: audit.AsyncOptions{QueueSize: 1, Overflow: audit.OverflowDrop}})
	ev := audit.Event{Action: audit.ActionResourceRead, ResourceType: "doc", ResourceID: "d", Status: audit.StatusSuccess}
	full := 0
	for range 20 {
		if err := l.Log(context.Background(), ev); errors.Is(err, audit.ErrQueueFull) {
			full++
		}
	}
	close(s.block)
	obs.mu.Lock()
	got := obs.events["queue_full/async/resource.read"]
	obs.mu.Unlock()
	if full == 0 || got != full {
		t.Errorf("queue_full: observer got %d, Log returned ErrQueueFull %d times (want equal, > 0)", got, full)
	}
}

func TestTraceFrom(t *testing.T) {
	t.Parallel()
	const (
		spanTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanSpan  = "00f067aa0ba902b7"
		hdrTrace  = "0af7651916cd43dd8448eb211c80319c"
		hdrSpan   = "b7ad6b7169203331"
	)
	active := func(ctx context.Context) (string, string, bool) {
		if ctx.Value(spanKey{}) == nil {
			return "", "", false
		}
		return spanTrace, spanSpan, true
	}
	withSpan := context.WithValue(context.Background(), spanKey{}, true)
	withHeader := audit.WithRequestInfo(context.Background(), audit.RequestInfo{TraceID: hdrTrace, SpanID: hdrSpan})
	tests := []struct {
		name            string
		ctx             context.Context
		ev              audit.Event
		wantTrace, want string
	}{
		{"span, no header", withSpan, audit.Event{}, spanTrace, spanSpan},
		{"header only", withHeader, audit.Event{}, hdrTrace, hdrSpan},
		{"span beats header", audit.WithRequestInfo(withSpan, audit.RequestInfo{TraceID: hdrTrace, SpanID: hdrSpan}), audit.Event{}, spanTrace, spanSpan},
		{"event's own ids win", withSpan, audit.Event{TraceID: hdrTrace, SpanID: hdrSpan}, hdrTrace, hdrSpan},
		{"none", context.Background(), audit.Event{}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := memory.New(nil)
			l := newLogger(t, m, &audit.Options{TraceFrom: active, Policy: audit.Policy{Default: audit.Sync}})
			ev := tt.ev
			ev.Action, ev.ResourceType, ev.ResourceID, ev.Status = audit.ActionResourceRead, "doc", "d", audit.StatusSuccess
			if err := l.Log(tt.ctx, ev); err != nil {
				t.Fatal(err)
			}
			rs := all(t, m)
			if len(rs) != 1 || rs[0].TraceID != tt.wantTrace || rs[0].SpanID != tt.want {
				t.Fatalf("got %+v, want trace %q span %q", rs, tt.wantTrace, tt.want)
			}
		})
	}
}

type spanKey struct{}
