package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/postgres"
)

// TestCloseStopsStalledReadAhead: reads ahead that cannot get a
// connection (the server accepts new connections and never answers, as
// in TestSyncUnreachable) neither stop the steps, which read on their own
// working connection after readAheadWait, nor hold Store.Close past its
// context's end.
func TestCloseStopsStalledReadAhead(t *testing.T) {
	dsn(t)
	t.Parallel()
	seed, schema := newChainStore(t)
	appendRecords(t, seed, 10)
	p := newProxy(t, serverAddr(t))
	ctx := testCtx(t)
	s, err := postgres.Open(ctx, proxyDSN(t, p.addr(), randomName("trailmark_test_")), &postgres.Options{Schema: schema, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	sl, err := chain.NewSealer(s, chainKey, &chain.SealerOptions{SigningKey: &benchSigner, BatchSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	// the pool's one connection (Open pinged on it) keeps working; new
	// ones stall
	p.setMode(stall)
	// (a transaction open elsewhere on the server may hold sealing back a while)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	start, n := time.Now(), 0
	for n < 10 && sctx.Err() == nil {
		k, err := sl.SealOnce(sctx)
		if err != nil && sctx.Err() == nil {
			t.Errorf("SealOnce: %v", err)
			break
		}
		n += k
	}
	cancel()
	t.Logf("sealed %d after %v", n, time.Since(start).Round(time.Millisecond))
	if n != 10 {
		t.Errorf("sealed %d records in 30 s, want 10: each step can read on its own connection", n)
	}
	done := make(chan error, 1)
	cctx, ccancel := context.WithTimeout(context.Background(), time.Second)
	defer ccancel()
	start = time.Now()
	go func() { done <- s.Close(cctx) }()
	select {
	case err := <-done:
		t.Logf("Close: %v after %v", err, time.Since(start))
	case <-time.After(6 * time.Second):
		t.Errorf("Close with a context of 1s has not returned after %v: it waits for the read ahead", time.Since(start).Round(time.Millisecond))
		p.setMode(forward)
		p.cut() // let the read ahead fail, so that Close returns
		<-done
	}
}
