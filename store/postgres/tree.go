package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

var (
	_ storekit.TreeStore            = (*Store)(nil)
	_ storekit.TreeCheckpointWriter = (*Store)(nil)
	_ storekit.RecordLeafReader     = (*Store)(nil)
)

// treeSize returns the number of leaves of the tree.
func (s *Store) treeSize(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	var n int64
	err := q.QueryRowxContext(ctx, "SELECT COALESCE(max(seq), 0) FROM "+s.sql.TreeLeaves).Scan(&n)
	return n, err
}

// addLeaves stores leaves, their hashes and checkpoint within tx, which
// holds the sealing lock, if they continue the tree.
func (s *Store) addLeaves(ctx context.Context, tx *sqlx.Tx, size int64, leaves []storekit.Leaf) error {
	have, err := s.treeSize(ctx, tx)
	if err != nil {
		return err
	}
	if have != size {
		return fmt.Errorf("the tree has %d leaves, not %d", have, size)
	}
	if err := storekit.CheckLeaves(size, leaves); err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, "COPY "+s.sql.TreeLeaves+" (seq, salt, commitment, hashes) FROM STDIN")
	if err != nil {
		return err
	}
	defer stmt.Close()
	buf := make([]byte, 0, 32*len(leaves)*2)
	for i := range leaves {
		l := &leaves[i]
		var salt any
		if l.Salt != nil {
			salt = l.Salt
		}
		at := len(buf)
		for _, h := range l.Hashes {
			buf = append(buf, h...)
		}
		if _, err := stmt.ExecContext(ctx, int64(l.Seq), salt, l.Commitment, buf[at:]); err != nil {
			return err
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return err
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	if l := leaves[len(leaves)-1]; l.Checkpoint != nil {
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+s.sql.TreeCheckpoints+" (size, note) VALUES ($1, $2)", int64(l.Seq), string(l.Checkpoint)); err != nil {
			return err
		}
	}
	return nil
}

// AppendLeaves adds leaves to the tree in one transaction, within the
// sealing lock (it waits for a sealing step to end), if the tree has size
// leaves.
func (s *Store) AppendLeaves(ctx context.Context, size int64, leaves []storekit.Leaf) error {
	err := func() error {
		if len(leaves) == 0 {
			return nil
		}
		tx, err := s.db.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", s.sql.LockSeal); err != nil {
			return err
		}
		if err := s.addLeaves(ctx, tx, size, leaves); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		return fmt.Errorf("audit: postgres: append leaves: %w", err)
	}
	return nil
}

// TreeSize returns the number of leaves of the tree.
func (s *Store) TreeSize(ctx context.Context) (int64, error) {
	n, err := s.treeSize(ctx, s.db)
	if err != nil {
		return 0, fmt.Errorf("audit: postgres: tree size: %w", err)
	}
	return n, nil
}

// ReadTreeHashes returns the stored hashes of the tree at indexes, in one
// indexed read of the leaves that hold them.
func (s *Store) ReadTreeHashes(ctx context.Context, indexes []int64) ([][]byte, error) {
	out, err := storekit.ReadLeafHashes(indexes, func(seqs []int64) (map[int64][]byte, error) {
		rows, err := s.query(ctx, true, "SELECT seq, hashes FROM "+s.sql.TreeLeaves+" WHERE seq = ANY($1)", pq.Array(seqs))
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
		return nil, fmt.Errorf("audit: postgres: tree hashes: %w", err)
	}
	return out, nil
}

func scanLeaf(row interface{ Scan(...any) error }) (storekit.Leaf, error) {
	var (
		l   storekit.Leaf
		seq int64
		id  sql.NullString
	)
	if err := row.Scan(&seq, &id, &l.Salt, &l.Commitment); err != nil {
		return l, err
	}
	l.Seq = uint64(seq)
	if id.Valid {
		var err error
		if l.EventID, err = uuid.Parse(id.String); err != nil {
			return l, fmt.Errorf("leaf %d: %w", seq, err)
		}
	}
	return l, nil
}

// Leaves returns the leaves with Seq in [from, from+n).
func (s *Store) Leaves(ctx context.Context, from uint64, n int) ([]storekit.Leaf, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT l.seq, s.event_id, l.salt, l.commitment FROM "+s.sql.TreeLeaves+" l LEFT JOIN "+s.sql.Seals+" s ON s.seq = l.seq WHERE l.seq >= $1 AND l.seq < $2 ORDER BY l.seq",
		int64(min(from, 1<<62)), int64(min(from+uint64(max(n, 0)), 1<<62)))
	if err != nil {
		return nil, fmt.Errorf("audit: postgres: leaves: %w", err)
	}
	defer rows.Close()
	var out []storekit.Leaf
	for rows.Next() {
		l, err := scanLeaf(rows)
		if err != nil {
			return nil, fmt.Errorf("audit: postgres: leaves: %w", err)
		}
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: postgres: leaves: %w", err)
	}
	return out, nil
}

// LeafOf returns the leaf of the record with id: the newest, should two
// seals name it. It reads through the seals' index on event_id (no ORDER
// BY … LIMIT, which would tempt the planner to walk the seals backwards);
// the LIMIT of the inner query keeps a table not yet analyzed from a
// parallel plan, whose workers take 30 ms to start (a proof at 1M
// records took 28 ms where the reads take 0.1 ms).
func (s *Store) LeafOf(ctx context.Context, id uuid.UUID) (storekit.Leaf, error) {
	return s.leafOf(ctx, id, "SELECT l.seq, $1::uuid, l.salt, l.commitment FROM "+s.sql.TreeLeaves+" l WHERE l.seq = ANY (ARRAY(SELECT seq FROM "+
		s.sql.Seals+" WHERE event_id = $1 LIMIT 1000))", id.String())
}

// LeafOfRecord returns the leaf of the record with id that occurred at
// occurredAt: two records may share an ID, at two times (see
// storekit.RecordLeafReader).
func (s *Store) LeafOfRecord(ctx context.Context, id uuid.UUID, occurredAt time.Time) (storekit.Leaf, error) {
	return s.leafOf(ctx, id, "SELECT l.seq, $1::uuid, l.salt, l.commitment FROM "+s.sql.TreeLeaves+" l WHERE l.seq = ANY (ARRAY(SELECT seq FROM "+
		s.sql.Seals+" WHERE event_id = $1 AND event_time = $2 LIMIT 1000))", id.String(), micro(occurredAt))
}

// leafOf returns the newest of the leaves query reads.
func (s *Store) leafOf(ctx context.Context, id uuid.UUID, query string, args ...any) (storekit.Leaf, error) {
	rows, err := s.query(ctx, true, query, args...)
	if err != nil {
		return storekit.Leaf{}, fmt.Errorf("audit: postgres: leaf of %s: %w", id, err)
	}
	defer rows.Close()
	var out storekit.Leaf
	for rows.Next() {
		l, err := scanLeaf(rows)
		if err != nil {
			return storekit.Leaf{}, fmt.Errorf("audit: postgres: leaf of %s: %w", id, err)
		}
		if l.Seq > out.Seq {
			out = l
		}
	}
	if err := rows.Err(); err != nil {
		return storekit.Leaf{}, fmt.Errorf("audit: postgres: leaf of %s: %w", id, err)
	}
	if out.Seq == 0 {
		return storekit.Leaf{}, fmt.Errorf("audit: postgres: leaf of %s: %w", id, audit.ErrNotFound)
	}
	return out, nil
}

// TreeCheckpoint returns the stored tree checkpoint at size, or the
// newest for a negative size.
func (s *Store) TreeCheckpoint(ctx context.Context, size int64) (storekit.TreeCheckpoint, error) {
	q, args := "SELECT size, note FROM "+s.sql.TreeCheckpoints+" WHERE size = $1", []any{size}
	if size < 0 {
		q, args = "SELECT size, note FROM "+s.sql.TreeCheckpoints+" ORDER BY size DESC LIMIT 1", nil
	}
	rows, err := s.query(ctx, true, q, args...)
	if err != nil {
		return storekit.TreeCheckpoint{}, fmt.Errorf("audit: postgres: tree checkpoint: %w", err)
	}
	c, err := storekit.ScanOne(rows, func(rows *sql.Rows) (storekit.TreeCheckpoint, error) {
		var c storekit.TreeCheckpoint
		var note string
		err := rows.Scan(&c.Size, &note)
		c.Note = []byte(note)
		return c, err
	})
	if err != nil {
		return c, fmt.Errorf("audit: postgres: tree checkpoint at %d: %w", size, err)
	}
	return c, nil
}

// AppendTreeCheckpoint stores c, a signed checkpoint of the tree at one of
// its sizes (a leaf with that Seq must exist); one at a size already held
// is ignored. It needs the sealer's INSERT on the checkpoints' table.
func (s *Store) AppendTreeCheckpoint(ctx context.Context, c storekit.TreeCheckpoint) error {
	res, err := s.db.ExecContext(ctx, "INSERT INTO "+s.sql.TreeCheckpoints+" (size, note) SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM "+
		s.sql.TreeLeaves+" WHERE seq = $1) ON CONFLICT (size) DO NOTHING", c.Size, string(c.Note))
	if err != nil {
		return fmt.Errorf("audit: postgres: tree checkpoint at %d: %w", c.Size, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		var held bool
		if err := s.db.GetContext(ctx, &held, "SELECT EXISTS (SELECT 1 FROM "+s.sql.TreeCheckpoints+" WHERE size = $1)", c.Size); err != nil {
			return fmt.Errorf("audit: postgres: tree checkpoint at %d: %w", c.Size, err)
		}
		if !held {
			return fmt.Errorf("audit: postgres: tree checkpoint at %d: the tree has no leaf %d", c.Size, c.Size)
		}
	}
	return nil
}
