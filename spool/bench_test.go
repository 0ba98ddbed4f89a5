package spool_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/spool"
)

// discard is a store that accepts everything and keeps nothing, so that
// what is measured is the Logger's.
type discard struct{}

func (discard) Append(context.Context, ...audit.Record) error { return nil }

// BenchmarkLogAsync logs the event of the root package's BenchmarkLogAsync
// (with details) to two Loggers in turn, 4096 events at a time, one Async
// with an in-memory queue, one with a spool as well, and reports the time
// per event of each (memory-ns/op, spool-ns/op) and the spool's rate as a
// fraction of the in-memory rate (spool/memory), from the same run. The
// flushes between turns are timed with neither.
func BenchmarkLogAsync(b *testing.B) {
	benchmarkPair(b, false)
}

// BenchmarkLogAsyncParallel is BenchmarkLogAsync with GOMAXPROCS callers
// (b.RunParallel).
func BenchmarkLogAsyncParallel(b *testing.B) {
	benchmarkPair(b, true)
}

func benchmarkPair(b *testing.B, parallel bool) {
	sp, err := spool.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer sp.Close(context.Background())
	ctx := context.Background()
	newLogger := func(s audit.Spool) *audit.Logger {
		l, err := audit.New(discard{}, &audit.Options{NoLifecycleEvents: true, Async: audit.AsyncOptions{Spool: s}})
		if err != nil {
			b.Fatal(err)
		}
		return l
	}
	mem, spooled := newLogger(nil), newLogger(sp)
	defer mem.Close(ctx)
	defer spooled.Close(ctx)
	ev := audit.Event{
		UserID: "user-42", UserEmail: "ada@example.com", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		Action: audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "doc-7",
		RequestID: "req-1", Status: audit.StatusSuccess,
		Details: map[string]any{"title": "Quarterly report", "size": 1234, "tags": []string{"a", "b"}},
	}
	const chunk = 4096 // a quarter of the default queue: Log never waits for room
	run := func(l *audit.Logger, n int) time.Duration {
		if err := l.Flush(ctx); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if parallel {
			// RunParallel is not nestable; share n among GOMAXPROCS goroutines
			done := make(chan struct{})
			procs := runtime.GOMAXPROCS(0)
			for p := range procs {
				go func() {
					defer func() { done <- struct{}{} }()
					for i := p; i < n; i += procs {
						if err := l.Log(ctx, ev); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			for range procs {
				<-done
			}
		} else {
			for range n {
				if err := l.Log(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		}
		return time.Since(start)
	}
	b.ReportAllocs()
	var tMem, tSpool time.Duration
	b.ResetTimer()
	for done := 0; done < b.N; {
		n := min(chunk, b.N-done)
		tMem += run(mem, n)
		tSpool += run(spooled, n)
		done += n
	}
	b.StopTimer()
	b.ReportMetric(float64(tMem.Nanoseconds())/float64(b.N), "memory-ns/op")
	b.ReportMetric(float64(tSpool.Nanoseconds())/float64(b.N), "spool-ns/op")
	b.ReportMetric(float64(tMem)/float64(tSpool), "spool/memory")
}

// BenchmarkAppend appends a record and releases it, without and with
// Options.Sync (an msync per record: a disk flush).
func BenchmarkAppend(b *testing.B) {
	for _, sync := range []bool{false, true} {
		b.Run(map[bool]string{false: "page-cache", true: "sync"}[sync], func(b *testing.B) {
			sp, err := spool.Open(b.TempDir(), &spool.Options{Sync: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer sp.Close(context.Background())
			rec := audit.Record{Action: audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "doc-7", Status: audit.StatusSuccess,
				Details: []byte(`{"size":1234,"tags":["a","b"],"title":"Quarterly report"}`)}
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				rec.ID[0], rec.ID[1], rec.ID[2] = byte(i), byte(i>>8), byte(i>>16)
				if err := sp.Append(rec, 0); err != nil {
					b.Fatal(err)
				}
				sp.Release([]audit.Record{rec})
			}
		})
	}
}
