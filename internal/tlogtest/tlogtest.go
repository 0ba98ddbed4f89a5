// Package tlogtest holds a small in-memory RFC 6962 Merkle tree for the
// tests of the checkpoint, witness and tiles packages. It is built only
// from golang.org/x/mod/sumdb/tlog's own functions (StoredHashes,
// TreeHash, ProveTree, ProveRecord), so a test that uses it checks our
// code against tlog's, not against itself.
//
// A Tree is safe for concurrent use.
package tlogtest

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// A Tree is an append-only list of entries and the stored hashes of the
// Merkle tree over them, in tlog's storage order.
type Tree struct {
	mu      sync.RWMutex
	hashes  []tlog.Hash
	entries [][]byte
}

// Append adds entries to the tree. An entry's leaf hash is
// tlog.RecordHash(entry) (RFC 6962: SHA-256 of 0x00 || entry).
func (t *Tree) Append(entries ...[]byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range entries {
		n := int64(len(t.entries))
		hs, err := tlog.StoredHashes(n, e, t.reader())
		if err != nil {
			panic(fmt.Sprintf("tlogtest: StoredHashes(%d): %v", n, err)) // cannot happen: every index read is below len(t.hashes)
		}
		t.hashes = append(t.hashes, hs...)
		t.entries = append(t.entries, append([]byte(nil), e...))
	}
}

// AppendN adds n entries "<prefix> <i>", numbered from the current size.
func (t *Tree) AppendN(prefix string, n int) {
	start := t.Size()
	for i := range int64(n) {
		t.Append(fmt.Appendf(nil, "%s %d", prefix, start+i))
	}
}

// reader reads t.hashes; the caller holds t.mu.
func (t *Tree) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(t.hashes)) {
				return nil, fmt.Errorf("tlogtest: no stored hash %d (have %d)", x, len(t.hashes))
			}
			out[i] = t.hashes[x]
		}
		return out, nil
	})
}

// HashReader returns a tlog.HashReader of the tree's stored hashes.
func (t *Tree) HashReader() tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		t.mu.RLock()
		defer t.mu.RUnlock()
		return t.reader().ReadHashes(indexes)
	})
}

// Size returns the number of entries.
func (t *Tree) Size() int64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return int64(len(t.entries))
}

// Entries returns entries [start, start+n), or an error past the end.
func (t *Tree) Entries(start int64, n int) ([][]byte, error) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if start < 0 || n < 0 || start+int64(n) > int64(len(t.entries)) {
		return nil, fmt.Errorf("tlogtest: entries [%d, %d) past size %d", start, start+int64(n), len(t.entries))
	}
	return t.entries[start : start+int64(n)], nil
}

// Root returns the root hash of the first n entries.
func (t *Tree) Root(n int64) tlog.Hash {
	h, err := tlog.TreeHash(n, t.HashReader())
	if err != nil {
		panic(fmt.Sprintf("tlogtest: TreeHash(%d): %v", n, err))
	}
	return h
}

// ProveTree returns the consistency proof from the first oldSize entries
// to the first newSize; empty when oldSize is 0 or equals newSize.
func (t *Tree) ProveTree(newSize, oldSize int64) tlog.TreeProof {
	if oldSize == 0 || oldSize == newSize {
		return tlog.TreeProof{}
	}
	p, err := tlog.ProveTree(newSize, oldSize, t.HashReader())
	if err != nil {
		panic(fmt.Sprintf("tlogtest: ProveTree(%d, %d): %v", newSize, oldSize, err))
	}
	return p
}

// A Source serves a Tree and a signed checkpoint through the methods of
// the tiles package's Source interface.
type Source struct {
	Tree *Tree
	mu   sync.Mutex
	msg  []byte
}

// SetCheckpoint sets the signed checkpoint that Checkpoint returns.
func (s *Source) SetCheckpoint(msg []byte) {
	s.mu.Lock()
	s.msg = msg
	s.mu.Unlock()
}

// Checkpoint returns the checkpoint last set.
func (s *Source) Checkpoint(context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msg, nil
}

// ReadHashes reads the tree's stored hashes.
func (s *Source) ReadHashes(_ context.Context, indexes []int64) ([]tlog.Hash, error) {
	return s.Tree.HashReader().ReadHashes(indexes)
}

// Entries returns the tree's entries [start, start+n).
func (s *Source) Entries(_ context.Context, start int64, n int) ([][]byte, error) {
	return s.Tree.Entries(start, n)
}
