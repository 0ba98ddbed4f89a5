package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// TestWalkLateCommits commits transactions out of order on purpose
// (issue 20, item 11): A and C append records with early OccurredAt and
// stay open while B commits; a walk (Query with cursors, 3 a page)
// begins; C commits ahead of the walk's position and A behind it. The
// walk returns exactly what was committed when it began: not C's record,
// though it lies ahead (the cursor's snapshot), nor A's. The next walk,
// After the first's Tail, returns A's and C's records and nothing else.
func TestWalkLateCommits(t *testing.T) {
	dsn(t)
	t.Parallel()
	s := newStore(t, nil)
	ctx := testCtx(t)
	rs := storetest.Records(0, 12)
	if err := s.Append(ctx, rs[:10]...); err != nil {
		t.Fatal(err)
	}
	open := func(r audit.Record) func() {
		t.Helper()
		tx, err := s.DB().BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tx.Rollback() })
		if err := s.Tx(tx).Append(ctx, r); err != nil {
			t.Fatal(err)
		}
		return func() {
			t.Helper()
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, c := rs[10], rs[11]
	a.OccurredAt = rs[8].OccurredAt.Add(time.Second) // behind the walk once its first page is read
	c.OccurredAt = rs[1].OccurredAt.Add(time.Second) // ahead of it
	commitA, commitC := open(a), open(c)
	b := storetest.Record(50)
	if err := s.Append(ctx, b); err != nil { // B commits first
		t.Fatal(err)
	}
	f := audit.Filter{Limit: 3}
	p, err := s.Query(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	walk, tail := p.Records, p.Tail
	commitC()
	commitA()
	for p.NextCursor != "" {
		f.Cursor = p.NextCursor
		if p, err = s.Query(ctx, f); err != nil {
			t.Fatal(err)
		}
		walk = append(walk, p.Records...)
	}
	want := append([]audit.Record{b}, rs[:10]...)
	slices.SortFunc(want, func(x, y audit.Record) int { return y.OccurredAt.Compare(x.OccurredAt) })
	if got, w := ids(walk), ids(want); !slices.Equal(got, w) {
		t.Errorf("the walk returned %v, want the %d records committed when it began, newest first: %v", got, len(w), w)
	}
	next := storetest.QueryAll(t, s, audit.Filter{Limit: 1, After: tail})
	if got, w := ids(next), []uuid.UUID{a.ID, c.ID}; !slices.Equal(got, w) {
		t.Errorf("the walk after it returned %v, want the two late records %v", got, w)
	}
}

func ids(rs []audit.Record) []uuid.UUID {
	out := make([]uuid.UUID, len(rs))
	for i := range rs {
		out[i] = rs[i].ID
	}
	return out
}

// BenchmarkWalk measures a page of a walk (50 records of one user) on a
// table of AUDIT_BENCH_ROWS records (default 1M): the first page, which
// reads its snapshot with it, and a next page with the cursor it
// returned (records filtered by that snapshot) and with the same position
// without a horizon (as before walks had one).
//
//	AUDIT_BENCH_ROWS=200000 go test ./store/postgres/ -run '^$' -bench Walk
func BenchmarkWalk(b *testing.B) {
	n := queryRows(b)
	s := newStore(b, nil)
	ctx := context.Background()
	start := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	if err := generate(ctx, s.DB(), schemaOf(b, s), n, start, 15*time.Second, true); err != nil {
		b.Fatal(err)
	}
	pages := map[bool][]audit.Filter{} // with a horizon or not → next-page filters
	for u := range 1000 {
		f := audit.Filter{UserID: fmt.Sprintf("user-%d", u), Limit: 50}
		p, err := s.Query(ctx, f)
		if err != nil || p.NextCursor == "" {
			b.Fatalf("first page of %s: %d records, %v", f.UserID, len(p.Records), err)
		}
		c, _ := storekit.DecodeCursor(p.NextCursor)
		f.Cursor = c.String()
		pages[true] = append(pages[true], f)
		c.Horizon = nil
		f.Cursor = c.String()
		pages[false] = append(pages[false], f)
	}
	run := func(name string, fs []audit.Filter) {
		b.Run(name, func(b *testing.B) {
			var lat []time.Duration
			i := 0
			for b.Loop() {
				t := time.Now()
				if _, err := s.Query(ctx, fs[i%len(fs)]); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
				i++
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
	firsts := make([]audit.Filter, len(pages[false]))
	for i, f := range pages[false] {
		f.Cursor = ""
		firsts[i] = f
	}
	run("first_page", firsts)
	run("next_page_horizon", pages[true])
	run("next_page_no_horizon", pages[false])
}
