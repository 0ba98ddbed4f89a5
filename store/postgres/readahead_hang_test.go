package postgres_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// plainSeals returns seals that continue the chain from last (no HMAC:
// the store does not check them).
func plainSeals(last storekit.Seal, recs []audit.Record) []storekit.Seal {
	seals := make([]storekit.Seal, len(recs))
	for i, r := range recs {
		seals[i] = storekit.Seal{Seq: last.Seq + uint64(i) + 1, EventID: r.ID, EventTime: r.OccurredAt,
			Digest: make([]byte, 32), KeyID: "k", Hash: make([]byte, 32), SealedAt: time.Now()}
	}
	return seals
}

// TestStepStopsWaitingForCancelledRead: a step waits for a read ahead
// that has its connection, but no longer once the read is cancelled
// (readAheadTimeout, or Close). lib/pq answers a cancellation with a
// cancel request and keeps reading the connection, so a read whose
// connection stops answering never returns: a first version went on
// waiting, on its own working connection and holding the sealing lock,
// for as long as that connection hung.
func TestStepStopsWaitingForCancelledRead(t *testing.T) {
	dsn(t)
	t.Parallel()
	seed, schema := newChainStore(t)
	appendRecords(t, seed, 20)
	ctx := testCtx(t)
	for {
		lag, err := seed.SealLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lag.Waiting == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// the connection that began a READ ONLY transaction (the read ahead's,
	// never a sealing step's) stops passing the server's answers once the
	// client sends its next query: it stays open and its query never
	// returns (a half-open TCP connection, a stuck pooler or load
	// balancer); every other connection, the cancel requests' too, works
	frozen := make(chan struct{})
	var once sync.Once
	p := newProxy(t, serverAddr(t))
	p.setHooks(proxyHooks{
		up: func(l *proxyLink, _ byte, body []byte) {
			if l.marked.Load() && !l.frozen.Load() {
				l.frozen.Store(true)
				once.Do(func() { close(frozen) })
			}
			if bytes.Contains(body, []byte("BEGIN READ ONLY")) {
				l.marked.Store(true)
			}
		},
		down: func(l *proxyLink, _ []byte) bool { return !l.frozen.Load() },
	})
	a := storeThroughProxy(t, p, schema, false)
	// step 1: full; its read ahead begins, then its connection hangs
	n, err := a.SealNext(ctx, 5, func(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error) {
		select {
		case <-frozen:
		case <-time.After(10 * time.Second):
			t.Error("the read ahead did not begin within 10 s")
		}
		return plainSeals(last, recs), nil
	})
	if err != nil || n != 5 {
		t.Fatalf("step 1: %d, %v", n, err)
	}
	// step 2, with a context without deadline (a sealer's Run)
	done := make(chan error, 1)
	go func() {
		_, err := a.SealNext(context.Background(), 5, func(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error) {
			return plainSeals(last, recs), nil
		})
		done <- err
	}()
	time.Sleep(500 * time.Millisecond)
	// cancel the read, as readAheadTimeout would after a minute
	cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer ccancel()
	cerr := a.Close(cctx)
	t.Logf("Close: %v", cerr)
	select {
	case err := <-done:
		t.Logf("step 2 returned after the read was cancelled: %v", err)
	case <-time.After(10 * time.Second):
		// another sealer finds the lock taken
		k, err := seed.SealNext(ctx, 5, func(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error) {
			return plainSeals(last, recs), nil
		})
		t.Logf("another store's step meanwhile: sealed %d, %v", k, err)
		t.Errorf("step 2 still waits, holding the sealing lock on its own working connection, 10 s after its read ahead was cancelled: cancelling the read (readAheadTimeout or Close) does not end the wait")
		p.Close() // let the read fail
		<-done
	}
}
