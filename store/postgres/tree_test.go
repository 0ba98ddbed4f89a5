package postgres_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storekit"
)

// appendRecords appends n records occurring a millisecond apart, and
// returns them as the store holds them.
func appendRecords(t *testing.T, s *postgres.Store, n int) []audit.Record {
	t.Helper()
	start := time.Now().Add(-time.Hour)
	recs := make([]audit.Record, n)
	for i := range recs {
		recs[i] = benchRecord(start.Add(time.Duration(i) * time.Millisecond))
		recs[i].RecordedAt = time.Time{}
	}
	if err := s.Append(testCtx(t), recs...); err != nil {
		t.Fatal(err)
	}
	out := make([]audit.Record, n)
	for i, r := range recs {
		got, err := s.Get(testCtx(t), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = got
	}
	return out
}

// sealIn seals the n records waiting in steps of batch records, and
// signs a tree checkpoint at each step.
func sealIn(t *testing.T, s *postgres.Store, n, batch int) {
	t.Helper()
	sl, err := chain.NewSealer(s, chainKey, &chain.SealerOptions{SigningKey: &benchSigner, BatchSize: batch})
	if err != nil {
		t.Fatal(err)
	}
	// a transaction open elsewhere on the server may hold sealing back
	sealUntil(t, s, n, sl.SealOnce)
}

// checkTree checks every record's inclusion proof with the public key,
// and that Leaves, LeafOf and ReadTreeHashes agree with each other and
// with the tree tlog builds from the leaves' commitments.
func checkTree(t *testing.T, s *postgres.Store, recs []audit.Record) {
	t.Helper()
	ctx := testCtx(t)
	v, err := chain.LogVerifier(chain.DefaultOrigin, benchSigner.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	for i := range recs {
		p, err := chain.ProveRecord(ctx, s, &recs[i])
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if _, err := chain.VerifyInclusion(&recs[i], &p, v); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
	}
	n := int64(len(recs))
	if size, err := s.TreeSize(ctx); err != nil || size != n {
		t.Fatalf("TreeSize = %d, %v; want %d", size, err, n)
	}
	leaves, err := s.Leaves(ctx, 1, len(recs)+5)
	if err != nil || len(leaves) != len(recs) {
		t.Fatalf("Leaves: %d leaves, %v; want %d", len(leaves), err, len(recs))
	}
	var want [][]byte // the stored hashes, as tlog computes them
	hashes := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			copy(out[i][:], want[x])
		}
		return out, nil
	})
	for i, l := range leaves {
		if l.Seq != uint64(i)+1 || l.EventID != recs[i].ID || len(l.Salt) != 32 || !bytes.Equal(chain.LeafCommitment(l.Salt, digestOf(t, &recs[i])), l.Commitment) {
			t.Fatalf("leaf %d: %+v, not record %s's", i+1, l, recs[i].ID)
		}
		one, err := s.LeafOf(ctx, recs[i].ID)
		if err != nil || one.Seq != l.Seq || !bytes.Equal(one.Salt, l.Salt) || !bytes.Equal(one.Commitment, l.Commitment) {
			t.Fatalf("LeafOf(record %d) = %+v, %v; Leaves has %+v", i, one, err, l)
		}
		hs, err := tlog.StoredHashes(int64(i), l.Commitment, hashes)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range hs {
			want = append(want, h[:])
		}
	}
	idx := make([]int64, len(want))
	for i := range idx {
		idx[i] = int64(i)
	}
	got, err := s.ReadTreeHashes(ctx, idx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("stored hash %d: %x, want %x", i, got[i], want[i])
		}
	}
	if _, err := s.ReadTreeHashes(ctx, []int64{int64(len(want))}); err == nil {
		t.Errorf("ReadTreeHashes past the tree: no error")
	}
}

func digestOf(t *testing.T, r *audit.Record) []byte {
	t.Helper()
	d, bad := storekit.SealDigest(r)
	if bad {
		t.Fatalf("record %s cannot be sealed", r.ID)
	}
	return d
}

// runs returns the (seq, n) of the rows of the tree's leaves.
func runs(t *testing.T, db *sqlx.DB, schema string) [][2]int64 {
	t.Helper()
	var out [][2]int64
	rows, err := db.QueryContext(testCtx(t), "SELECT seq, n FROM "+schema+".audit_logs_tree_leaves ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var r [2]int64
		if err := rows.Scan(&r[0], &r[1]); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestLeafRuns seals in steps of several sizes: the leaves are stored in
// runs cut at each step and at each multiple of 16 leaves, and every
// reader of the tree finds each leaf and hash where tlog puts it.
func TestLeafRuns(t *testing.T) {
	dsn(t)
	t.Parallel()
	s, schema := newChainStore(t)
	var recs []audit.Record
	for _, step := range []struct{ records, batch int }{{3, 1}, {50, 7}, {40, 1000}} {
		recs = append(recs, appendRecords(t, s, step.records)...)
		sealIn(t, s, step.records, step.batch)
	}
	checkTree(t, s, recs)
	// steps end at 1, 2, 3, then every 7 to 52, then 93; runs also at 16, 32, 48, 64, 80
	ends := map[int64]bool{16: true, 32: true, 48: true, 64: true, 80: true, 93: true}
	for e := int64(1); e <= 3; e++ {
		ends[e] = true
	}
	for e := int64(3 + 7); e <= 53; e += 7 {
		ends[e] = true
	}
	ends[53] = true
	next := int64(1)
	for _, r := range runs(t, testDB(t), schema) {
		last := r[0] + r[1] - 1
		if r[0] != next || !ends[last] {
			t.Errorf("run of %d leaves from %d: want one from %d to the next end of a step or multiple of 16", r[1], r[0], next)
		}
		delete(ends, last)
		next = last + 1
	}
	if next != 94 || len(ends) != 0 {
		t.Errorf("runs end at %d, runs missing at %v", next-1, ends)
	}
}

// TestLeafRunsRefused: the table refuses a run that crosses a multiple
// of 16 leaves or whose salts and commitments are not 32 bytes a leaf,
// and a row that does not say how many leaves it holds.
func TestLeafRunsRefused(t *testing.T) {
	dsn(t)
	t.Parallel()
	_, schema := newChainStore(t)
	b32 := func(n int) string { return fmt.Sprintf(`'\x%s'`, bytes.Repeat([]byte("ab"), 32*n)) }
	for _, q := range []string{
		fmt.Sprintf("(15, 3, %s, %s, %s)", b32(3), b32(3), b32(3)),
		fmt.Sprintf("(1, 17, %s, %s, %s)", b32(17), b32(17), b32(17)),
		fmt.Sprintf("(1, 2, %s, %s, %s)", b32(1), b32(2), b32(2)),
		fmt.Sprintf("(1, 2, %s, %s, %s)", b32(2), b32(3), b32(2)),
		fmt.Sprintf("(1, 0, NULL, '', %s)", b32(1)),
	} {
		if _, err := testDB(t).ExecContext(testCtx(t), "INSERT INTO "+schema+".audit_logs_tree_leaves (seq, n, salt, commitment, hashes) VALUES "+q); pqCode(err) != "23514" {
			t.Errorf("%.40s: got %v, want a check violation", q, err)
		}
	}
	// a sealer of an earlier version writes rows without n
	if _, err := testDB(t).ExecContext(testCtx(t), "INSERT INTO "+schema+".audit_logs_tree_leaves (seq, salt, commitment, hashes) VALUES "+
		fmt.Sprintf("(1, %s, %s, %s)", b32(1), b32(1), b32(1))); pqCode(err) != "23502" {
		t.Errorf("a row without n: got %v, want a not-null violation", err)
	}
	if _, err := testDB(t).ExecContext(testCtx(t), "INSERT INTO "+schema+".audit_logs_tree_leaves (seq, n, salt, commitment, hashes) VALUES "+
		fmt.Sprintf("(1, 16, %s, %s, %s)", b32(16), b32(16), b32(16))); err != nil {
		t.Errorf("a run of 16 leaves: %v", err)
	}
}

// TestLeafRunsAfterUpgrade applies migration 8 to a tree of one leaf a
// row, sealed as before it: the old rows keep proving their records, and
// sealing goes on in runs.
func TestLeafRunsAfterUpgrade(t *testing.T) {
	dsn(t)
	t.Parallel()
	// the rows of a tree of one leaf a row, made in a schema of its own
	old, oldSchema := newChainStore(t)
	recs := appendRecords(t, old, 20)
	sealIn(t, old, 20, 1)
	for _, r := range runs(t, testDB(t), oldSchema) {
		if r[1] != 1 {
			t.Fatalf("sealing one record a step wrote a run of %d", r[1])
		}
	}
	schema := newSchema(t)
	copyRows := []string{"SELECT " + schema + ".audit_logs_ensure_partitions(ARRAY[now()::date, (now() - interval '1 hour')::date])"}
	for _, tbl := range []string{"", "_seals", "_checkpoints", "_tree_checkpoints"} {
		copyRows = append(copyRows, "INSERT INTO "+schema+".audit_logs"+tbl+" SELECT * FROM "+oldSchema+".audit_logs"+tbl)
	}
	copyRows = append(copyRows, "INSERT INTO "+schema+".audit_logs_tree_leaves SELECT seq, salt, commitment, hashes FROM "+oldSchema+".audit_logs_tree_leaves")
	upgradeWith(t, testDB(t), schema, 8, copyRows...)
	s, err := postgres.New(testDB(t), &postgres.Options{Schema: schema, OnError: func(err error) { t.Errorf("store error: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetMinRetention(testCtx(t), 0); err != nil {
		t.Fatal(err)
	}
	checkTree(t, s, recs)
	recs = append(recs, appendRecords(t, s, 30)...)
	sealIn(t, s, 30, 1000)
	checkTree(t, s, recs)
	got := runs(t, testDB(t), schema)
	if len(got) != 20+3 || got[20] != [2]int64{21, 12} || got[21] != [2]int64{33, 16} || got[22] != [2]int64{49, 2} {
		t.Errorf("runs after the upgrade: %v", got[min(20, len(got)):])
	}
	rep, err := chain.Verify(testCtx(t), s, &chain.VerifyOptions{Keys: map[string][]byte{chainKey.ID: chainKey.Secret}})
	if err != nil || !rep.OK() || rep.Records != 50 {
		t.Errorf("Verify after the upgrade: %v, %d records, %v", err, rep.Records, rep.Problems)
	}
}

// TestOverlappingRunFails: a row that claims leaves of another run (which
// the sealer never writes, but the table's owner can) is what the readers
// find for those leaves, and their proofs then fail against the signed
// checkpoint: a change like any other, caught, never a false proof.
func TestOverlappingRunFails(t *testing.T) {
	dsn(t)
	t.Parallel()
	s, schema := newChainStore(t)
	recs := appendRecords(t, s, 20)
	sealIn(t, s, 20, 1000)
	if _, err := testDB(t).ExecContext(testCtx(t), "INSERT INTO "+schema+".audit_logs_tree_leaves (seq, n, salt, commitment, hashes)"+
		" SELECT 5, 1, substring(salt FROM 1 FOR 32), substring(commitment FROM 1 FOR 32), substring(hashes FROM 1 FOR 32) FROM "+schema+".audit_logs_tree_leaves WHERE seq = 1"); err != nil {
		t.Fatal(err)
	}
	v, err := chain.LogVerifier(chain.DefaultOrigin, benchSigner.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	p, err := chain.ProveRecord(ctx, s, &recs[4])
	if err == nil {
		_, err = chain.VerifyInclusion(&recs[4], &p, v)
	}
	if err == nil {
		t.Errorf("the proof of record 5 through the planted row verifies")
	}
	// record 6's audit path holds leaf 5's hash, records 4's and 20's not
	for i, ok := range map[int]bool{3: true, 5: false, 19: true} {
		p, err := chain.ProveRecord(ctx, s, &recs[i])
		if err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		if _, err := chain.VerifyInclusion(&recs[i], &p, v); (err == nil) != ok {
			t.Errorf("record %d, beside the planted row: verify error %v, want one: %t", i+1, err, !ok)
		}
	}
	leaves, err := s.Leaves(ctx, 1, 20)
	if err != nil || len(leaves) != 20 || leaves[4].Seq != 5 || !bytes.Equal(leaves[4].Commitment, leaves[0].Commitment) {
		t.Errorf("Leaves: %d, %v; want 20, the fifth the planted one", len(leaves), err)
	}
}
