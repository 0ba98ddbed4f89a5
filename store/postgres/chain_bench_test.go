package postgres_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storekit"
)

// The chain benchmarks measure, on a table of chainRows records, how fast
// records are sealed, how fast the chain can be read (the rows and nothing
// else: the floor for Verify), and how fast Verify goes:
//
//	go test ./store/postgres/ -run '^$' -bench 'SealPostgres|ChainPostgres' -benchtime 3x

var chainKey = chain.HMACKey{ID: "bench", Secret: make([]byte, 32)}

func chainRows(b *testing.B) int {
	if v := os.Getenv("AUDIT_BENCH_CHAIN_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 100_000
}

// filledStore returns a store holding n unsealed records.
func filledStore(b *testing.B, n int) *postgres.Store {
	b.Helper()
	s := newStore(b, nil)
	ctx := context.Background()
	start := time.Now().Add(-24 * time.Hour)
	batch := make([]audit.Record, 0, 1000)
	for i := range n {
		batch = append(batch, benchRecord(start.Add(time.Duration(i)*time.Millisecond)))
		if len(batch) == cap(batch) || i == n-1 {
			if err := s.Append(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	return s
}

func sealEverything(b *testing.B, s storekit.SealStore, n int) {
	b.Helper()
	sealWith(b, s, n, nil)
}

// noTree hides the store's Merkle tree: the Sealer seals the chain alone,
// as before the tree.
type noTree struct{ storekit.SealStore }

var benchSigner = chain.SigningKey{ID: "bench", Key: ed25519.NewKeyFromSeed(make([]byte, 32))}

func sealWith(b *testing.B, s storekit.SealStore, n int, opts *chain.SealerOptions) {
	b.Helper()
	sl, err := chain.NewSealer(s, chainKey, opts)
	if err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for sealed := 0; sealed < n; {
		k, err := sl.SealOnce(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		sealed += k
		if time.Now().After(deadline) {
			b.Fatalf("sealed %d of %d", sealed, n)
		}
	}
}

// BenchmarkSealPostgres seals chainRows records: "chain" the hash chain
// alone (as before the Merkle tree: the store's tree hidden), "tree" the
// chain and the tree, with a signed tree checkpoint at every step, as a
// Sealer with a SigningKey does; "backfill" adds the leaves of a chain
// sealed before the tree (the first step of a Sealer after the upgrade).
//
//	go test ./store/postgres/ -run '^$' -bench SealPostgres -benchtime 3x
func BenchmarkSealPostgres(b *testing.B) {
	for _, tt := range []struct {
		name     string
		store    func(*postgres.Store) storekit.SealStore
		opts     *chain.SealerOptions
		backfill bool // sealed without the tree first: the Sealer adds the leaves
	}{
		{"chain", func(s *postgres.Store) storekit.SealStore { return noTree{s} }, nil, false},
		{"tree", func(s *postgres.Store) storekit.SealStore { return s }, &chain.SealerOptions{SigningKey: &benchSigner}, false},
		{"backfill", func(s *postgres.Store) storekit.SealStore { return s }, &chain.SealerOptions{SigningKey: &benchSigner}, true},
	} {
		b.Run(tt.name, func(b *testing.B) {
			n := chainRows(b)
			var took time.Duration
			for range b.N {
				b.StopTimer()
				s := filledStore(b, n)
				if tt.backfill {
					sealWith(b, noTree{s}, n, nil)
				}
				b.StartTimer()
				start := time.Now()
				if tt.backfill {
					sl, err := chain.NewSealer(s, chainKey, tt.opts)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := sl.SealOnce(context.Background()); err != nil {
						b.Fatal(err)
					}
					if size, err := s.TreeSize(context.Background()); err != nil || size != int64(n) {
						b.Fatalf("tree of %d leaves after the backfill, %v; want %d", size, err, n)
					}
				} else {
					sealWith(b, tt.store(s), n, tt.opts)
				}
				took += time.Since(start)
			}
			b.ReportMetric(float64(n*b.N)/took.Seconds(), "events/s")
		})
	}
}

// BenchmarkChainPostgres reads a sealed chain: "read" only fetches the
// rows Verify reads (the chain with its records, and the unsealed
// records), doing nothing with them; "verify" runs Verify.
func BenchmarkChainPostgres(b *testing.B) {
	n := chainRows(b)
	s := filledStore(b, n)
	sealEverything(b, s, n)
	b.Run("read", func(b *testing.B) {
		rows := 0
		start := time.Now()
		for b.Loop() {
			err := s.ScanChain(context.Background(), 0, func(storekit.Seal, *audit.Record) error { rows++; return nil })
			if err != nil {
				b.Fatal(err)
			}
			if err := s.ScanUnsealed(context.Background(), func(*audit.Record) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(rows)/time.Since(start).Seconds(), "events/s")
	})
	b.Run("verify", func(b *testing.B) {
		opts := chain.VerifyOptions{Keys: map[string][]byte{chainKey.ID: chainKey.Secret}}
		var recs uint64
		start := time.Now()
		for b.Loop() {
			rep, err := chain.Verify(context.Background(), s, &opts)
			if err != nil || !rep.OK() {
				b.Fatalf("%v %v", err, rep.Problems)
			}
			recs += rep.Records
		}
		b.ReportMetric(float64(recs)/time.Since(start).Seconds(), "events/s")
	})
}

// BenchmarkChainKeepsUp measures, in one run and on one table of
// chainRows records, whether one chain keeps up with the writers: the
// async Logger's ingest rate, the sealing rate, the raw read of the chain
// and Verify. It reports each in events/s and the two ratios that matter:
// seal/ingest (sealing must outrun ingest, or the lag grows for ever) and
// verify/read.
//
//	go test ./store/postgres/ -run '^$' -bench ChainKeepsUp -benchtime 1x
func BenchmarkChainKeepsUp(b *testing.B) {
	n := chainRows(b)
	ctx := context.Background()
	var ingest, seal, read, verify time.Duration
	for range b.N {
		s := newStore(b, nil)
		l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true,
			Async:   audit.AsyncOptions{BatchSize: 1000, BlockTimeout: time.Minute},
			OnError: func(err error) { b.Error(err) }})
		if err != nil {
			b.Fatal(err)
		}
		ev := benchEvent()
		start := time.Now()
		for range n {
			if err := l.Log(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
		if err := l.Close(ctx); err != nil {
			b.Fatal(err)
		}
		ingest += time.Since(start)

		start = time.Now()
		sealEverything(b, s, n)
		seal += time.Since(start)

		rawRead := func() {
			if err := s.ScanChain(ctx, 0, func(storekit.Seal, *audit.Record) error { return nil }); err != nil {
				b.Fatal(err)
			}
			if err := s.ScanUnsealed(ctx, func(*audit.Record) error { return nil }); err != nil {
				b.Fatal(err)
			}
		}
		rawRead() // both read and verify find the pages in the cache
		start = time.Now()
		rawRead()
		read += time.Since(start)

		start = time.Now()
		rep, err := chain.Verify(ctx, s, &chain.VerifyOptions{Keys: map[string][]byte{chainKey.ID: chainKey.Secret}})
		if err != nil || !rep.OK() || rep.Records != uint64(n) {
			b.Fatalf("verify: %v %d records, %v", err, rep.Records, rep.Problems)
		}
		verify += time.Since(start)
	}
	rate := func(d time.Duration) float64 { return float64(n*b.N) / d.Seconds() }
	b.ReportMetric(rate(ingest), "ingest-events/s")
	b.ReportMetric(rate(seal), "seal-events/s")
	b.ReportMetric(rate(read), "read-events/s")
	b.ReportMetric(rate(verify), "verify-events/s")
	b.ReportMetric(rate(seal)/rate(ingest), "seal/ingest")
	b.ReportMetric(rate(verify)/rate(read), "verify/read")
}

// BenchmarkProofPostgres measures, on a tree of chainRows records sealed
// with signed tree checkpoints, how long an inclusion proof takes to
// produce (chain.Prove: the leaf, the checkpoint, the audit path) and to
// verify (chain.VerifyInclusion, with the public key only), and a
// consistency proof from half the tree to all of it; it reports p50 and
// p99 and the proof's size.
//
//	AUDIT_BENCH_CHAIN_ROWS=1000000 go test ./store/postgres/ -run '^$' -bench ProofPostgres -benchtime 2000x
func BenchmarkProofPostgres(b *testing.B) {
	n := chainRows(b)
	s := filledStore(b, n)
	ctx := context.Background()
	var ids []uuid.UUID
	sealWith(b, s, n, &chain.SealerOptions{SigningKey: &benchSigner, BatchSize: 5000})
	if err := s.ScanChain(ctx, 1, func(sl storekit.Seal, _ *audit.Record) error { ids = append(ids, sl.EventID); return nil }); err != nil {
		b.Fatal(err)
	}
	v, err := chain.LogVerifier(chain.DefaultOrigin, benchSigner.Key.Public().(ed25519.PublicKey))
	if err != nil {
		b.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	quantiles := func(b *testing.B, ds []time.Duration) {
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds()), "p99-µs")
	}
	b.Run("prove", func(b *testing.B) {
		var ds []time.Duration
		var size int
		for b.Loop() {
			start := time.Now()
			p, err := chain.Prove(ctx, s, ids[rnd.IntN(len(ids))])
			ds = append(ds, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
			size = 32 * len(p.Hashes)
		}
		quantiles(b, ds)
		b.ReportMetric(float64(size), "path-bytes")
	})
	b.Run("verify", func(b *testing.B) {
		type pr struct {
			r audit.Record
			p chain.InclusionProof
		}
		var ps []pr
		for range 100 {
			id := ids[rnd.IntN(len(ids))]
			r, err := s.Get(ctx, id)
			if err != nil {
				b.Fatal(err)
			}
			p, err := chain.Prove(ctx, s, id)
			if err != nil {
				b.Fatal(err)
			}
			ps = append(ps, pr{r, p})
		}
		var ds []time.Duration
		i := 0
		for b.Loop() {
			x := &ps[i%len(ps)]
			i++
			start := time.Now()
			_, err := chain.VerifyInclusion(&x.r, &x.p, v)
			ds = append(ds, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
		}
		quantiles(b, ds)
	})
	b.Run("consistency", func(b *testing.B) {
		var ds []time.Duration
		for b.Loop() {
			start := time.Now()
			_, err := chain.ProveConsistency(ctx, s, int64(n/2)+int64(rnd.IntN(1000)), 0)
			ds = append(ds, time.Since(start))
			if err != nil {
				b.Fatal(err)
			}
		}
		quantiles(b, ds)
	})
}

// BenchmarkEvidencePostgres writes and verifies the evidence of one
// tenant holding every fifth of chainRows records (10,000 of 50,000 with
// AUDIT_BENCH_CHAIN_ROWS=50000):
//
//	AUDIT_BENCH_CHAIN_ROWS=50000 go test ./store/postgres/ -run '^$' -bench EvidencePostgres -benchtime 3x
func BenchmarkEvidencePostgres(b *testing.B) {
	n := chainRows(b)
	s := newStore(b, nil)
	ctx := context.Background()
	start := time.Now().Add(-24 * time.Hour)
	batch := make([]audit.Record, 0, 1000)
	tenant := 0
	for i := range n {
		r := benchRecord(start.Add(time.Duration(i) * time.Millisecond))
		r.TenantID = "org-other"
		if i%5 == 0 {
			r.TenantID = "org-bench"
			tenant++
		}
		batch = append(batch, r)
		if len(batch) == cap(batch) || i == n-1 {
			if err := s.Append(ctx, batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	sealWith(b, s, n, &chain.SealerOptions{SigningKey: &benchSigner, BatchSize: 5000})
	v, err := chain.LogVerifier(chain.DefaultOrigin, benchSigner.Key.Public().(ed25519.PublicKey))
	if err != nil {
		b.Fatal(err)
	}
	var bundle bytes.Buffer
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			bundle.Reset()
			st, err := chain.WriteTenantEvidence(ctx, s, "org-bench", nil, &bundle)
			if err != nil || st.Records != int64(tenant) {
				b.Fatalf("%+v, %v; want %d records", st, err, tenant)
			}
		}
		b.ReportMetric(float64(tenant), "records")
		b.ReportMetric(float64(bundle.Len()), "bundle-bytes")
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			rep, err := chain.VerifyTenantEvidence(bytes.NewReader(bundle.Bytes()), "org-bench", v)
			if err != nil || rep.Records != int64(tenant) {
				b.Fatalf("%d records, %v", rep.Records, err)
			}
		}
		b.ReportMetric(float64(tenant), "records")
	})
}
