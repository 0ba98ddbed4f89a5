package chain

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// clockSkew is how far in the future a record's RecordedAt may be.
const clockSkew = time.Minute

// snapshotTimer is a ChainSource that knows when it was taken.
// redactingSource is a ChainSource that may leave records out on purpose
// (an export of ExportTenantChain) and says which.
type redactingSource interface {
	scanChain(ctx context.Context, from uint64, fn func(s storekit.Seal, r *audit.Record, redacted bool) error) error
	exportTenant(ctx context.Context) (string, error)
}

type snapshotTimer interface {
	snapshotTime(ctx context.Context) (time.Time, error)
}

// ProblemKind names a kind of tampering (or failure) Verify found.
type ProblemKind string

// The problems Verify reports.
const (
	// A record's content differs from what was sealed.
	ProblemModifiedEvent ProblemKind = "modified_event"
	// A sealed record is missing, and retention did not remove it.
	ProblemDeletedEvent ProblemKind = "deleted_event"
	// A record carries a seal that no key made: it was inserted, or its
	// seal was forged.
	ProblemForgedEvent ProblemKind = "forged_event"
	// Records are sealed in another order than the chain says.
	ProblemReordered ProblemKind = "reordered"
	// Seals are missing from the chain.
	ProblemDeletedSeal ProblemKind = "deleted_seal"
	// A seal was changed.
	ProblemModifiedSeal ProblemKind = "modified_seal"
	// The chain ends before a checkpoint said it reached: the newest
	// records were removed.
	ProblemTruncated ProblemKind = "truncated"
	// A record has no seal although it is older than the sealing window:
	// it was inserted around the chain, or the sealer is not running.
	ProblemUnsealed ProblemKind = "unsealed"
	// A tenant's export (ExportTenantChain) holds in full a record that
	// is not of the tenant its header names, by the record's TenantID or
	// its seal's TenantTag: another tenant's record was put in, or the
	// header relabelled.
	ProblemForeignRecord ProblemKind = "foreign_record"
	// A checkpoint is not validly signed, or contradicts the chain.
	ProblemBadCheckpoint ProblemKind = "bad_checkpoint"
	// A seal names a key Verify was not given.
	ProblemUnknownKey ProblemKind = "unknown_key"
	// A sealed record cannot be put in canonical form (its Details or
	// Changes are nested too deep, or are not JSON): it entered the store
	// around every door, which refuse such records (Record.Validate). Its
	// seal covers the digest of its stored bytes, which matched: it is as
	// it was sealed, and the chain goes on after it. See "Unsealable
	// records" in docs/operations.md.
	ProblemUnsealable ProblemKind = "unsealable_record"
)

// Problem is one finding of Verify.
type Problem struct {
	Kind    ProblemKind `json:"kind"`
	Seq     uint64      `json:"seq,omitempty"` // position in the chain, when known
	EventID uuid.UUID   `json:"event_id,omitzero"`
	Detail  string      `json:"detail"`
}

// String describes the problem on one line: its kind, position and detail.
func (p Problem) String() string {
	s := string(p.Kind)
	if p.Seq != 0 {
		s += fmt.Sprintf(" at seq %d", p.Seq)
	}
	if p.EventID != (uuid.UUID{}) {
		s += fmt.Sprintf(" (event %s)", p.EventID)
	}
	return s + ": " + p.Detail
}

// VerifyOptions configures Verify. Verify copies it; nil means no keys
// is the zero VerifyOptions, which holds no keys.
type VerifyOptions struct {
	// Keys are the chain keys by ID: every key that sealed a record.
	Keys map[string][]byte
	// PublicKeys verify checkpoint signatures, by signer ID. Checkpoints
	// that do not verify are reported and not trusted.
	PublicKeys map[string]ed25519.PublicKey
	// Trusted are checkpoints kept off the database (exported by the
	// Sealer). Verify checks the chain reaches each with the same hash:
	// this is what detects removal of the newest records.
	Trusted []storekit.Checkpoint
	// SealWindow is how long a record may stay unsealed before it is
	// reported. Default 5m.
	SealWindow time.Duration
	// Now is the clock for SealWindow. Default: the time of the export
	// for an export (NewExportSource), time.Now otherwise.
	Now func() time.Time
	// Progress, when set, is called every 100000 seals and at the end.
	Progress func(Report)
	// MaxProblems caps the problems kept in the Report (they are all
	// counted). Default 1000.
	MaxProblems int
}

// Report is the result of Verify. Its JSON form (auditctl verify --json)
// uses the snake_case names of the tags, and "problems" is a list, empty
// when there are none.
type Report struct {
	FirstSeq uint64 `json:"first_seq"` // the range of seals checked
	LastSeq  uint64 `json:"last_seq"`
	Seals    uint64 `json:"seals"`   // seals checked
	Records  uint64 `json:"records"` // records checked against their seals
	// Purged counts the records retention removed: those sealed up to
	// the retention checkpoint the chain starts after (their seals were
	// removed with them), and those whose seals remain.
	Purged   uint64 `json:"purged"`
	Unsealed uint64 `json:"unsealed"` // records not sealed yet, within the window
	// TenantID is the tenant of an export of ExportTenantChain: only its
	// records were checked, and each record the export holds in full
	// was checked to be the tenant's (ProblemForeignRecord), by its
	// TenantID and its seal's TenantTag. Empty for a whole chain. An
	// auditor of the whole log must not accept a report that names a
	// tenant.
	TenantID string `json:"tenant_id,omitempty"`
	// Redacted counts the seals of a tenant's export (ExportTenantChain)
	// whose record belongs to another tenant: their links are checked,
	// their records are not there to check.
	Redacted     uint64    `json:"redacted,omitempty"`
	Checkpoints  int       `json:"checkpoints"` // valid checkpoints matched against the chain
	ProblemCount uint64    `json:"problem_count"`
	Problems     []Problem `json:"problems"` // the first MaxProblems problems
}

// MarshalJSON encodes r with "problems" as a list, never null.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	if r.Problems == nil {
		r.Problems = []Problem{}
	}
	return json.Marshal(plain(r))
}

// OK reports whether Verify found no problem.
func (r *Report) OK() bool { return r.ProblemCount == 0 }

// Verify checks a chain: that every seal links to the one before with a
// known key, that every sealed record is present (or older than what
// retention removed) and unchanged, that no record is older than the
// sealing window without a seal, and that the chain agrees with every
// validly signed checkpoint, stored or Trusted. It walks from the oldest
// checkpoint the source holds (or from the first seal) to the newest
// seal, reading each seal and record once.
//
// Problems are listed in the order of the chain (each at its seal's Seq,
// with the record's EventID when known), then the records missing or
// changed under their seals, then a cut-short end, then unsealed records.
// Only validly signed checkpoints are trusted; every other stored one is
// reported as ProblemBadCheckpoint and ignored. A record whose timestamp
// was changed no longer matches its seal: it is reported as
// ProblemModifiedEvent at that seal, not as deleted.
//
// Verify returns an error only when it could not read the source; what
// it finds is in the Report.
func Verify(ctx context.Context, src storekit.ChainSource, opts *VerifyOptions) (Report, error) {
	v := &verifier{macs: map[string]hash.Hash{}}
	if opts != nil {
		v.opts = *opts
	}
	if v.opts.SealWindow <= 0 {
		v.opts.SealWindow = 5 * time.Minute
	}
	if v.opts.Now == nil {
		v.opts.Now = time.Now
		if st, ok := src.(snapshotTimer); ok {
			if t, err := st.snapshotTime(ctx); err == nil && !t.IsZero() {
				v.opts.Now = func() time.Time { return t }
			}
		}
	}
	if v.opts.MaxProblems <= 0 {
		v.opts.MaxProblems = 1000
	}
	if rs, ok := src.(redactingSource); ok {
		t, err := rs.exportTenant(ctx)
		if err != nil {
			return v.rep, fmt.Errorf("audit: verify: reading the export: %w", err)
		}
		v.rep.TenantID = t
	}
	stored, err := src.Checkpoints(ctx)
	if err != nil {
		return v.rep, fmt.Errorf("audit: verify: reading checkpoints: %w", err)
	}
	v.checkpoints(stored)
	v.checkpoints(v.opts.Trusted)

	if err := v.scan(ctx, src); err != nil {
		return v.rep, fmt.Errorf("audit: verify: reading the chain: %w", err)
	}
	v.flush()
	// Retention may have run meanwhile: its checkpoint, written before it
	// removed anything, says which of the missing records it removed.
	stored, err = src.Checkpoints(ctx)
	if err != nil {
		return v.rep, fmt.Errorf("audit: verify: reading checkpoints: %w", err)
	}
	v.checkpoints(stored)
	v.emptyChain()

	// A sealed record missing from the chain may still be there, changed
	// where the store matches records to seals (its OccurredAt): then it
	// reads as unsealed under its own ID. Its problems come after the
	// chain's.
	moved := map[uuid.UUID]*pending{}
	for i := range v.missing {
		moved[v.missing[i].s.EventID] = &v.missing[i]
	}
	now := v.opts.Now()
	horizon := now.Add(-v.opts.SealWindow)
	var unsealed []Problem
	err = src.ScanUnsealed(ctx, func(r *audit.Record) error {
		if m, ok := moved[r.ID]; ok && m.r == nil {
			c := *r
			m.r = &c
			return nil
		}
		var detail string
		kind := ProblemUnsealed
		switch {
		case v.rep.TenantID != "" && r.TenantID != v.rep.TenantID:
			kind, detail = ProblemForeignRecord, fmt.Sprintf("an unsealed record of tenant %q in the export of tenant %q", r.TenantID, v.rep.TenantID)
		case r.RecordedAt.Before(horizon):
			detail = fmt.Sprintf("recorded %s and not sealed within %s", r.RecordedAt.Format(time.RFC3339), v.opts.SealWindow)
		case r.RecordedAt.After(now.Add(clockSkew)):
			detail = fmt.Sprintf("not sealed, and recorded in the future (%s): inserted around the Logger", r.RecordedAt.Format(time.RFC3339))
		default:
			v.rep.Unsealed++
			return nil
		}
		v.rep.ProblemCount++
		if len(unsealed) < v.opts.MaxProblems {
			unsealed = append(unsealed, Problem{Kind: kind, EventID: r.ID, Detail: detail})
		}
		return nil
	})
	if err != nil {
		return v.rep, fmt.Errorf("audit: verify: reading unsealed records: %w", err)
	}
	v.resolveMissing()
	v.finish()
	for _, p := range unsealed {
		if len(v.rep.Problems) < v.opts.MaxProblems {
			v.rep.Problems = append(v.rep.Problems, p)
		}
	}
	if v.opts.Progress != nil {
		v.opts.Progress(v.rep)
	}
	return v.rep, nil
}

type pending struct {
	s        storekit.Seal
	r        *audit.Record
	redacted bool // left out of a tenant's export: not missing
	digest   []byte
	// the record cannot be put in canonical form: digest is of its
	// stored form (sealDigest)
	unsealable bool
}

// scan reads the chain and checks it in a pipeline: this goroutine reads,
// a second computes the records' digests, a third checks the seals in
// order.
func (v *verifier) scan(ctx context.Context, src storekit.ChainSource) error {
	const batch = 256
	toDigest := make(chan []pending, 4)
	toCheck := make(chan []pending, 4)
	done := make(chan struct{})
	go func() {
		defer close(toCheck)
		for b := range toDigest {
			for i := range b {
				if b[i].r != nil {
					b[i].digest, b[i].unsealable = storekit.SealDigest(b[i].r)
					if !bytes.Equal(b[i].digest, b[i].s.Digest) {
						// a seal made before digest v2 covers the legacy form
						if d, u := storekit.LegacySealDigest(b[i].r); bytes.Equal(d, b[i].s.Digest) {
							b[i].digest, b[i].unsealable = d, u
						}
					}
				}
			}
			toCheck <- b
		}
	}()
	go func() {
		defer close(done)
		for b := range toCheck {
			for _, p := range b {
				v.push(p)
			}
		}
	}()
	cur := make([]pending, 0, batch)
	first := true
	scanChain := func(ctx context.Context, from uint64, fn func(s storekit.Seal, r *audit.Record, redacted bool) error) error {
		return src.ScanChain(ctx, from, func(s storekit.Seal, r *audit.Record) error { return fn(s, r, false) })
	}
	if rs, ok := src.(redactingSource); ok {
		scanChain = rs.scanChain
	}
	err := scanChain(ctx, 0, func(s storekit.Seal, r *audit.Record, redacted bool) error {
		if first && s.Seq > 1 && !v.byCP[s.Seq-1].boundary {
			// retention may have removed seals since the checkpoints were
			// read; its checkpoint was written before (the checker has not
			// started: byCP is this goroutine's)
			cps, err := src.Checkpoints(ctx)
			if err != nil {
				return err
			}
			v.checkpoints(cps)
		}
		first = false
		cur = append(cur, pending{s: s, r: r, redacted: redacted})
		if len(cur) == batch {
			select {
			case toDigest <- cur:
			case <-ctx.Done():
				return ctx.Err()
			}
			cur = make([]pending, 0, batch)
		}
		return nil
	})
	if err == nil && len(cur) > 0 {
		toDigest <- cur
	}
	close(toDigest)
	<-done
	return err
}

// cpInfo is what Verify keeps of a valid checkpoint.
type cpInfo struct {
	hash     []byte
	boundary bool
}

type verifier struct {
	opts VerifyOptions
	rep  Report
	macs map[string]hash.Hash

	byCP      map[uint64]cpInfo    // valid checkpoints by seq
	seenCP    map[string]bool      // checkpoints already read
	missing   []pending            // sealed records not found, pending resolveMissing
	cut       cutoffs              // what retention may have removed
	tags      map[string]*tagCache // TenantTags by key ID
	started   bool
	prev      []byte // hash after the last seal
	prevSeq   uint64
	lookahead []pending // seals read but not yet checked (at most 2)
}

func (v *verifier) problem(k ProblemKind, seq uint64, id uuid.UUID, detail string) {
	v.rep.ProblemCount++
	if len(v.rep.Problems) < v.opts.MaxProblems {
		v.rep.Problems = append(v.rep.Problems, Problem{Kind: k, Seq: seq, EventID: id, Detail: detail})
	}
}

// checkpoints keeps the validly signed checkpoints.
func (v *verifier) checkpoints(cps []storekit.Checkpoint) {
	if v.byCP == nil {
		v.byCP = map[uint64]cpInfo{}
	}
	for i := range cps {
		c := &cps[i]
		if v.seenCP == nil {
			v.seenCP = map[string]bool{}
		}
		// a copy that differs in any field is another checkpoint: it is
		// checked on its own, not passed over as one already seen
		id := fmt.Sprintf("%d %x %d %d %t %v %q %x", c.Seq, c.Hash, c.At.UnixMicro(), c.PurgedBefore.UnixMicro(), c.Boundary, c.TenantCutoffs, c.SignerID, c.Signature)
		if v.seenCP[id] {
			continue
		}
		v.seenCP[id] = true
		if err := VerifyCheckpoint(c, v.opts.PublicKeys); err != nil {
			v.problem(ProblemBadCheckpoint, c.Seq, uuid.UUID{}, err.Error())
			continue
		}
		old, ok := v.byCP[c.Seq]
		if ok && !bytes.Equal(old.hash, c.Hash) {
			v.problem(ProblemBadCheckpoint, c.Seq, uuid.UUID{}, "two validly signed checkpoints disagree on the hash")
		}
		v.byCP[c.Seq] = cpInfo{hash: c.Hash, boundary: old.boundary || c.Boundary}
		v.cut.add(c)
	}
}

func (v *verifier) mac(keyID string) hash.Hash {
	if m, ok := v.macs[keyID]; ok {
		m.Reset()
		return m
	}
	key, ok := v.opts.Keys[keyID]
	if !ok {
		return nil
	}
	m := hmac.New(sha256.New, key)
	v.macs[keyID] = m
	return m
}

// linkOK reports whether s.Hash follows from prev, and the hash that does.
func (v *verifier) linkOK(prev []byte, s *storekit.Seal) (bool, []byte) {
	m := v.mac(s.KeyID)
	if m == nil {
		return false, nil
	}
	h := linkWith(m, prev, s)
	return hmac.Equal(h, s.Hash), h
}

// push queues a seal; seals are checked with one seal of lookahead, which
// tells a changed seal from a reordered or forged one.
func (v *verifier) push(p pending) {
	v.lookahead = append(v.lookahead, p)
	if len(v.lookahead) == 2 {
		v.check()
	}
}

func (v *verifier) flush() {
	for len(v.lookahead) > 0 {
		v.check()
	}
}

// check verifies the first queued seal, with the next one, if any, as
// lookahead.
func (v *verifier) check() {
	cur := v.pop()
	var next *pending
	if len(v.lookahead) > 0 {
		next = &v.lookahead[0]
	}
	s := &cur.s
	if _, ok := v.opts.Keys[s.KeyID]; !ok {
		v.problem(ProblemUnknownKey, s.Seq, s.EventID, fmt.Sprintf("no key %q", s.KeyID))
		v.prev = s.Hash
		v.atCheckpoint(s)
		return
	}
	if v.prev == nil { // after a gap: take the seal's word for it
		v.prev = s.Hash
		v.atCheckpoint(s)
		return
	}
	ok, h := v.linkOK(v.prev, s)
	switch {
	case ok:
		v.prev = h
		v.atCheckpoint(s)
		return
	case next != nil && v.swapped(cur, next):
		return
	case next != nil && v.follows(h, &next.s):
		// the chain goes on from the right value: only this hash changed
		v.problem(ProblemModifiedSeal, s.Seq, s.EventID, "the seal's hash was changed")
		v.prev = h
		v.atCheckpoint(s)
		return
	case next == nil && h != nil && v.checkpointSays(s.Seq, h):
		// the newest seal: a signed checkpoint has the right value
		v.problem(ProblemModifiedSeal, s.Seq, s.EventID, "the seal's hash was changed")
		v.prev = h
		v.atCheckpoint(s)
		return
	case next != nil && v.follows(s.Hash, &next.s):
		v.problem(ProblemModifiedSeal, s.Seq, s.EventID, "the seal's fields were changed")
	case cur.r != nil:
		v.problem(ProblemForgedEvent, s.Seq, s.EventID, "no key made this seal")
	default:
		v.problem(ProblemModifiedSeal, s.Seq, s.EventID, "the seal does not link to the one before")
	}
	v.prev = s.Hash
	v.atCheckpoint(s)
}

// pop takes the first queued seal and checks its position and record.
func (v *verifier) pop() pending {
	p := v.lookahead[0]
	v.lookahead = v.lookahead[1:]
	s, r := &p.s, p.r
	v.rep.Seals++
	if v.opts.Progress != nil && v.rep.Seals%100000 == 0 {
		v.opts.Progress(v.rep)
	}
	if !v.started {
		v.start(s)
	}
	v.rep.LastSeq = s.Seq
	switch want := v.prevSeq + 1; {
	case s.Seq > want:
		v.problem(ProblemDeletedSeal, want, uuid.UUID{}, fmt.Sprintf("seals %d to %d are missing", want, s.Seq-1))
		v.prev = nil // unknown: resynchronise on this seal
	case s.Seq < want:
		v.problem(ProblemModifiedSeal, s.Seq, s.EventID, fmt.Sprintf("seal out of sequence after %d", v.prevSeq))
	}
	v.prevSeq = max(v.prevSeq, s.Seq)
	switch {
	case p.redacted:
		v.rep.Redacted++
		if len(s.TenantTag) > 0 && bytes.Equal(s.TenantTag, v.tag(s.KeyID, v.rep.TenantID)) {
			v.problem(ProblemDeletedEvent, s.Seq, s.EventID, fmt.Sprintf("the export leaves out a record of tenant %q, its own", v.rep.TenantID))
		}
	case r == nil && v.rep.TenantID != "" && len(s.TenantTag) > 0 && !bytes.Equal(s.TenantTag, v.tag(s.KeyID, v.rep.TenantID)):
		// a tenant's export: another tenant's record, gone by that
		// tenant's retention (whose cutoff the export leaves out)
		v.rep.Redacted++
	case r == nil:
		// purged, moved or deleted: resolveMissing tells
		v.missing = append(v.missing, pending{s: *s})
	default:
		v.rep.Records++
		switch {
		case bytes.Equal(p.digest, s.Digest) && p.unsealable:
			v.problem(ProblemUnsealable, s.Seq, s.EventID, "the record cannot be put in canonical form (Details or Changes nested too deep, or not JSON): it entered the store around every door; its seal covers its stored form, which is unchanged")
		case bytes.Equal(p.digest, s.Digest):
		case v.digestChanged(s, p.digest):
			// the record is what was sealed: the seal's digest changed
			v.problem(ProblemModifiedSeal, s.Seq, s.EventID, "the seal's digest was changed")
			s.Digest = p.digest
		default:
			v.problem(ProblemModifiedEvent, s.Seq, s.EventID, "the record differs from what was sealed")
		}
		v.ownRecord(s, r)
	}
	return p
}

// ownRecord reports a record a tenant's export holds in full that is not
// the tenant's: by its TenantID, which its digest covers, or by its
// seal's TenantTag, which the link covers. The header's tenant is
// nobody's word but the exporter's: the records must bear it out.
func (v *verifier) ownRecord(s *storekit.Seal, r *audit.Record) {
	t := v.rep.TenantID
	if t == "" {
		return
	}
	switch want := v.tag(s.KeyID, t); {
	case r.TenantID != t:
		v.problem(ProblemForeignRecord, s.Seq, s.EventID, fmt.Sprintf("a record of tenant %q in the export of tenant %q", r.TenantID, t))
	case want != nil && len(s.TenantTag) > 0 && !bytes.Equal(s.TenantTag, want):
		v.problem(ProblemForeignRecord, s.Seq, s.EventID, fmt.Sprintf("the seal's tenant tag is not that of tenant %q, whose export this is", t))
	}
}

// digestChanged reports whether s, with the record's digest d in place of
// its own, links to the previous seal: then the record is unchanged and
// the seal was edited.
func (v *verifier) digestChanged(s *storekit.Seal, d []byte) bool {
	if v.prev == nil || v.prevSeq != s.Seq || len(v.lookahead) > 1 {
		return false
	}
	c := *s
	c.Digest = d
	ok, _ := v.linkOK(v.prev, &c)
	return ok
}

// swapped reports, and consumes, a pair of adjacent seals that link in
// the other order: a reordering.
func (v *verifier) swapped(cur pending, next *pending) bool {
	// next's record at cur's position, under either seal's key and hash
	// (the swap may have moved whole seals, or only what names the record)
	keys := [2]string{cur.s.KeyID, next.s.KeyID}
	for ki, k := range keys {
		for _, h := range [][]byte{cur.s.Hash, next.s.Hash} {
			b := storekit.Seal{Seq: cur.s.Seq, EventID: next.s.EventID, EventTime: next.s.EventTime, Digest: next.s.Digest, TenantTag: next.s.TenantTag, KeyID: k, Hash: h}
			ok, hb := v.linkOK(v.prev, &b)
			if !ok {
				continue
			}
			a := cur.s
			a.Seq = next.s.Seq
			m := v.mac(keys[1-ki])
			if m == nil {
				return false
			}
			v.problem(ProblemReordered, cur.s.Seq, cur.s.EventID, fmt.Sprintf("the records sealed at %d and %d were swapped", cur.s.Seq, next.s.Seq))
			v.pop()
			v.prev = linkWith(m, hb, &a)
			return true
		}
	}
	return false
}

// checkpointSays reports whether a valid checkpoint at seq has hash h.
func (v *verifier) checkpointSays(seq uint64, h []byte) bool {
	cp, ok := v.byCP[seq]
	return ok && bytes.Equal(cp.hash, h)
}

func (v *verifier) follows(prev []byte, next *storekit.Seal) bool {
	ok, _ := v.linkOK(prev, next)
	return ok
}

func (v *verifier) atCheckpoint(s *storekit.Seal) {
	if cp, ok := v.byCP[s.Seq]; ok {
		if !bytes.Equal(cp.hash, v.prev) {
			v.problem(ProblemBadCheckpoint, s.Seq, s.EventID, "the chain differs from a signed checkpoint: it was rewritten")
		} else {
			v.rep.Checkpoints++
		}
	}
}

// start anchors the chain at its first seal: genesis, or a checkpoint.
func (v *verifier) start(s *storekit.Seal) {
	v.started = true
	v.rep.FirstSeq = s.Seq
	if s.Seq == 1 {
		v.prev = make([]byte, sha256.Size)
		return
	}
	if s.Seq == 0 {
		return // reported as out of sequence
	}
	if cp, ok := v.byCP[s.Seq-1]; ok && cp.boundary {
		v.prev = cp.hash
		v.prevSeq = s.Seq - 1
		v.rep.Checkpoints++
		// retention removed the seals up to here with their records
		v.rep.Purged += v.prevSeq
		return
	}
	// the seals removed: from the newest retention checkpoint before
	var from uint64
	for seq, cp := range v.byCP {
		if cp.boundary && seq < s.Seq && seq > from {
			from = seq
		}
	}
	v.problem(ProblemDeletedSeal, from+1, uuid.UUID{}, fmt.Sprintf("the chain starts at seal %d with no retention checkpoint at %d: seals %d to %d were removed", s.Seq, s.Seq-1, from+1, s.Seq-1))
	v.rep.Purged += from
	v.prevSeq = s.Seq - 1
}

// tag returns the TenantTag of tenant under the key keyID; nil for no
// tenant or an unknown key.
func (v *verifier) tag(keyID, tenant string) []byte {
	if tenant == "" {
		return nil
	}
	c, ok := v.tags[keyID]
	if !ok {
		key, ok := v.opts.Keys[keyID]
		if !ok {
			return nil
		}
		if v.tags == nil {
			v.tags = map[string]*tagCache{}
		}
		c = &tagCache{mac: hmac.New(sha256.New, key)}
		v.tags[keyID] = c
	}
	return c.tag(tenant)
}

// cutoffOf returns the retention cutoff of the record s seals: its
// tenant's, when its TenantTag is that of a tenant some checkpoint lists,
// the default otherwise.
func (v *verifier) cutoffOf(s *storekit.Seal) time.Time {
	if len(s.TenantTag) > 0 {
		for t := range v.cut.tenants {
			if bytes.Equal(v.tag(s.KeyID, t), s.TenantTag) {
				return v.cut.of(t)
			}
		}
	}
	return v.cut.def
}

// resolveMissing reports the missing records that retention did not
// remove: changed ones (found under their ID with another OccurredAt),
// then deleted ones.
func (v *verifier) resolveMissing() {
	for _, m := range v.missing {
		switch {
		case m.r != nil:
			v.problem(ProblemModifiedEvent, m.s.Seq, m.s.EventID, fmt.Sprintf("the record's timestamp was changed from %s to %s",
				m.s.EventTime.Format(time.RFC3339Nano), m.r.OccurredAt.Format(time.RFC3339Nano)))
		case m.s.EventTime.Before(v.cutoffOf(&m.s)):
			v.rep.Purged++
		default:
			v.problem(ProblemDeletedEvent, m.s.Seq, m.s.EventID, "the sealed record is missing")
		}
	}
	v.missing = nil
}

// emptyChain handles a chain with no seal left: retention removed them
// all up to its newest boundary checkpoint, which is where it ends.
func (v *verifier) emptyChain() {
	if v.started {
		return
	}
	for seq, cp := range v.byCP {
		if cp.boundary && seq > v.prevSeq {
			v.prevSeq = seq
		}
	}
	v.rep.Purged += v.prevSeq
}

// finish checks the end of the chain against the checkpoints, in order.
func (v *verifier) finish() {
	last := v.prevSeq
	var after []uint64
	for seq := range v.byCP {
		if seq > last {
			after = append(after, seq)
		}
	}
	slices.Sort(after)
	for _, seq := range after {
		v.problem(ProblemTruncated, seq, uuid.UUID{}, fmt.Sprintf("a signed checkpoint is at seal %d, but the chain ends at %d", seq, last))
	}
}

func linkWith(m hash.Hash, prev []byte, s *storekit.Seal) []byte {
	m.Reset()
	var b [8]byte
	m.Write(prev)
	binary.BigEndian.PutUint64(b[:], s.Seq)
	m.Write(b[:])
	m.Write(s.EventID[:])
	binary.BigEndian.PutUint64(b[:], uint64(s.EventTime.UnixMicro()))
	m.Write(b[:])
	m.Write(s.Digest)
	if len(s.TenantTag) > 0 {
		// after the fixed-size fields, only when set: the seals made
		// before tags existed keep their hashes
		m.Write([]byte("tenant"))
		m.Write(s.TenantTag)
	}
	return m.Sum(nil)
}
