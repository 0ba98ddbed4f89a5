package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/internal/tlogtest"
	"github.com/trailmark/audit/storekit"
)

// runTree runs the tests of the Merkle tree, for a store that keeps one.
func runTree(t *testing.T, newChain ChainFactory) {
	t.Run("Tree", func(t *testing.T) { t.Parallel(); testTree(t, newChain) })
	t.Run("TreeBackfill", func(t *testing.T) { t.Parallel(); testTreeBackfill(t, newChain) })
	t.Run("TreeAfterRetention", func(t *testing.T) { t.Parallel(); testTreeAfterRetention(t, newChain) })
	t.Run("TreeTampering", func(t *testing.T) { t.Parallel(); testTreeTampering(t, newChain) })
	t.Run("TreeEvidence", func(t *testing.T) { t.Parallel(); testTreeEvidence(t, newChain) })
	t.Run("TreeEvidenceUnsealable", func(t *testing.T) { t.Parallel(); testTreeEvidenceUnsealable(t, newChain) })
	t.Run("TreeCheckpointWriter", func(t *testing.T) { t.Parallel(); testTreeCheckpointWriter(t, newChain) })
}

func treeStore(t *testing.T, newChain ChainFactory) (storekit.TreeStore, Tamperer) {
	t.Helper()
	s, tam := newChain(t)
	ts, ok := s.(storekit.TreeStore)
	if !ok {
		t.Skipf("%T keeps no Merkle tree (storekit.TreeStore)", s)
	}
	return ts, tam
}

func logVerifier(t testing.TB) note.Verifier {
	t.Helper()
	v, err := chain.LogVerifier(chain.DefaultOrigin, signer.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkTree checks that the tree of store covers seals 1..n with the
// leaves the seals' digests and the stored salts commit to, that its
// stored hashes are tlog's over those leaves, and that its newest
// checkpoint states that tree.
func checkTree(t *testing.T, s storekit.TreeStore, n int64) {
	t.Helper()
	ctx := context.Background()
	size, err := s.TreeSize(ctx)
	if err != nil || size != n {
		t.Fatalf("TreeSize = %d, %v; want %d", size, err, n)
	}
	leaves, err := s.Leaves(ctx, 1, int(n)+5)
	if err != nil || int64(len(leaves)) != n {
		t.Fatalf("Leaves(1, %d): %d leaves, %v", n+5, len(leaves), err)
	}
	digests := map[uint64][]byte{}
	check(t, s.ScanChain(ctx, 1, func(sl storekit.Seal, _ *audit.Record) error {
		digests[sl.Seq] = sl.Digest
		return nil
	}))
	var ref tlogtest.Tree
	for i, l := range leaves {
		if l.Seq != uint64(i)+1 {
			t.Fatalf("leaf %d has Seq %d", i, l.Seq)
		}
		if d, ok := digests[l.Seq]; ok && !bytes.Equal(l.Commitment, chain.LeafCommitment(l.Salt, d)) {
			t.Fatalf("leaf %d: commitment is not that of its seal's digest under its salt", l.Seq)
		}
		if d, ok := digests[l.Seq]; ok && len(l.Salt) != 32 {
			t.Fatalf("leaf %d: salt of %d bytes (digest %x)", l.Seq, len(l.Salt), d)
		}
		ref.Append(l.Commitment)
	}
	all := make([]int64, tlog.StoredHashCount(n))
	for i := range all {
		all[i] = int64(i)
	}
	got, err := s.ReadTreeHashes(ctx, all)
	check(t, err)
	want, err := ref.HashReader().ReadHashes(all)
	check(t, err)
	for i := range all {
		if !bytes.Equal(got[i], want[i][:]) {
			t.Fatalf("stored hash %d differs from tlog's", i)
		}
	}
	c, err := s.TreeCheckpoint(ctx, -1)
	check(t, err)
	body, _, err := checkpoint.Open(c.Note, chain.DefaultOrigin, logVerifier(t))
	if err != nil || body.Size != n || body.Hash != ref.Root(n) || c.Size != n {
		t.Fatalf("newest tree checkpoint %+v (size %d), %v; want the tree of %d", body, c.Size, err, n)
	}
}

func testTree(t *testing.T, newChain ChainFactory) {
	s, _ := treeStore(t, newChain)
	ctx := context.Background()
	recs := appendRecords(t, s, recent(20)...)
	var exported [][]byte
	sl, err := chain.NewSealer(s, key1, &chain.SealerOptions{SigningKey: &signer, BatchSize: 7,
		ExportTree: func(_ context.Context, n []byte) error { exported = append(exported, n); return nil }})
	check(t, err)
	sealAll(t, s, sl)
	checkTree(t, s, 20)
	if len(exported) < 3 {
		t.Errorf("%d tree checkpoints exported, want one a step (3 at least)", len(exported))
	}
	v := logVerifier(t)
	for i := range recs {
		r, err := s.(audit.Getter).Get(ctx, recs[i].ID)
		check(t, err)
		p, err := chain.Prove(ctx, s, r.ID)
		check(t, err)
		if p.TreeSize != 20 || len(p.Salt) != 32 {
			t.Fatalf("proof of %s: tree %d, salt %d bytes", r.ID, p.TreeSize, len(p.Salt))
		}
		if _, err := chain.VerifyInclusion(&r, &p, v); err != nil {
			t.Fatalf("VerifyInclusion of record %d: %v", i, err)
		}
		changed := r
		changed.UserID += "x"
		if _, err := chain.VerifyInclusion(&changed, &p, v); !errors.Is(err, chain.ErrProof) {
			t.Fatalf("VerifyInclusion of a changed record: %v, want ErrProof", err)
		}
	}
	// consistency between every checkpoint and the newest
	newest, err := s.TreeCheckpoint(ctx, -1)
	check(t, err)
	for _, old := range exported {
		text, _ := checkpoint.Text(old)
		c, err := checkpoint.Parse(text)
		check(t, err)
		p, err := chain.ProveConsistency(ctx, s, c.Size, 0)
		check(t, err)
		if p.FromCheckpoint != string(old) || p.Checkpoint != string(newest.Note) {
			t.Fatalf("consistency %d to %d: the store's checkpoints are not the exported ones", c.Size, p.To)
		}
		if _, err := chain.VerifyConsistency(&p, old, v); err != nil {
			t.Fatalf("VerifyConsistency %d to %d: %v", c.Size, p.To, err)
		}
	}
	if _, err := chain.Prove(ctx, s, Record(99).ID); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("Prove of an unknown record: %v, want ErrNotFound", err)
	}
}

// noTree hides a store's tree: a Sealer of it seals as before the tree.
type noTree struct{ storekit.SealStore }

func testTreeBackfill(t *testing.T, newChain ChainFactory) {
	s, _ := treeStore(t, newChain)
	ctx := context.Background()
	old := appendRecords(t, s, recent(10)...)
	sealAll(t, noTree{s}, newSealer(t, noTree{s}, key1))
	if n, err := s.TreeSize(ctx); err != nil || n != 0 {
		t.Fatalf("TreeSize after sealing without the tree: %d, %v", n, err)
	}
	appendRecords(t, s, recent(5)...)
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	checkTree(t, s, 15)
	// a sealer without the tree again, then one with it
	appendRecords(t, s, recent(3)...)
	sealAll(t, noTree{s}, newSealer(t, noTree{s}, key1))
	appendRecords(t, s, recent(2)...)
	sealAll(t, s, sl)
	checkTree(t, s, 20)
	r, err := s.(audit.Getter).Get(ctx, old[0].ID)
	check(t, err)
	var seq uint64
	check(t, s.ScanChain(ctx, 1, func(sl storekit.Seal, _ *audit.Record) error {
		if sl.EventID == r.ID {
			seq = sl.Seq
		}
		return nil
	}))
	p, err := chain.Prove(ctx, s, r.ID)
	check(t, err)
	if _, err := chain.VerifyInclusion(&r, &p, logVerifier(t)); err != nil || p.Index != int64(seq)-1 {
		t.Fatalf("proof of a record sealed before the tree (seal %d): index %d, %v", seq, p.Index, err)
	}
	wantOK(t, mustVerify(t, s, verifyOpts()), "after the backfill")
}

// testTreeAfterRetention: retention removes records and seals, never the
// tree: a consistency proof from before it verifies after.
func testTreeAfterRetention(t *testing.T, newChain ChainFactory) {
	s, _ := treeStore(t, newChain)
	ctx := context.Background()
	now := time.Now()
	for i := range 10 {
		appendRecords(t, s, now.AddDate(0, 0, -120+10*i))
	}
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	before, err := s.TreeCheckpoint(ctx, -1)
	check(t, err)
	r, err := audit.NewRetention(s, sl, &audit.RetentionOptions{})
	check(t, err)
	res, err := r.RunOnce(ctx)
	check(t, err)
	if res.SealsPurged == 0 {
		t.Fatalf("retention removed no seal: %+v", res)
	}
	keep := appendRecords(t, s, recent(3)...)
	sealAll(t, s, sl)
	checkTree(t, s, 13)
	p, err := chain.ProveConsistency(ctx, s, 10, 0)
	check(t, err)
	if _, err := chain.VerifyConsistency(&p, before.Note, logVerifier(t)); err != nil {
		t.Fatalf("consistency across retention: %v", err)
	}
	got, err := s.(audit.Getter).Get(ctx, keep[2].ID)
	check(t, err)
	ip, err := chain.Prove(ctx, s, got.ID)
	check(t, err)
	if _, err := chain.VerifyInclusion(&got, &ip, logVerifier(t)); err != nil {
		t.Fatalf("inclusion after retention: %v", err)
	}
}

// testTreeTampering: a record changed in the store no longer verifies
// against its proof, and a chain rewritten by whoever holds every key
// fails consistency with a checkpoint kept from before.
func testTreeTampering(t *testing.T, newChain ChainFactory) {
	s, tam := treeStore(t, newChain)
	ctx := context.Background()
	recs := appendRecords(t, s, recent(9)...)
	sealAll(t, s, newSealer(t, s, key1))
	kept, err := s.TreeCheckpoint(ctx, -1)
	check(t, err)
	p, err := chain.Prove(ctx, s, recs[4].ID)
	check(t, err)
	check(t, tam.UpdateRecord(ctx, recs[4].ID, func(r *audit.Record) { r.ResourceID = "forged" }))
	r, err := s.(audit.Getter).Get(ctx, recs[4].ID)
	check(t, err)
	if _, err := chain.VerifyInclusion(&r, &p, logVerifier(t)); !errors.Is(err, chain.ErrProof) {
		t.Errorf("a changed record verified: %v", err)
	}
	// the same proof, fetched again, does not help: the leaf is the old one
	p2, err := chain.Prove(ctx, s, recs[4].ID)
	check(t, err)
	if _, err := chain.VerifyInclusion(&r, &p2, logVerifier(t)); !errors.Is(err, chain.ErrProof) {
		t.Errorf("a changed record verified with a fresh proof: %v", err)
	}
	// A forged checkpoint (another tree of the same size, signed with the
	// log's key) is caught by consistency with the kept one.
	var forged tlogtest.Tree
	forged.AppendN("forged", 12)
	sig, err := checkpoint.NewSigner(chain.DefaultOrigin, signer.Key)
	check(t, err)
	fake, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: chain.DefaultOrigin, Size: 12, Hash: forged.Root(12)}, sig)
	check(t, err)
	fp := chain.ConsistencyProof{Format: chain.ConsistencyFormat, From: 9, To: 12, Checkpoint: string(fake)}
	hs, err := tlog.ProveTree(12, 9, forged.HashReader())
	check(t, err)
	for _, h := range hs {
		fp.Hashes = append(fp.Hashes, h[:])
	}
	if _, err := chain.VerifyConsistency(&fp, kept.Note, logVerifier(t)); !errors.Is(err, chain.ErrProof) {
		t.Errorf("a rewritten history passed consistency with a kept checkpoint: %v", err)
	}
}

// testTreeCheckpointWriter: a checkpoint stored apart from the sealing
// step (a Sealer with witnesses stores its cosigned checkpoints so) is
// read back at its size; one at a size already held is ignored; one past
// the tree is refused.
func testTreeCheckpointWriter(t *testing.T, newChain ChainFactory) {
	s, _ := treeStore(t, newChain)
	w, ok := s.(storekit.TreeCheckpointWriter)
	if !ok {
		t.Skipf("%T cannot store a checkpoint apart (storekit.TreeCheckpointWriter)", s)
	}
	ctx := context.Background()
	appendRecords(t, s, recent(10)...)
	sl, err := chain.NewSealer(s, key1, &chain.SealerOptions{SigningKey: &signer})
	check(t, err)
	sealAll(t, s, sl)
	first := storekit.TreeCheckpoint{Size: 4, Note: []byte("a cosigned note at 4\n")}
	check(t, w.AppendTreeCheckpoint(ctx, first))
	check(t, w.AppendTreeCheckpoint(ctx, storekit.TreeCheckpoint{Size: 4, Note: []byte("another\n")}))
	got, err := s.TreeCheckpoint(ctx, 4)
	if err != nil || got.Size != 4 || string(got.Note) != string(first.Note) {
		t.Errorf("TreeCheckpoint(4) = %d %q, %v; want the first one stored", got.Size, got.Note, err)
	}
	if newest, err := s.TreeCheckpoint(ctx, -1); err != nil || newest.Size != 10 {
		t.Errorf("the newest checkpoint: %d, %v; want the Sealer's at 10", newest.Size, err)
	}
	if err := w.AppendTreeCheckpoint(ctx, storekit.TreeCheckpoint{Size: 11, Note: []byte("past the tree\n")}); err == nil {
		t.Error("a checkpoint past the tree was stored")
	}
}
