package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storekit"
)

// sealedChain returns a store with n recent records, sealed, and a
// checkpoint at the last.
func sealedChain(t *testing.T, newChain ChainFactory, n int) (storekit.SealStore, Tamperer, *chain.Sealer, storekit.Checkpoint) {
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
	wantFirst(t, rep, chain.ProblemModifiedEvent, target.Seq, target.EventID)
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
	forged := []storekit.Checkpoint{
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
		if p.Kind != chain.ProblemBadCheckpoint || p.Seq != 3 && p.Seq != 5 && p.Seq != 9000000000000000000 {
			t.Errorf("problem %v; want bad_checkpoint at seq 3, 5 or 9000000000000000000", p)
		}
	}
	// the forged purge cutoff does not excuse a deleted record
	check(t, tam.DeleteRecord(ctx, seals[6].EventID))
	rep = mustVerify(t, s, verifyOpts(cp))
	if n := countKind(rep, chain.ProblemDeletedEvent); n != 1 || rep.Purged != 0 {
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

func countKind(rep chain.Report, k chain.ProblemKind) int {
	n := 0
	for _, p := range rep.Problems {
		if p.Kind == k {
			n++
		}
	}
	return n
}

// testRefuseAfterRewind removes the newest seals and their records: no
// Sealer seals again over them, the one that saw them nor a new one, which
// learns of them from the signed checkpoint; nor does a new Sealer sign a
// checkpoint at the rewound end with nothing waiting, which is what
// auditctl seal does at each run.
func testRefuseAfterRewind(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	s, tam, sl, cp := sealedChain(t, newChain, 10)
	for _, x := range chainOf(t, s)[7:] {
		check(t, tam.DeleteSeal(ctx, x.Seq))
		check(t, tam.DeleteRecord(ctx, x.EventID))
	}
	for name, x := range map[string]*chain.Sealer{"the same Sealer": sl, "a new Sealer": newSealer(t, s, key1)} {
		if c, err := x.Checkpoint(ctx, time.Time{}); err == nil {
			t.Errorf("%s signed a checkpoint at seal %d of a chain rewound from %d; want a refusal", name, c.Seq, cp.Seq)
		}
	}
	appendRecords(t, s, recent(1)...)
	for name, x := range map[string]*chain.Sealer{"the same Sealer": sl, "a new Sealer": newSealer(t, s, key1)} {
		if n, err := sealSome(t, x); err == nil {
			t.Errorf("%s sealed %d record(s) over a rewound chain; want a refusal", name, n)
		}
	}
	wantFirst(t, mustVerify(t, s, verifyOpts(cp)), chain.ProblemTruncated, cp.Seq, uuid.UUID{})
}

// testPurgedCount checks that the report counts what retention removed.
func testPurgedCount(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	s, sl, res := purgedChain(t, newChain, 3, 2)
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
	_, err = chain.ExportChain(ctx, s, &buf)
	check(t, err)
	rep = mustVerify(t, exportSource(buf.Bytes()), verifyOpts(cp))
	wantOK(t, rep, "export after retention")
	if rep.Purged != 3 || rep.Records != 2 {
		t.Errorf("offline report: %d purged, %d records; want 3 and 2", rep.Purged, rep.Records)
	}
}

// testUnsignedCheckpointOnEmptyChain stores a checkpoint row nobody
// signed on a chain with no seal, where a store continues from the newest
// checkpoint: no Sealer may seal on from its hash, nor sign a checkpoint
// over it (issue 20, item 7). A validly signed retention checkpoint, with
// every seal before it purged, still lets a new Sealer go on.
func testUnsignedCheckpointOnEmptyChain(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	forged := storekit.Checkpoint{Seq: 5, Hash: bytes.Repeat([]byte{7}, 32), At: time.Now().Truncate(time.Microsecond), SignerID: signer.ID, Signature: make([]byte, 64)}
	refused := func(t *testing.T, s storekit.SealStore, what string) {
		t.Helper()
		if _, err := newSealer(t, s, key1).Checkpoint(ctx, time.Time{}); err == nil {
			t.Errorf("%s: a new Sealer signed a checkpoint over the unsigned one; want a refusal", what)
		}
		appendRecords(t, s, recent(3)...)
		for _, x := range []struct {
			name string
			sl   *chain.Sealer
		}{{"a Sealer with a Signer", newSealer(t, s, key1)}, {"a Sealer without", unsignedSealer(t, s)}} {
			if n, err := sealSome(t, x.sl); err == nil {
				t.Errorf("%s: %s sealed %d record(s) on from an unsigned checkpoint; want a refusal", what, x.name, n)
			}
		}
		if _, err := newSealer(t, s, key1).Checkpoint(ctx, time.Time{}); err == nil {
			t.Errorf("%s: a new Sealer sealed and signed a checkpoint over the unsigned one; want a refusal", what)
		}
		rep := mustVerify(t, s, verifyOpts())
		if countKind(rep, chain.ProblemBadCheckpoint) == 0 {
			t.Errorf("%s: %v; want the unsigned checkpoint reported", what, rep.Problems)
		}
	}
	t.Run("never sealed", func(t *testing.T) {
		s, _ := newChain(t)
		check(t, s.AppendCheckpoint(ctx, forged))
		refused(t, s, "an empty chain")
	})
	t.Run("every seal purged", func(t *testing.T) {
		s, _, res := purgedChain(t, newChain, 4, 0)
		if res.SealsPurged != 4 {
			t.Fatalf("retention purged %d seals, want 4", res.SealsPurged)
		}
		// a new Sealer goes on from the signed retention checkpoint
		appendRecords(t, s, recent(2)...)
		sealAll(t, s, newSealer(t, s, key1))
		cp, err := newSealer(t, s, key1).Checkpoint(ctx, time.Time{})
		check(t, err)
		if cp.Seq != 6 {
			t.Errorf("checkpoint after the purge at seal %d, want 6", cp.Seq)
		}
		wantOK(t, mustVerify(t, s, verifyOpts(cp)), "sealed on after every seal was purged")

		// the same, with an unsigned row after the retention checkpoint
		s, _, _ = purgedChain(t, newChain, 4, 0)
		f := forged
		f.Seq = 9
		check(t, s.AppendCheckpoint(ctx, f))
		refused(t, s, "every seal purged")
	})
}

// unsignedSealer returns a Sealer with neither Signer nor PublicKeys: it
// trusts no checkpoint.
func unsignedSealer(t testing.TB, s storekit.SealStore) *chain.Sealer {
	sl, err := chain.NewSealer(s, key1, &chain.SealerOptions{BatchSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	return sl
}

// sealSome seals until it seals something or fails. A store may hold
// records back for a while (PostgreSQL, behind transactions still running
// elsewhere).
func sealSome(t testing.TB, sl *chain.Sealer) (int, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		n, err := sl.SealOnce(context.Background())
		if n > 0 || err != nil {
			return n, err
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing sealed, and no refusal, after a minute")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// relink returns a seal's hash as the chain defines it,
// HMAC-SHA256(key, prev ‖ seq ‖ id ‖ time ‖ digest), then "tenant" and
// the tenant tag when there is one: what an insider who holds the chain
// key, and not the signing key, computes to re-link a chain.
func relink(key, prev []byte, s *storekit.Seal) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(prev)
	m.Write(binary.BigEndian.AppendUint64(nil, s.Seq))
	m.Write(s.EventID[:])
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(s.EventTime.UnixMicro())))
	m.Write(s.Digest)
	if len(s.TenantTag) > 0 {
		m.Write([]byte("tenant"))
		m.Write(s.TenantTag)
	}
	return m.Sum(nil)
}

// testInsiderRelink edits a record and re-links every later seal with the
// chain key, as an insider holding the HMAC key but not the signing key
// could: every link holds, and only the signed checkpoint tells, online
// and in an export.
func testInsiderRelink(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	s, tam, _, cp := sealedChain(t, newChain, 10)
	seals := chainOf(t, s)
	const k = 3
	check(t, tam.UpdateRecord(ctx, seals[k].EventID, func(r *audit.Record) { r.UserID = "mallory"; r.Status = audit.StatusSuccess }))
	var edited *audit.Record
	check(t, s.ScanChain(ctx, seals[k].Seq, func(x storekit.Seal, r *audit.Record) error {
		if x.Seq == seals[k].Seq {
			edited = r
		}
		return nil
	}))
	if edited == nil || edited.UserID != "mallory" {
		t.Fatalf("the edited record reads back as %+v", edited)
	}
	d, err := storekit.Digest(edited)
	check(t, err)
	prev := seals[k-1].Hash
	for i := k; i < len(seals); i++ {
		x := seals[i]
		if i == k {
			x.Digest = d
		}
		x.Hash = relink(key1.Secret, prev, &x)
		prev = x.Hash
		check(t, tam.UpdateSeal(ctx, x.Seq, func(sl *storekit.Seal) { sl.Digest, sl.Hash = x.Digest, x.Hash }))
	}
	o := verifyOpts(cp)
	o.Now = time.Now
	var buf bytes.Buffer
	_, err = chain.ExportChain(ctx, s, &buf)
	check(t, err)
	for name, src := range map[string]storekit.ChainSource{"online": s, "offline": exportSource(buf.Bytes())} {
		rep := mustVerify(t, src, o)
		wantFirst(t, rep, chain.ProblemBadCheckpoint, cp.Seq, seals[len(seals)-1].EventID)
		if rep.ProblemCount != 1 {
			t.Errorf("%s: %d problems, want 1 (the checkpoint): %v", name, rep.ProblemCount, rep.Problems)
		}
	}
}

// signedAt returns a checkpoint at x, signed, that the store does not
// hold.
func signedAt(x storekit.Seal, at time.Time, purgedBefore time.Time) storekit.Checkpoint {
	c := storekit.Checkpoint{Seq: x.Seq, Hash: bytes.Clone(x.Hash), At: at.UTC().Truncate(time.Microsecond), PurgedBefore: purgedBefore}
	signer.Sign(&c)
	return c
}

// testSignedCheckpointFields changes, in turn, each field a checkpoint's
// signature covers besides Seq and Hash, on a routine and on a retention
// checkpoint: each altered copy, stored as someone with write access to
// the checkpoints could, is reported as bad_checkpoint, and the genuine
// one, kept off the database, still counts. Then, at the chain's level,
// what only such a change would let through: a routine checkpoint
// re-flagged as a retention boundary with the seals before it removed; a
// raised retention cutoff with a record deleted; and the newest records
// removed under an altered copy of the exported checkpoint that says
// where the chain ends.
func testSignedCheckpointFields(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	s, _, _, cp := sealedChain(t, newChain, 10)
	seals := chainOf(t, s)
	pub := signer.Key.Public().(ed25519.PublicKey)
	long := time.Now().AddDate(-2, 0, 0).UTC().Truncate(time.Microsecond)
	t0 := time.Now().UTC().Truncate(time.Second)
	tests := []struct {
		name   string
		tamper func(c *storekit.Checkpoint)
	}{
		{"Boundary", func(c *storekit.Checkpoint) { c.Boundary = !c.Boundary }},
		{"PurgedBefore later", func(c *storekit.Checkpoint) { c.PurgedBefore = c.PurgedBefore.Add(time.Microsecond) }},
		{"PurgedBefore removed", func(c *storekit.Checkpoint) { c.PurgedBefore = time.Time{} }},
		{"a tenant's cutoff later", func(c *storekit.Checkpoint) {
			c.TenantCutoffs[0].PurgedBefore = c.TenantCutoffs[0].PurgedBefore.Add(time.Microsecond)
		}},
		{"a tenant's ID", func(c *storekit.Checkpoint) { c.TenantCutoffs[0].TenantID = "tenant-b" }},
		{"a tenant's salt", func(c *storekit.Checkpoint) { c.TenantCutoffs[0].Salt[0] ^= 1 }},
		{"the tenants' cutoffs removed", func(c *storekit.Checkpoint) { c.TenantCutoffs = nil }},
		{"a tenant's cutoff added", func(c *storekit.Checkpoint) {
			c.TenantCutoffs = append(c.TenantCutoffs, storekit.TenantCutoff{TenantID: "tenant-b", Salt: make([]byte, 16), PurgedBefore: long})
		}},
		{"At", func(c *storekit.Checkpoint) { c.At = c.At.Add(time.Microsecond) }},
		{"SignerID", func(c *storekit.Checkpoint) { c.SignerID = "s1-alias" }},
	}
	stored := 0 // the altered checkpoints stored so far
	for i, boundary := range []bool{false, true} {
		for j, tt := range tests {
			// one At per case: a store keeps one checkpoint per Seq and At
			genuine := storekit.Checkpoint{
				Seq: seals[4].Seq, Hash: bytes.Clone(seals[4].Hash), At: t0.Add(time.Duration(i*len(tests)+j) * time.Second),
				PurgedBefore: long, Boundary: boundary,
				TenantCutoffs: []storekit.TenantCutoff{{TenantID: "tenant-a", Salt: bytes.Repeat([]byte{5}, 16), PurgedBefore: long.Add(-time.Hour)}},
			}
			signer.Sign(&genuine)
			c := genuine
			c.TenantCutoffs = slices.Clone(genuine.TenantCutoffs)
			c.TenantCutoffs[0].Salt = bytes.Clone(genuine.TenantCutoffs[0].Salt)
			tt.tamper(&c)
			what := fmt.Sprintf("boundary %v, %s changed", boundary, tt.name)
			o := verifyOpts(cp, genuine)
			o.PublicKeys["s1-alias"] = pub // the same key under another ID
			if err := chain.VerifyCheckpoint(&genuine, o.PublicKeys); err != nil {
				t.Fatalf("%s: the checkpoint as signed: %v", what, err)
			}
			if err := chain.VerifyCheckpoint(&c, o.PublicKeys); err == nil {
				t.Errorf("%s: the signature still verifies", what)
			}
			check(t, s.AppendCheckpoint(ctx, c))
			stored++
			rep := mustVerify(t, s, o)
			if n := countKind(rep, chain.ProblemBadCheckpoint); n != stored || rep.ProblemCount != uint64(n) {
				t.Errorf("%s: %d bad_checkpoint of %d problems, want %d (each altered checkpoint stored so far)", what, n, rep.ProblemCount, stored)
			}
		}
	}

	// a routine checkpoint at seal 5, re-flagged as a retention boundary,
	// and the seals up to it removed
	s, tam, _, cp10 := sealedChain(t, newChain, 10)
	seals = chainOf(t, s)
	routine := signedAt(seals[4], time.Now(), long)
	flagged := routine
	flagged.Boundary = true
	check(t, s.AppendCheckpoint(ctx, flagged))
	for _, x := range seals[:5] {
		check(t, tam.DeleteSeal(ctx, x.Seq))
		check(t, tam.DeleteRecord(ctx, x.EventID))
	}
	rep := mustVerify(t, s, verifyOpts(routine, cp10))
	if countKind(rep, chain.ProblemDeletedSeal) != 1 || countKind(rep, chain.ProblemBadCheckpoint) != 1 {
		t.Errorf("a routine checkpoint re-flagged as a boundary, the seals before it removed: %v; want deleted_seal and bad_checkpoint", rep.Problems)
	}

	// the cutoff of a routine checkpoint raised to now, and a record
	// deleted
	s, tam, _, cp10 = sealedChain(t, newChain, 10)
	seals = chainOf(t, s)
	routine = signedAt(seals[6], time.Now(), time.Time{})
	raised := routine
	raised.PurgedBefore = time.Now().UTC().Add(time.Minute).Truncate(time.Microsecond)
	check(t, s.AppendCheckpoint(ctx, raised))
	check(t, tam.DeleteRecord(ctx, seals[3].EventID))
	rep = mustVerify(t, s, verifyOpts(routine, cp10))
	if countKind(rep, chain.ProblemDeletedEvent) != 1 || countKind(rep, chain.ProblemBadCheckpoint) != 1 || rep.Purged != 0 {
		t.Errorf("a routine checkpoint's cutoff raised, a record deleted: %v, %d purged; want deleted_event and bad_checkpoint, none purged", rep.Problems, rep.Purged)
	}

	// the newest three records removed; the store holds an altered copy
	// of the exported checkpoint at the end, not the checkpoint itself
	s, tam = newChain(t)
	appendRecords(t, s, recent(10)...)
	sealAll(t, s, newSealer(t, s, key1))
	seals = chainOf(t, s)
	end := signedAt(seals[9], time.Now(), time.Time{})
	altered := end
	altered.PurgedBefore = long
	check(t, s.AppendCheckpoint(ctx, altered))
	for _, x := range seals[7:] {
		check(t, tam.DeleteSeal(ctx, x.Seq))
		check(t, tam.DeleteRecord(ctx, x.EventID))
	}
	rep = mustVerify(t, s, verifyOpts(end))
	if countKind(rep, chain.ProblemTruncated) != 1 || countKind(rep, chain.ProblemBadCheckpoint) != 1 {
		t.Errorf("the newest records removed, the exported checkpoint altered in the store: %v; want truncated and bad_checkpoint", rep.Problems)
	}
}

// purgedChain returns a store with old records of 200 days ago and fresh
// ones of the last minutes, sealed, after a retention run of the default
// MaxAge; and the Sealer and what retention did.
func purgedChain(t *testing.T, newChain ChainFactory, old, fresh int) (storekit.SealStore, *chain.Sealer, audit.RetentionResult) {
	s, _ := newChain(t)
	now := time.Now()
	for i := range old {
		appendRecords(t, s, now.AddDate(0, 0, -200+i)) // one at a time: sealed in time order
	}
	if fresh > 0 {
		appendRecords(t, s, recent(fresh)...)
	}
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	r, err := audit.NewRetention(s, sl, nil)
	check(t, err)
	res, err := r.RunOnce(context.Background())
	check(t, err)
	return s, sl, res
}
