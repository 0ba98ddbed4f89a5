package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/trailmark/audit/chain"
)

// TestCancelledReadAheadStops: when new connections stall, the read
// ahead of a full step cannot be stopped (lib/pq heeds neither a
// cancellation nor a context's deadline during the start-up handshake
// without connect_timeout): a first version left one more such
// goroutine and socket for each full step, for good on a pool given to
// New, and Close waited for them past its context. One read ahead runs at
// a time now, so one at most is stalled, and Close returns when its
// context ends.
func TestCancelledReadAheadStops(t *testing.T) {
	dsn(t)
	t.Parallel()
	seed, schema := newChainStore(t)
	p := newProxy(t, serverAddr(t))
	a := storeThroughProxy(t, p, schema, true) // one working connection
	ctx := testCtx(t)
	sl, err := chain.NewSealer(a, chainKey, &chain.SealerOptions{SigningKey: &benchSigner, BatchSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	appendRecords(t, seed, 20)
	p.setMode(stall)
	defer func() {
		p.setMode(forward)
		p.cut() // let the stalled handshakes fail
		time.Sleep(200 * time.Millisecond)
	}()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n := 0
	for n < 20 && sctx.Err() == nil {
		k, err := sl.SealOnce(sctx)
		if err != nil {
			t.Fatalf("SealOnce: %v", err)
		}
		n += k
	}
	if n != 20 {
		t.Fatalf("sealed %d of 20", n)
	}
	time.Sleep(500 * time.Millisecond)
	p.mu.Lock()
	open := len(p.conns) // the working connection counts twice (client and server side)
	p.mu.Unlock()
	cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
	defer ccancel()
	start := time.Now()
	cerr := a.Close(cctx)
	took := time.Since(start)
	t.Logf("%d connections open at the proxy; Close: %v after %v", open, cerr, took.Round(time.Millisecond))
	if open > 3 {
		t.Errorf("after 4 full steps whose reads ahead could not connect: %d connections open at the proxy, %d stalled; want one stalled at most", open, open-2)
	}
	if took > 3*time.Second {
		t.Errorf("Close with a context of 2 s returned after %v", took)
	}
}
