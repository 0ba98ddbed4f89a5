package memory

import (
	"context"
	"errors"
	"fmt"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// ErrTxDone is returned by the methods of a Tx that has been committed
// or rolled back.
var ErrTxDone = errors.New("audit: memory: transaction already committed or rolled back")

var _ audit.Store = (*Tx)(nil)

// Tx stands for a database transaction in tests of code that logs
// inside one (audit.Logger.LogTo), as postgres.Store.Tx does in
// PostgreSQL: what is appended to it reaches the Store at Commit, and
// never after Rollback. Like a database transaction, a Tx is not for
// concurrent use.
type Tx struct {
	s    *Store
	recs []audit.Record
	done bool
}

// Begin starts a Tx on s.
func (s *Store) Begin() *Tx { return &Tx{s: s} }

// Append keeps copies of records until Commit. It refuses what
// Store.Append refuses (Details or Changes that are not JSON), at once.
// Appends are idempotent by ID, within the Tx and with the Store.
func (t *Tx) Append(ctx context.Context, records ...audit.Record) error {
	if t.done {
		return ErrTxDone
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for i := range records {
		for _, raw := range [2][]byte{records[i].Details, records[i].Changes} {
			if _, err := storekit.CanonicalJSON(raw); err != nil {
				return audit.Permanent(fmt.Errorf("audit: memory: record %s: %w", records[i].ID, err))
			}
		}
	}
	for i := range records {
		t.recs = append(t.recs, records[i].Clone())
	}
	return nil
}

// Commit appends what the Tx holds to the Store, which stamps RecordedAt
// now. It returns ErrTxDone if the Tx has ended.
func (t *Tx) Commit() error {
	if t.done {
		return ErrTxDone
	}
	t.done = true
	recs := t.recs
	t.recs = nil
	return t.s.Append(context.Background(), recs...)
}

// Rollback drops what the Tx holds. It returns ErrTxDone if the Tx has
// ended, so that a deferred Rollback after Commit changes nothing.
func (t *Tx) Rollback() error {
	if t.done {
		return ErrTxDone
	}
	t.done = true
	t.recs = nil
	return nil
}
