package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

var (
	_ storekit.TreeStore            = (*Store)(nil)
	_ storekit.TreeCheckpointWriter = (*Store)(nil)
	_ storekit.RecordLeafReader     = (*Store)(nil)
)

// maxRun is the most leaves a row of the tree's leaves holds (migration
// 8): a run of leaves never crosses a multiple of it.
const maxRun = 16

// treeSize returns the number of leaves of the tree.
func (s *Store) treeSize(ctx context.Context, q sqlx.QueryerContext) (int64, error) {
	var n int64
	err := q.QueryRowxContext(ctx, "SELECT COALESCE((SELECT seq + n - 1 FROM "+s.sql.TreeLeaves+" ORDER BY seq DESC LIMIT 1), 0)").Scan(&n)
	return n, err
}

// addLeaves stores leaves, their hashes and checkpoint within tx, which
// holds the sealing lock, if they continue the tree: in runs of up to
// maxRun leaves a row, cut at multiples of maxRun and where placeholders
// begin or end.
func (s *Store) addLeaves(ctx context.Context, tx *sqlx.Tx, size int64, leaves []storekit.Leaf) error {
	if err := storekit.CheckLeaves(size, leaves); err != nil {
		return err
	}
	// One statement for the step's runs, their bytes in three parameters,
	// that checks the size too: one round trip, where a size query and a
	// COPY took four, and no driver call per row.
	first := leaves[0].Seq
	var (
		salts, commitments, hashes = make([]byte, 0, 32*len(leaves)), make([]byte, 0, 32*len(leaves)), make([]byte, 0, 64*len(leaves))
		seqs, ns, offs, lens       []int64
		salted                     []bool
	)
	for i := 0; i < len(leaves); {
		salt := leaves[i].Salt != nil
		j := i + 1
		for j < len(leaves) && (leaves[j].Seq-1)%maxRun != 0 && (leaves[j].Salt != nil) == salt {
			j++
		}
		at := len(hashes)
		for k := i; k < j; k++ {
			l := &leaves[k]
			if salt {
				salts = append(salts, l.Salt...)
			} else {
				// zeros stand for a placeholder's salt: its run stores NULL
				salts = append(salts, make([]byte, 32)...)
			}
			commitments = append(commitments, l.Commitment...)
			for _, h := range l.Hashes {
				hashes = append(hashes, h...)
			}
		}
		seqs, ns, salted = append(seqs, int64(leaves[i].Seq)), append(ns, int64(j-i)), append(salted, salt)
		offs, lens = append(offs, int64(at)), append(lens, int64(len(hashes)-at))
		i = j
	}
	res, err := tx.ExecContext(ctx, "INSERT INTO "+s.sql.TreeLeaves+" (seq, n, salt, commitment, hashes)"+
		" SELECT r.seq, r.n, CASE WHEN r.salted THEN substring($1::bytea FROM (r.seq - $9::bigint)::integer * 32 + 1 FOR r.n * 32) END,"+
		" substring($2::bytea FROM (r.seq - $9::bigint)::integer * 32 + 1 FOR r.n * 32), substring($3::bytea FROM r.off + 1 FOR r.len)"+
		" FROM unnest($4::bigint[], $5::integer[], $6::boolean[], $7::integer[], $8::integer[]) AS r (seq, n, salted, off, len)"+
		" WHERE (SELECT COALESCE((SELECT seq + n - 1 FROM "+s.sql.TreeLeaves+" ORDER BY seq DESC LIMIT 1), 0)) = $10",
		salts, commitments, hashes, pq.Array(seqs), pq.Array(ns), pq.Array(salted), pq.Array(offs), pq.Array(lens), int64(first), size)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != int64(len(seqs)) {
		have, err := s.treeSize(ctx, tx)
		if err != nil {
			return err
		}
		return fmt.Errorf("the tree has %d leaves, not %d", have, size)
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

// runOf is a lateral subquery of the row r holding leaf k (a column of
// the outer query): of the rows that start at most maxRun-1 leaves before
// k and reach it, the newest. The sealer writes one; a row written over
// another's leaves (by the table's owner) hides them, and their proofs
// fail against the signed checkpoints.
func (s *Store) runOf(k string) string {
	return "LATERAL (SELECT seq, n, salt, commitment, hashes FROM " + s.sql.TreeLeaves + " WHERE seq <= " + k + " AND seq > " + k +
		" - " + strconv.Itoa(maxRun) + " AND seq + n > " + k + " ORDER BY seq DESC LIMIT 1) r"
}

// leafCols read, from the run r, leaf k's Seq, the given event ID, its
// salt and its commitment, in the order scanLeaf reads them.
func leafCols(k, eventID string) string {
	at := "(" + k + " - r.seq)::integer * 32 + 1"
	return k + ", " + eventID + ", CASE WHEN r.salt IS NOT NULL THEN substring(r.salt FROM " + at + " FOR 32) END, substring(r.commitment FROM " + at + " FOR 32)"
}

// ReadTreeHashes returns the stored hashes of the tree at indexes, in one
// indexed read of the runs of leaves that hold them.
func (s *Store) ReadTreeHashes(ctx context.Context, indexes []int64) ([][]byte, error) {
	out, err := storekit.ReadLeafHashes(indexes, func(seqs []int64) (map[int64][]byte, error) {
		rows, err := s.query(ctx, true, "SELECT k, r.seq, r.hashes FROM unnest($1::bigint[]) AS k, "+s.runOf("k")+" WHERE k < r.seq + r.n", pq.Array(seqs))
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		got := make(map[int64][]byte, len(seqs))
		for rows.Next() {
			var k, first int64
			var hs []byte
			if err := rows.Scan(&k, &first, &hs); err != nil {
				return nil, err
			}
			// leaf k's hashes follow those of the leaves before it in the run
			base := tlog.StoredHashCount(first - 1)
			from, to := (tlog.StoredHashCount(k-1)-base)*32, (tlog.StoredHashCount(k)-base)*32
			if first >= 1 && first <= k && to <= int64(len(hs)) {
				got[k] = hs[from:to:to]
			}
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
	// the runs that hold the range, each spread into its leaves (no more
	// than a run holds, whatever a changed row says); of two runs that
	// claim a leaf (rows no sealer wrote), the one runOf reads
	rows, err := s.db.QueryContext(ctx, "SELECT "+leafCols("k", "s.event_id")+" FROM "+s.sql.TreeLeaves+
		" r CROSS JOIN LATERAL generate_series(r.seq, r.seq + LEAST(r.n, "+strconv.Itoa(maxRun)+") - 1) AS k LEFT JOIN "+s.sql.Seals+" s ON s.seq = k"+
		" WHERE r.seq > $1::bigint - "+strconv.Itoa(maxRun)+" AND r.seq < $2 AND k >= $1 AND k < $2 ORDER BY k, r.seq DESC",
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
		if len(out) > 0 && out[len(out)-1].Seq == l.Seq {
			continue
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
	return s.leafOf(ctx, id, "SELECT "+leafCols("k", "$1::uuid")+" FROM unnest(ARRAY(SELECT seq FROM "+
		s.sql.Seals+" WHERE event_id = $1 LIMIT 1000)) AS k, "+s.runOf("k")+" WHERE k < r.seq + r.n", id.String())
}

// LeafOfRecord returns the leaf of the record with id that occurred at
// occurredAt: two records may share an ID, at two times (see
// storekit.RecordLeafReader).
func (s *Store) LeafOfRecord(ctx context.Context, id uuid.UUID, occurredAt time.Time) (storekit.Leaf, error) {
	return s.leafOf(ctx, id, "SELECT "+leafCols("k", "$1::uuid")+" FROM unnest(ARRAY(SELECT seq FROM "+
		s.sql.Seals+" WHERE event_id = $1 AND event_time = $2 LIMIT 1000)) AS k, "+s.runOf("k")+" WHERE k < r.seq + r.n", id.String(), micro(occurredAt))
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
		s.sql.TreeLeaves+" WHERE seq <= $1 AND seq > $1::bigint - "+strconv.Itoa(maxRun)+" AND seq + n > $1) ON CONFLICT (size) DO NOTHING", c.Size, string(c.Note))
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
