package siem_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/store/memory"
)

// BenchmarkCatchUp streams 1,000 events/s for 12 s through a Tee to an
// NDJSON receiver on loopback that answers 503 from the 2nd to the 7th
// second (a 5 s outage), with the default queue, batch and retry
// settings (bodies not gzipped, to count them). Metrics: catchup-s, from the receiver's recovery until it
// holds every record produced before it; dropped, records the stream
// dropped; deliveries/record, records received (duplicates included) per
// record produced. Run with -benchtime 1x.
func BenchmarkCatchUp(b *testing.B) {
	const rate, total = 1000, 12 * time.Second
	const downFrom, downFor = 2 * time.Second, 5 * time.Second
	for range b.N {
		var down atomic.Bool
		var mu sync.Mutex
		seen := map[string]bool{}
		var received atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			if down.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			mu.Lock()
			for _, line := range splitLines(body) {
				received.Add(1)
				seen[string(line)] = true
			}
			mu.Unlock()
		}))
		sink, err := siem.NewHTTP(srv.URL, &siem.HTTPOptions{NoGzip: true})
		if err != nil {
			b.Fatal(err)
		}
		var dropped atomic.Int64
		tee, err := siem.NewTee(memory.New(nil), []siem.Stream{{Name: "siem", Sink: sink}},
			&siem.TeeOptions{OnError: func(err error) {
				if de, ok := err.(*siem.DropError); ok {
					dropped.Add(int64(de.Count))
				}
			}})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		start := time.Now()
		var producedAtRecovery int64
		var produced int64
		tick := time.NewTicker(time.Second / rate * 10)
		recovered := time.Time{}
		var caughtUp time.Duration
		caught := func() bool {
			mu.Lock()
			defer mu.Unlock()
			return int64(len(seen)) >= producedAtRecovery-dropped.Load()
		}
		for time.Since(start) < total {
			<-tick.C
			el := time.Since(start)
			if !recovered.IsZero() && caughtUp == 0 && caught() {
				caughtUp = time.Since(recovered)
			}
			switch {
			case el >= downFrom && el < downFrom+downFor && !down.Load() && recovered.IsZero():
				down.Store(true)
			case el >= downFrom+downFor && down.Load():
				down.Store(false)
				recovered, producedAtRecovery = time.Now(), produced
			}
			recs := make([]audit.Record, 10)
			for i := range recs {
				recs[i] = audit.Record{ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now().UTC(), Action: "doc.read",
					ResourceType: "doc", Status: audit.StatusSuccess}
			}
			if err := tee.Append(ctx, recs...); err != nil {
				b.Fatal(err)
			}
			produced += int64(len(recs))
		}
		tick.Stop()
		// the records produced before the recovery that can still arrive
		for deadline := time.Now().Add(time.Minute); caughtUp == 0; time.Sleep(10 * time.Millisecond) {
			if caught() || time.Now().After(deadline) {
				caughtUp = time.Since(recovered)
			}
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		tee.Close(cctx)
		cancel()
		srv.Close()
		b.ReportMetric(caughtUp.Seconds(), "catchup-s")
		b.ReportMetric(float64(dropped.Load()), "dropped")
		b.ReportMetric(float64(received.Load())/float64(produced), "deliveries/record")
	}
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := 0
		for i < len(b) && b[i] != '\n' {
			i++
		}
		if i > 0 {
			out = append(out, b[:i])
		}
		if i == len(b) {
			break
		}
		b = b[i+1:]
	}
	return out
}
