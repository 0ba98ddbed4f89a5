package memory

import (
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
	leaves []storekit.Leaf // leaf i has Seq i+1
	hashes [][]byte        // in tlog's storage order
	cps    []storekit.TreeCheckpoint
	byID   map[uuid.UUID]int // record ID → index of its newest leaf
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
			t.hashes = append(t.hashes, slices.Clone(h))
		}
		if l.Checkpoint != nil {
			t.cps = append(t.cps, storekit.TreeCheckpoint{Size: int64(l.Seq), Note: slices.Clone(l.Checkpoint)})
		}
		if l.EventID != uuid.Nil {
			t.byID[l.EventID] = len(t.leaves)
		}
		t.leaves = append(t.leaves, storekit.Leaf{Seq: l.Seq, EventID: l.EventID, Salt: slices.Clone(l.Salt), Commitment: slices.Clone(l.Commitment)})
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
		out[i] = slices.Clone(s.tree.hashes[x])
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
		l := s.tree.leaves[seq-1]
		l.Salt, l.Commitment = slices.Clone(l.Salt), slices.Clone(l.Commitment)
		out = append(out, l)
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
	l := s.tree.leaves[i]
	l.Salt, l.Commitment = slices.Clone(l.Salt), slices.Clone(l.Commitment)
	return l, nil
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
