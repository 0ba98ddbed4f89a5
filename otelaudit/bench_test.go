package otelaudit_test

import (
	"context"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/otelaudit"
	"github.com/trailmark/audit/store/memory"
)

// BenchmarkLogAsync measures what Log costs its caller with no Observer
// ("bare") and with otelaudit's instruments on an SDK MeterProvider
// ("otel"), in the same run, as the root package's BenchmarkLogAsync
// does: the batcher writes into a memory store on the other core, and the
// timer stops every half queue while it catches up.
func BenchmarkLogAsync(b *testing.B) {
	for _, withMetrics := range []bool{false, true} {
		name := "bare"
		if withMetrics {
			name = "otel"
		}
		b.Run(name, func(b *testing.B) {
			const queue = 16384
			opts := &audit.Options{NoLifecycleEvents: true, Async: audit.AsyncOptions{QueueSize: queue}}
			if withMetrics {
				m, _ := newMetrics(b, nil)
				opts.Observer = m
			}
			l, err := audit.New(memory.New(nil), opts)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close(context.Background())
			if withMetrics {
				if err := opts.Observer.(*otelaudit.Metrics).Register(otelaudit.Sources{Logger: l}); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			ev := audit.Event{
				UserID: "user-42", Action: audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "doc-7",
				Details: map[string]any{"title": "Quarterly report", "size": 1234}, Status: audit.StatusSuccess,
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if i%(queue/2) == queue/2-1 {
					b.StopTimer()
					if err := l.Flush(ctx); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				if err := l.Log(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEvents measures what the Observer adds to each accepted event
// on Log's path: one Events call.
func BenchmarkEvents(b *testing.B) {
	m, _ := newMetrics(b, nil)
	b.ReportAllocs()
	for b.Loop() {
		m.Events(audit.OutcomeAccepted, audit.Async, audit.ActionResourceUpdate, 1)
	}
}
