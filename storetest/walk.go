package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
)

// testWalkAndTail: records that commit late, with an OccurredAt inside a
// range a walk has already passed (issue 20, item 11). A walk reads the
// records committed when its first page was read, no more; a tail
// (Filter.After = the walk's Page.Tail) reads those committed since,
// whatever their OccurredAt.
func testWalkAndTail(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	rs := dataset(t, s, 10) // base+0 … base+9 minutes
	f := audit.Filter{Limit: 3}
	p, err := q.Query(ctx(t), f)
	if err != nil {
		t.Fatal(err)
	}
	if p.Tail == "" {
		t.Fatal("the first page has no Tail: a store must tell which records a walk read")
	}
	tail := p.Tail
	walk := p.Records
	// one record behind the walk (between its first two), one ahead of it
	behind, ahead := Record(100), Record(101)
	behind.OccurredAt = rs[8].OccurredAt.Add(30 * time.Second)
	ahead.OccurredAt = rs[2].OccurredAt.Add(30 * time.Second)
	if err := s.Append(ctx(t), behind, ahead); err != nil {
		t.Fatal(err)
	}
	for p.NextCursor != "" {
		f.Cursor = p.NextCursor
		if p, err = q.Query(ctx(t), f); err != nil {
			t.Fatal(err)
		}
		if p.Tail != tail {
			t.Errorf("page %d of the walk: Tail %q, want the first page's %q", len(walk)/3+1, p.Tail, tail)
		}
		walk = append(walk, p.Records...)
	}
	if got, want := ids(walk), ids(newestFirst(rs)); !slices.Equal(got, want) {
		t.Errorf("the walk returned %d records (%v), want the %d committed before it began, newest first (%v)", len(got), got, len(want), want)
	}
	next := tailAll(t, q, audit.Filter{Limit: 1}, tail)
	if got, want := ids(next.recs), []uuid.UUID{behind.ID, ahead.ID}; !slices.Equal(got, want) {
		t.Errorf("the tail after the walk: got %v, want the two late records %v", got, want)
	}
	// a tail of a tail: only what committed since
	again := Record(102)
	again.OccurredAt = rs[0].OccurredAt.Add(-time.Hour)
	if err := s.Append(ctx(t), again); err != nil {
		t.Fatal(err)
	}
	if got := ids(tailAll(t, q, audit.Filter{}, next.tail).recs); !slices.Equal(got, []uuid.UUID{again.ID}) {
		t.Errorf("the next tail: got %v, want only %s", got, again.ID)
	}
	// a filter applies to a tail as to any walk
	if got := tailAll(t, q, audit.Filter{UserID: "nobody"}, tail).recs; len(got) != 0 {
		t.Errorf("a tail for user nobody: got %d records, want 0", len(got))
	}
	// An empty first page of a tail has a Tail too, a newer one (else a
	// poller whose filter matches nothing for long would tail from an ever
	// older horizon), and what commits after it is in the next walk.
	empty, err := q.Query(ctx(t), audit.Filter{UserID: "nobody", After: tail})
	if err != nil || len(empty.Records) != 0 || empty.Tail == "" || empty.Tail == tail {
		t.Fatalf("a tail for user nobody: got %d records, tail %q (the walk's: %q), %v; want none, and a newer tail", len(empty.Records), empty.Tail, tail, err)
	}
	nobody := Record(103)
	nobody.UserID = "nobody"
	if err := s.Append(ctx(t), nobody); err != nil {
		t.Fatal(err)
	}
	if got := ids(tailAll(t, q, audit.Filter{UserID: "nobody"}, empty.Tail).recs); !slices.Equal(got, []uuid.UUID{nobody.ID}) {
		t.Errorf("the tail after an empty page: got %v, want %s", got, nobody.ID)
	}
}

// tailed is what a walk with After returned: its records, and its Tail.
type tailed struct {
	recs []audit.Record
	tail string
}

// tailAll walks f with After set to after, and returns every record and
// the walk's Tail (after itself if the walk had no records to say).
func tailAll(t *testing.T, q audit.Querier, f audit.Filter, after string) tailed {
	t.Helper()
	f.After = after
	out := tailed{tail: after}
	for {
		p, err := q.Query(ctx(t), f)
		if err != nil {
			t.Fatalf("Query(%+v): %v", f, err)
		}
		out.recs = append(out.recs, p.Records...)
		if f.Cursor == "" && p.Tail != "" {
			out.tail = p.Tail
		}
		if p.NextCursor == "" {
			return out
		}
		f.Cursor = p.NextCursor
	}
}

// testTailWhileWriting: Sync and Async Loggers write concurrently, with
// clocks that run apart (so records commit out of OccurredAt order),
// while a poller tails the log with walks of 7 records a page, each
// walk's After the Tail of the one before. Every record is read exactly
// once.
func testTailWhileWriting(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	const writers, each = 4, 60
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		written = map[uuid.UUID]bool{}
	)
	done := make(chan struct{})
	for w := range writers {
		d := audit.Sync
		if w%2 == 1 {
			d = audit.Async
		}
		var clockMu sync.Mutex
		at := base.Add(time.Duration(w) * time.Second) // the writers' clocks interleave
		l, err := audit.New(s, &audit.Options{
			NoLifecycleEvents: true,
			Policy:            audit.Policy{Default: d, NoSecurityDefaults: true},
			Now: func() time.Time {
				clockMu.Lock()
				defer clockMu.Unlock()
				at = at.Add(3 * time.Millisecond)
				return at
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := uuid.Must(uuid.NewV7())
				err := l.Log(context.Background(), audit.Event{ID: id, Action: audit.ActionResourceRead, ResourceType: "document",
					ResourceID: fmt.Sprint(w, "-", i), Status: audit.StatusSuccess, UserID: fmt.Sprint("writer-", w)})
				if err != nil {
					t.Errorf("writer %d (%s): Log: %v", w, d, err)
					return
				}
				mu.Lock()
				written[id] = true
				mu.Unlock()
			}
			if err := l.Close(context.Background()); err != nil {
				t.Errorf("writer %d: Close: %v", w, err)
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	t.Cleanup(wg.Wait) // a writer never outlives the test, a t.Fatal included
	seen := map[uuid.UUID]int{}
	after, polls := "", 0
	poll := func() {
		tl := tailAll(t, q, audit.Filter{Limit: 7, ResourceType: "document"}, after)
		for _, r := range tl.recs {
			seen[r.ID]++
		}
		after = tl.tail
		polls++
	}
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		poll()
	}
	poll() // every writer has returned: one more walk reads the rest
	mu.Lock()
	defer mu.Unlock()
	if len(written) != writers*each {
		t.Fatalf("%d records written, want %d", len(written), writers*each)
	}
	missed, twice := 0, 0
	for id := range written {
		switch seen[id] {
		case 0:
			missed++
		case 1:
		default:
			twice++
		}
	}
	if missed > 0 || twice > 0 || len(seen) != len(written) {
		t.Errorf("%d polls read %d distinct records: %d of %d written were missed, %d read more than once", polls, len(seen), missed, len(written), twice)
	}
}
