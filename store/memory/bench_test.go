package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storetest"
)

func BenchmarkAppend(b *testing.B) {
	s := memory.New(nil)
	batch := storetest.Records(0, 512)
	t0 := time.Now()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		r := &batch[i%512]
		r.ID = uuid.Must(uuid.NewV7())
		r.OccurredAt = t0.Add(time.Duration(i) * time.Microsecond)
		i++
		if i%512 == 0 {
			if err := s.Append(context.Background(), batch...); err != nil {
				b.Fatal(err)
			}
		}
	}
	_ = audit.Record{}
}

func chainStore(b *testing.B, n int) (*memory.Store, *chain.Sealer) {
	b.Helper()
	s := memory.New(nil)
	rs := storetest.Records(0, n)
	for i := range rs {
		rs[i].ID = uuid.New()
	}
	for i := 0; i < n; i += 1000 {
		if err := s.Append(context.Background(), rs[i:min(i+1000, n)]...); err != nil {
			b.Fatal(err)
		}
	}
	sl, err := chain.NewSealer(s, chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return s, sl
}

// BenchmarkSeal measures sealing throughput: digest, HMAC link and store.
func BenchmarkSeal(b *testing.B) {
	const n = 100000
	b.ReportAllocs()
	var total float64
	for b.Loop() {
		b.StopTimer()
		s, sl := chainStore(b, n)
		b.StartTimer()
		start := time.Now()
		if got, err := sl.SealOnce(context.Background()); err != nil || got != n {
			b.Fatalf("sealed %d, %v", got, err)
		}
		total += time.Since(start).Seconds()
		_ = s
	}
	b.ReportMetric(float64(n*b.N)/total, "events/s")
}

// BenchmarkVerify measures verification throughput over a sealed chain.
func BenchmarkVerify(b *testing.B) {
	const n = 100000
	s, sl := chainStore(b, n)
	if _, err := sl.SealOnce(context.Background()); err != nil {
		b.Fatal(err)
	}
	opts := chain.VerifyOptions{Keys: map[string][]byte{"k": make([]byte, 32)}}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		rep, err := chain.Verify(context.Background(), s, &opts)
		if err != nil || !rep.OK() || rep.Records != n {
			b.Fatalf("verify: %+v %v", rep, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "events/s")
}
