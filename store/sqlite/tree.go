package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

var _ storekit.TreeStore = (*Store)(nil)

// treeSize returns the number of leaves of the tree.
func treeSize(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	var n int64
	err := q.QueryRowxContext(ctx, "SELECT COALESCE(max(seq), 0) FROM audit_tree_leaves").Scan(&n)
	return n, err
}

// addLeaves stores leaves, their hashes and checkpoint within tx, if they
// continue the tree.
func addLeaves(ctx context.Context, tx *sqlx.Tx, size int64, leaves []storekit.Leaf) error {
	have, err := treeSize(ctx, tx)
	if err != nil {
		return err
	}
	if have != size {
		return fmt.Errorf("the tree has %d leaves, not %d", have, size)
	}
	if err := storekit.CheckLeaves(size, leaves); err != nil {
		return err
	}
	var hashes []any
	idx := tlog.StoredHashCount(size)
	for start := 0; start < len(leaves); start += chunkRows {
		end := min(start+chunkRows, len(leaves))
		args := make([]any, 0, (end-start)*4)
		for i := start; i < end; i++ {
			l := &leaves[i]
			var id any
			if l.EventID != uuid.Nil {
				id = l.EventID[:]
			}
			args = append(args, int64(l.Seq), id, l.Salt, l.Commitment)
			for _, h := range l.Hashes {
				hashes = append(hashes, idx, h)
				idx++
			}
			if l.Checkpoint != nil {
				if _, err := tx.ExecContext(ctx, "INSERT INTO audit_tree_checkpoints (size, note) VALUES (?, ?)", int64(l.Seq), string(l.Checkpoint)); err != nil {
					return err
				}
			}
		}
		q := "INSERT INTO audit_tree_leaves (seq, event_id, salt, commitment) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?,?,?,?),", end-start), ",")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	for start := 0; start < len(hashes); start += 2 * chunkRows {
		end := min(start+2*chunkRows, len(hashes))
		q := "INSERT INTO audit_tree_hashes (idx, hash) VALUES " + strings.TrimSuffix(strings.Repeat("(?,?),", (end-start)/2), ",")
		if _, err := tx.ExecContext(ctx, q, hashes[start:end]...); err != nil {
			return err
		}
	}
	return nil
}

// AppendLeaves adds leaves to the tree in one write transaction, if it has
// size leaves.
func (s *Store) AppendLeaves(ctx context.Context, size int64, leaves []storekit.Leaf) error {
	err := s.writeTx(ctx, func(tx *sqlx.Tx) error { return addLeaves(ctx, tx, size, leaves) })
	if err != nil {
		return fmt.Errorf("audit: sqlite: append leaves: %w", err)
	}
	return nil
}

// TreeSize returns the number of leaves of the tree.
func (s *Store) TreeSize(ctx context.Context) (int64, error) {
	n, err := treeSize(ctx, s.reader)
	if err != nil {
		return 0, fmt.Errorf("audit: sqlite: tree size: %w", err)
	}
	return n, nil
}

// ReadTreeHashes returns the stored hashes of the tree at indexes.
func (s *Store) ReadTreeHashes(ctx context.Context, indexes []int64) ([][]byte, error) {
	out := make([][]byte, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	at := make(map[int64][]int, len(indexes))
	args := make([]any, 0, len(indexes))
	for i, x := range indexes {
		if _, ok := at[x]; !ok {
			args = append(args, x)
		}
		at[x] = append(at[x], i)
	}
	rows, err := s.reader.QueryContext(ctx, "SELECT idx, hash FROM audit_tree_hashes WHERE idx IN ("+strings.TrimSuffix(strings.Repeat("?,", len(args)), ",")+")", args...)
	if err != nil {
		return nil, fmt.Errorf("audit: sqlite: tree hashes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var x int64
		var h []byte
		if err := rows.Scan(&x, &h); err != nil {
			return nil, fmt.Errorf("audit: sqlite: tree hashes: %w", err)
		}
		for _, i := range at[x] {
			out[i] = h
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: sqlite: tree hashes: %w", err)
	}
	for i, h := range out {
		if h == nil {
			return nil, fmt.Errorf("audit: sqlite: tree hash %d: %w", indexes[i], audit.ErrNotFound)
		}
	}
	return out, nil
}

func scanLeaf(rows interface{ Scan(...any) error }) (storekit.Leaf, error) {
	var (
		l   storekit.Leaf
		seq int64
		id  []byte
	)
	if err := rows.Scan(&seq, &id, &l.Salt, &l.Commitment); err != nil {
		return l, err
	}
	l.Seq = uint64(seq)
	if id != nil {
		var err error
		if l.EventID, err = uuid.FromBytes(id); err != nil {
			return l, fmt.Errorf("leaf %d: %w", seq, err)
		}
	}
	return l, nil
}

// Leaves returns the leaves with Seq in [from, from+n).
func (s *Store) Leaves(ctx context.Context, from uint64, n int) ([]storekit.Leaf, error) {
	rows, err := s.reader.QueryContext(ctx, "SELECT seq, event_id, salt, commitment FROM audit_tree_leaves WHERE seq >= ? AND seq < ? ORDER BY seq",
		int64(min(from, 1<<62)), int64(min(from+uint64(max(n, 0)), 1<<62)))
	if err != nil {
		return nil, fmt.Errorf("audit: sqlite: leaves: %w", err)
	}
	defer rows.Close()
	var out []storekit.Leaf
	for rows.Next() {
		l, err := scanLeaf(rows)
		if err != nil {
			return nil, fmt.Errorf("audit: sqlite: leaves: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: sqlite: leaves: %w", err)
	}
	return out, nil
}

// LeafOf returns the leaf of the record with id.
func (s *Store) LeafOf(ctx context.Context, id uuid.UUID) (storekit.Leaf, error) {
	l, err := scanLeaf(s.reader.QueryRowxContext(ctx, "SELECT seq, event_id, salt, commitment FROM audit_tree_leaves WHERE event_id = ? ORDER BY seq DESC LIMIT 1", id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return storekit.Leaf{}, fmt.Errorf("audit: sqlite: leaf of %s: %w", id, audit.ErrNotFound)
	}
	if err != nil {
		return storekit.Leaf{}, fmt.Errorf("audit: sqlite: leaf of %s: %w", id, err)
	}
	return l, nil
}

// TreeCheckpoint returns the stored tree checkpoint at size, or the
// newest for a negative size.
func (s *Store) TreeCheckpoint(ctx context.Context, size int64) (storekit.TreeCheckpoint, error) {
	q, args := "SELECT size, note FROM audit_tree_checkpoints WHERE size = ?", []any{size}
	if size < 0 {
		q, args = "SELECT size, note FROM audit_tree_checkpoints ORDER BY size DESC LIMIT 1", nil
	}
	var c storekit.TreeCheckpoint
	var note string
	err := s.reader.QueryRowxContext(ctx, q, args...).Scan(&c.Size, &note)
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("audit: sqlite: tree checkpoint at %d: %w", size, audit.ErrNotFound)
	}
	if err != nil {
		return c, fmt.Errorf("audit: sqlite: tree checkpoint: %w", err)
	}
	c.Note = []byte(note)
	return c, nil
}
