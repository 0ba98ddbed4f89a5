package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// newStore opens a store on a new file of its own, closed at the end of
// the test.
func newStore(t testing.TB, opts *Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) audit.Store { return newStore(t, nil) })
}

func TestChain(t *testing.T) {
	t.Parallel()
	storetest.RunChain(t, func(t *testing.T) (storekit.SealStore, storetest.Tamperer) {
		s := newStore(t, nil)
		return s, tamper{s}
	}, 100)
}

// tamper changes the file as someone who can write it: it drops the
// guard's triggers, changes rows, and puts the triggers back, in one
// transaction.
type tamper struct{ s *Store }

func (p tamper) do(ctx context.Context, f func(tx *sqlx.Tx) error) error {
	return p.s.writeTx(ctx, func(tx *sqlx.Tx) error {
		var triggers []struct{ Name, SQL string }
		if err := tx.SelectContext(ctx, &triggers, "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger'"); err != nil {
			return err
		}
		for _, tr := range triggers {
			if _, err := tx.ExecContext(ctx, "DROP TRIGGER "+tr.Name); err != nil {
				return err
			}
		}
		if err := f(tx); err != nil {
			return err
		}
		for _, tr := range triggers {
			if _, err := tx.ExecContext(ctx, tr.SQL); err != nil {
				return err
			}
		}
		return nil
	})
}

func (p tamper) insert(ctx context.Context, tx *sqlx.Tx, r audit.Record) error {
	args, err := p.rawArgs(r)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, insertSQL(1), args...)
	return err
}

// rawArgs returns the column values of r as the sqlite3 shell would write
// them: RecordedAt as given, Details and Changes as they are, canonical or
// not, JSON or not.
func (p tamper) rawArgs(r audit.Record) ([]any, error) {
	c := r
	c.Details, c.Changes = nil, nil
	args, err := p.s.rows([]audit.Record{c})
	if err != nil {
		return nil, err
	}
	args[2] = r.RecordedAt.UnixMicro()
	for i, j := range [...][]byte{r.Details, r.Changes} {
		if len(j) > 0 {
			args[10+i] = string(j)
		}
	}
	return args, nil
}

func (p tamper) UpdateRecord(ctx context.Context, id uuid.UUID, mutate func(*audit.Record)) error {
	r, err := p.s.Get(ctx, id)
	if err != nil {
		return err
	}
	mutate(&r)
	return p.do(ctx, func(tx *sqlx.Tx) error {
		// keep the row, so that the record keeps its place in the sealing order
		args, err := p.rawArgs(r)
		if err != nil {
			return err
		}
		sets := strings.Split(columns, ", ")
		for i := range sets {
			sets[i] += " = ?"
		}
		_, err = tx.ExecContext(ctx, "UPDATE audit_logs SET "+strings.Join(sets, ", ")+" WHERE id = ?", append(args, id[:])...)
		return err
	})
}

func (p tamper) DeleteRecord(ctx context.Context, id uuid.UUID) error {
	return p.do(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM audit_logs WHERE id = ?", id[:])
		return err
	})
}

func (p tamper) InsertRecord(ctx context.Context, r audit.Record) error {
	return p.do(ctx, func(tx *sqlx.Tx) error { return p.insert(ctx, tx, r) })
}

func (p tamper) insertSeal(ctx context.Context, tx *sqlx.Tx, s storekit.Seal, row int64) error {
	var tag any
	if len(s.TenantTag) > 0 {
		tag = s.TenantTag
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO audit_seals (seq, event_id, event_time, event_row, digest, key_id, hash, sealed_at, tenant_tag) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		int64(s.Seq), s.EventID[:], s.EventTime.UnixMicro(), row, s.Digest, s.KeyID, s.Hash, s.SealedAt.UnixMicro(), tag)
	return err
}

func (p tamper) UpdateSeal(ctx context.Context, seq uint64, mutate func(*storekit.Seal)) error {
	var s storekit.Seal
	var row int64
	found := false
	err := p.s.ScanChain(ctx, seq, func(sl storekit.Seal, _ *audit.Record) error {
		if sl.Seq == seq {
			s, found = sl, true
		}
		return errStopScan
	})
	if err != nil && err != errStopScan {
		return err
	}
	if !found {
		return nil
	}
	if err := p.s.reader.GetContext(ctx, &row, "SELECT event_row FROM audit_seals WHERE seq = ?", int64(seq)); err != nil {
		return err
	}
	mutate(&s)
	return p.do(ctx, func(tx *sqlx.Tx) error {
		if _, err := tx.ExecContext(ctx, "DELETE FROM audit_seals WHERE seq = ?", int64(seq)); err != nil {
			return err
		}
		return p.insertSeal(ctx, tx, s, row)
	})
}

func (p tamper) DeleteSeal(ctx context.Context, seq uint64) error {
	return p.do(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM audit_seals WHERE seq = ?", int64(seq))
		return err
	})
}

func (p tamper) InsertSeal(ctx context.Context, s storekit.Seal) error {
	return p.do(ctx, func(tx *sqlx.Tx) error { return p.insertSeal(ctx, tx, s, 0) })
}

var errStopScan = stopScan{}

type stopScan struct{}

func (stopScan) Error() string { return "stop" }
