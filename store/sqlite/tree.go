package sqlite

import (
	"bytes"
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

var (
	_ storekit.TreeStore            = (*Store)(nil)
	_ storekit.TreeCheckpointWriter = (*Store)(nil)
)

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
	for start := 0; start < len(leaves); start += chunkRows {
		end := min(start+chunkRows, len(leaves))
		args := make([]any, 0, (end-start)*4)
		for i := start; i < end; i++ {
			l := &leaves[i]
			var salt any
			if l.Salt != nil {
				salt = l.Salt
			}
			args = append(args, int64(l.Seq), salt, l.Commitment, bytes.Join(l.Hashes, nil))
		}
		q := "INSERT INTO audit_tree_leaves (seq, salt, commitment, hashes) VALUES " +
			strings.TrimSuffix(strings.Repeat("(?,?,?,?),", end-start), ",")
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	if l := leaves[len(leaves)-1]; l.Checkpoint != nil {
		if _, err := tx.ExecContext(ctx, "INSERT INTO audit_tree_checkpoints (size, note) VALUES (?, ?)", int64(l.Seq), string(l.Checkpoint)); err != nil {
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

// ReadTreeHashes returns the stored hashes of the tree at indexes, in one
// indexed read of the leaves that hold them.
func (s *Store) ReadTreeHashes(ctx context.Context, indexes []int64) ([][]byte, error) {
	out, err := storekit.ReadLeafHashes(indexes, func(seqs []int64) (map[int64][]byte, error) {
		args := make([]any, len(seqs))
		for i, x := range seqs {
			args[i] = x
		}
		rows, err := s.reader.QueryContext(ctx, "SELECT seq, hashes FROM audit_tree_leaves WHERE seq IN ("+strings.TrimSuffix(strings.Repeat("?,", len(seqs)), ",")+")", args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		got := make(map[int64][]byte, len(seqs))
		for rows.Next() {
			var seq int64
			var hs []byte
			if err := rows.Scan(&seq, &hs); err != nil {
				return nil, err
			}
			got[seq] = hs
		}
		return got, rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("audit: sqlite: tree hashes: %w", err)
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
	rows, err := s.reader.QueryContext(ctx, "SELECT l.seq, s.event_id, l.salt, l.commitment FROM audit_tree_leaves l LEFT JOIN audit_seals s ON s.seq = l.seq WHERE l.seq >= ? AND l.seq < ? ORDER BY l.seq",
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

// LeafOf returns the leaf of the record with id: the newest, should two
// seals name it. It reads through the seals' index on event_id (no ORDER
// BY … LIMIT, which would tempt the planner to walk the seals backwards).
func (s *Store) LeafOf(ctx context.Context, id uuid.UUID) (storekit.Leaf, error) {
	rows, err := s.reader.QueryContext(ctx, "SELECT l.seq, s.event_id, l.salt, l.commitment FROM audit_seals s JOIN audit_tree_leaves l ON l.seq = s.seq WHERE s.event_id = ?", id[:])
	if err != nil {
		return storekit.Leaf{}, fmt.Errorf("audit: sqlite: leaf of %s: %w", id, err)
	}
	defer rows.Close()
	var out storekit.Leaf
	for rows.Next() {
		l, err := scanLeaf(rows)
		if err != nil {
			return storekit.Leaf{}, fmt.Errorf("audit: sqlite: leaf of %s: %w", id, err)
		}
		if l.Seq > out.Seq {
			out = l
		}
	}
	if err := rows.Err(); err != nil {
		return storekit.Leaf{}, fmt.Errorf("audit: sqlite: leaf of %s: %w", id, err)
	}
	if out.Seq == 0 {
		return storekit.Leaf{}, fmt.Errorf("audit: sqlite: leaf of %s: %w", id, audit.ErrNotFound)
	}
	return out, nil
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

// AppendTreeCheckpoint stores c, a signed checkpoint of the tree at one of
// its sizes (a leaf with that Seq must exist); one at a size already held
// is ignored.
func (s *Store) AppendTreeCheckpoint(ctx context.Context, c storekit.TreeCheckpoint) error {
	err := s.writeTx(ctx, func(tx *sqlx.Tx) error {
		var leaf bool
		if err := tx.GetContext(ctx, &leaf, "SELECT EXISTS (SELECT 1 FROM audit_tree_leaves WHERE seq = ?)", c.Size); err != nil {
			return err
		}
		if !leaf {
			return fmt.Errorf("the tree has no leaf %d", c.Size)
		}
		_, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO audit_tree_checkpoints (size, note) VALUES (?, ?)", c.Size, string(c.Note))
		return err
	})
	if err != nil {
		return fmt.Errorf("audit: sqlite: tree checkpoint at %d: %w", c.Size, err)
	}
	return nil
}
