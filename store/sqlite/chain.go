package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// SealNext runs one sealing step (see storekit.SealStore) in one write
// transaction. SQLite has one writer at a time, across processes too, so
// the step is the only sealer; another sealer waits its turn (up to the
// busy timeout) and then continues the chain. Records are sealed in the
// order they were committed (their row), which a later commit cannot
// overtake.
func (s *Store) SealNext(ctx context.Context, max int, fn func(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error)) (int, error) {
	if max <= 0 {
		last, _, err := lastSeal(ctx, s.reader)
		if err != nil {
			return 0, fmt.Errorf("audit: sqlite: seal: %w", err)
		}
		_, err = fn(last, nil)
		return 0, err
	}
	var n int
	err := s.writeTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		n, err = sealStep(ctx, tx, max, fn)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit: sqlite: seal: %w", err)
	}
	return n, nil
}

func sealStep(ctx context.Context, tx *sqlx.Tx, max int, fn func(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error)) (int, error) {
	last, after, err := lastSeal(ctx, tx)
	if err != nil {
		return 0, err
	}
	rows, err := tx.QueryContext(ctx, "SELECT e.row, "+selectList+" FROM audit_logs e WHERE e.row > ? ORDER BY e.row LIMIT ?", after, max)
	if err != nil {
		return 0, err
	}
	recs, rowNumbs, err := storekit.ScanAll(rows, func(rows *sql.Rows) (audit.Record, int64, error) {
		var row int64
		r, err := scanRecord(rows, &row)
		return r, row, err
	})
	if err != nil {
		return 0, err
	}
	if len(recs) == 0 {
		return 0, nil
	}
	seals, err := storekit.RunSealer(fn, last, recs)
	if err != nil {
		return 0, err
	}
	const cols = 9
	for start := 0; start < len(seals); start += chunkRows {
		end := min(start+chunkRows, len(seals))
		args := make([]any, 0, (end-start)*cols)
		for i := start; i < end; i++ {
			sl := &seals[i]
			id := sl.EventID
			var tag any
			if len(sl.TenantTag) > 0 {
				tag = sl.TenantTag
			}
			args = append(args, int64(sl.Seq), id[:], sl.EventTime.UnixMicro(), rowNumbs[i],
				sl.Digest, sl.KeyID, sl.Hash, sl.SealedAt.UnixMicro(), tag)
		}
		q := "INSERT INTO audit_seals (seq, event_id, event_time, event_row, digest, key_id, hash, sealed_at, tenant_tag) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?),", end-start), ",")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return 0, err
		}
	}
	if leaves, ok := storekit.SealLeaves(seals); ok {
		if err := addLeaves(ctx, tx, int64(leaves[0].Seq)-1, leaves); err != nil {
			return 0, err
		}
	}
	return len(seals), nil
}

// lastSeal returns the newest seal and the row after which sealing
// continues: the newest seal's, or, when retention removed every seal,
// the newest checkpoint's.
func lastSeal(ctx context.Context, q sqlx.QueryerContext) (storekit.Seal, int64, error) {
	var (
		seq   int64
		row   sql.NullInt64
		hash  []byte
		keyID string // none for a checkpoint: the Sealer tells them apart
	)
	err := q.QueryRowxContext(ctx, "SELECT seq, hash, event_row, key_id FROM audit_seals ORDER BY seq DESC LIMIT 1").Scan(&seq, &hash, &row, &keyID)
	// A rewound chain (seals missing below a checkpoint) is the Sealer's
	// to refuse: it checks the checkpoints' signatures, which the store
	// cannot, and anyone who can write the file could have added a row.
	if errors.Is(err, sql.ErrNoRows) {
		err = q.QueryRowxContext(ctx, "SELECT seq, hash, event_row, '' FROM audit_checkpoints ORDER BY seq DESC, at DESC LIMIT 1").Scan(&seq, &hash, &row, &keyID)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storekit.Seal{}, 0, nil
	case err != nil:
		return storekit.Seal{}, 0, err
	}
	return storekit.Seal{Seq: uint64(seq), Hash: hash, KeyID: keyID}, row.Int64, nil
}

// ScanChain calls fn for each seal with Seq >= from, in order, with the
// record it seals or nil. It reads one snapshot of the file, streaming.
func (s *Store) ScanChain(ctx context.Context, from uint64, fn func(storekit.Seal, *audit.Record) error) error {
	rows, err := s.reader.QueryContext(ctx, "SELECT s.seq, s.event_id, s.event_time, s.digest, s.key_id, s.hash, s.sealed_at, s.tenant_tag, "+
		"e.id IS NOT NULL, "+nullableSelectList+
		" FROM audit_seals s LEFT JOIN audit_logs e ON e.id = s.event_id AND e.ts = s.event_time WHERE s.seq >= ? ORDER BY s.seq",
		int64(min(from, 1<<62)))
	if err != nil {
		return fmt.Errorf("audit: sqlite: scan chain: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			sl                storekit.Seal
			seq, at, sealedAt int64
			eventID           []byte
			found             bool
		)
		r, err := scanRecord(rows, &seq, &eventID, &at, &sl.Digest, &sl.KeyID, &sl.Hash, &sealedAt, &sl.TenantTag, &found)
		if err != nil {
			return fmt.Errorf("audit: sqlite: scan chain: %w", err)
		}
		if sl.EventID, err = uuid.FromBytes(eventID); err != nil {
			return fmt.Errorf("audit: sqlite: scan chain: seal %d: %w", seq, err)
		}
		sl.Seq, sl.EventTime, sl.SealedAt = uint64(seq), micros(at), micros(sealedAt)
		var rec *audit.Record
		if found {
			rec = &r
		}
		if err := fn(sl, rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: sqlite: scan chain: %w", err)
	}
	return nil
}

// nullableSelectList is selectList for the alias e of an outer join, where
// every column may be NULL.
const nullableSelectList = `COALESCE(e.id, zeroblob(16)), COALESCE(e.ts, 0), COALESCE(e.recorded_at, 0),
COALESCE(e.user_id, ''), COALESCE(e.user_email, ''), COALESCE(e.ip_address, ''), COALESCE(e.user_agent, ''),
COALESCE(e.action, ''), COALESCE(e.resource_type, ''), COALESCE(e.resource_id, ''),
e.details, e.changes, COALESCE(e.request_id, ''), COALESCE(e.session_id, ''), COALESCE(e.status, ''), COALESCE(e.error_message, ''),
COALESCE(e.tenant_id, ''), COALESCE(e.trace_id, ''), COALESCE(e.span_id, '')`

// ScanUnsealed calls fn for each record that no seal names, in the order
// they were committed.
func (s *Store) ScanUnsealed(ctx context.Context, fn func(*audit.Record) error) error {
	rows, err := s.reader.QueryContext(ctx, "SELECT "+selectList+
		" FROM audit_logs e WHERE NOT EXISTS (SELECT 1 FROM audit_seals s WHERE s.event_id = e.id AND s.event_time = e.ts) ORDER BY e.row")
	if err != nil {
		return fmt.Errorf("audit: sqlite: scan unsealed: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return fmt.Errorf("audit: sqlite: scan unsealed: %w", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: sqlite: scan unsealed: %w", err)
	}
	return nil
}

// AppendCheckpoint stores a checkpoint, with the row of the record its
// seal seals, so that sealing can continue from it.
func (s *Store) AppendCheckpoint(ctx context.Context, c storekit.Checkpoint) error {
	var purged any
	if !c.PurgedBefore.IsZero() {
		purged = c.PurgedBefore.UnixMicro()
	}
	tenants, err := storekit.TenantCutoffsColumn(c.TenantCutoffs)
	if err != nil {
		return fmt.Errorf("audit: sqlite: append checkpoint %d: %w", c.Seq, err)
	}
	err = s.writeTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO audit_checkpoints (seq, hash, at, purged_before, boundary, signer_id, signature, tenant_cutoffs, event_row)"+
			" SELECT ?, ?, ?, ?, ?, ?, ?, ?, (SELECT event_row FROM audit_seals WHERE seq = ?)",
			int64(c.Seq), c.Hash, c.At.UnixMicro(), purged, c.Boundary, c.SignerID, c.Signature, tenants, int64(c.Seq))
		return err
	})
	if err != nil {
		return fmt.Errorf("audit: sqlite: append checkpoint %d: %w", c.Seq, err)
	}
	return nil
}

// Checkpoints returns the stored checkpoints, oldest first.
func (s *Store) Checkpoints(ctx context.Context) ([]storekit.Checkpoint, error) {
	rows, err := s.reader.QueryContext(ctx, "SELECT seq, hash, at, purged_before, boundary, signer_id, signature, tenant_cutoffs FROM audit_checkpoints ORDER BY seq, at")
	if err != nil {
		return nil, fmt.Errorf("audit: sqlite: checkpoints: %w", err)
	}
	defer rows.Close()
	var cps []storekit.Checkpoint
	for rows.Next() {
		var (
			c       storekit.Checkpoint
			seq, at int64
			purged  sql.NullInt64
			tenants sql.NullString
		)
		if err := rows.Scan(&seq, &c.Hash, &at, &purged, &c.Boundary, &c.SignerID, &c.Signature, &tenants); err != nil {
			return nil, fmt.Errorf("audit: sqlite: checkpoints: %w", err)
		}
		c.Seq, c.At = uint64(seq), micros(at)
		if purged.Valid {
			c.PurgedBefore = micros(purged.Int64)
		}
		// cutoffs that do not parse are left out: the signature, which
		// covers them, then fails, and Verify reports the checkpoint
		c.TenantCutoffs = storekit.TenantCutoffs(tenants.String)
		cps = append(cps, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: sqlite: checkpoints: %w", err)
	}
	return cps, nil
}

// PurgeSeals deletes the seals up to and including through. It refuses
// unless a retention checkpoint (boundary, with a cutoff) is at through
// and every seal it would delete is of a record older than that cutoff.
// It runs in one write transaction, so never within a sealing step.
func (s *Store) PurgeSeals(ctx context.Context, through uint64) (int64, error) {
	var n int64
	err := s.writeTx(ctx, func(tx *sqlx.Tx) error {
		// the latest cutoff a retention checkpoint at through states,
		// its tenants' included
		var before sql.NullInt64
		rows, err := tx.QueryxContext(ctx, "SELECT purged_before, tenant_cutoffs FROM audit_checkpoints WHERE seq = ? AND boundary AND purged_before IS NOT NULL",
			int64(through))
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				purged  int64
				tenants sql.NullString
			)
			if err := rows.Scan(&purged, &tenants); err != nil {
				rows.Close()
				return err
			}
			for _, e := range storekit.TenantCutoffs(tenants.String) {
				purged = max(purged, e.PurgedBefore.UnixMicro())
			}
			before = sql.NullInt64{Int64: max(before.Int64, purged), Valid: true}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if !before.Valid {
			return fmt.Errorf("no retention checkpoint at seal %d: purging the seals before it would break the chain", through)
		}
		var younger bool
		if err := tx.QueryRowxContext(ctx, "SELECT EXISTS (SELECT 1 FROM audit_seals WHERE seq <= ? AND event_time >= ?)",
			int64(through), before.Int64).Scan(&younger); err != nil {
			return err
		}
		if younger {
			return fmt.Errorf("seals up to %d include records younger than the retention cutoff %v", through, micros(before.Int64))
		}
		n, err = permitted(ctx, tx, "seals", int64(through), "DELETE FROM audit_seals WHERE seq <= ?", int64(through))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("audit: sqlite: purge seals through %d: %w", through, err)
	}
	return n, nil
}

// permitted runs the DELETE query within tx under the retention permit
// for target up to bound, and returns how many rows it deleted. The
// permit exists only inside tx.
func permitted(ctx context.Context, tx *sqlx.Tx, target string, bound int64, query string, args ...any) (int64, error) {
	if _, err := tx.ExecContext(ctx, "INSERT INTO audit_retention (target, bound) VALUES (?, ?)", target, bound); err != nil {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM audit_retention WHERE target = ?", target); err != nil {
		return 0, err
	}
	return n, nil
}
