package jetstream_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/jetstream"
)

// benchAsync is the AsyncOptions of every path benchmarked here.
var benchAsync = audit.AsyncOptions{QueueSize: 16384, BatchSize: 512, FlushInterval: 10 * time.Millisecond, BlockTimeout: time.Minute}

// logAll logs n events through an async Logger on s and closes it; it
// reports events/s over the whole run, Close included.
func logAll(b *testing.B, s audit.Store, n int) {
	b.Helper()
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, Async: benchAsync})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	for i := range n {
		if err := l.Log(ctx, audit.Event{Action: audit.ActionResourceRead, UserID: "u-1", ResourceType: "doc",
			ResourceID: strconv.Itoa(i), Status: audit.StatusSuccess, Details: map[string]any{"i": i}}); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(ctx); err != nil {
		b.Fatal(err)
	}
	if st := l.Stats(); st.Written != uint64(n) {
		b.Fatalf("%d written, want %d", st.Written, n)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkProducer measures an async Logger publishing to JetStream.
func BenchmarkProducer(b *testing.B) {
	nc := connect(b, natsURL(b))
	o, _ := testStream(b, nc)
	s := newStore(b, nc, o)
	b.ReportAllocs()
	b.ResetTimer()
	logAll(b, s, b.N)
}

// BenchmarkDirect measures an async Logger writing to PostgreSQL: the path
// the loaders are compared with.
func BenchmarkDirect(b *testing.B) {
	s, _ := pgStore(b)
	b.ReportAllocs()
	b.ResetTimer()
	logAll(b, s, b.N)
}

// BenchmarkLoader measures 1 and 2 Loaders moving b.N records, published
// beforehand, from JetStream into PostgreSQL.
func BenchmarkLoader(b *testing.B) {
	for _, loaders := range []int{1, 2} {
		b.Run(fmt.Sprintf("loaders=%d", loaders), func(b *testing.B) {
			nc := connect(b, natsURL(b))
			o, lo := testStream(b, nc)
			benchLoad(b, nc, o, lo, loaders)
		})
	}
}

// benchLoad publishes b.N records to the stream of o, then measures
// loaders Loaders moving them into PostgreSQL.
func benchLoad(b *testing.B, nc *nats.Conn, o jetstream.Options, lo jetstream.LoaderOptions, loaders int) {
	s := newStore(b, nc, o)
	ctx := testCtx(b, 10*time.Minute)
	recs := make([]audit.Record, 0, 1000)
	for i := range b.N {
		recs = append(recs, audit.Record{ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now().UTC().Truncate(time.Microsecond),
			UserID: "u-1", Action: audit.ActionResourceRead, ResourceType: "doc", ResourceID: strconv.Itoa(i),
			Details: []byte(`{"i":` + strconv.Itoa(i) + `}`), Status: audit.StatusSuccess})
		if len(recs) == cap(recs) || i == b.N-1 {
			if err := s.Append(ctx, recs...); err != nil {
				b.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	target, _ := pgStore(b)
	lo.OnError = func(err error) { b.Log(err) }
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var ls []*jetstream.Loader
	var stops []func()
	for range loaders {
		l, stop := runLoader(b, nc, target, lo)
		ls, stops = append(ls, l), append(stops, stop)
	}
	waitFor(b, "the load", 10*time.Minute, func() bool {
		var n uint64
		for _, l := range ls {
			n += l.Stats().Loaded
		}
		return n >= uint64(b.N)
	})
	took := time.Since(start)
	b.StopTimer()
	for _, stop := range stops {
		stop()
	}
	b.ReportMetric(float64(b.N)/took.Seconds(), "events/s")
}

// BenchmarkCluster measures what replication costs, on a 3-node cluster
// of embedded servers on loopback (all on this machine's cores): an async
// Logger publishing to a stream of 1 and of 3 replicas, and one Loader
// moving such a stream into PostgreSQL.
func BenchmarkCluster(b *testing.B) {
	c := newCluster(b, 3)
	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("publish/R%d", replicas), func(b *testing.B) {
			nc := connect(b, c.urls())
			o, _ := testStream(b, nc)
			o.Replicas = replicas
			s := newStore(b, nc, o)
			b.ReportAllocs()
			b.ResetTimer()
			logAll(b, s, b.N)
		})
	}
	for _, replicas := range []int{1, 3} {
		b.Run(fmt.Sprintf("load/R%d", replicas), func(b *testing.B) {
			nc := connect(b, c.urls())
			o, lo := testStream(b, nc)
			o.Replicas = replicas
			benchLoad(b, nc, o, lo, 1)
		})
	}
}
