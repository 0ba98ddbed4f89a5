package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
)

// BenchmarkSyncPostgres measures fail-closed writes with 1, 8, 64 and 256
// concurrent callers, in one run:
//
//	logger  audit.Logger, every event Sync (group commit), store from Open
//	naive   one INSERT and one COMMIT per event, one connection per caller
//	        (at most 80: the server allows 100, and other clients need some)
//	async   audit.Logger, every event Async, for comparison
//
// Each reports events/s and the p50 and p99 latency of one call:
//
//	go test ./store/postgres/ -run '^$' -bench SyncPostgres -benchtime 20000x
func BenchmarkSyncPostgres(b *testing.B) {
	for _, callers := range []int{1, 8, 64, 256} {
		b.Run(fmt.Sprintf("callers=%d/logger", callers), func(b *testing.B) {
			benchLogger(b, callers, audit.Sync)
		})
		b.Run(fmt.Sprintf("callers=%d/naive", callers), func(b *testing.B) {
			benchNaive(b, callers)
		})
	}
	b.Run("callers=64/async", func(b *testing.B) { benchLogger(b, 64, audit.Async) })
}

func benchLogger(b *testing.B, callers int, d audit.Delivery) {
	schema, _ := benchSchema(b)
	s, err := postgres.Open(context.Background(), dsn(b), &postgres.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: d, NoSecurityDefaults: true, SyncTimeout: time.Minute}, Async: audit.AsyncOptions{BatchSize: 1000, BlockTimeout: time.Minute}, OnError: func(err error) { b.Error(err) }})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	ev := benchEvent()
	runCallers(b, callers, func(ctx context.Context) error { return l.Log(ctx, ev) }, func() {
		if err := l.Flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	})
}

func benchNaive(b *testing.B, callers int) {
	schema, _ := benchSchema(b)
	db, err := sqlx.Open("postgres", dsn(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	conns := min(callers, 80)
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	q := strings.Replace(naiveInsert, "%s", schema+".audit_logs", 1)
	tmpl := benchRecord(time.Now())
	runCallers(b, callers, func(ctx context.Context) error {
		r := tmpl
		r.ID = uuid.Must(uuid.NewV7())
		r.OccurredAt = time.Now().UTC().Truncate(time.Microsecond)
		_, err := db.ExecContext(ctx, q, values(&r)...)
		return err
	}, nil)
}

// runCallers calls write b.N times in all from callers goroutines, then
// end (when set), and reports events/s and the p50 and p99 latency of
// write.
func runCallers(b *testing.B, callers int, write func(context.Context) error, end func()) {
	b.ReportAllocs()
	var (
		next   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
		lats   = make([][]time.Duration, callers)
	)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for i := range callers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t := time.Now()
				if err := write(ctx); err != nil {
					failed.Add(1)
					b.Error(err)
					return
				}
				lats[i] = append(lats[i], time.Since(t))
			}
		})
	}
	wg.Wait()
	if end != nil {
		end()
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d calls failed", n, b.N)
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "events/s")
	b.ReportMetric(ms(all[len(all)/2]), "p50-ms")
	b.ReportMetric(ms(all[len(all)*99/100]), "p99-ms")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
