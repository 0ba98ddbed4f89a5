package storetest

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
)

// sealedChain returns a store with n recent records, sealed, and a
// checkpoint at the last.
func sealedChain(t *testing.T, newChain ChainFactory, n int) (audit.SealStore, Tamperer, *audit.Sealer, audit.Checkpoint) {
	s, tam := newChain(t)
	appendRecords(t, s, recent(n)...)
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	cp, err := sl.Checkpoint(context.Background(), time.Time{})
	check(t, err)
	return s, tam, sl, cp
}

// testMovedTimestamp moves one record by a microsecond: a change of the
// record, at its seal.
func testMovedTimestamp(t *testing.T, newChain ChainFactory) {
	s, tam, _, cp := sealedChain(t, newChain, 10)
	target := chainOf(t, s)[4]
	check(t, tam.UpdateRecord(context.Background(), target.EventID, func(r *audit.Record) { r.OccurredAt = r.OccurredAt.Add(time.Microsecond) }))
	rep := mustVerify(t, s, verifyOpts(cp))
	wantFirst(t, rep, audit.ProblemModifiedEvent, target.Seq, target.EventID)
	if rep.ProblemCount != 1 {
		t.Errorf("%d problems, want 1: %v", rep.ProblemCount, rep.Problems)
	}
}

// testForgedCheckpoints stores checkpoints nobody signed, as anyone who
// may insert rows could: Verify reports each as bad_checkpoint and trusts
// none, and the Sealer is not steered by them.
func testForgedCheckpoints(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	s, tam, _, cp := sealedChain(t, newChain, 10)
	seals := chainOf(t, s)
	far := time.Now().AddDate(10, 0, 0).Truncate(time.Microsecond)
	forged := []audit.Checkpoint{
		// far beyond the chain: would stop sealing and cry truncation
		{Seq: 9000000000000000000, Hash: make([]byte, 32), At: time.Now().Truncate(time.Microsecond), SignerID: signer.ID, Signature: make([]byte, 64)},
		// says every record may be missing
		{Seq: 3, Hash: seals[2].Hash, At: time.Now().Truncate(time.Microsecond), PurgedBefore: far, Boundary: true, SignerID: "nobody", Signature: make([]byte, 64)},
	}
	// a validly signed one, altered
	bad := cp
	bad.Seq, bad.Hash = 5, seals[4].Hash
	bad.Signature = bytes.Clone(cp.Signature)
	forged = append(forged, bad)
	for _, c := range forged {
		check(t, s.AppendCheckpoint(ctx, c))
	}
	rep := mustVerify(t, s, verifyOpts(cp))
	if rep.ProblemCount != 3 {
		t.Errorf("%d problems, want 3 bad checkpoints: %v", rep.ProblemCount, rep.Problems)
	}
	for _, p := range rep.Problems {
		if p.Kind != audit.ProblemBadCheckpoint || p.Seq != 3 && p.Seq != 5 && p.Seq != 9000000000000000000 {
			t.Errorf("problem %v; want bad_checkpoint at seq 3, 5 or 9000000000000000000", p)
		}
	}
	// the forged purge cutoff does not excuse a deleted record
	check(t, tam.DeleteRecord(ctx, seals[6].EventID))
	rep = mustVerify(t, s, verifyOpts(cp))
	if n := countKind(rep, audit.ProblemDeletedEvent); n != 1 || rep.Purged != 0 {
		t.Errorf("deleted record under a forged cutoff: %d deleted_event, %d purged; want 1, 0 (%v)", n, rep.Purged, rep.Problems)
	}
	// a new Sealer seals on, and carries no forged cutoff into its checkpoint
	appendRecords(t, s, recent(3)...)
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	cp2, err := sl.Checkpoint(ctx, time.Time{})
	check(t, err)
	if cp2.Seq != 13 || !cp2.PurgedBefore.IsZero() {
		t.Errorf("checkpoint after forged rows: seq %d, purged before %v; want 13 and none", cp2.Seq, cp2.PurgedBefore)
	}
}

func countKind(rep audit.Report, k audit.ProblemKind) int {
	n := 0
	for _, p := range rep.Problems {
		if p.Kind == k {
			n++
		}
	}
	return n
}

// testRefuseAfterRewind removes the newest seals: no Sealer seals again
// over them, the one that saw them nor a new one, which learns of them
// from the signed checkpoint.
func testRefuseAfterRewind(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	s, tam, sl, cp := sealedChain(t, newChain, 10)
	for _, x := range chainOf(t, s)[7:] {
		check(t, tam.DeleteSeal(ctx, x.Seq))
	}
	appendRecords(t, s, recent(1)...)
	for name, x := range map[string]*audit.Sealer{"the same Sealer": sl, "a new Sealer": newSealer(t, s, key1)} {
		if n, err := x.SealOnce(ctx); err == nil {
			t.Errorf("%s sealed %d record(s) over a rewound chain; want a refusal", name, n)
		}
	}
	wantFirst(t, mustVerify(t, s, verifyOpts(cp)), audit.ProblemTruncated, cp.Seq, uuid.UUID{})
}

// testPurgedCount checks that the report counts what retention removed.
func testPurgedCount(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	s, _ := newChain(t)
	now := time.Now()
	for i := range 3 {
		appendRecords(t, s, now.AddDate(0, 0, -200+i)) // one at a time: sealed in time order
	}
	appendRecords(t, s, recent(2)...)
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	r, err := audit.NewRetention(s, &audit.RetentionOptions{Sealer: sl})
	check(t, err)
	res, err := r.RunOnce(ctx)
	check(t, err)
	if res.Purged != 3 {
		t.Fatalf("retention purged %d, want 3", res.Purged)
	}
	cp, err := sl.Checkpoint(ctx, time.Time{})
	check(t, err)
	rep := mustVerify(t, s, verifyOpts(cp))
	wantOK(t, rep, "after retention")
	if rep.Purged != 3 || rep.Records != 2 {
		t.Errorf("report: %d purged, %d records; want 3 and 2", rep.Purged, rep.Records)
	}
	var buf bytes.Buffer
	_, err = audit.ExportChain(ctx, s, &buf)
	check(t, err)
	rep = mustVerify(t, exportSource(buf.Bytes()), verifyOpts(cp))
	wantOK(t, rep, "export after retention")
	if rep.Purged != 3 || rep.Records != 2 {
		t.Errorf("offline report: %d purged, %d records; want 3 and 2", rep.Purged, rep.Records)
	}
}
