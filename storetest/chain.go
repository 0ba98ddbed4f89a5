package storetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storekit"
)

// Tamperer changes a store as someone with write access to its storage
// could: around the Logger, the Sealer and any guard the store has.
type Tamperer interface {
	UpdateRecord(ctx context.Context, id uuid.UUID, mutate func(*audit.Record)) error
	DeleteRecord(ctx context.Context, id uuid.UUID) error
	// InsertRecord adds r as it is, RecordedAt included, without a seal.
	InsertRecord(ctx context.Context, r audit.Record) error
	UpdateSeal(ctx context.Context, seq uint64, mutate func(*storekit.Seal)) error
	DeleteSeal(ctx context.Context, seq uint64) error
	InsertSeal(ctx context.Context, s storekit.Seal) error
}

// ChainFactory returns a new, empty store that keeps a chain, and a
// Tamperer for it.
type ChainFactory func(t *testing.T) (storekit.SealStore, Tamperer)

// Keys used by the chain suite.
var (
	key1   = chain.HMACKey{ID: "k1", Secret: bytes.Repeat([]byte{1}, 32)}
	key2   = chain.HMACKey{ID: "k2", Secret: bytes.Repeat([]byte{2}, 32)}
	signer = chain.SigningKey{ID: "s1", Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))}
)

func verifyOpts(trusted ...storekit.Checkpoint) chain.VerifyOptions {
	return chain.VerifyOptions{
		Keys:       map[string][]byte{key1.ID: key1.Secret, key2.ID: key2.Secret},
		PublicKeys: map[string]ed25519.PublicKey{signer.ID: signer.Key.Public().(ed25519.PublicKey)},
		Trusted:    trusted,
		SealWindow: time.Minute,
		// long after: records not sealed by now never will be
		Now: func() time.Time { return time.Now().Add(time.Hour) },
	}
}

func newSealer(t testing.TB, s storekit.SealStore, k chain.HMACKey) *chain.Sealer {
	sl, err := chain.NewSealer(s, k, &chain.SealerOptions{SigningKey: &signer, BatchSize: 7})
	if err != nil {
		t.Fatal(err)
	}
	return sl
}

// SeedEnv names the environment variable that sets the seed of RunChain's
// randomized trials, to repeat a failure. Each run logs its seed.
const SeedEnv = "STORETEST_SEED"

// RunChain runs the chain suite: sealing, checkpoints, retention and
// verification, then trials randomized trials in which a random,
// well-formed log (sealed with rotating keys, sometimes purged) must
// verify, and must, after one random act of tampering, fail verification
// with the problem that tampering makes first, at its position.
func RunChain(t *testing.T, newChain ChainFactory, trials int) {
	t.Run("SealAndVerify", func(t *testing.T) { t.Parallel(); testSealAndVerify(t, newChain) })
	t.Run("ConcurrentSealers", func(t *testing.T) { t.Parallel(); testConcurrentSealers(t, newChain) })
	t.Run("RetentionKeepsProof", func(t *testing.T) { t.Parallel(); testRetentionKeepsProof(t, newChain) })
	t.Run("OfflineExport", func(t *testing.T) { t.Parallel(); testOfflineExport(t, newChain) })
	t.Run("TenantExport", func(t *testing.T) { t.Parallel(); testTenantExport(t, newChain) })
	t.Run("TenantRetention", func(t *testing.T) { t.Parallel(); testTenantRetention(t, newChain) })
	t.Run("Tampering", func(t *testing.T) { t.Parallel(); testTamperKinds(t, newChain) })
	t.Run("TamperEachField", func(t *testing.T) { t.Parallel(); testTamperEachField(t, newChain) })
	t.Run("RoutineCheckpointIsNoBoundary", func(t *testing.T) { t.Parallel(); testRoutineCheckpoint(t, newChain) })
	t.Run("VerifyDuringRetention", func(t *testing.T) { t.Parallel(); testVerifyDuringRetention(t, newChain) })
	t.Run("MovedTimestamp", func(t *testing.T) { t.Parallel(); testMovedTimestamp(t, newChain) })
	t.Run("ForgedCheckpoints", func(t *testing.T) { t.Parallel(); testForgedCheckpoints(t, newChain) })
	t.Run("RefuseAfterRewind", func(t *testing.T) { t.Parallel(); testRefuseAfterRewind(t, newChain) })
	t.Run("UnsignedCheckpointOnEmptyChain", func(t *testing.T) { t.Parallel(); testUnsignedCheckpointOnEmptyChain(t, newChain) })
	t.Run("InsiderRelink", func(t *testing.T) { t.Parallel(); testInsiderRelink(t, newChain) })
	t.Run("SignedCheckpointFields", func(t *testing.T) { t.Parallel(); testSignedCheckpointFields(t, newChain) })
	t.Run("PurgedCount", func(t *testing.T) { t.Parallel(); testPurgedCount(t, newChain) })
	t.Run("UnsealableRow", func(t *testing.T) { t.Parallel(); testUnsealableRow(t, newChain) })
	t.Run("HostileDoors", func(t *testing.T) { t.Parallel(); testHostileDoors(t, newChain, seeded(t, 20), 40) })
	t.Run("HostileProperty", func(t *testing.T) { t.Parallel(); testHostileProperty(t, newChain, seeded(t, 21)) })
	runTree(t, newChain)
	// the trials run in four parallel groups, each on stores of its own
	const groups = 4
	for g := range groups {
		t.Run(fmt.Sprintf("RandomTampering/%d", g), func(t *testing.T) {
			t.Parallel()
			rnd := seeded(t, uint64(g))
			kinds := map[string]int{}
			found := map[chain.ProblemKind]int{}
			n := trials / groups
			if g < trials%groups {
				n++
			}
			for i := range n {
				kind, probs := trial(t, newChain, rnd, i)
				kinds[kind]++
				for _, p := range probs {
					found[p.Kind]++
				}
				if t.Failed() {
					return
				}
			}
			t.Logf("%d trials, every tampering detected, no false alarm; tampering done: %v; problems reported: %v", n, kinds, found)
		})
	}
}

// toggle returns "" for a set value, and v for an empty one: a change
// either way.
func toggle(s, v string) string {
	if s != "" {
		return ""
	}
	return v
}

// appendRecords appends n records occurring at the given times.
func appendRecords(t testing.TB, s audit.Store, times ...time.Time) []audit.Record {
	t.Helper()
	rs := make([]audit.Record, len(times))
	for i, at := range times {
		rs[i] = Record(i)
		rs[i].ID = uuid.New()
		rs[i].OccurredAt = at.UTC().Truncate(time.Microsecond)
	}
	if err := s.Append(context.Background(), rs...); err != nil {
		t.Fatalf("Append: %v", err)
	}
	return rs
}

func recent(n int) []time.Time {
	out := make([]time.Time, n)
	now := time.Now()
	for i := range out {
		out[i] = now.Add(-time.Duration(n-i) * time.Minute)
	}
	return out
}

// sealAll seals until no record waits. A store may hold records back for
// a while (PostgreSQL, behind transactions still running elsewhere).
func sealAll(t testing.TB, s storekit.SealStore, sl *chain.Sealer) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := sl.SealOnce(ctx); err != nil {
			t.Fatalf("SealOnce: %v", err)
		}
		waiting := 0
		if err := s.ScanUnsealed(ctx, func(*audit.Record) error { waiting++; return nil }); err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d records still unsealed after a minute", waiting)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustVerify(t testing.TB, s storekit.ChainSource, opts chain.VerifyOptions) chain.Report {
	t.Helper()
	rep, err := chain.Verify(context.Background(), s, &opts)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return rep
}

func wantOK(t testing.TB, rep chain.Report, what string) {
	t.Helper()
	if !rep.OK() {
		t.Fatalf("%s: false alarm: %v", what, rep.Problems)
	}
}

func testSealAndVerify(t *testing.T, newChain ChainFactory) {
	s, _ := newChain(t)
	ctx := context.Background()
	appendRecords(t, s, recent(20)...)
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	if n, err := sl.SealOnce(ctx); err != nil || n != 0 {
		t.Fatalf("second SealOnce: %d, %v; want 0", n, err)
	}
	// rotate the key: the chain goes on
	appendRecords(t, s, recent(5)...)
	sealAll(t, s, newSealer(t, s, key2))
	cp, err := sl.Checkpoint(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if cp.Seq != 25 {
		t.Errorf("checkpoint at %d, want 25", cp.Seq)
	}
	rep := mustVerify(t, s, verifyOpts(cp))
	wantOK(t, rep, "untouched chain")
	if rep.Seals != 25 || rep.Records != 25 || rep.FirstSeq != 1 || rep.LastSeq != 25 || rep.Checkpoints < 1 {
		t.Errorf("report %+v", rep)
	}
	// without the rotated-out key, its seals cannot be checked
	opts := verifyOpts(cp)
	delete(opts.Keys, key1.ID)
	if rep := mustVerify(t, s, opts); rep.OK() || rep.Problems[0].Kind != chain.ProblemUnknownKey {
		t.Errorf("verify without key k1: %v", rep.Problems)
	}
	// a fresh record is unsealed but within the window: not a problem
	appendRecords(t, s, recent(1)...)
	o := verifyOpts(cp)
	o.Now = time.Now
	if rep := mustVerify(t, s, o); !rep.OK() || rep.Unsealed != 1 {
		t.Errorf("fresh unsealed record: %+v", rep)
	}
	// and reported once it is older than the window
	if rep := mustVerify(t, s, verifyOpts(cp)); rep.OK() || rep.Problems[0].Kind != chain.ProblemUnsealed {
		t.Errorf("old unsealed record: %v", rep.Problems)
	}
	// an unsealed record that claims to be recorded later than now can
	// only have been inserted around the store: reported at once
	s2, tam := newChain(t)
	future := Record(7)
	future.RecordedAt = time.Now().Add(10 * time.Minute).Truncate(time.Microsecond)
	check(t, tam.InsertRecord(ctx, future))
	o2 := verifyOpts()
	o2.Now = time.Now
	if rep := mustVerify(t, s2, o2); rep.OK() || rep.Problems[0].Kind != chain.ProblemUnsealed {
		t.Errorf("unsealed record from the future: %+v", rep)
	}
}

func testConcurrentSealers(t *testing.T, newChain ChainFactory) {
	s, _ := newChain(t)
	ctx := context.Background()
	done := make(chan error)
	stop := make(chan struct{})
	for range 3 {
		sl := newSealer(t, s, key1) // here: t.Fatal must not run in the goroutine
		go func() {
			for {
				if _, err := sl.SealOnce(ctx); err != nil {
					done <- err
					return
				}
				select {
				case <-stop:
					_, err := sl.SealOnce(ctx)
					done <- err
					return
				default:
				}
			}
		}()
	}
	for range 20 {
		appendRecords(t, s, recent(10)...)
	}
	close(stop)
	for range 3 {
		if err := <-done; err != nil {
			t.Errorf("sealer: %v", err)
		}
	}
	sealAll(t, s, newSealer(t, s, key1))
	rep := mustVerify(t, s, verifyOpts())
	wantOK(t, rep, "three sealers at once")
	if rep.Seals != 200 {
		t.Errorf("%d seals, want 200", rep.Seals)
	}
}

func testRetentionKeepsProof(t *testing.T, newChain ChainFactory) {
	s, _ := newChain(t)
	ctx := context.Background()
	now := time.Now()
	// 120 days ago to now, one at a time, so that every store seals them
	// in time order
	var recs []audit.Record
	for i := range 30 {
		recs = append(recs, appendRecords(t, s, now.AddDate(0, 0, -120+4*i))...)
	}
	// a backdated record arrives late: sealed after newer ones
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	late := appendRecords(t, s, now.AddDate(0, 0, -100))
	sealAll(t, s, sl)
	var archived []audit.Record
	var archivedSeals int
	r, err := audit.NewRetention(s, sl, &audit.RetentionOptions{
		Archive: func(_ context.Context, rs []audit.Record, ss []json.RawMessage) error {
			archived = append(archived, rs...)
			for _, x := range ss {
				if x != nil {
					archivedSeals++
				}
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	var want int64
	for _, x := range append(recs, late...) {
		if x.OccurredAt.Before(res.Cutoff) {
			want++
		}
	}
	if res.Purged != want || int64(len(archived)) != want || archivedSeals != int(want) {
		t.Errorf("purged %d, archived %d (%d seals); want %d", res.Purged, len(archived), archivedSeals, want)
	}
	if res.Boundary == 0 || res.SealsPurged != int64(res.Boundary) {
		t.Errorf("boundary %d, seals purged %d", res.Boundary, res.SealsPurged)
	}
	cps, _ := s.Checkpoints(ctx)
	wantOK(t, mustVerify(t, s, verifyOpts(cps...)), "after retention")
	// nothing younger than the cutoff went
	rest := QueryAll(t, s.(audit.Querier), audit.Filter{})
	if int64(len(rest)) != int64(len(recs)+1)-want {
		t.Errorf("%d records left, want %d", len(rest), int64(len(recs)+1)-want)
	}
	for _, x := range rest {
		if x.OccurredAt.Before(res.Cutoff) {
			t.Errorf("record older than the cutoff kept: %v", x.OccurredAt)
		}
	}
	// more records, a second purge, and the chain still verifies
	appendRecords(t, s, recent(5)...)
	r2, _ := audit.NewRetention(s, sl, &audit.RetentionOptions{MaxAge: 30 * 24 * time.Hour})
	if _, err := r2.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	sealAll(t, s, sl)
	cp, err := sl.Checkpoint(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	wantOK(t, mustVerify(t, s, verifyOpts(cp)), "after two retention runs")
	// deleting a record younger than the cutoff is still detected
	if _, err := audit.NewRetention(s, nil, &audit.RetentionOptions{}); err == nil {
		t.Errorf("NewRetention on a chain store without a Sealer: no error")
	}
}

// testRoutineCheckpoint removes the oldest records and seals up to a
// periodic checkpoint, as someone who may call the store's purge could:
// only a retention checkpoint allows the chain to start after it.
func testRoutineCheckpoint(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	s, tam := newChain(t)
	sl := newSealer(t, s, key1)
	appendRecords(t, s, recent(5)...)
	sealAll(t, s, sl)
	cp5, err := sl.Checkpoint(ctx, time.Time{})
	check(t, err)
	appendRecords(t, s, recent(5)...)
	sealAll(t, s, sl)
	cp10, err := sl.Checkpoint(ctx, time.Time{})
	check(t, err)
	if p, ok := s.(storekit.ChainPurger); ok {
		if _, err := p.PurgeSeals(ctx, cp5.Seq); err == nil {
			t.Errorf("PurgeSeals at a routine checkpoint: no error")
		}
	}
	for _, sl := range chainOf(t, s)[:5] {
		check(t, tam.DeleteSeal(ctx, sl.Seq))
		check(t, tam.DeleteRecord(ctx, sl.EventID))
	}
	rep := mustVerify(t, s, verifyOpts(cp5, cp10))
	if rep.OK() || rep.Problems[0].Kind != chain.ProblemDeletedSeal {
		t.Errorf("history removed up to a routine checkpoint: %v", rep.Problems)
	}
}

// chainOf returns the seals of s, in order.
func chainOf(t *testing.T, s storekit.SealStore) []storekit.Seal {
	var seals []storekit.Seal
	check(t, s.ScanChain(context.Background(), 0, func(sl storekit.Seal, _ *audit.Record) error {
		seals = append(seals, sl)
		return nil
	}))
	return seals
}

// retentionMidway is a ChainSource that runs retention right after Verify
// has read the checkpoints, before it reads the chain.
type retentionMidway struct {
	storekit.SealStore
	r    *audit.Retention
	once sync.Once
	err  error
}

func (m *retentionMidway) Checkpoints(ctx context.Context) ([]storekit.Checkpoint, error) {
	cps, err := m.SealStore.Checkpoints(ctx)
	m.once.Do(func() { _, m.err = m.r.RunOnce(ctx) })
	return cps, err
}

// testVerifyDuringRetention checks that a retention run between Verify's
// reads raises no false alarm.
func testVerifyDuringRetention(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	s, _ := newChain(t)
	now := time.Now()
	for i := range 20 {
		appendRecords(t, s, now.AddDate(0, 0, -200+10*i)) // one at a time: sealed in time order
	}
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	cp, err := sl.Checkpoint(ctx, time.Time{})
	check(t, err)
	r, err := audit.NewRetention(s, sl, nil)
	check(t, err)
	src := &retentionMidway{SealStore: s, r: r}
	rep := mustVerify(t, src, verifyOpts(cp))
	check(t, src.err)
	if !rep.OK() || rep.Purged+rep.Records != 20 && rep.FirstSeq == 1 {
		t.Errorf("retention during Verify: %+v", rep)
	}
	wantOK(t, mustVerify(t, s, verifyOpts(cp)), "after retention")
}

// testTamperKinds checks that each kind of tampering is reported as what
// it is, where it is.
func testTamperKinds(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	type pos struct {
		seq uint64
		id  uuid.UUID
	}
	// editSeal changes the i-th seal: the problem is at that seal
	editSeal := func(i int, f func(*storekit.Seal)) func(*testing.T, Tamperer, []storekit.Seal) pos {
		return func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			check(t, tam.UpdateSeal(ctx, seals[i].Seq, f))
			return pos{seals[i].Seq, seals[i].EventID}
		}
	}
	// each tampering returns where the first problem must be
	tests := []struct {
		name   string
		tamper func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos
		want   chain.ProblemKind
	}{
		{"update record", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			check(t, tam.UpdateRecord(ctx, seals[5].EventID, func(r *audit.Record) { r.Status = audit.StatusSuccess; r.UserID = "mallory" }))
			return pos{seals[5].Seq, seals[5].EventID}
		}, chain.ProblemModifiedEvent},
		{"recording time moved by 2^32 µs", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			// digest v1 hashed only the low 32 bits of a time: this
			// passed it (see storekit.LegacySealDigest)
			check(t, tam.UpdateRecord(ctx, seals[5].EventID, func(r *audit.Record) { r.RecordedAt = r.RecordedAt.Add(1 << 32 * time.Microsecond) }))
			return pos{seals[5].Seq, seals[5].EventID}
		}, chain.ProblemModifiedEvent},
		{"update details", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			check(t, tam.UpdateRecord(ctx, seals[5].EventID, func(r *audit.Record) { r.Details = []byte(`{"i":5}`) }))
			return pos{seals[5].Seq, seals[5].EventID}
		}, chain.ProblemModifiedEvent},
		{"update tenant", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			check(t, tam.UpdateRecord(ctx, seals[5].EventID, func(r *audit.Record) { r.TenantID = toggle(r.TenantID, "tenant-z") }))
			return pos{seals[5].Seq, seals[5].EventID}
		}, chain.ProblemModifiedEvent},
		{"update trace", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			check(t, tam.UpdateRecord(ctx, seals[4].EventID, func(r *audit.Record) {
				r.TraceID = toggle(r.TraceID, "0af7651916cd43dd8448eb211c80319c")
			}))
			return pos{seals[4].Seq, seals[4].EventID}
		}, chain.ProblemModifiedEvent},
		{"update span", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			check(t, tam.UpdateRecord(ctx, seals[6].EventID, func(r *audit.Record) { r.SpanID = toggle(r.SpanID, "b7ad6b7169203331") }))
			return pos{seals[6].Seq, seals[6].EventID}
		}, chain.ProblemModifiedEvent},
		{"delete record", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			check(t, tam.DeleteRecord(ctx, seals[3].EventID))
			return pos{seals[3].Seq, seals[3].EventID}
		}, chain.ProblemDeletedEvent},
		{"insert record", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			r := Record(99)
			r.RecordedAt = seals[2].EventTime
			check(t, tam.InsertRecord(ctx, r))
			return pos{0, r.ID}
		}, chain.ProblemUnsealed},
		{"insert record and seal", func(t *testing.T, tam Tamperer, _ []storekit.Seal) pos {
			r := Record(99)
			r.RecordedAt = time.Now().Truncate(time.Microsecond)
			check(t, tam.InsertRecord(ctx, r))
			d, _ := storekit.Digest(&r)
			check(t, tam.InsertSeal(ctx, storekit.Seal{Seq: 11, EventID: r.ID, EventTime: r.OccurredAt, Digest: d, KeyID: key1.ID, Hash: bytes.Repeat([]byte{9}, 32), SealedAt: time.Now()}))
			return pos{11, r.ID}
		}, chain.ProblemForgedEvent},
		{"swap seals", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			a, b := seals[3], seals[4]
			check(t, tam.UpdateSeal(ctx, b.Seq, func(s *storekit.Seal) {
				s.EventID, s.EventTime, s.Digest, s.TenantTag = a.EventID, a.EventTime, a.Digest, a.TenantTag
			}))
			check(t, tam.UpdateSeal(ctx, a.Seq, func(s *storekit.Seal) {
				s.EventID, s.EventTime, s.Digest, s.TenantTag = b.EventID, b.EventTime, b.Digest, b.TenantTag
			}))
			return pos{a.Seq, b.EventID}
		}, chain.ProblemReordered},
		{"delete seal", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			check(t, tam.DeleteSeal(ctx, seals[5].Seq))
			return pos{seals[5].Seq, uuid.UUID{}}
		}, chain.ProblemDeletedSeal},
		{"delete first seal", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			check(t, tam.DeleteSeal(ctx, seals[0].Seq))
			return pos{1, uuid.UUID{}}
		}, chain.ProblemDeletedSeal},
		{"modify seal hash", editSeal(5, func(s *storekit.Seal) { s.Hash[0] ^= 1 }), chain.ProblemModifiedSeal},
		{"modify newest seal hash", editSeal(9, func(s *storekit.Seal) { s.Hash[0] ^= 1 }), chain.ProblemModifiedSeal},
		{"modify seal digest", editSeal(5, func(s *storekit.Seal) { s.Digest[0] ^= 1 }), chain.ProblemModifiedSeal},
		{"truncate newest seal", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			// one seal and its record: the smallest cut
			check(t, tam.DeleteSeal(ctx, seals[9].Seq))
			check(t, tam.DeleteRecord(ctx, seals[9].EventID))
			return pos{seals[9].Seq, uuid.UUID{}}
		}, chain.ProblemTruncated},
		{"truncate tail", func(t *testing.T, tam Tamperer, seals []storekit.Seal) pos {
			// the newest three seals and their records; the chain's order
			// is the store's
			for _, sl := range seals[7:] {
				check(t, tam.DeleteSeal(ctx, sl.Seq))
				check(t, tam.DeleteRecord(ctx, sl.EventID))
			}
			return pos{seals[9].Seq, uuid.UUID{}}
		}, chain.ProblemTruncated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, tam, _, cp := sealedChain(t, newChain, 10)
			wantOK(t, mustVerify(t, s, verifyOpts(cp)), "before tampering")
			at := tt.tamper(t, tam, chainOf(t, s))
			wantFirst(t, mustVerify(t, s, verifyOpts(cp)), tt.want, at.seq, at.id)
		})
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// trial builds a random, well-formed chain, checks it verifies, tampers
// with it once, and checks that Verify notices.
func trial(t *testing.T, newChain ChainFactory, rnd *rand.Rand, i int) (string, []chain.Problem) {
	ctx := context.Background()
	s, tam := newChain(t)
	now := time.Now()
	keys := []chain.HMACKey{key1, key2}
	sealer := newSealer(t, s, keys[rnd.IntN(2)])
	var trusted []storekit.Checkpoint
	// a history over 200 days, appended and sealed in a few rounds
	for range 1 + rnd.IntN(3) {
		n := 1 + rnd.IntN(15)
		times := make([]time.Time, n)
		for j := range times {
			times[j] = now.Add(-time.Duration(rnd.Int64N(int64(200 * 24 * time.Hour))))
		}
		appendRecords(t, s, times...)
		if rnd.IntN(2) == 0 {
			sealer = newSealer(t, s, keys[rnd.IntN(2)]) // key rotation
		}
		sealAll(t, s, sealer)
	}
	purgedBefore := time.Time{}
	if rnd.IntN(2) == 0 {
		r, err := audit.NewRetention(s, sealer, &audit.RetentionOptions{MaxAge: time.Duration(30+rnd.IntN(150)) * 24 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		res, err := r.RunOnce(ctx)
		if err != nil {
			t.Fatalf("trial %d: retention: %v", i, err)
		}
		purgedBefore = res.Cutoff
		// records after the purge are younger than its cutoff
		appendRecords(t, s, recent(1+rnd.IntN(5))...)
		sealAll(t, s, sealer)
	}
	cp, err := sealer.Checkpoint(ctx, time.Time{})
	if err != nil {
		t.Fatalf("trial %d: checkpoint: %v", i, err)
	}
	trusted = append(trusted, cp)
	opts := verifyOpts(trusted...)
	if rep := mustVerify(t, s, opts); !rep.OK() {
		t.Fatalf("trial %d: false alarm on an untouched log: %v", i, rep.Problems)
	}

	// what is there to tamper with
	var seals []storekit.Seal
	var present []storekit.Seal // seals whose record is present
	err = s.ScanChain(ctx, 0, func(sl storekit.Seal, r *audit.Record) error {
		seals = append(seals, sl)
		if r != nil {
			present = append(present, sl)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{"insert", "insert_sealed", "modify_seal"}
	if len(present) > 0 {
		kinds = append(kinds, "update", "delete")
	}
	if len(seals) > 1 {
		kinds = append(kinds, "swap_seals", "delete_seal", "truncate")
	}
	if len(present) > 1 {
		kinds = append(kinds, "swap_records")
	}
	kind := kinds[rnd.IntN(len(kinds))]
	pick := func(ss []storekit.Seal) storekit.Seal { return ss[rnd.IntN(len(ss))] }
	last := cp.Seq
	if len(seals) > 0 {
		last = seals[len(seals)-1].Seq
	}
	// the first problem the tampering must cause
	var want chain.Problem
	expect := func(k chain.ProblemKind, seq uint64, id uuid.UUID) {
		want = chain.Problem{Kind: k, Seq: seq, EventID: id}
	}
	// a removed seal: missing from the chain, or the chain is cut short
	deletedSeal := func(x storekit.Seal) {
		if x.Seq == last {
			expect(chain.ProblemTruncated, cp.Seq, uuid.UUID{})
		} else {
			expect(chain.ProblemDeletedSeal, x.Seq, uuid.UUID{})
		}
	}
	switch kind {
	case "update":
		target := pick(present)
		expect(chain.ProblemModifiedEvent, target.Seq, target.EventID)
		field := rnd.IntN(7)
		check(t, tam.UpdateRecord(ctx, target.EventID, func(r *audit.Record) {
			switch field {
			case 0:
				r.UserID += "x"
			case 1:
				r.Details = []byte(`{"tampered":true}`)
			case 2:
				r.Status = map[audit.Status]audit.Status{audit.StatusSuccess: audit.StatusFailure}[r.Status]
				if r.Status == "" {
					r.Status = audit.StatusSuccess
				}
			case 3:
				r.ErrorMessage = ""
				r.ResourceID += "y"
			case 4:
				if ip := netip.MustParseAddr("198.51.100.1"); r.IPAddress != ip {
					r.IPAddress = ip
				} else {
					r.IPAddress = netip.Addr{}
				}
			case 5:
				if r.Action == audit.ActionUserLogout {
					r.Action = audit.ActionUserLogin
				} else {
					r.Action = audit.ActionUserLogout
				}
			case 6:
				r.Changes = nil
			}
		}))
	case "delete":
		target := pick(present)
		if target.EventTime.Before(purgedBefore) {
			// retention may remove it: a legitimate absence; delete a seal instead
			kind = "delete_seal"
			check(t, tam.DeleteSeal(ctx, target.Seq))
			deletedSeal(target)
			break
		}
		check(t, tam.DeleteRecord(ctx, target.EventID))
		expect(chain.ProblemDeletedEvent, target.Seq, target.EventID)
	case "insert":
		r := Record(1000 + i)
		r.ID = uuid.New()
		r.OccurredAt = now.Add(-time.Duration(rnd.Int64N(int64(24 * time.Hour)))).Truncate(time.Microsecond)
		r.RecordedAt = r.OccurredAt
		check(t, tam.InsertRecord(ctx, r))
		expect(chain.ProblemUnsealed, 0, r.ID)
	case "insert_sealed":
		r := Record(2000 + i)
		r.ID = uuid.New()
		r.RecordedAt = now.Truncate(time.Microsecond)
		check(t, tam.InsertRecord(ctx, r))
		d, _ := storekit.Digest(&r)
		h := make([]byte, 32)
		for j := range h {
			h[j] = byte(rnd.IntN(256))
		}
		check(t, tam.InsertSeal(ctx, storekit.Seal{Seq: last + 1, EventID: r.ID, EventTime: r.OccurredAt, Digest: d, KeyID: key1.ID, Hash: h, SealedAt: now}))
		expect(chain.ProblemForgedEvent, last+1, r.ID)
	case "modify_seal":
		if len(seals) == 0 {
			kind = "insert"
			r := Record(3000 + i)
			r.RecordedAt = now.Add(-time.Hour)
			check(t, tam.InsertRecord(ctx, r))
			expect(chain.ProblemUnsealed, 0, r.ID)
			break
		}
		target := pick(seals)
		what := rnd.IntN(4)
		// a changed seal: its record, if any, is as sealed
		expect(chain.ProblemModifiedSeal, target.Seq, target.EventID)
		check(t, tam.UpdateSeal(ctx, target.Seq, func(sl *storekit.Seal) {
			switch what {
			case 0:
				sl.Hash[rnd.IntN(len(sl.Hash))] ^= byte(1 + rnd.IntN(255))
			case 1:
				sl.Digest[rnd.IntN(len(sl.Digest))] ^= byte(1 + rnd.IntN(255))
			case 2:
				sl.EventTime = sl.EventTime.Add(-time.Microsecond)
			case 3:
				sl.EventID = uuid.New()
				want.EventID = sl.EventID
			}
		}))
	case "swap_seals":
		a := rnd.IntN(len(seals) - 1)
		b := a + 1
		if rnd.IntN(2) == 0 {
			b = a + 1 + rnd.IntN(len(seals)-a-1)
		}
		sa, sb := seals[a], seals[b]
		if sa.EventID == sb.EventID || bytes.Equal(sa.Digest, sb.Digest) && sa.EventTime.Equal(sb.EventTime) {
			kind = "delete_seal"
			check(t, tam.DeleteSeal(ctx, sa.Seq))
			deletedSeal(sa)
			break
		}
		// everything that names the record: its tenant's tag too
		check(t, tam.UpdateSeal(ctx, sa.Seq, func(sl *storekit.Seal) {
			sl.EventID, sl.EventTime, sl.Digest, sl.TenantTag = sb.EventID, sb.EventTime, sb.Digest, sb.TenantTag
		}))
		check(t, tam.UpdateSeal(ctx, sb.Seq, func(sl *storekit.Seal) {
			sl.EventID, sl.EventTime, sl.Digest, sl.TenantTag = sa.EventID, sa.EventTime, sa.Digest, sa.TenantTag
		}))
		// neighbours link the other way round; others just do not link
		if b == a+1 {
			expect(chain.ProblemReordered, sa.Seq, sb.EventID)
		} else {
			expect(chain.ProblemModifiedSeal, sa.Seq, sb.EventID)
		}
	case "swap_records":
		x := rnd.Perm(len(present))
		a, b := present[x[0]], present[x[1]]
		var ra, rb audit.Record
		check(t, tam.UpdateRecord(ctx, a.EventID, func(r *audit.Record) { ra = r.Clone() }))
		check(t, tam.UpdateRecord(ctx, b.EventID, func(r *audit.Record) { rb = r.Clone() }))
		if Equal(withID(ra, rb.ID, rb.OccurredAt), rb) == "" {
			kind = "update"
			check(t, tam.UpdateRecord(ctx, a.EventID, func(r *audit.Record) { r.UserID += "z" }))
			expect(chain.ProblemModifiedEvent, a.Seq, a.EventID)
			break
		}
		if first := min(a.Seq, b.Seq); first == a.Seq {
			expect(chain.ProblemModifiedEvent, a.Seq, a.EventID)
		} else {
			expect(chain.ProblemModifiedEvent, b.Seq, b.EventID)
		}
		check(t, tam.UpdateRecord(ctx, a.EventID, func(r *audit.Record) { *r = withID(rb, ra.ID, ra.OccurredAt) }))
		check(t, tam.UpdateRecord(ctx, b.EventID, func(r *audit.Record) { *r = withID(ra, rb.ID, rb.OccurredAt) }))
	case "delete_seal":
		x := pick(seals)
		check(t, tam.DeleteSeal(ctx, x.Seq))
		deletedSeal(x)
	case "truncate":
		k := 1 + rnd.IntN(min(len(seals), 4))
		expect(chain.ProblemTruncated, cp.Seq, uuid.UUID{})
		for _, sl := range seals[len(seals)-k:] {
			check(t, tam.DeleteSeal(ctx, sl.Seq))
			if slices.ContainsFunc(present, func(p storekit.Seal) bool { return p.Seq == sl.Seq }) {
				check(t, tam.DeleteRecord(ctx, sl.EventID))
			}
		}
	}
	rep := mustVerify(t, s, opts)
	if rep.OK() {
		t.Fatalf("trial %d: tampering %q not detected (seals %d, purged before %v)", i, kind, len(seals), purgedBefore)
	}
	if got := rep.Problems[0]; got.Kind != want.Kind || got.Seq != want.Seq || got.EventID != want.EventID {
		t.Fatalf("trial %d: tampering %q: first problem %s at seq %d (event %s); want %s at seq %d (event %s) (%d seals up to %d, purged before %v); all: %v",
			i, kind, got.Kind, got.Seq, got.EventID, want.Kind, want.Seq, want.EventID, len(seals), last, purgedBefore, rep.Problems)
	}
	return kind, rep.Problems
}

// withID returns r with another identity: the content of one record under
// the key of another.
func withID(r audit.Record, id uuid.UUID, at time.Time) audit.Record {
	r = r.Clone()
	r.ID, r.OccurredAt = id, at
	return r
}
