// Package memory is an in-memory audit.Store for tests, demos and
// short-lived tools. It has the semantics of the PostgreSQL store
// (idempotency by ID, newest-first keyset pagination, the same filters)
// and passes the same conformance suite, storetest. Everything is lost
// when the process exits, and memory grows with every record until Purge.
//
// A Store is safe for concurrent use; it keeps copies of what it is given
// and returns copies, never its own records.
package memory

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/internal/canonical"
	"github.com/trailmark/audit/storekit"
)

// chunkMax is the most records a chunk holds. Records live in sorted
// chunks so that appending never copies what is already stored.
const chunkMax = 1024

// stored is what the Store knows of a record by its ID: 16 bytes, so
// that the map of every record stays small.
type stored struct {
	at      int64  // its OccurredAt in µs since the Unix epoch: where it is in the chunks
	arrived uint64 // its number in the order of arrival, from 1
}

func (st stored) key(id uuid.UUID) key { return key{time.UnixMicro(st.at).UTC(), id} }

// Store keeps records in memory, ordered by (OccurredAt, ID).
type Store struct {
	now func() time.Time

	mu     sync.RWMutex
	chunks [][]audit.Record     // each sorted and non-empty; all in order
	byID   map[uuid.UUID]stored // one map: one lookup and one insert a record
	arena  []byte               // backing store for small JSON values
	// the order of arrival, the horizon of a walk (see Query)
	appended uint64 // records appended so far

	// the hash chain (see seal.go), guarded by mu; sealMu admits one
	// sealer at a time
	sealMu  sync.Mutex
	arrival []uuid.UUID // IDs not sealed yet, in the order they were appended
	seals   []storekit.Seal
	sealed  map[uuid.UUID]time.Time // sealed record → the OccurredAt its seal names
	cps     []storekit.Checkpoint
	tree    tree // the Merkle tree over the seals (see tree.go), guarded by mu

	posMu     sync.Mutex
	positions map[string]string // see position.go
}

var (
	_ audit.Store     = (*Store)(nil)
	_ audit.Querier   = (*Store)(nil)
	_ audit.Getter    = (*Store)(nil)
	_ storekit.Purger = (*Store)(nil)

	_ storekit.TenantPurger = (*Store)(nil)

	_ storekit.SealStore            = (*Store)(nil)
	_ storekit.ChainPurger          = (*Store)(nil)
	_ storekit.TreeStore            = (*Store)(nil)
	_ storekit.TreeCheckpointWriter = (*Store)(nil)
)

// Options configures a Store. The zero value (and nil) means the
// defaults; New copies it.
type Options struct {
	// Now is the clock that stamps RecordedAt. Default time.Now.
	Now func() time.Time
}

// New returns an empty Store. opts may be nil.
func New(opts *Options) *Store {
	s := &Store{now: time.Now, byID: make(map[uuid.UUID]stored), sealed: make(map[uuid.UUID]time.Time)}
	if opts != nil && opts.Now != nil {
		s.now = opts.Now
	}
	return s
}

type key struct {
	t  time.Time
	id uuid.UUID
}

func cmpKey(r *audit.Record, k key) int {
	if c := r.OccurredAt.Compare(k.t); c != 0 {
		return c
	}
	return storekit.CompareIDs(r.ID, k.id)
}

// pos is a position among the records: chunk c, index i.
type pos struct{ c, i int }

// seek returns the position of the first record at or after k.
func (s *Store) seek(k key) pos {
	c, _ := slices.BinarySearchFunc(s.chunks, k, func(ch []audit.Record, k key) int {
		// a chunk is "before" k when its last record is
		if cmpKey(&ch[len(ch)-1], k) < 0 {
			return -1
		}
		return 1
	})
	if c == len(s.chunks) {
		return pos{c, 0}
	}
	i, _ := slices.BinarySearchFunc(s.chunks[c], k, func(r audit.Record, k key) int { return cmpKey(&r, k) })
	return pos{c, i}
}

// prev returns the position before p, or false at the start.
func (s *Store) prev(p pos) (pos, bool) {
	if p.i > 0 {
		return pos{p.c, p.i - 1}, true
	}
	for c := p.c - 1; c >= 0; c-- {
		if n := len(s.chunks[c]); n > 0 {
			return pos{c, n - 1}, true
		}
	}
	return pos{}, false
}

// keep copies b into the arena, so that small records cost no allocation
// of their own.
func (s *Store) keep(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if len(b) > 4<<10 {
		return slices.Clone(b)
	}
	if cap(s.arena)-len(s.arena) < len(b) {
		s.arena = make([]byte, 0, 256<<10)
	}
	start := len(s.arena)
	s.arena = append(s.arena, b...)
	return s.arena[start:len(s.arena):len(s.arena)]
}

// Append stores copies of the records whose IDs it does not hold yet,
// with Details and Changes in canonical JSON (JSON null kept as absent),
// as every store returns them. It refuses, with a Permanent error and
// storing nothing, a batch with a record that breaks the record contract
// (audit.Record.Validate).
func (s *Store) Append(ctx context.Context, records ...audit.Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storekit.CheckRecords(records); err != nil {
		return fmt.Errorf("audit: memory: append: %w", err)
	}
	// Details and Changes are kept in canonical form, as every store
	// returns them; null is kept as absent. keep copies them: the canonical
	// form may be the caller's bytes. js holds the forms of a batch in
	// which one differs from the JSON given; it is not made for a batch
	// already canonical, as a Logger's is.
	var js [][2]json.RawMessage
	var one [1][2]json.RawMessage // a lone record's, without allocating
	for i := range records {
		given := [2]json.RawMessage{records[i].Details, records[i].Changes}
		for j, raw := range given {
			c, err := canonical.Bytes(raw)
			if err != nil {
				return storekit.Permanent(fmt.Errorf("audit: memory: record %s: %w", records[i].ID, err))
			}
			if string(c) == "null" {
				c = nil
			}
			if js == nil && sameBytes(c, raw) {
				continue
			}
			if js == nil {
				if js = one[:]; len(records) > 1 {
					js = make([][2]json.RawMessage, len(records))
				}
				for k := range i {
					js[k] = [2]json.RawMessage{records[k].Details, records[k].Changes}
				}
				js[i] = given
			}
			js[i][j] = c
		}
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range records {
		r := records[i]
		if _, dup := s.byID[r.ID]; dup {
			continue
		}
		if js != nil {
			r.Details, r.Changes = js[i][0], js[i][1]
		}
		r.Details, r.Changes = s.keep(r.Details), s.keep(r.Changes)
		r.OccurredAt = r.OccurredAt.UTC().Truncate(time.Microsecond)
		r.RecordedAt = now
		s.appended++
		s.byID[r.ID] = stored{r.OccurredAt.UnixMicro(), s.appended}
		s.arrival = append(s.arrival, r.ID)
		s.insert(r)
	}
	return nil
}

// sameBytes reports whether a and b are the same bytes in memory, or both
// empty.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func (s *Store) insert(r audit.Record) {
	k := key{r.OccurredAt, r.ID}
	n := len(s.chunks)
	if n == 0 || cmpKey(&s.chunks[n-1][len(s.chunks[n-1])-1], k) < 0 {
		// the common case: newer than everything
		if n == 0 || len(s.chunks[n-1]) == chunkMax {
			s.chunks = append(s.chunks, make([]audit.Record, 0, chunkMax))
			n++
		}
		s.chunks[n-1] = append(s.chunks[n-1], r)
		return
	}
	p := s.seek(k)
	ch := s.chunks[p.c]
	if len(ch) == chunkMax {
		// split the full chunk in two
		hi := make([]audit.Record, chunkMax/2, chunkMax)
		copy(hi, ch[chunkMax/2:])
		clear(ch[chunkMax/2:])
		lo := ch[:chunkMax/2]
		s.chunks[p.c] = lo
		s.chunks = slices.Insert(s.chunks, p.c+1, hi)
		if p.i > len(lo) {
			p = pos{p.c + 1, p.i - len(lo)}
		}
		ch = s.chunks[p.c]
	}
	s.chunks[p.c] = slices.Insert(ch, p.i, r)
}

// Query returns the records that match f, newest first. A walk (the
// pages that follow one another by their cursors) reads the records
// appended when its first page was read, no more and no fewer (but those
// purged meanwhile): the cursor carries how many had been appended.
func (s *Store) Query(ctx context.Context, f audit.Filter) (audit.Page, error) {
	if err := f.Validate(); err != nil {
		return audit.Page{}, err
	}
	if err := ctx.Err(); err != nil {
		return audit.Page{}, err
	}
	limit := storekit.PageSize(&f)
	s.mu.RLock()
	defer s.mu.RUnlock()
	// p is one past the newest candidate.
	p := pos{len(s.chunks), 0}
	horizon, after := s.appended, uint64(0)
	if f.After != "" {
		h, _ := storekit.DecodeTail(f.After) // validated above
		if a, n := binary.Uvarint(h); n > 0 && n == len(h) {
			after = a
		}
	}
	if f.Cursor != "" {
		c, _ := storekit.DecodeCursor(f.Cursor) // validated above
		p = s.seek(key{c.OccurredAt, c.ID})
		horizon = math.MaxUint64 // a cursor made without a horizon
		if h, n := binary.Uvarint(c.Horizon); n > 0 && n == len(c.Horizon) {
			horizon = h
		}
	}
	if !f.Until.IsZero() {
		if u := s.seek(key{f.Until.Truncate(time.Microsecond), uuid.UUID{}}); u.c < p.c || u.c == p.c && u.i < p.i {
			p = u
		}
	}
	since := f.Since.Truncate(time.Microsecond)
	var page audit.Page
	for {
		var ok bool
		if p, ok = s.prev(p); !ok {
			break
		}
		r := &s.chunks[p.c][p.i]
		if !f.Since.IsZero() && r.OccurredAt.Before(since) {
			break
		}
		if n := s.byID[r.ID].arrived; !storekit.Match(&f, r) || n > horizon || n <= after && n > 0 {
			continue
		}
		if len(page.Records) == limit {
			c := storekit.CursorAfter(&page.Records[limit-1])
			c.Horizon = binary.AppendUvarint(nil, horizon)
			page.NextCursor = c.String()
			break
		}
		page.Records = append(page.Records, r.Clone())
	}
	if horizon != math.MaxUint64 {
		page.Tail = storekit.Tail(binary.AppendUvarint(nil, horizon))
	}
	return page, nil
}

// Get returns the record with the given ID.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (audit.Record, error) {
	if err := ctx.Err(); err != nil {
		return audit.Record{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.byID[id]
	if !ok {
		return audit.Record{}, fmt.Errorf("audit: memory: get %s: %w", id, audit.ErrNotFound)
	}
	p := s.seek(st.key(id))
	return s.chunks[p.c][p.i].Clone(), nil
}

// Purge deletes the records that occurred before cutoff.
func (s *Store) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.seek(key{cutoff.Truncate(time.Microsecond), uuid.UUID{}})
	var n int64
	for c := 0; c <= p.c && c < len(s.chunks); c++ {
		end := len(s.chunks[c])
		if c == p.c {
			end = p.i
		}
		for _, r := range s.chunks[c][:end] {
			delete(s.byID, r.ID)
		}
		n += int64(end)
	}
	if p.c < len(s.chunks) && p.i > 0 {
		s.chunks[p.c] = slices.Delete(s.chunks[p.c], 0, p.i)
	}
	s.chunks = slices.Delete(s.chunks, 0, p.c)
	return n, nil
}

// PurgeTenants deletes the records that occurred before the cutoff of
// their tenant: tenants[TenantID] for the tenants listed, def for the
// others (those without a tenant too).
func (s *Store) PurgeTenants(ctx context.Context, def time.Time, tenants map[string]time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	cutoff := func(tenant string) time.Time {
		if at, ok := tenants[tenant]; ok && tenant != "" {
			return at.Truncate(time.Microsecond)
		}
		return def.Truncate(time.Microsecond)
	}
	hi := cutoff("")
	for t := range tenants {
		if at := cutoff(t); at.After(hi) {
			hi = at
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// the records before the latest cutoff, chunk by chunk: a chunk
	// keeps the records younger than their cutoff, in order
	var n int64
	kept := s.chunks[:0:0]
	for c, ch := range s.chunks {
		if !ch[0].OccurredAt.Before(hi) {
			kept = append(kept, s.chunks[c:]...)
			break
		}
		var keep []audit.Record
		for _, r := range ch {
			if r.OccurredAt.Before(cutoff(r.TenantID)) {
				delete(s.byID, r.ID)
				n++
			} else {
				keep = append(keep, r)
			}
		}
		if len(keep) > 0 {
			kept = append(kept, keep)
		}
	}
	s.chunks = kept
	return n, nil
}

// Len returns the number of records held.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID)
}
