package jetstream_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/trailmark/audit/store/postgres"
)

// terminating opens a store on the schema of a fresh migrated one, whose
// PostgreSQL backends are terminated every period until b ends, as in
// the fault runs of TestEndToEnd.
func terminating(b *testing.B, period time.Duration) (*postgres.Store, string) {
	b.Helper()
	base, schema := pgStore(b)
	app := randomName("trailmark_js_faults_")
	ctx := testCtx(b, 10*time.Minute)
	s, err := postgres.Open(ctx, dsn(b)+"&application_name="+app, &postgres.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(period):
			}
			base.DB().ExecContext(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app)
		}
	})
	b.Cleanup(func() { close(stop); wg.Wait() })
	return s, schema
}

// BenchmarkFaults compares, under PostgreSQL backends terminated every
// 700 ms, an async Logger writing to PostgreSQL directly with the
// JetStream path end to end (an async Logger publishing, one Loader
// with the settings of TestEndToEnd's loaders moving the records into
// PostgreSQL): events/s of each over b.N events, and their ratio.
func BenchmarkFaults(b *testing.B) {
	nc := connect(b, natsURL(b))
	const period = 700 * time.Millisecond

	start := time.Now()
	s, _ := terminating(b, period)
	logAll(b, s, b.N)
	direct := float64(b.N) / time.Since(start).Seconds()

	o, lo := testStream(b, nc)
	pub := newStore(b, nc, o)
	target, schema := terminating(b, period)
	lo.AckWait, lo.WriteTimeout, lo.MaxBackoff = 10*time.Second, 5*time.Second, time.Second
	lo.OnError = func(error) {}
	start = time.Now()
	l, stop := runLoader(b, nc, target, lo)
	logAll(b, pub, b.N)
	waitFor(b, "the load", 10*time.Minute, func() bool { return l.Stats().Loaded >= uint64(b.N) })
	js := float64(b.N) / time.Since(start).Seconds()
	stop()
	var n int
	if err := target.DB().GetContext(context.Background(), &n, "SELECT count(*) FROM "+schema+".audit_logs"); err != nil || n != b.N {
		b.Fatalf("%d rows, %v; want %d", n, err, b.N)
	}
	st := l.Stats()
	b.ReportMetric(direct, "direct-events/s")
	b.ReportMetric(js, "jetstream-events/s")
	b.ReportMetric(js/direct, "ratio")
	b.ReportMetric(float64(st.Retries), "loader-retries")
	b.ReportMetric(float64(st.Redelivered), "redelivered")
	b.ReportMetric(js, "events/s") // replaces logAll's
}
