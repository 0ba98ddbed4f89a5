package siem_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/store/memory"
)

// failSink fails every Send at once, as an unreachable SIEM does.
type failSink struct{}

func (failSink) Send(context.Context, []audit.Record) error { return errors.New("unreachable") }

// BenchmarkTeeOverhead measures Logger.Log (Sync) over the memory store
// alone and over a Tee of the memory store with a stream whose sink
// fails or stalls, in the same run, alternating in rounds so that both
// see the same machine load. Metrics: alone-ns/op, tee-ns/op and
// overhead-% (tee over alone).
func BenchmarkTeeOverhead(b *testing.B) {
	for _, kind := range []string{"failing", "stalled"} {
		b.Run(kind, func(b *testing.B) {
			var sink siem.Sink = failSink{}
			stalled := newStalledSink()
			if kind == "stalled" {
				sink = stalled
			}
			tee, err := siem.NewTee(memory.New(nil), []siem.Stream{{Name: kind, Sink: sink, QueueSize: 1000,
				Retry: siem.Retry{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, RetryFor: time.Hour}}},
				&siem.TeeOptions{OnError: func(error) {}})
			if err != nil {
				b.Fatal(err)
			}
			alone := newBenchLogger(b, memory.New(nil))
			teed := newBenchLogger(b, tee)
			ctx := context.Background()
			ev := audit.Event{Action: audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "doc-1",
				UserID: "u-1", Status: audit.StatusSuccess, Details: map[string]any{"field": "title"}}
			var dAlone, dTee time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			const round = 256
			for done := 0; done < b.N; done += round {
				n := min(round, b.N-done)
				start := time.Now()
				for range n {
					if err := alone.Log(ctx, ev); err != nil {
						b.Fatal(err)
					}
				}
				mid := time.Now()
				for range n {
					if err := teed.Log(ctx, ev); err != nil {
						b.Fatal(err)
					}
				}
				dAlone += mid.Sub(start)
				dTee += time.Since(mid)
			}
			b.StopTimer()
			b.ReportMetric(float64(dAlone.Nanoseconds())/float64(b.N), "alone-ns/op")
			b.ReportMetric(float64(dTee.Nanoseconds())/float64(b.N), "tee-ns/op")
			b.ReportMetric(100*(float64(dTee)/float64(dAlone)-1), "overhead-%")
			close(stalled.release)
			closeAll(b, alone, teed)
			// The failing stream retries for an hour: give up on it.
			ctx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
			defer cancel()
			_ = tee.Close(ctx)
		})
	}
}

func newBenchLogger(b *testing.B, s audit.Store) *audit.Logger {
	l, err := audit.New(s, &audit.Options{Policy: audit.Policy{Default: audit.Sync, NoSecurityDefaults: true}, NoLifecycleEvents: true})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

func closeAll(b *testing.B, loggers ...interface{ Close(context.Context) error }) {
	for _, l := range loggers {
		if err := l.Close(context.Background()); err != nil {
			b.Fatal(fmt.Errorf("close: %w", err))
		}
	}
}
