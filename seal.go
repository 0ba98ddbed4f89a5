package audit

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit/internal/canonical"
)

// Tamper evidence.
//
// Every stored record gets a position in one sequence and a seal. A seal
// links the record to the one before it:
//
//	digest_n = SHA-256(canonical(record_n))
//	hash_n   = HMAC-SHA256(key, hash_{n-1} ‖ seq_n ‖ id_n ‖ time_n ‖ digest_n)
//
// with hash_0 all zeros. The key lives outside the database; whoever can
// change the database but not read the key cannot change, remove, insert
// or reorder a record without breaking the chain. Checkpoints (a sequence
// number and its hash) are signed with Ed25519 and kept off the database
// too, so that removing the newest records and their seals is detected
// as well.

// Seal is the chain link of one record.
type Seal struct {
	Seq       uint64    `json:"seq"`        // position in the chain, from 1
	EventID   uuid.UUID `json:"event_id"`   // the sealed record
	EventTime time.Time `json:"event_time"` // its OccurredAt: says whether retention may have removed it
	Digest    []byte    `json:"digest"`     // SHA-256 of the record's canonical form
	KeyID     string    `json:"key_id"`     // the HMAC key that made Hash
	Hash      []byte    `json:"hash"`       // the chain value after this record
	SealedAt  time.Time `json:"sealed_at"`  // when the sealer wrote it
	// TenantTag names the record's tenant without spelling it:
	// HMAC-SHA256 under the seal's key of "trailmark.tenant.v1\n" and the
	// TenantID. Empty for a record without a tenant, and in the seals
	// made before tags existed. The link covers it when it is not empty,
	// so that Verify knows, for a missing record, whose retention applies
	// (RetentionOptions.TenantMaxAge), and a tenant's export knows which
	// positions are the tenant's.
	TenantTag []byte `json:"tenant_tag,omitempty"`
}

// Checkpoint is a signed statement of the chain's state: the hash after
// record Seq, and that records older than PurgedBefore may have been
// removed by retention. A Boundary checkpoint, written by retention, also
// says that the seals up to Seq may be removed: verification may start
// after it, and only after such a checkpoint. Verify checks the newest
// exported checkpoints against the store, so that deleting the newest
// records is detected.
type Checkpoint struct {
	Seq          uint64    `json:"seq"`
	Hash         []byte    `json:"hash"`
	At           time.Time `json:"at"`
	PurgedBefore time.Time `json:"purged_before,omitzero"`
	Boundary     bool      `json:"boundary,omitempty"`
	// TenantCutoffs are the retention cutoffs of the tenants that have a
	// retention of their own (RetentionOptions.TenantMaxAge): a sealed
	// record of such a tenant (its seal's TenantTag says whose it is) may
	// be missing when it occurred before its tenant's cutoff; every other
	// record, before PurgedBefore. Signed, and carried on by every later
	// checkpoint. The signature covers a salted commitment to each
	// tenant's ID, so that a tenant's export can show its own cutoff and
	// leave the other tenants' IDs out.
	TenantCutoffs []TenantCutoff `json:"tenant_cutoffs,omitempty"`
	SignerID      string         `json:"signer_id"`
	Signature     []byte         `json:"signature"`
}

// TenantCutoff is the retention cutoff of one tenant in a Checkpoint.
type TenantCutoff struct {
	TenantID string `json:"tenant_id,omitempty"`
	// Salt is random, per checkpoint and tenant: the commitment does not
	// let anyone confirm a guess of a tenant ID left out.
	Salt         []byte    `json:"salt,omitempty"`
	PurgedBefore time.Time `json:"purged_before"`
	// Commitment stands for TenantID and Salt where they are left out
	// (the other tenants' cutoffs in a tenant's export): SHA-256 of
	// "trailmark.tenant-cutoff.v1\n", Salt and TenantID. The signature
	// covers it; with TenantID and Salt present it is computed from them.
	Commitment []byte `json:"commitment,omitempty"`
}

// commitment returns what a checkpoint's signature covers of c.
func (c *TenantCutoff) commitment() []byte {
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
func (c TenantCutoff) redacted() TenantCutoff {
	return TenantCutoff{PurgedBefore: c.PurgedBefore, Commitment: c.commitment()}
}

// newTenantCutoffs returns the entries of a checkpoint for cutoffs, each
// with a fresh salt, in the order of their commitments.
func newTenantCutoffs(cutoffs map[string]time.Time) []TenantCutoff {
	if len(cutoffs) == 0 {
		return nil
	}
	out := make([]TenantCutoff, 0, len(cutoffs))
	for t, at := range cutoffs {
		salt := make([]byte, 16)
		rand.Read(salt)
		out = append(out, TenantCutoff{TenantID: t, Salt: salt, PurgedBefore: truncMicro(at)})
	}
	slices.SortFunc(out, func(a, b TenantCutoff) int { return bytes.Compare(a.commitment(), b.commitment()) })
	return out
}

// HMACKey is a chain key with its ID. Keep keys out of the database; keep
// every key ever used, since verification needs the key of each seal.
type HMACKey struct {
	ID     string
	Secret []byte // at least 32 bytes
}

// Signer signs checkpoints.
type Signer struct {
	ID  string
	Key ed25519.PrivateKey
}

// SealStore is a Store that keeps a hash chain over its records. The
// Sealer writes the chain; Verify reads it.
type SealStore interface {
	Store
	// SealNext runs one sealing step as the only sealer: within the
	// store's sealing lock it calls fn with the newest seal (its Seq,
	// Hash and KeyID at least; Seq 0 if none) and up to max committed
	// records that have no seal yet, in the order they must be sealed,
	// and stores the seals fn returns, all or nothing. It returns how
	// many it stored; 0, without calling fn, when nothing is waiting or
	// another sealer holds the lock. With max 0 it calls fn with the
	// newest seal and no records. When no seal is left (retention removed
	// them all), the newest seal is the Seq and Hash of the newest
	// checkpoint, with no KeyID. The store must not refuse to seal
	// because of a stored checkpoint: it cannot tell a signed one from a
	// forged row; the Sealer checks the signatures, refuses a rewound
	// chain, and continues from a checkpoint only if a validly signed one
	// names that Seq and Hash.
	SealNext(ctx context.Context, max int, fn func(last Seal, recs []Record) ([]Seal, error)) (int, error)
	// ScanChain calls fn for every seal with Seq >= from, in order, with
	// the record it seals (the one with the seal's EventID and
	// EventTime), or nil if the store does not hold it. Details and
	// Changes are canonical JSON, nil when absent.
	ScanChain(ctx context.Context, from uint64, fn func(s Seal, r *Record) error) error
	// ScanUnsealed calls fn for every record that no seal names (by ID
	// and OccurredAt, as ScanChain matches them).
	ScanUnsealed(ctx context.Context, fn func(r *Record) error) error
	// AppendCheckpoint stores a checkpoint.
	AppendCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints returns the stored checkpoints, oldest first.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// ChainPurger is a SealStore that can remove the oldest seals once a
// checkpoint covers them. Only retention calls it.
type ChainPurger interface {
	// PurgeSeals deletes the seals with Seq <= through and returns how
	// many it deleted. The store must hold a checkpoint at Seq through.
	PurgeSeals(ctx context.Context, through uint64) (int64, error)
}

const (
	recordDomain     = "trailmark.record.v1\n"
	unsealableDomain = "trailmark.unsealable-record.v1\n"
	checkpointDomain = "trailmark.checkpoint.v1\n"
	tenantDomain     = "trailmark.tenant.v1\n"

	tenantCutoffDomain = "trailmark.tenant-cutoff.v1\n"
)

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

// Digest returns the SHA-256 of r's canonical form: every field of the
// record in a fixed order, Details and Changes in canonical JSON (nil,
// empty and null alike: absent; {} is an empty object), times in
// microseconds; TenantID, TraceID and SpanID follow as tagged fields, only
// when set, so that the records sealed before they existed keep their
// digests. A record read back from any store (PostgreSQL jsonb
// reorders keys and rewrites white space) has the digest it had when it
// was written.
func Digest(r *Record) ([]byte, error) {
	h := sha256.New()
	if err := writeCanonical(h, r, recordDomain, digestJSON); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// sealDigest returns the digest a seal of r covers, and whether r is
// unsealable: its Digest when r can be put in canonical form; otherwise
// (Details or Changes nested deeper than MaxRecordDepth, or not JSON:
// what Record.Validate refuses at every door, stored around them) the
// digest of its stored form, under a domain of its own: every field as
// Digest writes it, but Details and Changes each canonical where it can
// be and flat where not (canonical.Flat: white space removed, strings
// re-encoded, in one pass however deep). Which of the two a seal covers
// follows from the record itself, so Verify recomputes the same; a
// change to the record, to either form, changes the digest.
func sealDigest(r *Record) (d []byte, unsealable bool) {
	d, err := Digest(r)
	if err == nil {
		return d, false
	}
	h := sha256.New()
	writeCanonical(h, r, unsealableDomain, flatJSON) // flatJSON never fails
	return h.Sum(nil), true
}

// flatJSON is the form of Details or Changes that an unsealable record's
// digest covers: digestJSON's, or canonical.Flat of what it cannot encode.
func flatJSON(j json.RawMessage) ([]byte, error) {
	if c, err := digestJSON(j); err == nil {
		return c, nil
	}
	return canonical.Flat(j), nil
}

func writeCanonical(h hash.Hash, r *Record, domain string, jsonForm func(json.RawMessage) ([]byte, error)) error {
	var n [8]byte
	field := func(b []byte) {
		binary.BigEndian.PutUint32(n[:4], uint32(len(b)))
		h.Write(n[:4])
		h.Write(b)
	}
	str := func(s string) { field([]byte(s)) }
	micros := func(t time.Time) {
		binary.BigEndian.PutUint64(n[:], uint64(t.UnixMicro()))
		field(n[:])
	}
	h.Write([]byte(domain))
	field(r.ID[:])
	micros(r.OccurredAt)
	micros(r.RecordedAt)
	str(r.UserID)
	str(r.UserEmail)
	if r.IPAddress.IsValid() {
		str(r.IPAddress.Unmap().String())
	} else {
		str("")
	}
	str(r.UserAgent)
	str(string(r.Action))
	str(r.ResourceType)
	str(r.ResourceID)
	for _, j := range []json.RawMessage{r.Details, r.Changes} {
		c, err := jsonForm(j)
		if err != nil {
			return fmt.Errorf("audit: digest of %s: %w", r.ID, err)
		}
		field(c)
	}
	str(r.RequestID)
	str(r.SessionID)
	str(string(r.Status))
	str(r.ErrorMessage)
	// The fields added after the first release follow as tagged pairs
	// (tag, value), in this order, each only when its value is not empty:
	// a record without them has the encoding, and so the digest, it always
	// had. Every field is length-prefixed, so the encoding stays
	// unambiguous: one more pair is two more fields, and the tags say
	// which pairs are present.
	for _, x := range [...]struct{ tag, v string }{
		{"tenant_id", r.TenantID}, {"trace_id", r.TraceID}, {"span_id", r.SpanID},
	} {
		if x.v != "" {
			str(x.tag)
			str(x.v)
		}
	}
	return nil
}

// digestJSON is the form of Details or Changes that Digest covers: the
// canonical JSON, with absent, empty and JSON null all the same (absent),
// since a record without Details reads back from an export, or a jsonb
// column, as null.
func digestJSON(j json.RawMessage) ([]byte, error) {
	c, err := canonical.Bytes(j)
	if err != nil || string(c) == "null" {
		return nil, err
	}
	return c, nil
}

// link computes hash_n from the previous hash and the seal's fields.
func link(key []byte, prev []byte, s *Seal) []byte {
	return linkWith(hmac.New(sha256.New, key), prev, s)
}

// signedBytes is what a checkpoint signature covers.
func (c *Checkpoint) signedBytes() []byte {
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
			cm := e.commitment()
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
func (s Signer) Sign(c *Checkpoint) {
	c.SignerID = s.ID
	c.Signature = ed25519.Sign(s.Key, c.signedBytes())
}

// VerifyCheckpoint checks that c carries a valid signature by one of keys
// (by signer ID): it returns nil if so, and an error saying why not (an
// unknown signer, a bad signature) otherwise.
func VerifyCheckpoint(c *Checkpoint, keys map[string]ed25519.PublicKey) error {
	pub, ok := keys[c.SignerID]
	if !ok {
		return fmt.Errorf("audit: checkpoint %d: unknown signer %q", c.Seq, c.SignerID)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, c.signedBytes(), c.Signature) {
		return fmt.Errorf("audit: checkpoint %d: bad signature", c.Seq)
	}
	return nil
}

// SealerOptions configures a Sealer. Key is required; the other fields'
// zero values mean their defaults.
type SealerOptions struct {
	// Key is the current chain key. Required. To rotate, start sealers
	// with a new key (and a new ID); keep the old one for Verify.
	Key HMACKey
	// Signer signs checkpoints. Without one, the Sealer writes none.
	Signer *Signer
	// PublicKeys are the signers, by ID, whose stored checkpoints the
	// Sealer trusts, besides Signer's own key (pass the keys of earlier
	// signers after a rotation). Only a validly signed checkpoint steers
	// the Sealer: it refuses to seal below one (seals were removed),
	// carries its PurgedBefore on, and continues a chain that has no seal
	// left only from one (it refuses a checkpoint row no trusted signer
	// signed). Anyone able to insert a row may have written the others;
	// they are otherwise ignored (Verify reports them).
	PublicKeys map[string]ed25519.PublicKey
	// Interval is how often Run looks for records to seal. Default 1s.
	Interval time.Duration
	// BatchSize is the most records sealed in one step. Default 1000.
	BatchSize int
	// CheckpointEvery is how often Run writes a checkpoint, when records
	// were sealed since the last one. Default 1m.
	CheckpointEvery time.Duration
	// Export, when set, receives each checkpoint Run writes, to keep it
	// off the database (a file, object storage, another system). An
	// error is reported to OnError; the checkpoint stays in the store.
	Export func(ctx context.Context, c Checkpoint) error
	// OnError is told of the errors of Run, which retries at the next
	// Interval; they are counted in Stats too. Default: print to standard
	// error, as the Logger does.
	OnError func(error)
	// Now is the clock. Default time.Now.
	Now func() time.Time
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
	store SealStore
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
	tags    tagCache          // TenantTags under Key; guarded by mu
}

// NewSealer returns a Sealer for store. opts is required, for its Key;
// NewSealer copies it.
func NewSealer(store SealStore, opts *SealerOptions) (*Sealer, error) {
	if store == nil {
		return nil, errors.New("audit: NewSealer: nil store")
	}
	if opts == nil {
		return nil, errors.New("audit: NewSealer: nil SealerOptions: the Key is required")
	}
	cfg := *opts
	if cfg.Key.ID == "" || len(cfg.Key.Secret) < 32 {
		return nil, errors.New("audit: SealerOptions.Key needs an ID and a secret of at least 32 bytes")
	}
	if cfg.Signer != nil && (cfg.Signer.ID == "" || len(cfg.Signer.Key) != ed25519.PrivateKeySize) {
		return nil, errors.New("audit: SealerOptions.Signer needs an ID and an Ed25519 private key")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnError == nil {
		cfg.OnError = printError
	}
	keys := make(map[string]ed25519.PublicKey, len(cfg.PublicKeys)+1)
	for id, k := range cfg.PublicKeys {
		keys[id] = k
	}
	if cfg.Signer != nil {
		keys[cfg.Signer.ID] = cfg.Signer.Key.Public().(ed25519.PublicKey)
	}
	s := &Sealer{store: store, cfg: cfg, keys: keys, seen: map[string]bool{}}
	s.tags.mac = hmac.New(sha256.New, cfg.Key.Secret)
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
func (s *Sealer) trust(c *Checkpoint) {
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
func (s *Sealer) checkStart(last Seal) error {
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
	for {
		n, err := s.store.SealNext(ctx, s.cfg.BatchSize, s.seal)
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
		}
		if err != nil {
			return total, fmt.Errorf("audit: seal: %w", err)
		}
		if n < s.cfg.BatchSize {
			return total, nil
		}
	}
}

func (s *Sealer) seal(last Seal, recs []Record) ([]Seal, error) {
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
	mac := hmac.New(sha256.New, s.cfg.Key.Secret)
	seals := make([]Seal, len(recs))
	for i := range recs {
		sl := &seals[i]
		*sl = Seal{
			Seq: last.Seq + uint64(i) + 1, EventID: recs[i].ID, EventTime: truncMicro(recs[i].OccurredAt),
			Digest: digests[i], KeyID: s.cfg.Key.ID, SealedAt: now, TenantTag: s.tags.tag(recs[i].TenantID),
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
func digestAll(recs []Record) ([][]byte, []unsealable) {
	out := make([][]byte, len(recs))
	parts := min(runtime.GOMAXPROCS(0), len(recs)/256+1)
	bad := make([][]unsealable, parts)
	var wg sync.WaitGroup
	for p := range parts {
		lo, hi := p*len(recs)/parts, (p+1)*len(recs)/parts
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				d, u := sealDigest(&recs[i])
				if u {
					_, err := Digest(&recs[i])
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
// (zero for none beyond the previous checkpoint's). It needs a Signer.
func (s *Sealer) Checkpoint(ctx context.Context, purgedBefore time.Time) (Checkpoint, error) {
	if s.cfg.Signer == nil {
		return Checkpoint{}, errors.New("audit: checkpoint: the Sealer has no Signer")
	}
	if _, err := s.SealOnce(ctx); err != nil {
		return Checkpoint{}, err
	}
	last, err := lastSeal(ctx, s.store)
	if err != nil {
		return Checkpoint{}, err
	}
	if err := s.readCheckpoints(ctx); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint: %w", err)
	}
	s.mu.Lock()
	highest, trusted, def, tenants := s.highest, s.trusted, s.cut.def, s.cut.listed()
	start := s.checkStart(last)
	s.mu.Unlock()
	if last.Seq < max(highest, trusted) {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint: the chain ends at seal %d, but this sealer saw seal %d: seals were removed; run Verify", last.Seq, max(highest, trusted))
	}
	if start != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint: %w", start)
	}
	// what the signed checkpoints say retention removed still holds, the
	// tenants' own cutoffs too
	return s.checkpointAt(ctx, last, later(def, purgedBefore), tenants, false)
}

func (s *Sealer) checkpointAt(ctx context.Context, at Seal, purgedBefore time.Time, tenants map[string]time.Time, boundary bool) (Checkpoint, error) {
	c := Checkpoint{Seq: at.Seq, Hash: at.Hash, At: truncMicro(s.cfg.Now()), PurgedBefore: purgedBefore, Boundary: boundary}
	if c.Seq == 0 {
		c.Hash = make([]byte, sha256.Size)
	}
	if !purgedBefore.IsZero() {
		c.PurgedBefore = truncMicro(purgedBefore)
	}
	c.TenantCutoffs = newTenantCutoffs(tenants)
	s.cfg.Signer.Sign(&c)
	if err := s.store.AppendCheckpoint(ctx, c); err != nil {
		return Checkpoint{}, fmt.Errorf("audit: checkpoint: %w", err)
	}
	s.mu.Lock()
	s.trust(&c) // its own: a chain purged up to it goes on from it
	s.mu.Unlock()
	return c, nil
}

// lastSeal returns the newest seal of store, by sealing nothing.
func lastSeal(ctx context.Context, store SealStore) (Seal, error) {
	var last Seal
	_, err := store.SealNext(ctx, 0, func(l Seal, _ []Record) ([]Seal, error) {
		last = l
		return nil, nil
	})
	if err != nil {
		return Seal{}, fmt.Errorf("audit: reading the newest seal: %w", err)
	}
	return last, nil
}
