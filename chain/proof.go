package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/chain/witness"
	"github.com/trailmark/audit/internal/strictjson"
	"github.com/trailmark/audit/storekit"
)

// The Format of each proof, so that a reader can tell them apart and a
// later version can change them.
const (
	InclusionFormat   = "trailmark.inclusion-proof.v1"
	ConsistencyFormat = "trailmark.consistency-proof.v1"
)

// ErrTreeSize is the category of the errors ProveConsistency returns for
// a size outside the tree of its checkpoint.
var ErrTreeSize = errors.New("audit: tree size out of range")

// ErrProof is the category of the errors VerifyInclusion and
// VerifyConsistency return when a proof does not hold: the record, the
// proof or the checkpoint is not what the log signed.
var ErrProof = errors.New("audit: proof does not verify")

// An InclusionProof proves that a record is leaf Index of the Merkle tree
// of a signed checkpoint. Anyone holding the record, the proof and the
// log's public key checks it (VerifyInclusion); neither the HMAC secret
// of the chain nor any other record is needed, and the proof reveals
// nothing about other records: the tree's leaves are salted commitments.
//
// In JSON, byte strings are standard base64 and Checkpoint is the text of
// the signed note (docs/tamper-evidence.md, "Proofs anyone can check").
type InclusionProof struct {
	Format   string    `json:"format"`    // InclusionFormat
	RecordID uuid.UUID `json:"record_id"` // the record proved
	Index    int64     `json:"index"`     // its leaf: its seal's Seq - 1
	// Salt opens the record's commitment: SHA-256("trailmark.leaf.v1\n" ‖
	// Salt ‖ storekit.SealDigest(record)). It is secret: hand it only to
	// whoever may read the record.
	Salt     []byte   `json:"salt"`
	TreeSize int64    `json:"tree_size"` // the size of Checkpoint's tree
	Hashes   [][]byte `json:"hashes"`    // the RFC 6962 audit path, as tlog.ProveRecord makes it
	// Checkpoint is the signed note of the tree of TreeSize leaves: a C2SP
	// checkpoint signed by the log's key.
	Checkpoint string `json:"checkpoint"`
	// Record is the record, when the proof travels with it (the admin
	// API's and auditctl's proofs do); VerifyInclusion checks the record
	// it is given, not this one.
	Record *audit.Record `json:"record,omitempty"`
}

// UnmarshalJSON decodes p as encoding/json does, but refuses a document
// that other readers may read differently: an object with a member
// twice, or, outside Details and Changes, members whose names differ only
// in case (encoding/json would take the last for the field, jq and
// JavaScript show the first): a proof would otherwise verify one record
// and show another.
func (p *InclusionProof) UnmarshalJSON(b []byte) error {
	type plain InclusionProof
	if err := strictjson.Unmarshal(b, (*plain)(p), "details", "changes"); err != nil {
		return fmt.Errorf("audit: inclusion proof: %w", err)
	}
	return nil
}

// UnmarshalJSON decodes p as encoding/json does, but refuses a document
// with a member twice or members whose names differ only in case, as
// InclusionProof.UnmarshalJSON does.
func (p *ConsistencyProof) UnmarshalJSON(b []byte) error {
	type plain ConsistencyProof
	if err := strictjson.Unmarshal(b, (*plain)(p)); err != nil {
		return fmt.Errorf("audit: consistency proof: %w", err)
	}
	return nil
}

// A ConsistencyProof proves that the tree of From leaves is a prefix of the
// tree of To leaves: that the log only grew between the two checkpoints.
type ConsistencyProof struct {
	Format string   `json:"format"` // ConsistencyFormat
	From   int64    `json:"from"`
	To     int64    `json:"to"`
	Hashes [][]byte `json:"hashes"` // as tlog.ProveTree makes them
	// FromCheckpoint is the log's signed checkpoint at From, when it has
	// one; a verifier that kept its own passes that instead.
	FromCheckpoint string `json:"from_checkpoint,omitempty"`
	Checkpoint     string `json:"checkpoint"` // the signed checkpoint at To
}

// hashReader reads a store's stored hashes as a tlog.HashReader.
func hashReader(ctx context.Context, r storekit.TreeReader) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		hs, err := r.ReadTreeHashes(ctx, indexes)
		if err != nil {
			return nil, err
		}
		if len(hs) != len(indexes) {
			return nil, fmt.Errorf("read %d tree hashes, want %d", len(hs), len(indexes))
		}
		out := make([]tlog.Hash, len(hs))
		for i, h := range hs {
			if len(h) != tlog.HashSize {
				return nil, fmt.Errorf("tree hash %d has %d bytes", indexes[i], len(h))
			}
			out[i] = tlog.Hash(h)
		}
		return out, nil
	})
}

// treeCheckpoint returns the store's signed checkpoint at size (the newest
// for a negative size) and the size it states.
func treeCheckpoint(ctx context.Context, r storekit.TreeReader, size int64) (storekit.TreeCheckpoint, error) {
	c, err := r.TreeCheckpoint(ctx, size)
	if err != nil {
		return storekit.TreeCheckpoint{}, err
	}
	text, ok := checkpoint.Text(c.Note)
	if !ok {
		return storekit.TreeCheckpoint{}, fmt.Errorf("tree checkpoint at %d is not a signed note", c.Size)
	}
	body, err := checkpoint.Parse(text)
	if err != nil || body.Size != c.Size {
		return storekit.TreeCheckpoint{}, fmt.Errorf("tree checkpoint at %d does not state its size", c.Size)
	}
	return c, nil
}

func hashesOut(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i := range hs {
		out[i] = bytes.Clone(hs[i][:])
	}
	return out
}

func hashesIn(hs [][]byte) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(hs))
	for i, h := range hs {
		if len(h) != tlog.HashSize {
			return nil, fmt.Errorf("%w: hash %d has %d bytes", ErrProof, i, len(h))
		}
		out[i] = tlog.Hash(h)
	}
	return out, nil
}

// Prove returns the inclusion proof of the record with id in the tree of
// the newest signed checkpoint store holds, made from a few indexed reads
// with golang.org/x/mod/sumdb/tlog.ProveRecord. It returns an error
// wrapping audit.ErrNotFound when the store has no leaf for id (the
// record is unknown, or not sealed yet) or no checkpoint covers it yet.
// It does not read the record, nor check who may: that is the caller's
// (the admin API proves only what the caller may read).
func Prove(ctx context.Context, store storekit.TreeReader, id uuid.UUID) (InclusionProof, error) {
	return prove(ctx, store, id, nil)
}

// ErrOtherLeaf is the category of the errors ProveRecord returns when
// the leaf its store holds for the record's ID may be another record's.
var ErrOtherLeaf = errors.New("audit: the leaf of the record's ID may be another record's")

// ProveRecord is Prove for rec, a record read from store. In a store that
// keys records by ID and time (PostgreSQL), two records may share an ID,
// and the leaf of the ID is the newest one's: proving the other with it
// would hand its reader the secret salt of another record's leaf. So when
// that leaf does not open for rec (its salted commitment of rec's
// digest), ProveRecord proves the leaf of rec's ID and time
// (storekit.RecordLeafReader) instead, and returns an error wrapping
// ErrOtherLeaf, without the proof, when the store has none. In a store of
// unique IDs the leaf is rec's own: a record changed since it was sealed
// gets its proof, which then fails to verify, as it should. Whoever
// serves proofs to the readers of records (the admin API) proves with
// ProveRecord.
func ProveRecord(ctx context.Context, store storekit.TreeReader, rec *audit.Record) (InclusionProof, error) {
	if rec == nil {
		return InclusionProof{}, errors.New("audit: prove: nil record")
	}
	return prove(ctx, store, rec.ID, rec)
}

// opens reports whether the leaf commits to rec: its digest, or, for a
// seal made before digest v2, its legacy digest.
func opens(l *storekit.Leaf, rec *audit.Record) bool {
	d, _ := storekit.SealDigest(rec)
	if bytes.Equal(LeafCommitment(l.Salt, d), l.Commitment) {
		return true
	}
	d1, _ := storekit.LegacySealDigest(rec)
	return bytes.Equal(LeafCommitment(l.Salt, d1), l.Commitment)
}

// leafOf returns the leaf of rec's ID, or, when rec is set and that leaf
// does not open for it, the leaf of rec's ID and time (see ProveRecord).
func leafOf(ctx context.Context, store storekit.TreeReader, id uuid.UUID, rec *audit.Record) (storekit.Leaf, error) {
	leaf, err := store.LeafOf(ctx, id)
	if err != nil || rec == nil || leaf.Salt == nil || opens(&leaf, rec) {
		return leaf, err
	}
	rl, ok := store.(storekit.RecordLeafReader)
	if !ok {
		return leaf, nil // IDs are unique: rec's own leaf; rec changed
	}
	own, err := rl.LeafOfRecord(ctx, id, rec.OccurredAt)
	if errors.Is(err, audit.ErrNotFound) {
		return storekit.Leaf{}, fmt.Errorf("%w: record %s: no leaf of its ID and time (its time changed since it was sealed?)", ErrOtherLeaf, id)
	}
	return own, err
}

func prove(ctx context.Context, store storekit.TreeReader, id uuid.UUID, rec *audit.Record) (InclusionProof, error) {
	leaf, err := leafOf(ctx, store, id, rec)
	if err != nil {
		return InclusionProof{}, fmt.Errorf("audit: prove %s: %w", id, err)
	}
	if leaf.Salt == nil {
		return InclusionProof{}, fmt.Errorf("audit: prove %s: its leaf has no salt: %w", id, audit.ErrNotFound)
	}
	c, err := treeCheckpoint(ctx, store, -1)
	if err != nil {
		return InclusionProof{}, fmt.Errorf("audit: prove %s: %w", id, err)
	}
	index := int64(leaf.Seq) - 1
	if index >= c.Size {
		return InclusionProof{}, fmt.Errorf("audit: prove %s: no signed checkpoint covers leaf %d yet: %w", id, index, audit.ErrNotFound)
	}
	p, err := tlog.ProveRecord(c.Size, index, hashReader(ctx, store))
	if err != nil {
		return InclusionProof{}, fmt.Errorf("audit: prove %s: %w", id, err)
	}
	return InclusionProof{
		Format: InclusionFormat, RecordID: id, Index: index, Salt: bytes.Clone(leaf.Salt),
		TreeSize: c.Size, Hashes: hashesOut(p), Checkpoint: string(c.Note),
	}, nil
}

// VerifyInclusion checks that rec is the record p proves, in the tree of
// p's checkpoint, which log (the log's key: LogVerifier, or
// note.NewVerifier of its vkey) signed for the origin log.Name(). It
// returns that checkpoint, so that the caller can check it against one it
// kept (VerifyConsistency); an error wrapping ErrProof, or
// checkpoint.ErrUnverified for a checkpoint the key did not sign, when
// the proof fails.
func VerifyInclusion(rec *audit.Record, p *InclusionProof, log note.Verifier) (checkpoint.Checkpoint, error) {
	if rec == nil || p == nil || log == nil {
		return checkpoint.Checkpoint{}, errors.New("audit: verify inclusion: nil record, proof or verifier")
	}
	if p.Format != InclusionFormat {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: format %q, want %q", ErrProof, p.Format, InclusionFormat)
	}
	c, _, err := checkpoint.Open([]byte(p.Checkpoint), log.Name(), log)
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("audit: verify inclusion: %w", err)
	}
	if c.Size != p.TreeSize {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: the checkpoint is of %d records, the proof of %d", ErrProof, c.Size, p.TreeSize)
	}
	if rec.ID != p.RecordID {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: the proof is of record %s, not %s", ErrProof, p.RecordID, rec.ID)
	}
	if _, err := checkLeaf(rec, p.Salt, p.Index, p.Hashes, c); err != nil {
		return checkpoint.Checkpoint{}, err
	}
	return c, nil
}

// checkLeaf checks that rec, under salt, is leaf index of the tree of c,
// by the audit path hashes, and returns the leaf's hash; an error
// wrapping ErrProof if not.
func checkLeaf(rec *audit.Record, salt []byte, index int64, hashes [][]byte, c checkpoint.Checkpoint) (tlog.Hash, error) {
	hs, err := hashesIn(hashes)
	if err != nil {
		return tlog.Hash{}, err
	}
	if index < 0 || index >= c.Size {
		return tlog.Hash{}, fmt.Errorf("%w: leaf %d is outside the tree of %d", ErrProof, index, c.Size)
	}
	d, _ := storekit.SealDigest(rec)
	leaf := tlog.RecordHash(LeafCommitment(salt, d))
	err = tlog.CheckRecord(hs, c.Size, c.Hash, index, leaf)
	if err != nil {
		// the leaf of a seal made before digest v2 commits to the legacy
		// digest (storekit.LegacySealDigest); a v2 leaf never matches it
		d1, _ := storekit.LegacySealDigest(rec)
		if l1 := tlog.RecordHash(LeafCommitment(salt, d1)); tlog.CheckRecord(hs, c.Size, c.Hash, index, l1) == nil {
			leaf, err = l1, nil
		}
	}
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("%w: record %s is not leaf %d of the tree of %d (changed, or not the record sealed there): %w", ErrProof, rec.ID, index, c.Size, err)
	}
	return leaf, nil
}

// ProveConsistency returns the proof that the tree of from leaves is a
// prefix of the tree of the store's signed checkpoint at to (the newest,
// for to 0 or less), made with golang.org/x/mod/sumdb/tlog.ProveTree. It
// carries the store's checkpoint at from when there is one. It returns an
// error wrapping audit.ErrNotFound when the store has no checkpoint at to.
func ProveConsistency(ctx context.Context, store storekit.TreeReader, from, to int64) (ConsistencyProof, error) {
	if to <= 0 {
		to = -1
	}
	c, err := treeCheckpoint(ctx, store, to)
	if err != nil {
		return ConsistencyProof{}, fmt.Errorf("audit: prove consistency: %w", err)
	}
	if from < 1 || from > c.Size {
		return ConsistencyProof{}, fmt.Errorf("%w: prove consistency: from %d is not within 1 to %d", ErrTreeSize, from, c.Size)
	}
	p, err := tlog.ProveTree(c.Size, from, hashReader(ctx, store))
	if err != nil {
		return ConsistencyProof{}, fmt.Errorf("audit: prove consistency %d to %d: %w", from, c.Size, err)
	}
	out := ConsistencyProof{Format: ConsistencyFormat, From: from, To: c.Size, Hashes: hashesOut(p), Checkpoint: string(c.Note)}
	if old, err := treeCheckpoint(ctx, store, from); err == nil {
		out.FromCheckpoint = string(old.Note)
	} else if !errors.Is(err, audit.ErrNotFound) {
		return ConsistencyProof{}, fmt.Errorf("audit: prove consistency: %w", err)
	}
	return out, nil
}

// VerifyConsistency checks that p proves the log's checkpoint old (a signed
// note; nil to take p.FromCheckpoint) and p's checkpoint consistent: both
// signed by log, and the older tree a prefix of the newer. It returns the
// newer checkpoint; an error wrapping ErrProof when the log forked or
// rewrote its history, or checkpoint.ErrUnverified for a checkpoint the
// key did not sign.
func VerifyConsistency(p *ConsistencyProof, old []byte, log note.Verifier) (checkpoint.Checkpoint, error) {
	if p == nil || log == nil {
		return checkpoint.Checkpoint{}, errors.New("audit: verify consistency: nil proof or verifier")
	}
	if p.Format != ConsistencyFormat {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: format %q, want %q", ErrProof, p.Format, ConsistencyFormat)
	}
	if old == nil {
		old = []byte(p.FromCheckpoint)
	}
	oc, _, err := checkpoint.Open(old, log.Name(), log)
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("audit: verify consistency: old checkpoint: %w", err)
	}
	nc, _, err := checkpoint.Open([]byte(p.Checkpoint), log.Name(), log)
	if err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("audit: verify consistency: new checkpoint: %w", err)
	}
	if oc.Size != p.From || nc.Size != p.To {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: the proof is from %d to %d, the checkpoints of %d and %d", ErrProof, p.From, p.To, oc.Size, nc.Size)
	}
	hs, err := hashesIn(p.Hashes)
	if err != nil {
		return checkpoint.Checkpoint{}, err
	}
	if oc.Size > nc.Size {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: the old checkpoint (%d) is larger than the new (%d)", ErrProof, oc.Size, nc.Size)
	}
	if oc.Size == 0 {
		return nc, nil // the empty tree is a prefix of every tree
	}
	if oc.Size == nc.Size {
		if oc.Hash != nc.Hash {
			return checkpoint.Checkpoint{}, fmt.Errorf("%w: two checkpoints of %d records with different roots: the log forked", ErrProof, oc.Size)
		}
		return nc, nil
	}
	if err := tlog.CheckTree(hs, nc.Size, nc.Hash, oc.Size, oc.Hash); err != nil {
		return checkpoint.Checkpoint{}, fmt.Errorf("%w: the tree of %d is not a prefix of the tree of %d (history rewritten): %w", ErrProof, oc.Size, nc.Size, err)
	}
	return nc, nil
}

// VerifyWitnessed checks that a tree checkpoint (a proof's Checkpoint, a
// stored or an exported one) is signed by the log (log, whose name is the
// log's origin) and cosigned by at least k of witnesses: the checks of
// witness.VerifyCosignatures. A reader who requires the cosignatures of
// witnesses run by others is shown one history of the log or none, even
// by an operator who holds every key of the log: a witness cosigns a
// checkpoint only with proof that the log only grew since the last one
// it cosigned (see SealerOptions.Witnesses).
func VerifyWitnessed(checkpointNote []byte, log note.Verifier, witnesses []note.Verifier, k int) (checkpoint.Checkpoint, error) {
	if log == nil {
		return checkpoint.Checkpoint{}, errors.New("audit: verify witnessed: the log's verifier is required")
	}
	return witness.VerifyCosignatures(checkpointNote, log.Name(), log, witnesses, k)
}
