package postgres_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storetest"
)

// TestTxHostileCorpus walks the hostile corpus through the in-transaction
// door (issue 20, item 1): Store.Tx(tx).Append, and Logger.LogTo on it,
// each in an application transaction that commits when the record is
// accepted. A refused record gets a permanent error that names the field
// before anything is sent, so the application's transaction is not
// aborted by it; everything committed seals and verifies.
func TestTxHostileCorpus(t *testing.T) {
	s, _ := newChainStore(t)
	ctx := testCtx(t)
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(ctx) })
	stored := 0
	for _, h := range storetest.HostileRecords(rand.New(rand.NewPCG(20, 3)), 20) {
		tx, err := s.DB().BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = s.Tx(tx).Append(ctx, h.Record)
		var re interface{ Unwrap() error }
		switch {
		case err == nil:
			stored++
		case !audit.IsPermanent(err) || !errors.Is(err, audit.ErrInvalidEvent) && !errors.As(err, &re):
			t.Errorf("%s: Tx.Append: %v; want nil or a permanent error", h.Name, err)
		}
		ev := storetest.EventOf(&h.Record)
		ev.ID = uuid.Nil
		if err := l.LogTo(ctx, s.Tx(tx), ev); err == nil {
			stored++
		} else if !errors.Is(err, audit.ErrInvalidEvent) && !audit.IsPermanent(err) {
			t.Errorf("%s: LogTo: %v", h.Name, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("%s: the application's transaction: %v", h.Name, err)
		}
	}
	storetest.WantSealed(t, s, stored)
}
