package postgres_test

import (
	"testing"
	"time"

	"github.com/trailmark/audit/chain"
)

// TestSameIDSameTransactionSealed: two records with one ID at two times
// (PostgreSQL keys records by ID and time), appended in one call, hence
// one transaction, share (xid, id). A sealing step of one record that
// ended between them continued after (xid, id), past the other, which was
// never sealed (sealUntil gave up); a step now takes them together.
func TestSameIDSameTransactionSealed(t *testing.T) {
	dsn(t)
	t.Parallel()
	// the pair first in its step, and after another record
	for _, batch := range []int{1, 2} {
		s, _ := newChainStore(t)
		ctx := testCtx(t)
		start := time.Now().Add(-time.Hour)
		want := 2
		if batch == 2 {
			if err := s.Append(ctx, benchRecord(start.Add(-time.Second))); err != nil {
				t.Fatal(err)
			}
			want = 3
		}
		a := benchRecord(start)
		b := a
		b.OccurredAt = start.Add(time.Second)
		if err := s.Append(ctx, a, b); err != nil {
			t.Fatal(err)
		}
		sl, err := chain.NewSealer(s, chainKey, &chain.SealerOptions{SigningKey: &benchSigner, BatchSize: batch})
		if err != nil {
			t.Fatal(err)
		}
		// (a transaction open elsewhere may hold sealing back a while)
		sealUntil(t, s, want, sl.SealOnce)
		rep, err := chain.Verify(ctx, s, &chain.VerifyOptions{Keys: map[string][]byte{chainKey.ID: chainKey.Secret}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Records != uint64(want) || rep.Unsealed != 0 || !rep.OK() {
			t.Errorf("steps of %d: Verify: %d sealed, %d unsealed, problems %v; want %d sealed", batch, rep.Records, rep.Unsealed, rep.Problems, want)
		}
	}
}
