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
// Store.Append refuses (a record that breaks the record contract,
// audit.Record.Validate), at once.
// Appends are idempotent by ID, within the Tx and with the Store.
func (t *Tx) Append(ctx context.Context, records ...audit.Record) error {
	if t.done {
		return ErrTxDone
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storekit.CheckRecords(records); err != nil {
		return fmt.Errorf("audit: memory: append: %w", err)
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
