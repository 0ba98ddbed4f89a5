package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/trailmark/audit/chain"
)

// TestReadAheadStalledKeepsNoLock: the step after a full one takes the
// sealing lock, then looks for the read ahead. When that read cannot get
// a connection (new connections stall; the step's own works), the step
// must not wait for it holding the lock, as a first version did until
// the caller's context ended (Sealer.Run's lives as long as the
// process): no sealer anywhere sealed, though records waited and every
// working connection could seal them.
func TestReadAheadStalledKeepsNoLock(t *testing.T) {
	dsn(t)
	t.Parallel()
	seed, schema := newChainStore(t)
	p := newProxy(t, serverAddr(t))
	a := storeThroughProxy(t, p, schema, true) // one connection, kept idle
	ctx := testCtx(t)
	sa, err := chain.NewSealer(a, chainKey, &chain.SealerOptions{SigningKey: &benchSigner, BatchSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	sb, err := chain.NewSealer(seed, chainKey, &chain.SealerOptions{SigningKey: &benchSigner, BatchSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sb.SealOnce(ctx); err != nil { // reads the checkpoints: none
		t.Fatal(err)
	}
	appendRecords(t, seed, 10)
	p.setMode(stall)
	actx, cancel := context.WithCancel(ctx) // as Sealer.Run's: no deadline
	done := make(chan int, 1)
	go func() {
		n, _ := sa.SealOnce(actx)
		done <- n
	}()
	defer func() {
		cancel()
		p.setMode(forward)
		p.cut()
		<-done
		a.Close(context.Background())
	}()
	time.Sleep(time.Second)
	// another sealer, on the direct pool, tries for 4 seconds
	sealed := 0
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		n, err := sb.SealOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sealed += n
	}
	size, err := seed.TreeSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if size != 10 {
		t.Errorf("after 5 s, %d of 10 records sealed (the other sealer sealed %d): a step holds the sealing lock, waiting for a read ahead that cannot connect", size, sealed)
	}
}
