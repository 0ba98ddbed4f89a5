package storekit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
)

// Leaf is the leaf of the Merkle tree that stands for one seal: leaf
// Seq-1 of the tree. Its Commitment is the tree's entry, public (it is
// served as tlog-tiles); its Salt is secret, and opens the commitment
// for whoever holds the record.
type Leaf struct {
	Seq uint64 // the seal's Seq
	// EventID is the sealed record's ID, as its seal names it: zero for
	// a placeholder, and, in the SQL stores, once retention removed the
	// seal.
	EventID uuid.UUID
	// Salt is 32 random bytes; nil for a placeholder: the leaf of a seal
	// that retention removed before the tree existed.
	Salt []byte
	// Commitment is SHA-256 of "trailmark.leaf.v1\n", Salt and the
	// seal's Digest (SealDigest of the record); a placeholder's, SHA-256
	// of "trailmark.leaf.purged.v1\n" and Seq as 8 bytes big-endian.
	Commitment []byte

	// Hashes are the stored hashes the leaf adds to the tree, in the
	// storage order of golang.org/x/mod/sumdb/tlog: what
	// tlog.StoredHashes returns for it, at indexes
	// tlog.StoredHashCount(Seq-1) on. Set by the Sealer for the store to
	// store; nil when read back.
	Hashes [][]byte
	// Checkpoint, set by the Sealer on the last leaf of a step when it
	// signs, is the signed checkpoint of the tree of Seq leaves: a C2SP
	// signed note (c2sp.org/tlog-checkpoint). Nil when read back.
	Checkpoint []byte
}

// TreeCheckpoint is a stored signed checkpoint of the tree: a C2SP signed
// note stating its Size and root hash.
type TreeCheckpoint struct {
	Size int64
	Note []byte
}

// TreeCheckpointWriter is a TreeStore that stores a signed tree checkpoint
// apart from the sealing step that grew the tree: a Sealer with witnesses
// stores its checkpoints only once they have cosigned them (after the step
// committed, so as not to hold the sealing lock over the network). A
// checkpoint at a size the store holds one for already is ignored.
type TreeCheckpointWriter interface {
	AppendTreeCheckpoint(ctx context.Context, c TreeCheckpoint) error
}

// TreeStore is a SealStore that keeps an RFC 6962 Merkle tree over its
// seals, leaf i for the seal with Seq i+1, and signed checkpoints of it.
// The Sealer maintains the tree when its store is a TreeStore: in a
// sealing step, it sets each seal's Leaf, and SealNext stores the leaves,
// their hashes and the checkpoint with the seals, all or nothing. Every
// row of the tree is insert-only: retention removes none of it (a
// record's leaf stays when the record and its seal go).
type TreeStore interface {
	SealStore
	TreeReader
	// AppendLeaves adds leaves, their hashes and checkpoints to the tree,
	// as the only sealer (within the store's sealing lock), if the tree
	// has size leaves; otherwise it fails and adds nothing. leaves
	// continue the tree (CheckLeaves). The Sealer adds so the leaves of
	// the seals made before the tree, or by a sealer that does not keep
	// it.
	AppendLeaves(ctx context.Context, size int64, leaves []Leaf) error
}

// TreeReader reads the tree a TreeStore keeps.
type TreeReader interface {
	// TreeSize returns the number of leaves stored.
	TreeSize(ctx context.Context) (int64, error)
	// ReadTreeHashes returns the stored hashes at indexes, in order.
	ReadTreeHashes(ctx context.Context, indexes []int64) ([][]byte, error)
	// Leaves returns the leaves with Seq in [from, from+n), in order.
	Leaves(ctx context.Context, from uint64, n int) ([]Leaf, error)
	// LeafOf returns the leaf of the record with id (the newest, should
	// two records share it), or an error wrapping audit.ErrNotFound.
	LeafOf(ctx context.Context, id uuid.UUID) (Leaf, error)
	// TreeCheckpoint returns the stored checkpoint of the tree at size,
	// or the newest one when size is negative, or an error wrapping
	// audit.ErrNotFound.
	TreeCheckpoint(ctx context.Context, size int64) (TreeCheckpoint, error)
}

// RecordLeafReader is a TreeReader whose store keys records by ID and
// time, so that two records may share an ID (PostgreSQL): LeafOf then
// answers for the newest of them, and LeafOfRecord for the one that
// occurred at occurredAt. A store that may hold two records of one ID
// implements it; the chain's proofs then never hand the reader of one
// record the secret salt of the other's leaf.
type RecordLeafReader interface {
	// LeafOfRecord returns the leaf of the record with id that occurred
	// at occurredAt (as its seal names it), or an error wrapping
	// audit.ErrNotFound.
	LeafOfRecord(ctx context.Context, id uuid.UUID, occurredAt time.Time) (Leaf, error)
}

// CheckLeaves checks that leaves continue a tree of size leaves:
// consecutive from Seq size+1, each with a 32-byte commitment and the
// stored hashes it adds, a checkpoint only at the last. A store calls it
// before it stores them.
func CheckLeaves(size int64, leaves []Leaf) error {
	for i := range leaves {
		l := &leaves[i]
		if l.Seq != uint64(size)+uint64(i)+1 || len(l.Commitment) != 32 || (l.Salt != nil && len(l.Salt) != 32) {
			return errors.New("the sealer's tree leaves do not continue the tree")
		}
		n := int64(l.Seq) - 1
		if int64(len(l.Hashes)) != tlog.StoredHashCount(n+1)-tlog.StoredHashCount(n) {
			return fmt.Errorf("tree leaf %d carries %d hashes", l.Seq, len(l.Hashes))
		}
		for _, h := range l.Hashes {
			if len(h) != 32 {
				return fmt.Errorf("tree leaf %d carries a hash of %d bytes", l.Seq, len(h))
			}
		}
		if l.Checkpoint != nil && i != len(leaves)-1 {
			return fmt.Errorf("tree leaf %d carries a checkpoint but is not the last", l.Seq)
		}
	}
	return nil
}

// SealLeaves returns the leaves seals carry (Seal.Leaf), and whether they
// all carry one; a store that keeps the tree stores them only then.
func SealLeaves(seals []Seal) ([]Leaf, bool) {
	if len(seals) == 0 {
		return nil, false
	}
	out := make([]Leaf, len(seals))
	for i := range seals {
		if seals[i].Leaf == nil {
			return nil, false
		}
		out[i] = *seals[i].Leaf
	}
	return out, true
}

// HashOwner returns the leaf (its index, Seq-1) whose Hashes hold the
// stored hash at index, and its position among them: a store that keeps
// each leaf's hashes with the leaf finds a stored hash so.
func HashOwner(index int64) (leaf int64, at int) {
	// the last n with StoredHashCount(n) <= index
	lo, hi := int64(0), index+1
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		if tlog.StoredHashCount(mid) <= index {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, int(index - tlog.StoredHashCount(lo))
}

// ReadLeafHashes returns the stored hashes at indexes for a store that
// keeps each leaf's Hashes with the leaf, concatenated: read returns them
// by Seq, for the Seqs asked (those it has). An index no leaf holds is an
// error wrapping audit.ErrNotFound.
func ReadLeafHashes(indexes []int64, read func(seqs []int64) (map[int64][]byte, error)) ([][]byte, error) {
	out := make([][]byte, len(indexes))
	if len(indexes) == 0 {
		return out, nil
	}
	seqs := make([]int64, 0, len(indexes))
	seen := make(map[int64]bool, len(indexes))
	for _, x := range indexes {
		if x < 0 {
			return nil, fmt.Errorf("tree hash %d: %w", x, audit.ErrNotFound)
		}
		if leaf, _ := HashOwner(x); !seen[leaf+1] {
			seen[leaf+1] = true
			seqs = append(seqs, leaf+1)
		}
	}
	got, err := read(seqs)
	if err != nil {
		return nil, err
	}
	for i, x := range indexes {
		leaf, k := HashOwner(x)
		hs := got[leaf+1]
		if (k+1)*32 > len(hs) {
			return nil, fmt.Errorf("tree hash %d: %w", x, audit.ErrNotFound)
		}
		out[i] = hs[k*32 : (k+1)*32 : (k+1)*32]
	}
	return out, nil
}
