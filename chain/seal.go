package chain

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/chain/witness"
	"github.com/trailmark/audit/storekit"
)

// commitment returns what a checkpoint's signature covers of c.
func commitment(c *storekit.TenantCutoff) []byte {
	if c.TenantID == "" && c.Salt == nil {
		return c.Commitment
	}
	h := sha256.New()
	h.Write([]byte(tenantCutoffDomain))
	h.Write(c.Salt)
	h.Write([]byte(c.TenantID))
	return h.Sum(nil)
}

// redacted returns c without its tenant's ID: its commitment.
func redacted(c storekit.TenantCutoff) storekit.TenantCutoff {
	return storekit.TenantCutoff{PurgedBefore: c.PurgedBefore, Commitment: commitment(&c)}
}

// newTenantCutoffs returns the entries of a checkpoint for cutoffs, each
// with a fresh salt, in the order of their commitments.
func newTenantCutoffs(cutoffs map[string]time.Time) []storekit.TenantCutoff {
	if len(cutoffs) == 0 {
		return nil
	}
	out := make([]storekit.TenantCutoff, 0, len(cutoffs))
	for t, at := range cutoffs {
		salt := make([]byte, 16)
		rand.Read(salt)
		out = append(out, storekit.TenantCutoff{TenantID: t, Salt: salt, PurgedBefore: truncMicro(at)})
	}
	slices.SortFunc(out, func(a, b storekit.TenantCutoff) int { return bytes.Compare(commitment(&a), commitment(&b)) })
	return out
}

// HMACKey is a chain key with its ID. Keep keys out of the database; keep
// every key ever used, since verification needs the key of each seal.
type HMACKey struct {
	ID     string
	Secret []byte // at least 32 bytes
}

const (
	checkpointDomain   = "trailmark.checkpoint.v1\n"
	tenantDomain       = "trailmark.tenant.v1\n"
	tenantCutoffDomain = "trailmark.tenant-cutoff.v1\n"
)

// truncMicro returns t in UTC, truncated to the microsecond, without a
// monotonic clock reading, as the Logger stores times.
func truncMicro(t time.Time) time.Time {
	t = t.UTC().Round(0)
	return t.Add(-time.Duration(t.Nanosecond() % 1000))
}

// SigningKey is the Ed25519 key that signs checkpoints, with its ID.
type SigningKey struct {
	ID  string
	Key ed25519.PrivateKey
}

// tenantTag returns the TenantTag of tenant under key: nil for no tenant.
func tenantTag(mac hash.Hash, tenant string) []byte {
	if tenant == "" {
		return nil
	}
	mac.Reset()
	mac.Write([]byte(tenantDomain))
	mac.Write([]byte(tenant))
	return mac.Sum(nil)
}

// link computes hash_n from the previous hash and the seal's fields.
func link(key []byte, prev []byte, s *storekit.Seal) []byte {
	return linkWith(hmac.New(sha256.New, key), prev, s)
}

// signedBytes is what a checkpoint signature covers.
func signedBytes(c *storekit.Checkpoint) []byte {
	var buf bytes.Buffer
	buf.WriteString(checkpointDomain)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], c.Seq)
	buf.Write(b[:])
	buf.Write(c.Hash)
	binary.BigEndian.PutUint64(b[:], uint64(c.At.UnixMicro()))
	buf.Write(b[:])
	var purged int64
	if !c.PurgedBefore.IsZero() {
		purged = c.PurgedBefore.UnixMicro()
	}
	binary.BigEndian.PutUint64(b[:], uint64(purged))
	buf.Write(b[:])
	// one byte of flags: bit 0, a boundary; bit 1, tenant cutoffs follow
	// (a checkpoint without them has the bytes, and so the signature, it
	// always had)
	var flags byte
	if c.Boundary {
		flags |= 1
	}
	if len(c.TenantCutoffs) > 0 {
		flags |= 2
	}
	buf.WriteByte(flags)
	if len(c.TenantCutoffs) > 0 {
		binary.BigEndian.PutUint32(b[:4], uint32(len(c.TenantCutoffs)))
		buf.Write(b[:4])
		for i := range c.TenantCutoffs {
			e := &c.TenantCutoffs[i]
			cm := commitment(e)
			binary.BigEndian.PutUint32(b[:4], uint32(len(cm)))
			buf.Write(b[:4])
			buf.Write(cm)
			binary.BigEndian.PutUint64(b[:], uint64(e.PurgedBefore.UnixMicro()))
			buf.Write(b[:])
		}
	}
	buf.WriteString(c.SignerID)
	return buf.Bytes()
}

// Sign signs c with s.
func (s SigningKey) Sign(c *storekit.Checkpoint) {
	c.SignerID = s.ID
	c.Signature = ed25519.Sign(s.Key, signedBytes(c))
}

// VerifyCheckpoint checks that c carries a valid signature by one of keys
// (by signer ID): it returns nil if so, and an error saying why not (an
// unknown signer, a bad signature) otherwise.
func VerifyCheckpoint(c *storekit.Checkpoint, keys map[string]ed25519.PublicKey) error {
	pub, ok := keys[c.SignerID]
	if !ok {
		return fmt.Errorf("audit: checkpoint %d: unknown signer %q", c.Seq, c.SignerID)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, signedBytes(c), c.Signature) {
		return fmt.Errorf("audit: checkpoint %d: bad signature", c.Seq)
	}
	return nil
}

// SealerOptions configures a Sealer. The zero value (and nil) means the
// defaults: no SigningKey, so no checkpoints.
type SealerOptions struct {
	// SigningKey signs checkpoints, the chain's and the Merkle tree's
	// (see Origin). Without one, the Sealer writes none, retention cannot
	// run on its store, and the tree it keeps proves nothing to anyone.
	SigningKey *SigningKey
	// PublicKeys are the signers, by ID, whose stored checkpoints the
	// Sealer trusts, besides SigningKey's own key (pass the keys of earlier
	// signers after a rotation). Only a validly signed checkpoint steers
	// the Sealer: it refuses to seal below one (seals were removed),
	// carries its PurgedBefore on, and continues a chain that has no seal
	// left only from one (it refuses a checkpoint row no trusted signer
	// signed). Anyone able to insert a row may have written the others;
	// they are otherwise ignored (Verify reports them).
	PublicKeys map[string]ed25519.PublicKey
	// Interval is how often Run looks for records to seal. Default 1s.
	Interval time.Duration
	// BatchSize is the most records sealed in one step. Default 1000, or
	// what the store advises (storekit.SealBatchSizer): 5000 for
	// PostgreSQL. A step holds its records in memory.
	BatchSize int
	// CheckpointEvery is how often Run writes a checkpoint, when records
	// were sealed since the last one. Default 1m.
	CheckpointEvery time.Duration
	// Export, when set, receives each checkpoint Run writes, to keep it
	// off the database (a file, object storage, another system). An
	// error is reported to OnError; the checkpoint stays in the store.
	Export func(ctx context.Context, c storekit.Checkpoint) error
	// OnError is told of the errors of Run, which retries at the next
	// Interval; they are counted in Stats too. Default: print to standard
	// error, as the Logger does.
	OnError func(error)
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Origin names the log in the checkpoints of the Merkle tree that the
	// Sealer keeps over the seals of a storekit.TreeStore: the first line
	// of each C2SP checkpoint, and the name of its key (see
	// LogVerifier). A schema-less URL without spaces or plus signs.
	// Default DefaultOrigin.
	Origin string
	// ExportTree, when set, receives each signed tree checkpoint (a C2SP
	// signed note) after the sealing step that wrote it: one per step
	// that grew the tree, when a SigningKey is set. An error is reported
	// to OnError; the checkpoint stays in the store.
	ExportTree func(ctx context.Context, note []byte) error
	// Witnesses cosign the tree's checkpoints (C2SP tlog-witness: package
	// chain/witness; auditctl witness runs one). With witnesses, the
	// Sealer stores each tree checkpoint once the step that grew the tree
	// has committed and it has submitted the checkpoint to every witness
	// in turn, with a consistency proof from the last one the witness
	// cosigned; it stores and exports the checkpoint with the
	// cosignatures it got. A witness that refuses (the log forked: its
	// history was rewritten) or fails is reported to OnError, and the
	// checkpoint is stored without its cosignature. Needs a SigningKey,
	// and a store that implements storekit.TreeCheckpointWriter.
	Witnesses []*witness.Client
	// WitnessTimeout bounds each witness's answer. Default 10s.
	WitnessTimeout time.Duration
}

// Sealer seals the records of a SealStore into a hash chain. Run one in
// every instance of a service: the store lets one seal at a time (in
// PostgreSQL, by an advisory lock), the others wait their turn.
//
// A record stays unsealed from its commit until the next sealing step, at
// most Interval, unless the store holds it back: PostgreSQL seals in an
// order that commits cannot overtake, so a transaction that is still open
// holds back the records committed after it began, until it ends. Verify
// reports unsealed records older than its SealWindow.
//
// On shutdown, close the Logger first and the Sealer after it, so that the
// last records, the Logger's own stop among them, are sealed before the
// process exits (see Sealer.Close).
type Sealer struct {
	store storekit.SealStore
	key   HMACKey
	cfg   SealerOptions

	mu      sync.Mutex
	highest uint64 // the newest seal this Sealer has seen in the store or committed
	pending uint64 // the newest seal of the step in progress, not committed yet
	// the records of the step in progress sealed by sealDigest's second
	// form, with why their canonical form failed
	pendingUnsealable []unsealable

	loop sealerLoop // Run, Close and Stats

	// the validly signed stored checkpoints, read at the first sealing
	// step and at each checkpoint; guarded by mu
	loaded  bool
	keys    map[string]ed25519.PublicKey
	seen    map[string]bool   // checkpoints already checked, by signature
	trusted uint64            // the newest valid checkpoint's Seq
	vouched map[uint64][]byte // the Hash each valid checkpoint names, by Seq
	cut     cutoffs           // what the valid checkpoints say retention removed
	tags    tagCache          // TenantTags under key; guarded by mu

	// the Merkle tree of a TreeStore (tree.go), guarded by mu
	signer          note.Signer // signs tree checkpoints; nil without a SigningKey
	treeBehind      bool        // leaves are missing: backfillTree adds them
	frontier        map[int64]tlog.Hash
	frontierSize    int64 // the tree size frontier is of
	pendingFrontier map[int64]tlog.Hash
	pendingSize     int64
	pendingTree     *storekit.TreeCheckpoint // of the step in progress

	witnessMu    sync.Mutex // one cosigning at a time
	witnessSizes []int64    // the tree size each witness last cosigned, as far as the Sealer knows
}

// NewSealer returns a Sealer that seals store's records with key, the
// current chain key (KeyFile.Current): it needs an ID and a secret of at
// least 32 bytes. To rotate, start sealers with a new key (and a new ID);
// keep the old one for Verify. opts may be nil for the defaults;
// NewSealer copies it.
func NewSealer(store storekit.SealStore, key HMACKey, opts *SealerOptions) (*Sealer, error) {
	if store == nil {
		return nil, errors.New("audit: NewSealer: nil store")
	}
	if inner := unwrap(store); inner != audit.Store(store) {
		if _, ok := inner.(storekit.SealStore); !ok {
			return nil, fmt.Errorf("audit: NewSealer: %T keeps no hash chain (storekit.SealStore)", inner)
		}
	}
	if key.ID == "" || len(key.Secret) < 32 {
		return nil, errors.New("audit: NewSealer: the chain key needs an ID and a secret of at least 32 bytes")
	}
	var cfg SealerOptions
	if opts != nil {
		cfg = *opts
	}
	if cfg.SigningKey != nil && (cfg.SigningKey.ID == "" || len(cfg.SigningKey.Key) != ed25519.PrivateKeySize) {
		return nil, errors.New("audit: SealerOptions.SigningKey needs an ID and an Ed25519 private key")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
		if b, ok := unwrap(store).(storekit.SealBatchSizer); ok && b.SealBatchSize() > 0 {
			cfg.BatchSize = b.SealBatchSize()
		}
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Origin == "" {
		cfg.Origin = DefaultOrigin
	}
	if err := checkOrigin(cfg.Origin); err != nil {
		return nil, err
	}
	if cfg.OnError == nil {
		cfg.OnError = printError
	}
	if len(cfg.Witnesses) > 0 {
		if cfg.SigningKey == nil {
			return nil, errors.New("audit: NewSealer: Witnesses cosign the tree's checkpoints: set a SigningKey to sign them")
		}
		if _, ok := unwrap(store).(storekit.TreeCheckpointWriter); !ok {
			return nil, fmt.Errorf("audit: NewSealer: Witnesses: %T cannot store a cosigned checkpoint (storekit.TreeCheckpointWriter)", unwrap(store))
		}
		if slices.Contains(cfg.Witnesses, nil) {
			return nil, errors.New("audit: NewSealer: a nil witness Client")
		}
		cfg.Witnesses = slices.Clone(cfg.Witnesses)
	}
	if cfg.WitnessTimeout <= 0 {
		cfg.WitnessTimeout = 10 * time.Second
	}
	keys := make(map[string]ed25519.PublicKey, len(cfg.PublicKeys)+1)
	for id, k := range cfg.PublicKeys {
		keys[id] = k
	}
	if cfg.SigningKey != nil {
		keys[cfg.SigningKey.ID] = cfg.SigningKey.Key.Public().(ed25519.PublicKey)
	}
	s := &Sealer{store: store, key: HMACKey{ID: key.ID, Secret: bytes.Clone(key.Secret)}, cfg: cfg, keys: keys, seen: map[string]bool{}, treeBehind: true, frontierSize: -1,
		witnessSizes: make([]int64, len(cfg.Witnesses))}
	if cfg.SigningKey != nil {
		signer, err := checkpoint.NewSigner(cfg.Origin, cfg.SigningKey.Key)
		if err != nil {
			return nil, fmt.Errorf("audit: NewSealer: %w", err)
		}
		s.signer = signer
	}
	s.tags.mac = hmac.New(sha256.New, key.Secret)
	s.loop.stopped, s.loop.stop = context.WithCancel(context.Background())
	return s, nil
}

// readCheckpoints reads the stored checkpoints and keeps what the validly
// signed ones say; it ignores the others.
func (s *Sealer) readCheckpoints(ctx context.Context) error {
	cps, err := s.store.Checkpoints(ctx)
	if err != nil {
		return fmt.Errorf("audit: reading checkpoints: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range cps {
		c := &cps[i]
		id := string(c.Signature)
		if s.seen[id] || VerifyCheckpoint(c, s.keys) != nil {
			continue
		}
		s.seen[id] = true
		s.trust(c)
	}
	s.loaded = true
	return nil
}

// trust keeps what the validly signed checkpoint c says; s.mu is held.
func (s *Sealer) trust(c *storekit.Checkpoint) {
	s.trusted = max(s.trusted, c.Seq)
	s.cut.add(c)
	if s.vouched == nil {
		s.vouched = map[uint64][]byte{}
	}
	if _, ok := s.vouched[c.Seq]; !ok {
		s.vouched[c.Seq] = c.Hash
	}
}

// unsignedStartError is the refusal to continue a chain that has no seal
// left from a checkpoint row that no trusted signer signed.
type unsignedStartError struct{ seq uint64 }

func (e unsignedStartError) Error() string {
	return fmt.Sprintf("refusing to seal: the chain has no seal, and the store would continue it from a checkpoint at seal %d that no trusted signer signed (an inserted row?); run Verify", e.seq)
}

// checkStart refuses last when it is not a seal but a checkpoint row
// (the store has no seal left) that no validly signed checkpoint bears
// out: anyone who can insert a row could have written it. s.mu is held.
func (s *Sealer) checkStart(last storekit.Seal) error {
	if last.Seq == 0 || last.KeyID != "" {
		return nil
	}
	if h, ok := s.vouched[last.Seq]; ok && bytes.Equal(h, last.Hash) {
		return nil
	}
	return unsignedStartError{last.Seq}
}

// SealOnce seals every record waiting now, in steps of BatchSize, and
// returns how many it sealed. It returns early, with what it sealed, when
// another sealer holds the lock.
func (s *Sealer) SealOnce(ctx context.Context) (int, error) {
	s.mu.Lock()
	loaded := s.loaded
	s.mu.Unlock()
	if !loaded {
		if err := s.readCheckpoints(ctx); err != nil {
			return 0, fmt.Errorf("audit: seal: %w", err)
		}
	}
	total := 0
	defer func() { s.loop.sealed(s.cfg.Now(), total) }()
	reread := false
	// the store itself, not a wrapper that passes its sealing through
	// (siem.Tee): whether it keeps a tree is the store's to say
	ts, _ := unwrap(s.store).(storekit.TreeStore)
	step := s.seal
	if ts != nil {
		step = s.sealTree
		// another sealer may have grown the tree since this one's step
		if err := s.loadFrontier(ctx, ts); err != nil {
			return 0, fmt.Errorf("audit: seal: %w", err)
		}
	}
	for {
		s.mu.Lock()
		behind := s.treeBehind
		s.mu.Unlock()
		if ts != nil && behind {
			if err := s.backfillTree(ctx, ts); err != nil {
				return total, fmt.Errorf("audit: seal: %w", err)
			}
		}
		n, err := s.store.SealNext(ctx, s.cfg.BatchSize, step)
		total += n
		if errors.As(err, new(unsignedStartError)) && !reread {
			// a checkpoint written since they were read (retention's, by
			// another process) may bear the start out
			reread = true
			if err := s.readCheckpoints(ctx); err != nil {
				return total, fmt.Errorf("audit: seal: %w", err)
			}
			continue
		}
		if err == nil && n > 0 {
			s.mu.Lock()
			s.highest = max(s.highest, s.pending)
			bad := s.pendingUnsealable
			s.pendingUnsealable = nil
			s.mu.Unlock()
			s.reportUnsealable(bad)
			if ts != nil {
				s.treeCommitted(ctx)
			}
		}
		if err != nil {
			return total, fmt.Errorf("audit: seal: %w", err)
		}
		s.mu.Lock()
		behind = s.treeBehind
		s.mu.Unlock()
		if ts != nil && behind {
			if err := s.backfillTree(ctx, ts); err != nil {
				return total, fmt.Errorf("audit: seal: %w", err)
			}
		}
		if n < s.cfg.BatchSize {
			return total, nil
		}
	}
}

func (s *Sealer) seal(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if last.Seq < s.highest {
		return nil, fmt.Errorf("refusing to seal: the chain ends at seal %d, but this sealer saw seal %d: seals were removed; run Verify", last.Seq, s.highest)
	}
	if last.Seq < s.trusted {
		return nil, fmt.Errorf("refusing to seal: the chain ends at seal %d, before the signed checkpoint at %d: seals were removed; run Verify", last.Seq, s.trusted)
	}
	if err := s.checkStart(last); err != nil {
		return nil, err
	}
	s.highest = max(s.highest, last.Seq) // what the store showed; SealOnce adds what it committed
	s.pending = last.Seq + uint64(len(recs))
	prev := last.Hash
	if last.Seq == 0 {
		prev = make([]byte, sha256.Size)
	}
	now := truncMicro(s.cfg.Now())
	digests, bad := digestAll(recs)
	s.pendingUnsealable = bad
	mac := hmac.New(sha256.New, s.key.Secret)
	seals := make([]storekit.Seal, len(recs))
	for i := range recs {
		sl := &seals[i]
		*sl = storekit.Seal{
			Seq: last.Seq + uint64(i) + 1, EventID: recs[i].ID, EventTime: truncMicro(recs[i].OccurredAt),
			Digest: digests[i], KeyID: s.key.ID, SealedAt: now, TenantTag: s.tags.tag(recs[i].TenantID),
		}
		sl.Hash = linkWith(mac, prev, sl)
		prev = sl.Hash
	}
	return seals, nil
}

// unsealable is a record sealed by the digest of its stored form.
type unsealable struct {
	id  uuid.UUID
	err error // why its canonical form failed
}

// digestAll returns the digest a seal covers of each record (sealDigest),
// and the records that are unsealable, in order. The digests do not
// depend on each other (only the links of the chain do), so a large batch
// is hashed on every core.
func digestAll(recs []audit.Record) ([][]byte, []unsealable) {
	out := make([][]byte, len(recs))
	parts := min(runtime.GOMAXPROCS(0), len(recs)/256+1)
	bad := make([][]unsealable, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*len(recs)/parts, (p+1)*len(recs)/parts
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				d, u := storekit.SealDigest(&recs[i])
				if u {
					_, err := storekit.Digest(&recs[i])
					bad[p] = append(bad[p], unsealable{recs[i].ID, err})
				}
				out[i] = d
			}
		})
	}
	wg.Wait()
	return out, slices.Concat(bad...)
}

// reportUnsealable counts the unsealable records of a committed step in
// Stats and tells OnError of each: they entered the store around every
// door, and the owner must look at them (docs/operations.md).
func (s *Sealer) reportUnsealable(bad []unsealable) {
	if len(bad) == 0 {
		return
	}
	s.loop.mu.Lock()
	s.loop.stats.Unsealable += uint64(len(bad))
	s.loop.mu.Unlock()
	for _, u := range bad {
		s.cfg.OnError(fmt.Errorf("audit: seal: %s: record %s cannot be put in canonical form (%w): sealed by the digest of its stored form; it entered the store around every door (see Unsealable records in docs/operations.md)", ProblemUnsealable, u.id, u.err))
	}
}

// Checkpoint signs and stores a checkpoint at the newest seal, after
// sealing what is waiting. purgedBefore is the retention cutoff to state
// (zero for none beyond the previous checkpoint's). It needs a SigningKey.
func (s *Sealer) Checkpoint(ctx context.Context, purgedBefore time.Time) (storekit.Checkpoint, error) {
	if s.cfg.SigningKey == nil {
		return storekit.Checkpoint{}, errors.New("audit: checkpoint: the Sealer has no SigningKey")
	}
	if _, err := s.SealOnce(ctx); err != nil {
		return storekit.Checkpoint{}, err
	}
	last, err := lastSeal(ctx, s.store)
	if err != nil {
		return storekit.Checkpoint{}, err
	}
	if err := s.readCheckpoints(ctx); err != nil {
		return storekit.Checkpoint{}, fmt.Errorf("audit: checkpoint: %w", err)
	}
	s.mu.Lock()
	highest, trusted, def, tenants := s.highest, s.trusted, s.cut.def, s.cut.listed()
	start := s.checkStart(last)
	s.mu.Unlock()
	if last.Seq < max(highest, trusted) {
		return storekit.Checkpoint{}, fmt.Errorf("audit: checkpoint: the chain ends at seal %d, but this sealer saw seal %d: seals were removed; run Verify", last.Seq, max(highest, trusted))
	}
	if start != nil {
		return storekit.Checkpoint{}, fmt.Errorf("audit: checkpoint: %w", start)
	}
	// what the signed checkpoints say retention removed still holds, the
	// tenants' own cutoffs too
	return s.checkpointAt(ctx, last, later(def, purgedBefore), tenants, false)
}

func (s *Sealer) checkpointAt(ctx context.Context, at storekit.Seal, purgedBefore time.Time, tenants map[string]time.Time, boundary bool) (storekit.Checkpoint, error) {
	c := storekit.Checkpoint{Seq: at.Seq, Hash: at.Hash, At: truncMicro(s.cfg.Now()), PurgedBefore: purgedBefore, Boundary: boundary}
	if c.Seq == 0 {
		c.Hash = make([]byte, sha256.Size)
	}
	if !purgedBefore.IsZero() {
		c.PurgedBefore = truncMicro(purgedBefore)
	}
	c.TenantCutoffs = newTenantCutoffs(tenants)
	s.cfg.SigningKey.Sign(&c)
	if err := s.store.AppendCheckpoint(ctx, c); err != nil {
		return storekit.Checkpoint{}, fmt.Errorf("audit: checkpoint: %w", err)
	}
	s.mu.Lock()
	s.trust(&c) // its own: a chain purged up to it goes on from it
	s.mu.Unlock()
	return c, nil
}

// lastSeal returns the newest seal of store, by sealing nothing.
func lastSeal(ctx context.Context, store storekit.SealStore) (storekit.Seal, error) {
	var last storekit.Seal
	_, err := store.SealNext(ctx, 0, func(l storekit.Seal, _ []audit.Record) ([]storekit.Seal, error) {
		last = l
		return nil, nil
	})
	if err != nil {
		return storekit.Seal{}, fmt.Errorf("audit: reading the newest seal: %w", err)
	}
	return last, nil
}
