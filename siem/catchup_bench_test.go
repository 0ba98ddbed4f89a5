package siem_test

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/store/sqlite"
)

// benchPrimary returns the primary store of a benchmark case, and whether
// its streams are durable (TeeOptions.Positions = the store).
func benchPrimary(b *testing.B, kind string) (positionStore, bool) {
	switch kind {
	case "queue":
		return memory.New(nil), false
	case "durable-memory":
		return memory.New(nil), true
	case "durable-sqlite":
		s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "audit.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close(context.Background()) })
		return s, true
	case "durable-postgres":
		dsn := os.Getenv("AUDIT_TEST_DATABASE_URL")
		if dsn == "" {
			b.Skip("AUDIT_TEST_DATABASE_URL not set: no PostgreSQL to test against")
		}
		var r [6]byte
		crand.Read(r[:])
		schema := "trailmark_bench_" + hex.EncodeToString(r[:])
		ctx := context.Background()
		s, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if _, err := s.DB().Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE"); err != nil {
				b.Errorf("dropping schema %s: %v", schema, err)
			}
			s.Close(ctx)
		})
		if err := s.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		return s, true
	}
	b.Fatalf("unknown case %q", kind)
	return nil, false
}

// BenchmarkCatchUp streams 1,000 events/s for 12 s through a Tee to an
// NDJSON receiver on loopback that answers 503 from the 2nd to the 7th
// second (a 5 s outage), with the default queue, batch and retry
// settings (bodies not gzipped, to count them); in the flaky cases the
// receiver also answers 503 to 30 % of the other requests, at random,
// before reading them. Cases: a stream with its queue in memory
// ("queue"), and durable streams (TeeOptions.Positions) over the memory,
// SQLite and (with AUDIT_TEST_DATABASE_URL) PostgreSQL stores. Metrics:
// catchup-s, from the receiver's recovery until it holds every record
// produced before it; dropped, records the
// stream dropped; deliveries/record, records the receiver accepted
// (duplicates included) per record produced; attempts/record, records in
// every request, refused ones included; lost, records that never
// arrived, after Close. Run with -benchtime 1x.
func BenchmarkCatchUp(b *testing.B) {
	for _, kind := range []string{"queue", "durable-memory", "durable-sqlite", "durable-postgres"} {
		for _, rate := range []float64{0, 0.3} {
			b.Run(fmt.Sprintf("%s/fail=%.0f%%", kind, rate*100), func(b *testing.B) {
				for range b.N {
					catchUp(b, kind, rate, false)
				}
			})
		}
	}
	// the same, and the Tee killed 0.5 s after the recovery, while it
	// catches up (Close abandons what is in flight at once), and started
	// again over the same store
	b.Run("durable-sqlite/fail=30%/restart", func(b *testing.B) {
		for range b.N {
			catchUp(b, "durable-sqlite", 0.3, true)
		}
	})
}

func catchUp(b *testing.B, kind string, failRate float64, restart bool) {
	const perSecond, total = 1000, 12 * time.Second
	const downFrom, downFor = 2 * time.Second, 5 * time.Second
	rc := newIDReceiver(b)
	rc.failRate.Store(math.Float64bits(failRate))
	sink := rc.sink(b)
	primary, durable := benchPrimary(b, kind)
	var dropped atomic.Int64
	opts := &siem.TeeOptions{OnError: func(err error) {
		var de *siem.DropError
		if errors.As(err, &de) {
			dropped.Add(int64(de.Count))
		}
		if testing.Verbose() {
			b.Logf("%v OnError: %v", time.Now().Format("15:04:05.000"), err)
		}
	}}
	if durable {
		opts.Positions = primary
	}
	tee, err := siem.NewTee(primary, []siem.Stream{{Name: "siem", Sink: sink}}, opts)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	start := time.Now()
	var ids []uuid.UUID
	var beforeRecovery int
	tick := time.NewTicker(time.Second / perSecond * 10)
	var recovered time.Time
	var caughtUp time.Duration
	caught := func() bool {
		return rc.has(ids[:beforeRecovery]) || dropped.Load() > 0 && distinctOf(rc) >= beforeRecovery-int(dropped.Load())
	}
	for time.Since(start) < total {
		<-tick.C
		el := time.Since(start)
		if !recovered.IsZero() && caughtUp == 0 && caught() {
			caughtUp = time.Since(recovered)
		}
		switch {
		case el >= downFrom && el < downFrom+downFor && !rc.down.Load() && recovered.IsZero():
			rc.down.Store(true)
		case el >= downFrom+downFor && rc.down.Load():
			rc.down.Store(false)
			recovered, beforeRecovery = time.Now(), len(ids)
			if testing.Verbose() {
				b.Logf("%v recovered", recovered.Format("15:04:05.000"))
			}
		}
		if restart && el >= downFrom+downFor+500*time.Millisecond {
			restart = false
			killed, cancel := context.WithCancel(ctx)
			cancel()
			tee.Close(killed)
			if tee, err = siem.NewTee(primary, []siem.Stream{{Name: "siem", Sink: sink}}, opts); err != nil {
				b.Fatal(err)
			}
		}
		recs := make([]audit.Record, 10)
		for i := range recs {
			recs[i] = audit.Record{ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now().UTC(), Action: "doc.read",
				ResourceType: "doc", Status: audit.StatusSuccess}
			ids = append(ids, recs[i].ID)
		}
		if err := tee.Append(ctx, recs...); err != nil {
			b.Fatal(err)
		}
	}
	tick.Stop()
	for deadline := time.Now().Add(time.Minute); caughtUp == 0; time.Sleep(10 * time.Millisecond) {
		if caught() || time.Now().After(deadline) {
			caughtUp = time.Since(recovered)
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := tee.Close(cctx); err != nil {
		b.Error(err)
	}
	cancel()
	distinct, deliveries := rc.counts()
	if testing.Verbose() {
		rc.mu.Lock()
		for _, e := range rc.log {
			if d := e.at.Sub(recovered); d > -time.Second {
				b.Logf("%6.2fs %d", d.Seconds(), e.n)
			}
		}
		rc.mu.Unlock()
	}
	b.ReportMetric(caughtUp.Seconds(), "catchup-s")
	b.ReportMetric(float64(dropped.Load()), "dropped")
	b.ReportMetric(float64(deliveries)/float64(len(ids)), "deliveries/record")
	b.ReportMetric(float64(rc.attempts.Load())/float64(len(ids)), "attempts/record")
	b.ReportMetric(float64(len(ids)-distinct), "lost")
}

func distinctOf(rc *idReceiver) int {
	d, _ := rc.counts()
	return d
}
