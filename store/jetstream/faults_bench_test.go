package jetstream_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit/store/jetstream"
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
	b.Cleanup(func() { s.Close(context.Background()) })
	terminateBackends(b, base.DB(), app, period)
	return s, schema
}

// terminateBackends terminates the PostgreSQL backends of application
// app every period until t ends.
func terminateBackends(t testing.TB, db *sqlx.DB, app string, period time.Duration) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(period):
			}
			db.Exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", app)
		}
	})
	t.Cleanup(func() { close(stop); wg.Wait() })
}

// BenchmarkFaults compares, under PostgreSQL backends terminated every
// 700 ms, an async Logger writing to PostgreSQL directly with the
// JetStream path end to end: an async Logger publishing, two Loaders
// (AckWait 10s, the default; WriteTimeout 5s and MaxBackoff 1s, as in
// TestEndToEnd) moving the records into PostgreSQL, one of them killed
// mid-write once a third is loaded (its connection closed, the batch it
// held never committed) and replaced. It reports events/s of each over
// b.N events, from the first Log until the last record is committed, and
// their ratio; run it with -benchtime 100000x or more, as the kill costs
// one AckWait whatever b.N (at least 10 000 events are logged).
func BenchmarkFaults(b *testing.B) {
	// at least enough events for a loader to be killed holding a batch:
	// the probe run of b.N = 1 loaded its one record before the kill,
	// and waited for ever for the victim to take a batch
	n := max(b.N, 10_000)
	url := natsURL(b)
	nc := connect(b, url)
	const period = 700 * time.Millisecond

	start := time.Now()
	s, _ := terminating(b, period)
	logAll(b, s, n)
	direct := float64(n) / time.Since(start).Seconds()

	o, lo := testStream(b, nc)
	pub := newStore(b, nc, o)
	target, schema := terminating(b, period)
	lo.AckWait, lo.WriteTimeout, lo.MaxBackoff = 10*time.Second, 5*time.Second, time.Second
	lo.OnError = func(error) {}
	victimConn := connect(b, url)
	victim := &dying{Store: target, holding: make(chan struct{})}
	start = time.Now()
	l1, stop1 := runLoader(b, victimConn, victim, lo)
	l2, stop2 := runLoader(b, connect(b, url), target, lo)
	var l3 *jetstream.Loader
	var wg sync.WaitGroup
	wg.Go(func() { logAll(b, pub, n) })
	loaded := func() uint64 {
		sum := l1.Stats().Loaded + l2.Stats().Loaded
		if l3 != nil {
			sum += l3.Stats().Loaded
		}
		return sum
	}
	waitFor(b, "a third loaded", 10*time.Minute, func() bool { return loaded() >= uint64(n/3) })
	victim.trapped.Store(true)
	<-victim.holding
	victimConn.Close()
	killed := time.Now()
	l3, stop3 := runLoader(b, connect(b, url), target, lo)
	wg.Wait()
	published := time.Since(start)
	var got int
	count := func() int {
		if err := target.DB().GetContext(context.Background(), &got, "SELECT count(*) FROM "+schema+".audit_logs"); err != nil {
			return 0
		}
		return got
	}
	waitFor(b, "the load", 10*time.Minute, func() bool { return count() == n })
	js := float64(n) / time.Since(start).Seconds()
	for _, stop := range []func(){stop1, stop2, stop3} {
		stop()
	}
	b.Logf("%d events: published in %v, loaded in %v, %v after the kill; loaders %+v %+v %+v", n, published.Round(time.Millisecond),
		time.Since(start).Round(time.Millisecond), time.Since(killed).Round(time.Millisecond), l1.Stats(), l2.Stats(), l3.Stats())
	b.ReportMetric(direct, "direct-events/s")
	b.ReportMetric(js, "jetstream-events/s")
	b.ReportMetric(js/direct, "ratio")
	b.ReportMetric(js, "events/s") // replaces logAll's
}
