package audit_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
)

// benchDetails is the details map of a typical event: what the caller
// builds, outside of what Log costs.
var benchDetails = map[string]any{"title": "Quarterly report", "size": 1234, "tags": []string{"a", "b"}}

func benchEvent(details map[string]any) audit.Event {
	return audit.Event{
		UserID: "user-42", UserEmail: "ada@example.com", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		Action: audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "doc-7",
		Details: details, RequestID: "req-1", Status: audit.StatusSuccess,
	}
}

// newBenchLogger returns a Logger without lifecycle events; opts may be nil.
func newBenchLogger(b *testing.B, s audit.Store, opts *audit.Options) *audit.Logger {
	b.Helper()
	var o audit.Options
	if opts != nil {
		o = *opts
	}
	o.NoLifecycleEvents = true
	l, err := audit.New(s, &o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close(context.Background()) })
	return l
}

// cpuPerOp locks the benchmark's goroutine to its thread and starts
// counting the CPU time that thread uses; the function it returns, called
// after the loop, reports it per operation as "cpu-ns/op" (on Linux). On a
// machine shared with other work, ns/op counts the time the benchmark
// waited for a core, and cpu-ns/op does not: it is the caller's own cost,
// without the Logger's goroutines (the Async batcher).
func cpuPerOp(b *testing.B) func() {
	runtime.LockOSThread()
	start, ok := threadCPU()
	return func() {
		end, _ := threadCPU()
		runtime.UnlockOSThread()
		if ok && b.N > 0 {
			b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
		}
	}
}

// BenchmarkLogAsync measures what Log costs the caller when the event is
// queued: validation, cleaning, encoding Details, ID and clock, and the
// queue. The batcher writes into the memory store meanwhile, on the other
// core; every half queue the timer stops while it catches up, so that the
// queue never fills (the sustained rate is BenchmarkThroughput's).
func BenchmarkLogAsync(b *testing.B) {
	for _, bc := range []struct {
		name    string
		details map[string]any
	}{{"minimal", nil}, {"details", benchDetails}} {
		b.Run(bc.name, func(b *testing.B) {
			const queue = 16384
			l := newBenchLogger(b, memory.New(nil), &audit.Options{Async: audit.AsyncOptions{QueueSize: queue}})
			ctx := context.Background()
			ev := benchEvent(bc.details)
			b.ReportAllocs()
			b.ResetTimer()
			report := cpuPerOp(b)
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
			report()
		})
	}
}

// BenchmarkLogAsyncPaired runs LogAsync/details's Log and Baseline's
// json.Marshal of the same map in alternating blocks of 256, in one loop,
// and reports each one's CPU time on the calling thread per event
// (log-cpu-ns/op, json-cpu-ns/op) and their ratio (log/json): the
// issue-24 goal is log/json ≤ 1. On a virtual machine whose speed drifts between
// runs by more than the two differ, the ratio of one run, whose two halves
// ran a few hundred microseconds apart, is steadier than either figure
// across runs. ns/op is the time of both. Like BenchmarkLogAsync, it
// stops the timer to flush every half queue.
func BenchmarkLogAsyncPaired(b *testing.B) {
	const queue, block = 16384, 256
	l := newBenchLogger(b, memory.New(nil), &audit.Options{Async: audit.AsyncOptions{QueueSize: queue}})
	ctx := context.Background()
	ev := benchEvent(benchDetails)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var logCPU, jsonCPU time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += block {
		if i%(queue/2) == 0 && i > 0 {
			b.StopTimer()
			if err := l.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		n := min(block, b.N-i)
		t0, ok := threadCPU()
		for range n {
			if err := l.Log(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		t1, _ := threadCPU()
		for range n {
			if _, err := json.Marshal(benchDetails); err != nil {
				b.Fatal(err)
			}
		}
		t2, _ := threadCPU()
		if !ok {
			continue
		}
		logCPU += t1 - t0
		jsonCPU += t2 - t1
	}
	if jsonCPU > 0 {
		b.ReportMetric(float64(logCPU)/float64(b.N), "log-cpu-ns/op")
		b.ReportMetric(float64(jsonCPU)/float64(b.N), "json-cpu-ns/op")
		b.ReportMetric(float64(logCPU)/float64(jsonCPU), "log/json")
	}
}

// BenchmarkLogSync writes each event before Log returns.
func BenchmarkLogSync(b *testing.B) {
	l := newBenchLogger(b, memory.New(nil), &audit.Options{Policy: audit.Policy{Default: audit.Sync}})
	ctx := context.Background()
	ev := benchEvent(benchDetails)
	b.ReportAllocs()
	report := cpuPerOp(b)
	for b.Loop() {
		if err := l.Log(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	report()
}

// BenchmarkThroughput is the sustained rate from Log to records in the
// memory store: the clock runs until the last event is written.
func BenchmarkThroughput(b *testing.B) {
	s := memory.New(nil)
	l := newBenchLogger(b, s, nil)
	ctx := context.Background()
	ev := benchEvent(benchDetails)
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if err := l.Log(ctx, ev); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(s.Len())/time.Since(start).Seconds(), "events/s")
}

// BenchmarkBaseline runs, in the same process, work of the same size that
// every Go service already pays for: encoding the same details with
// encoding/json, and one slog JSON line with the same fields.
func BenchmarkBaseline(b *testing.B) {
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		report := cpuPerOp(b)
		for b.Loop() {
			if _, err := json.Marshal(benchDetails); err != nil {
				b.Fatal(err)
			}
		}
		report()
	})
	b.Run("slog.JSONHandler", func(b *testing.B) {
		lg := slog.New(slog.NewJSONHandler(io.Discard, nil))
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			lg.LogAttrs(ctx, slog.LevelInfo, "resource.update",
				slog.String("user_id", "user-42"), slog.String("resource_type", "document"),
				slog.String("resource_id", "doc-7"), slog.Any("details", benchDetails))
		}
	})
}
