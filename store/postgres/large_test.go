package postgres_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
)

// TestPlansOnLargeTableWithoutStatistics: on 1M records never analyzed
// (autovacuum off), a page of any filter but the two that need statistics
// reads a small part of the table (action=user.* once read every row, in
// 513 ms), and an export — one query, streamed — reads the table once at
// most (page by page, its cost grew with the square of its size).
func TestPlansOnLargeTableWithoutStatistics(t *testing.T) {
	dsn(t)
	t.Parallel()
	const n = 1_000_000
	s := newStore(t, nil)
	// Inserting a million rows takes a minute on an idle machine, and
	// several when other work shares it: the test's time is bounded by
	// the binary's deadline, not testCtx's two minutes (it was cancelled
	// in 2 runs of 3 on a busy machine).
	ctx := longCtx(t)
	start := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	began := time.Now()
	// in transactions of 25k: one long transaction would hold back the
	// sealing of every other test on the cluster (its snapshot horizon)
	const chunk = 25_000
	for k := range n / chunk {
		end := start.Add(-time.Duration(k*chunk) * 3 * time.Second)
		if err := generate(ctx, s.DB(), schemaOf(t, s), chunk, end, 3*time.Second, false); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d records inserted in %v", n, time.Since(began).Round(time.Millisecond))
	for _, tt := range explainFilters(start, 3*time.Second, n) {
		// a rare resource id alone is served by its index only once the
		// planner knows it is rare (docs/stores.md)
		if tt.needsStats || tt.name == "resource_id" {
			continue
		}
		f := tt.f
		f.Limit = 100
		q, args := postgres.QueryText(s, f)
		p := explain(t, s, q, args)
		if read := p.rowsRead(); read > n/20 {
			t.Errorf("%s: a page read %d rows of %d: %s", tt.name, read, n, p.raw)
		}
		t.Logf("%s: page in %.1f ms, %d rows read", tt.name, p.ms, p.rowsRead())
	}
	// A tail (After: the records committed since a walk) is found by the
	// (xid, id) index, whatever the table's size.
	first, err := s.Query(ctx, audit.Filter{Limit: 1})
	if err != nil || first.Tail == "" {
		t.Fatalf("first page: tail %q, %v", first.Tail, err)
	}
	q, args := postgres.QueryText(s, audit.Filter{After: first.Tail, Limit: 100})
	if p := explain(t, s, q, args); p.rowsRead() > 1000 {
		t.Errorf("a tail read %d rows of %d: %s", p.rowsRead(), n, p.raw)
	} else {
		t.Logf("tail: page in %.1f ms, %d rows read", p.ms, p.rowsRead())
	}
	// An export is one query, streamed (ScanRecords): it reads the table
	// once at most, however large the result — page by page, each page
	// re-read what the pages before it had read.
	for _, tt := range []struct {
		f       audit.Filter
		maxRead int
	}{
		{audit.Filter{ActionPrefix: "user."}, n},
		{audit.Filter{ActionPrefix: "api_key."}, n},
		{audit.Filter{UserID: "user-42"}, 10 * n / 1000}, // 1 user in 1000: its index
	} {
		q, args := postgres.ScanText(s, tt.f)
		p := explain(t, s, q, args)
		if read := p.rowsRead(); read > tt.maxRead {
			t.Errorf("export of %+v read %d rows, want at most %d: %s", tt.f, read, tt.maxRead, p.raw)
		}
		t.Logf("export of %+v: %.0f ms, %d rows read, for the whole result", tt.f, p.ms, p.rowsRead())
	}
}

// plan is an EXPLAIN (ANALYZE, FORMAT JSON) result.
type plan struct {
	raw  string
	root planNode
	ms   float64
}

func explain(t *testing.T, s *postgres.Store, q string, args []any) plan {
	t.Helper()
	var out []byte
	// On a busy machine, EXPLAIN ANALYZE of a scan over a million rows
	// may take longer than testCtx's two minutes: it was cancelled so in
	// two of three runs beside other work. Its bound is the test binary's.
	if err := s.DB().QueryRowContext(longCtx(t), "EXPLAIN (ANALYZE, FORMAT JSON) "+q, args...).Scan(&out); err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	var doc []struct {
		Plan          planNode
		ExecutionTime float64 `json:"Execution Time"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	return plan{raw: string(out), root: doc[0].Plan, ms: doc[0].ExecutionTime}
}

// rowsRead is the rows the plan's scans read: returned or filtered out.
func (p plan) rowsRead() int {
	total := 0
	var walk func(n *planNode)
	walk = func(n *planNode) {
		if strings.HasSuffix(n.NodeType, "Scan") && !strings.HasPrefix(n.NodeType, "Bitmap Index") {
			total += n.ActualRows + n.RowsRemovedByFilter
		}
		for i := range n.Plans {
			walk(&n.Plans[i])
		}
	}
	walk(&p.root)
	return total
}

func (p plan) has(nodeType string) bool {
	found := false
	var walk func(n *planNode)
	walk = func(n *planNode) {
		found = found || n.NodeType == nodeType
		for i := range n.Plans {
			walk(&n.Plans[i])
		}
	}
	walk(&p.root)
	return found
}
