package memory_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
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

// noTree hides the store's Merkle tree: the Sealer seals the chain alone,
// as before the tree.
type noTree struct{ storekit.SealStore }

// BenchmarkSeal measures sealing throughput: digest, HMAC link and store;
// "chain" alone (the tree hidden, as before it), "tree" with the Merkle
// tree and a signed tree checkpoint per step of 1000.
func BenchmarkSeal(b *testing.B) {
	const n = 100000
	signer := chain.SigningKey{ID: "s", Key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	for _, tt := range []struct {
		name string
		tree bool
	}{{"chain", false}, {"tree", true}} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			var total float64
			for b.Loop() {
				b.StopTimer()
				s, _ := chainStore(b, n)
				var store storekit.SealStore = noTree{s}
				var opts *chain.SealerOptions
				if tt.tree {
					store, opts = s, &chain.SealerOptions{SigningKey: &signer}
				}
				sl, err := chain.NewSealer(store, chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, opts)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				if got, err := sl.SealOnce(context.Background()); err != nil || got != n {
					b.Fatalf("sealed %d, %v", got, err)
				}
				total += time.Since(start).Seconds()
			}
			b.ReportMetric(float64(n*b.N)/total, "events/s")
		})
	}
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
