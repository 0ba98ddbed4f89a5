package chain

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/storekit"
)

// DefaultOrigin is the origin of the tree's checkpoints when
// SealerOptions.Origin is empty.
const DefaultOrigin = "trailmark/audit"

const (
	leafDomain       = "trailmark.leaf.v1\n"
	purgedLeafDomain = "trailmark.leaf.purged.v1\n"
	saltSize         = 32
)

// LeafCommitment returns the tree entry of a record whose seal covers
// digest (storekit.SealDigest of the record), under salt:
// SHA-256("trailmark.leaf.v1\n" ‖ salt ‖ digest). Its RFC 6962 leaf hash
// (tlog.RecordHash) is the tree's leaf. Without the salt, which is
// secret, the commitment does not let anyone confirm a guess of the
// record.
func LeafCommitment(salt, digest []byte) []byte {
	h := sha256.New()
	h.Write([]byte(leafDomain))
	h.Write(salt)
	h.Write(digest)
	return h.Sum(nil)
}

// placeholderCommitment is the entry of a leaf whose seal retention
// removed before the tree existed.
func placeholderCommitment(seq uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], seq)
	h := sha256.New()
	h.Write([]byte(purgedLeafDomain))
	h.Write(b[:])
	return h.Sum(nil)
}

// newLeaf returns the leaf of the seal sl, with a fresh salt.
func newLeaf(sl *storekit.Seal) storekit.Leaf {
	salt := make([]byte, saltSize)
	rand.Read(salt)
	return storekit.Leaf{Seq: sl.Seq, EventID: sl.EventID, Salt: salt, Commitment: LeafCommitment(salt, sl.Digest)}
}

// newLeaves returns the leaves of seals, with fresh salts drawn at once.
func newLeaves(seals []storekit.Seal) []storekit.Leaf {
	buf := make([]byte, 2*sha256.Size*len(seals))
	rand.Read(buf[:saltSize*len(seals)])
	leaves := make([]storekit.Leaf, len(seals))
	h := sha256.New()
	for i := range seals {
		salt := buf[saltSize*i : saltSize*(i+1) : saltSize*(i+1)]
		h.Reset()
		h.Write([]byte(leafDomain))
		h.Write(salt)
		h.Write(seals[i].Digest)
		at := saltSize*len(seals) + sha256.Size*i
		c := h.Sum(buf[at:at])
		leaves[i] = storekit.Leaf{Seq: seals[i].Seq, EventID: seals[i].EventID, Salt: salt, Commitment: c[:sha256.Size:sha256.Size]}
	}
	return leaves
}

// checkOrigin reports whether origin can name a log: a checkpoint's
// origin line and the name of its signed-note key.
func checkOrigin(origin string) error {
	if _, err := (checkpoint.Checkpoint{Origin: origin}).Marshal(); err != nil {
		return fmt.Errorf("audit: SealerOptions.Origin %q: %w", origin, err)
	}
	if _, err := checkpoint.NewVerifier(origin, make([]byte, 32)); err != nil {
		return fmt.Errorf("audit: SealerOptions.Origin %q cannot name a key: %w", origin, err)
	}
	return nil
}

// LogVerifier returns the note.Verifier of the tree checkpoints that a
// Sealer with origin and the SigningKey whose public key is pub signs;
// VerifierKey returns its text form (a vkey), which
// golang.org/x/mod/sumdb/note.NewVerifier reads.
func LogVerifier(origin string, pub ed25519.PublicKey) (note.Verifier, error) {
	return checkpoint.NewVerifier(origin, pub)
}

// VerifierKey returns the vkey of the tree checkpoints of a log with
// origin and public key pub: the text form of LogVerifier, to publish.
func VerifierKey(origin string, pub ed25519.PublicKey) (string, error) {
	return checkpoint.VerifierKey(origin, pub)
}

// stepHashes is the tlog.HashReader of a sealing step: the hashes the
// step added, then the frontier of the tree it started from.
type stepHashes struct {
	added    map[int64]tlog.Hash
	frontier map[int64]tlog.Hash
}

func (r *stepHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		h, ok := r.added[x]
		if !ok {
			h, ok = r.frontier[x]
		}
		if !ok {
			return nil, fmt.Errorf("tree hash %d is not at hand", x)
		}
		out[i] = h
	}
	return out, nil
}

// frontierIndexes are the stored hashes that the root of a tree of n
// leaves and the next leaf's stored hashes are made of: one complete
// subtree per bit set in n.
func frontierIndexes(n int64) []int64 {
	var out []int64
	for l := 0; l < 64-bits.LeadingZeros64(uint64(n)); l++ {
		if n>>l&1 == 1 {
			out = append(out, tlog.StoredHashIndex(l, n>>l-1))
		}
	}
	return out
}

// loadFrontier reads the tree's size and frontier from the store.
func (s *Sealer) loadFrontier(ctx context.Context, ts storekit.TreeStore) error {
	size, err := ts.TreeSize(ctx)
	if err != nil {
		return fmt.Errorf("audit: tree: %w", err)
	}
	s.mu.Lock()
	known := s.frontierSize == size
	s.mu.Unlock()
	if known {
		return nil
	}
	idx := frontierIndexes(size)
	hs, err := hashReader(ctx, ts).ReadHashes(idx)
	if err != nil {
		return fmt.Errorf("audit: tree: reading the hashes of the tree of %d: %w", size, err)
	}
	f := make(map[int64]tlog.Hash, len(idx))
	for i, x := range idx {
		f[x] = hs[i]
	}
	s.mu.Lock()
	s.frontier, s.frontierSize = f, size
	s.mu.Unlock()
	return nil
}

// growTree sets the hashes of leaves, which continue the tree the Sealer
// knows the frontier of, and on the last a signed checkpoint of the new
// tree when the Sealer signs. It keeps the new frontier as pending, for
// treeCommitted; s.mu is held.
func (s *Sealer) growTree(leaves []storekit.Leaf) error {
	n := s.frontierSize
	total := tlog.StoredHashCount(n+int64(len(leaves))) - tlog.StoredHashCount(n)
	r := &stepHashes{added: make(map[int64]tlog.Hash, total), frontier: s.frontier}
	buf := make([]byte, 0, total*tlog.HashSize) // one array for every hash of the step
	for i := range leaves {
		hs, err := tlog.StoredHashes(n, leaves[i].Commitment, r)
		if err != nil {
			return fmt.Errorf("tree leaf %d: %w", n, err)
		}
		start := tlog.StoredHashCount(n)
		leaves[i].Hashes = make([][]byte, len(hs))
		for j, h := range hs {
			r.added[start+int64(j)] = h
			at := len(buf)
			buf = append(buf, h[:]...)
			leaves[i].Hashes[j] = buf[at:len(buf):len(buf)]
		}
		n++
	}
	idx := frontierIndexes(n)
	hs, err := r.ReadHashes(idx)
	if err != nil {
		return fmt.Errorf("tree of %d: %w", n, err)
	}
	s.pendingFrontier = make(map[int64]tlog.Hash, len(idx))
	for i, x := range idx {
		s.pendingFrontier[x] = hs[i]
	}
	s.pendingSize = n
	if len(leaves) == 0 || s.signer == nil {
		return nil
	}
	root, err := tlog.TreeHash(n, r)
	if err != nil {
		return fmt.Errorf("tree of %d: %w", n, err)
	}
	msg, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: s.cfg.Origin, Size: n, Hash: root}, s.signer)
	if err != nil {
		return err
	}
	if len(s.cfg.Witnesses) == 0 {
		// stored with the leaves; with witnesses, once they cosigned it
		leaves[len(leaves)-1].Checkpoint = msg
	}
	s.pendingTree = &storekit.TreeCheckpoint{Size: n, Note: msg}
	return nil
}

// sealTree is the sealing step of a TreeStore: the seals of s.seal, each
// with its leaf when the tree has every seal before them (otherwise the
// Sealer adds the missing leaves after the step).
func (s *Sealer) sealTree(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error) {
	seals, err := s.seal(last, recs)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pendingTree, s.pendingSize = nil, -1
	if s.frontierSize != int64(last.Seq) {
		// another sealer, or one without the tree, sealed meanwhile
		s.treeBehind = true
		return seals, nil
	}
	leaves := newLeaves(seals)
	if err := s.growTree(leaves); err != nil {
		return nil, err
	}
	for i := range seals {
		seals[i].Leaf = &leaves[i]
	}
	return seals, nil
}

// treeCommitted keeps the frontier of the step just committed, and
// exports its checkpoint.
func (s *Sealer) treeCommitted(ctx context.Context) {
	s.mu.Lock()
	if s.pendingSize >= 0 {
		s.frontier, s.frontierSize = s.pendingFrontier, s.pendingSize
	}
	s.pendingSize = -1
	cp := s.pendingTree
	s.pendingTree = nil
	s.mu.Unlock()
	if cp != nil && len(s.cfg.Witnesses) > 0 {
		cp.Note = s.cosign(ctx, cp)
		if err := unwrap(s.store).(storekit.TreeCheckpointWriter).AppendTreeCheckpoint(ctx, *cp); err != nil {
			s.report(fmt.Errorf("audit: storing the cosigned tree checkpoint %d: %w", cp.Size, err))
		}
	}
	if cp != nil && s.cfg.ExportTree != nil {
		if err := s.cfg.ExportTree(ctx, cp.Note); err != nil {
			s.report(fmt.Errorf("audit: exporting tree checkpoint %d: %w", cp.Size, err))
		}
	}
}

// errStopScan ends a ScanChain early.
var errStopScan = errors.New("stop")

// backfillTree adds the leaves of the seals that have none (the seals
// made before the tree, or by a sealer that does not keep it),
// insert-only, in steps of BatchSize leaves, in one pass over the chain:
// the tree then covers every seal.
func (s *Sealer) backfillTree(ctx context.Context, ts storekit.TreeStore) error {
	for {
		if err := s.loadFrontier(ctx, ts); err != nil {
			return err
		}
		last, err := lastSeal(ctx, ts)
		if err != nil {
			return err
		}
		s.mu.Lock()
		size := s.frontierSize
		s.mu.Unlock()
		if size > int64(last.Seq) {
			return fmt.Errorf("audit: tree: the tree has %d leaves, but the chain ends at seal %d: seals were removed; run Verify", size, last.Seq)
		}
		if size == int64(last.Seq) {
			s.mu.Lock()
			s.treeBehind = false
			s.mu.Unlock()
			return nil
		}
		var leaves []storekit.Leaf
		next := uint64(size) + 1
		flush := func() error {
			if len(leaves) == 0 {
				return nil
			}
			s.mu.Lock()
			err := s.growTree(leaves)
			s.mu.Unlock()
			if err == nil {
				err = ts.AppendLeaves(ctx, size, leaves)
			}
			if err != nil {
				return fmt.Errorf("adding the leaves of seals %d to %d: %w", size+1, size+int64(len(leaves)), err)
			}
			s.treeCommitted(ctx)
			size += int64(len(leaves))
			leaves = nil
			return nil
		}
		placeholders := func(upto uint64) error {
			for ; next < upto; next++ {
				leaves = append(leaves, storekit.Leaf{Seq: next, Commitment: placeholderCommitment(next)})
				if len(leaves) >= s.cfg.BatchSize {
					if err := flush(); err != nil {
						return err
					}
				}
			}
			return nil
		}
		err = ts.ScanChain(ctx, next, func(sl storekit.Seal, _ *audit.Record) error {
			if sl.Seq > last.Seq {
				return errStopScan
			}
			if err := placeholders(sl.Seq); err != nil {
				return err
			}
			leaves = append(leaves, newLeaf(&sl))
			next++
			if len(leaves) >= s.cfg.BatchSize {
				return flush()
			}
			return nil
		})
		if errors.Is(err, errStopScan) {
			err = nil
		}
		if err == nil {
			err = placeholders(last.Seq + 1)
		}
		if err == nil {
			err = flush()
		}
		if err != nil {
			s.mu.Lock()
			s.frontierSize = -1 // read it again
			s.mu.Unlock()
			if now, serr := ts.TreeSize(ctx); serr == nil && now != size {
				continue // another sealer added leaves meanwhile
			}
			return fmt.Errorf("audit: tree: %w", err)
		}
	}
}

// cosign submits cp to each witness, with a consistency proof from the
// tree the witness last cosigned, and returns cp's note with the
// cosignatures it got. Refusals and failures go to OnError: a witness
// that refuses a validly signed checkpoint holds evidence that the log's
// history changed.
func (s *Sealer) cosign(ctx context.Context, cp *storekit.TreeCheckpoint) []byte {
	s.witnessMu.Lock()
	defer s.witnessMu.Unlock()
	tr, _ := unwrap(s.store).(storekit.TreeReader)
	prove := func(ctx context.Context, oldSize, newSize int64) (tlog.TreeProof, error) {
		return tlog.ProveTree(newSize, oldSize, hashReader(ctx, tr))
	}
	msg := slices.Clone(cp.Note)
	for i, w := range s.cfg.Witnesses {
		wctx, cancel := context.WithTimeout(ctx, s.cfg.WitnessTimeout)
		lines, size, err := w.Cosign(wctx, cp.Note, s.witnessSizes[i], prove)
		cancel()
		if err != nil {
			s.report(fmt.Errorf("audit: witness %d did not cosign the tree checkpoint at %d: %w", i, cp.Size, err))
			continue
		}
		s.witnessSizes[i] = size
		msg = append(msg, lines...)
	}
	return msg
}
