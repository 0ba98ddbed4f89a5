package sqlite

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storetest"
)

// TestUnparseableIPDoesNotStall: a row whose ip_address is not an address
// (only a writer of the file, around every door, can put one there) is
// read with no address, so sealing moves past it and the chain verifies;
// it made every sealing step fail before.
func TestUnparseableIPDoesNotStall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, nil)
	now := time.Now().UTC().Truncate(time.Microsecond)
	recs := storetest.Records(0, 4)
	for i := range recs {
		recs[i].OccurredAt = now.Add(time.Duration(i-10) * time.Second)
	}
	if err := s.Append(ctx, recs[:2]...); err != nil {
		t.Fatal(err)
	}
	bad := storetest.Record(9)
	bad.ID, bad.OccurredAt, bad.RecordedAt = uuid.New(), now.Add(-5*time.Second), now
	err := tamper{s}.do(ctx, func(tx *sqlx.Tx) error {
		args, err := tamper{s}.rawArgs(bad)
		if err != nil {
			return err
		}
		args[5] = "not-an-ip" // the ip_address column
		_, err = tx.ExecContext(ctx, insertSQL(1), args...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, recs[2:]...); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, bad.ID)
	if err != nil || got.IPAddress.IsValid() {
		t.Fatalf("Get of the row: %v, address %v; want it read with no address", err, got.IPAddress)
	}
	key := chain.HMACKey{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}
	sl, err := chain.NewSealer(s, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := sl.SealOnce(ctx)
	if err != nil || n != 5 {
		t.Fatalf("SealOnce: sealed %d, %v; want all 5", n, err)
	}
	rep, err := chain.Verify(ctx, s, &chain.VerifyOptions{Keys: map[string][]byte{key.ID: key.Secret}})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify: %v, %+v", err, rep)
	}
}
