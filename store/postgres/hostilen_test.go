package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// TestHostileRunLengthBounded: a row of the tree's leaves whose n a
// superuser set to 2^31-1 (checks dropped, triggers off) made Leaves, the
// reader of the public tiles' entries, generate every leaf the row
// claims before it filtered them: billions of rows of server work for one
// request of 16 leaves. Leaves now spreads a row into 16 leaves at most,
// as runOf (proofs) reads it.
func TestHostileRunLengthBounded(t *testing.T) {
	dsn(t)
	t.Parallel()
	s, schema := newChainStore(t)
	appendRecords(t, s, 20)
	sealIn(t, s, 20, 1000)
	ctx := testCtx(t)
	db := testDB(t)
	tbl := schema + ".audit_logs_tree_leaves"
	if _, err := db.ExecContext(ctx, "ALTER TABLE "+tbl+" DROP CONSTRAINT tree_leaves_run, DROP CONSTRAINT tree_leaves_salt, DROP CONSTRAINT tree_leaves_commitment"); err != nil {
		t.Fatal(err)
	}
	p := tamper{db: db, s: s, schema: schema}
	if err := p.do(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, "UPDATE "+tbl+" SET n = 2147483647 WHERE seq = 1")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	start := time.Now()
	leaves, err := s.Leaves(lctx, 1, 16)
	if lctx.Err() != nil {
		t.Errorf("Leaves(1, 16) with one hostile row: still running after %v (%v)", time.Since(start).Round(time.Millisecond), err)
	} else {
		t.Logf("Leaves: %d leaves, %v, after %v", len(leaves), err, time.Since(start))
	}
}
