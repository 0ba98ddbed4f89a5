package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// SealNext seals records in the order they were appended.
func (s *Store) SealNext(ctx context.Context, max int, fn func(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error)) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.sealMu.Lock()
	defer s.sealMu.Unlock()

	s.mu.RLock()
	var last storekit.Seal
	if n := len(s.seals); n > 0 {
		// a rewound chain is the Sealer's to refuse: it checks the
		// checkpoints' signatures
		last = s.seals[n-1]
	} else if n := len(s.cps); n > 0 {
		// every seal was purged: the chain continues from the checkpoint
		last = storekit.Seal{Seq: s.cps[n-1].Seq, Hash: s.cps[n-1].Hash}
	}
	var recs []audit.Record
	consumed := 0
	for _, id := range s.arrival {
		if len(recs) >= max {
			break
		}
		consumed++
		if r, ok := s.get(id); ok {
			recs = append(recs, r.Clone())
		}
	}
	s.mu.RUnlock()
	if max > 0 && len(recs) == 0 && consumed == 0 {
		return 0, nil
	}
	if max == 0 {
		_, err := fn(last, nil)
		return 0, err
	}
	seals, err := storekit.RunSealer(fn, last, recs)
	if err != nil {
		return 0, fmt.Errorf("audit: memory: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if leaves, ok := storekit.SealLeaves(seals); ok {
		if err := s.tree.add(int64(len(s.tree.leaves)), leaves); err != nil {
			return 0, fmt.Errorf("audit: memory: %w", err)
		}
	}
	for _, sl := range seals {
		sl.Leaf = nil
		sl.Digest, sl.Hash, sl.TenantTag = slices.Clone(sl.Digest), slices.Clone(sl.Hash), slices.Clone(sl.TenantTag)
		s.seals = append(s.seals, sl)
		s.sealed[sl.EventID] = sl.EventTime
	}
	s.arrival = s.arrival[consumed:]
	return len(seals), nil
}

// get returns the record with id; the caller holds mu.
func (s *Store) get(id uuid.UUID) (*audit.Record, bool) {
	st, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	p := s.seek(st.key(id))
	return &s.chunks[p.c][p.i], true
}

// ScanChain calls fn for each seal from seq from, in order.
func (s *Store) ScanChain(ctx context.Context, from uint64, fn func(storekit.Seal, *audit.Record) error) error {
	s.mu.RLock()
	seals := s.seals // append-only; purges make a new slice
	s.mu.RUnlock()
	i, _ := slices.BinarySearchFunc(seals, from, func(sl storekit.Seal, seq uint64) int {
		return cmpUint(sl.Seq, seq)
	})
	for _, sl := range seals[i:] {
		if err := ctx.Err(); err != nil {
			return err
		}
		var rec *audit.Record
		s.mu.RLock()
		if r, ok := s.get(sl.EventID); ok && r.OccurredAt.Equal(sl.EventTime) {
			c := r.Clone()
			rec = &c
		}
		s.mu.RUnlock()
		sl.Digest, sl.Hash, sl.TenantTag = slices.Clone(sl.Digest), slices.Clone(sl.Hash), slices.Clone(sl.TenantTag)
		if err := fn(sl, rec); err != nil {
			return err
		}
	}
	return nil
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ScanUnsealed calls fn for each record that no seal names: by its ID
// and OccurredAt, as ScanChain matches them.
func (s *Store) ScanUnsealed(ctx context.Context, fn func(*audit.Record) error) error {
	var out []audit.Record
	s.mu.RLock()
	for _, ch := range s.chunks {
		for i := range ch {
			if at, ok := s.sealed[ch[i].ID]; !ok || !at.Equal(ch[i].OccurredAt) {
				out = append(out, ch[i].Clone())
			}
		}
	}
	s.mu.RUnlock()
	for i := range out {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(&out[i]); err != nil {
			return err
		}
	}
	return nil
}

// AppendCheckpoint stores a checkpoint.
func (s *Store) AppendCheckpoint(ctx context.Context, c storekit.Checkpoint) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Hash, c.Signature, c.TenantCutoffs = slices.Clone(c.Hash), slices.Clone(c.Signature), slices.Clone(c.TenantCutoffs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cps = append(s.cps, c)
	return nil
}

// Checkpoints returns the stored checkpoints, oldest first.
func (s *Store) Checkpoints(ctx context.Context) ([]storekit.Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]storekit.Checkpoint, len(s.cps))
	for i, c := range s.cps {
		c.Hash, c.Signature, c.TenantCutoffs = slices.Clone(c.Hash), slices.Clone(c.Signature), slices.Clone(c.TenantCutoffs)
		out[i] = c
	}
	return out, nil
}

// PurgeSeals deletes the seals up to and including seq through, which a
// stored checkpoint must cover.
func (s *Store) PurgeSeals(ctx context.Context, through uint64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.cps, func(c storekit.Checkpoint) bool { return c.Seq == through && c.Boundary && !c.PurgedBefore.IsZero() })
	if i < 0 {
		return 0, fmt.Errorf("audit: memory: purge seals through %d: no retention checkpoint there", through)
	}
	// the latest cutoff the checkpoint states, its tenants' included
	before := s.cps[i].PurgedBefore
	for _, e := range s.cps[i].TenantCutoffs {
		if e.PurgedBefore.After(before) {
			before = e.PurgedBefore
		}
	}
	for _, sl := range s.seals {
		if sl.Seq <= through && !sl.EventTime.Before(before) {
			return 0, fmt.Errorf("audit: memory: purge seals through %d: seal %d is of a record retention keeps", through, sl.Seq)
		}
	}
	n := 0
	for n < len(s.seals) && s.seals[n].Seq <= through {
		delete(s.sealed, s.seals[n].EventID)
		n++
	}
	s.seals = slices.Clone(s.seals[n:])
	return int64(n), nil
}
