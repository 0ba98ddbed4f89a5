package postgres_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
)

// toSealMark is in the reads of records to seal (toSealQuery).
var toSealMark = []byte("ORDER BY e.xid, e.id LIMIT")

// TestSlowReadAheadUsed: on a slow link (or with large records),
// reading a step's records takes longer than sealing the step before.
// A read ahead that has its connection is then waited for and used: a
// first version waited 1 s, cancelled it and read the same records again
// itself, slower than no read ahead at all and twice the server's reading.
func TestSlowReadAheadUsed(t *testing.T) {
	dsn(t)
	t.Parallel()
	seed, schema := newChainStore(t)
	// 150 records of ~20 kB: steps of 40 (about 800 kB, 1.6 s at 500 kB/s)
	blob, _ := json.Marshal(map[string]string{"blob": strings.Repeat("x", 20000)})
	start := time.Now().Add(-time.Hour)
	recs := make([]audit.Record, 150)
	for i := range recs {
		recs[i] = benchRecord(start.Add(time.Duration(i) * time.Millisecond))
		recs[i].Details = blob
	}
	ctx := testCtx(t)
	if err := seed.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	// a link passing the server's bytes at 500 kB/s, counting the reads of records to seal
	var reads atomic.Int32
	p := newProxy(t, serverAddr(t))
	p.setHooks(proxyHooks{
		up: func(_ *proxyLink, typ byte, body []byte) {
			if typ == 'P' && bytes.Contains(body, toSealMark) {
				reads.Add(1)
			}
		},
		down: func(_ *proxyLink, chunk []byte) bool {
			time.Sleep(time.Duration(len(chunk)) * time.Second / 500_000)
			return true
		},
	})
	a := storeThroughProxy(t, p, schema, false)
	defer a.Close(context.Background())
	sl, err := chain.NewSealer(a, chainKey, &chain.SealerOptions{SigningKey: &benchSigner, BatchSize: 40})
	if err != nil {
		t.Fatal(err)
	}
	// wait until no transaction older than the records holds them back:
	// then one SealOnce seals them all, each read returning records
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
	reads.Store(0)
	begin := time.Now()
	n, err := sl.SealOnce(ctx)
	if err != nil || n != 150 {
		t.Fatalf("SealOnce: %d, %v; want 150", n, err)
	}
	took := time.Since(begin)
	got := reads.Load()
	t.Logf("sealed 150 records in steps of 40 in %v with %d reads of records to seal", took.Round(time.Millisecond), got)
	// 4 steps: the first reads its records, the three others take the
	// records read ahead during the step before
	if got > 4 {
		t.Errorf("%d reads of records to seal for 4 steps (want 4): reads ahead that were done soon after were dropped and read again; sealing took %v", got, took.Round(time.Millisecond))
	}
}
