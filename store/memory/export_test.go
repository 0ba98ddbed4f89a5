package memory

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// Tamper changes a Store behind its back, for the chain suite.
type Tamper struct{ S *Store }

func (t Tamper) remove(id uuid.UUID) (audit.Record, uint64, error) {
	st, ok := t.S.byID[id]
	if !ok {
		return audit.Record{}, 0, fmt.Errorf("no record %s", id)
	}
	p := t.S.seek(st.key(id))
	r := t.S.chunks[p.c][p.i]
	t.S.chunks[p.c] = slices.Delete(t.S.chunks[p.c], p.i, p.i+1)
	if len(t.S.chunks[p.c]) == 0 {
		t.S.chunks = slices.Delete(t.S.chunks, p.c, p.c+1)
	}
	delete(t.S.byID, id)
	return r, st.arrived, nil
}

// put inserts r as if it had arrived arrived-th (0: around Append).
func (t Tamper) put(r audit.Record, arrived uint64) {
	t.S.byID[r.ID] = stored{r.OccurredAt.UnixMicro(), arrived}
	t.S.insert(r)
}

func (t Tamper) UpdateRecord(_ context.Context, id uuid.UUID, mutate func(*audit.Record)) error {
	t.S.mu.Lock()
	defer t.S.mu.Unlock()
	r, arrived, err := t.remove(id)
	if err != nil {
		return err
	}
	r = r.Clone()
	mutate(&r)
	t.put(r, arrived)
	return nil
}

func (t Tamper) DeleteRecord(_ context.Context, id uuid.UUID) error {
	t.S.mu.Lock()
	defer t.S.mu.Unlock()
	_, _, err := t.remove(id)
	return err
}

func (t Tamper) InsertRecord(_ context.Context, r audit.Record) error {
	t.S.mu.Lock()
	defer t.S.mu.Unlock()
	t.put(r.Clone(), 0)
	// the next sealing step takes it, as a SQL store's takes a row
	// inserted around Append
	t.S.arrival = append(t.S.arrival, r.ID)
	return nil
}

func (t Tamper) sealIndex(seq uint64) (int, error) {
	i := slices.IndexFunc(t.S.seals, func(s storekit.Seal) bool { return s.Seq == seq })
	if i < 0 {
		return 0, fmt.Errorf("no seal %d", seq)
	}
	return i, nil
}

func (t Tamper) UpdateSeal(_ context.Context, seq uint64, mutate func(*storekit.Seal)) error {
	t.S.mu.Lock()
	defer t.S.mu.Unlock()
	i, err := t.sealIndex(seq)
	if err != nil {
		return err
	}
	seals := slices.Clone(t.S.seals)
	s := seals[i]
	s.Digest, s.Hash = slices.Clone(s.Digest), slices.Clone(s.Hash)
	mutate(&s)
	seals[i] = s
	t.S.seals = seals
	clear(t.S.sealed)
	for _, x := range seals {
		t.S.sealed[x.EventID] = x.EventTime
	}
	return nil
}

func (t Tamper) DeleteSeal(_ context.Context, seq uint64) error {
	t.S.mu.Lock()
	defer t.S.mu.Unlock()
	i, err := t.sealIndex(seq)
	if err != nil {
		return err
	}
	delete(t.S.sealed, t.S.seals[i].EventID)
	t.S.seals = slices.Delete(slices.Clone(t.S.seals), i, i+1)
	return nil
}

func (t Tamper) InsertSeal(_ context.Context, s storekit.Seal) error {
	t.S.mu.Lock()
	defer t.S.mu.Unlock()
	i, _ := slices.BinarySearchFunc(t.S.seals, s.Seq, func(x storekit.Seal, seq uint64) int { return cmpUint(x.Seq, seq) })
	t.S.seals = slices.Insert(slices.Clone(t.S.seals), i, s)
	t.S.sealed[s.EventID] = s.EventTime
	return nil
}
