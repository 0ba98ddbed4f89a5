package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/postgres"
)

// TestReadAheadTwoSealers: two stores on one table seal at once in steps
// of 5, so that the records one reads ahead are often sealed by the
// other first; records keep arriving meanwhile. Every record is sealed
// once, in order, and the chain and the tree verify.
func TestReadAheadTwoSealers(t *testing.T) {
	dsn(t)
	t.Parallel()
	a, schema := newChainStore(t)
	b, err := postgres.New(testDB(t), &postgres.Options{Schema: schema, OnError: func(err error) { t.Errorf("store error: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	ctx := testCtx(t)
	var (
		mu    sync.Mutex
		total int
		recs  []audit.Record
	)
	add := func(n int) error {
		mu.Lock()
		defer mu.Unlock()
		start := time.Now().Add(-time.Hour).Add(time.Duration(total) * time.Millisecond)
		batch := make([]audit.Record, n)
		for i := range batch {
			batch[i] = benchRecord(start.Add(time.Duration(i) * time.Millisecond))
		}
		if err := a.Append(ctx, batch...); err != nil {
			return err
		}
		total += n
		recs = append(recs, batch...)
		return nil
	}
	var sealers []*chain.Sealer
	for _, s := range []*postgres.Store{a, b} {
		sl, err := chain.NewSealer(s, chainKey, &chain.SealerOptions{SigningKey: &benchSigner, BatchSize: 5})
		if err != nil {
			t.Fatal(err)
		}
		sealers = append(sealers, sl)
	}
	if err := add(40); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() { // a writer, while the sealers take turns
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			if err := add(3); err != nil {
				t.Error(err)
				return
			}
		}
	})
	// the sealers at once: each step is one's or the other's, as the
	// sealing lock falls
	var sealing sync.WaitGroup
	for _, sl := range sealers {
		sealing.Go(func() {
			for range 60 {
				if _, err := sl.SealOnce(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	sealing.Wait()
	close(stop)
	wg.Wait()
	size, err := a.TreeSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sealUntil(t, a, total-int(size), sealers[1].SealOnce)
	rep, err := chain.Verify(ctx, a, &chain.VerifyOptions{Keys: map[string][]byte{chainKey.ID: chainKey.Secret}})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify: %v %v", err, rep.Problems)
	}
	if rep.Records != uint64(total) || rep.Unsealed != 0 {
		t.Errorf("Verify: %d records sealed, %d unsealed; want %d sealed", rep.Records, rep.Unsealed, total)
	}
	got := make([]audit.Record, len(recs))
	for i := range recs {
		if got[i], err = a.Get(ctx, recs[i].ID); err != nil {
			t.Fatal(err)
		}
	}
	checkTree(t, a, got)
}

// storeThroughProxy returns a Store of schema on a pool of its own that
// connects through p, closed when t ends; with ping, the pool holds one
// working connection at once.
func storeThroughProxy(t *testing.T, p *proxy, schema string, ping bool) *postgres.Store {
	t.Helper()
	db, err := sqlx.Open("postgres", proxyDSN(t, p.addr(), randomName("trailmark_test_")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if ping {
		if err := db.PingContext(testCtx(t)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := postgres.New(db, &postgres.Options{Schema: schema, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}
