package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// tree is the Merkle tree over the seals: insert-only, as in the other
// stores; retention removes none of it.
type tree struct {
	leaves []leaf     // leaf i has Seq i+1
	hashes [][32]byte // in tlog's storage order
	cps    []storekit.TreeCheckpoint
	byID   map[uuid.UUID]int // record ID → index of its newest leaf
}

// leaf is a storekit.Leaf, compact.
type leaf struct {
	id         uuid.UUID
	salted     bool
	salt       [32]byte
	commitment [32]byte
}

func (l *leaf) export(seq int) storekit.Leaf {
	out := storekit.Leaf{Seq: uint64(seq), EventID: l.id, Commitment: slices.Clone(l.commitment[:])}
	if l.salted {
		out.Salt = slices.Clone(l.salt[:])
	}
	return out
}

// add stores leaves, if they continue a tree of size leaves; mu is held.
func (t *tree) add(size int64, leaves []storekit.Leaf) error {
	if size != int64(len(t.leaves)) {
		return fmt.Errorf("the tree has %d leaves, not %d", len(t.leaves), size)
	}
	if err := storekit.CheckLeaves(size, leaves); err != nil {
		return err
	}
	if t.byID == nil {
		t.byID = map[uuid.UUID]int{}
	}
	for _, l := range leaves {
		for _, h := range l.Hashes {
			t.hashes = append(t.hashes, [32]byte(h))
		}
		if l.Checkpoint != nil {
			t.cps = append(t.cps, storekit.TreeCheckpoint{Size: int64(l.Seq), Note: slices.Clone(l.Checkpoint)})
		}
		if l.EventID != uuid.Nil {
			t.byID[l.EventID] = len(t.leaves)
		}
		m := leaf{id: l.EventID, commitment: [32]byte(l.Commitment)}
		if len(l.Salt) == 32 {
			m.salted, m.salt = true, [32]byte(l.Salt)
		} else if l.Salt != nil {
			return fmt.Errorf("tree leaf %d has a salt of %d bytes", l.Seq, len(l.Salt))
		}
		t.leaves = append(t.leaves, m)
	}
	return nil
}

// AppendLeaves adds leaves to the tree, if it has size leaves.
func (s *Store) AppendLeaves(ctx context.Context, size int64, leaves []storekit.Leaf) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.sealMu.Lock()
	defer s.sealMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.tree.add(size, leaves); err != nil {
		return fmt.Errorf("audit: memory: append leaves: %w", err)
	}
	return nil
}

// TreeSize returns the number of leaves of the tree.
func (s *Store) TreeSize(ctx context.Context) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int64(len(s.tree.leaves)), nil
}

// ReadTreeHashes returns the stored hashes of the tree at indexes.
func (s *Store) ReadTreeHashes(ctx context.Context, indexes []int64) ([][]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([][]byte, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(s.tree.hashes)) {
			return nil, fmt.Errorf("audit: memory: tree hash %d: %w", x, audit.ErrNotFound)
		}
		out[i] = slices.Clone(s.tree.hashes[x][:])
	}
	return out, nil
}

// Leaves returns the leaves with Seq in [from, from+n).
func (s *Store) Leaves(ctx context.Context, from uint64, n int) ([]storekit.Leaf, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []storekit.Leaf
	for seq := max(from, 1); seq < from+uint64(max(n, 0)) && seq <= uint64(len(s.tree.leaves)); seq++ {
		out = append(out, s.tree.leaves[seq-1].export(int(seq)))
	}
	return out, nil
}

// LeafOf returns the leaf of the record with id.
func (s *Store) LeafOf(ctx context.Context, id uuid.UUID) (storekit.Leaf, error) {
	if err := ctx.Err(); err != nil {
		return storekit.Leaf{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	i, ok := s.tree.byID[id]
	if !ok || id == uuid.Nil {
		return storekit.Leaf{}, fmt.Errorf("audit: memory: leaf of %s: %w", id, audit.ErrNotFound)
	}
	return s.tree.leaves[i].export(i + 1), nil
}

// TreeCheckpoint returns the stored tree checkpoint at size, or the
// newest for a negative size.
func (s *Store) TreeCheckpoint(ctx context.Context, size int64) (storekit.TreeCheckpoint, error) {
	if err := ctx.Err(); err != nil {
		return storekit.TreeCheckpoint{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := len(s.tree.cps) - 1; i >= 0; i-- {
		if c := s.tree.cps[i]; size < 0 || c.Size == size {
			return storekit.TreeCheckpoint{Size: c.Size, Note: slices.Clone(c.Note)}, nil
		}
	}
	return storekit.TreeCheckpoint{}, fmt.Errorf("audit: memory: tree checkpoint at %d: %w", size, audit.ErrNotFound)
}

// AppendTreeCheckpoint stores c, a signed checkpoint of the tree at one of
// its sizes; one at a size already held is ignored.
func (s *Store) AppendTreeCheckpoint(ctx context.Context, c storekit.TreeCheckpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.Size <= 0 || c.Size > int64(len(s.tree.leaves)) {
		return fmt.Errorf("audit: memory: tree checkpoint at %d: the tree has %d leaves", c.Size, len(s.tree.leaves))
	}
	i, found := slices.BinarySearchFunc(s.tree.cps, c.Size, func(x storekit.TreeCheckpoint, n int64) int { return cmp.Compare(x.Size, n) })
	if !found {
		s.tree.cps = slices.Insert(s.tree.cps, i, storekit.TreeCheckpoint{Size: c.Size, Note: slices.Clone(c.Note)})
	}
	return nil
}
