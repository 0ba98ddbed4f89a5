package audit_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
)

// The allocation counts of the hot paths, exact and the same on every
// machine: an allocation added to Log fails CI (.ci/run runs the tests
// whose names end in Allocs). What a caller does not use (an Observer, a
// trace function, tenants, batching for a lone Sync caller) costs it no
// allocation. Lower a limit when a change wins an allocation back.

// skipAllocs skips allocation counts where they are not meaningful.
func skipAllocs(t *testing.T) {
	t.Helper()
	if testing.Short() || audit.RaceEnabled {
		t.Skip("allocation counts are not meaningful under -race or -short")
	}
}

// allocsEvent is BenchmarkLogAsync's event, with details or without.
func allocsEvent(details bool) audit.Event {
	e := audit.Event{
		UserID: "user-42", UserEmail: "ada@example.com", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		Action: audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "doc-7",
		RequestID: "req-1", Status: audit.StatusSuccess,
	}
	if details {
		e.Details = map[string]any{"title": "Quarterly report", "size": 1234, "tags": []string{"a", "b"}}
	}
	return e
}

// requestContext is the context of an HTTP request served through the
// middleware: request info, actor and tenant.
func requestContext() context.Context {
	ctx := audit.WithRequestInfo(context.Background(), audit.RequestInfo{
		RequestID: "req-9", IPAddress: netip.MustParseAddr("192.0.2.7"), UserAgent: "curl/8",
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
	})
	ctx = audit.WithSettableActor(ctx, audit.Actor{UserID: "u1", UserEmail: "u1@example.com"})
	return audit.WithTenant(ctx, "tenant-1")
}

// TestLogAllocs: queueing an event (Async) allocates nothing, its encoded
// details included once the batcher has made a slab for them; a lone Sync
// caller writing to the memory store pays in addition
// for its write's deadline (context.WithTimeout over context.WithoutCancel:
// 5 allocations) and for no group commit machinery.
func TestLogAllocs(t *testing.T) {
	skipAllocs(t)
	// The batcher sleeps through the measurement: the batch never fills
	// and the flush interval does not end, so that what is counted is the
	// caller's alone.
	async := &audit.Options{Async: audit.AsyncOptions{QueueSize: 1 << 14, BatchSize: 1 << 14, FlushInterval: time.Hour}}
	sync := &audit.Options{Policy: audit.Policy{Default: audit.Sync}}
	bare := audit.Event{Action: audit.ActionResourceRead, ResourceType: "document", Status: audit.StatusSuccess}
	tests := []struct {
		name string
		opts *audit.Options
		ctx  context.Context
		ev   audit.Event
		want float64
	}{
		{"Async/minimal", async, context.Background(), allocsEvent(false), 0},
		{"Async/details", async, context.Background(), allocsEvent(true), 0}, // the encoded JSON goes in a slab
		{"Async/request context", async, requestContext(), bare, 0},
		{"Sync/minimal", sync, context.Background(), allocsEvent(false), 1}, // the deadline (its timer starts only if the store waits)
		{"Sync/details", sync, context.Background(), allocsEvent(true), 2},
		{"Sync/request context", sync, requestContext(), bare, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newLogger(t, memory.New(nil), tt.opts)
			// Two rounds first, written: the batcher makes a slab for the
			// encoded details of the first, then one twice the size the
			// second asked for, which holds all of the measured round's.
			for range 2 {
				for range 1000 {
					if err := l.Log(tt.ctx, tt.ev); err != nil {
						t.Fatal(err)
					}
				}
				if err := l.Flush(tt.ctx); err != nil {
					t.Fatal(err)
				}
			}
			got := testing.AllocsPerRun(1000, func() {
				if err := l.Log(tt.ctx, tt.ev); err != nil {
					t.Fatal(err)
				}
			})
			if got != tt.want {
				t.Errorf("Log allocates %v times per event, want exactly %v (fewer: lower the count)", got, tt.want)
			}
		})
	}
}

// TestLogToAllocs: LogTo into a store (here the memory store, as a
// transaction's store would be) allocates the encoded details and the
// record it hands to Store.Append, an interface method that may keep it.
func TestLogToAllocs(t *testing.T) {
	skipAllocs(t)
	s := memory.New(nil)
	l := newLogger(t, memory.New(nil), nil)
	ctx := context.Background()
	ev := allocsEvent(true)
	got := testing.AllocsPerRun(1000, func() {
		if err := l.LogTo(ctx, s, ev); err != nil {
			t.Fatal(err)
		}
	})
	if want := 2.0; got != want {
		t.Errorf("LogTo allocates %v times per event, want exactly %v (fewer: lower the count)", got, want)
	}
}
