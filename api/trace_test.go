package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storetest"
)

// trace_id filters list and export, over real HTTP; a bad one is a 400
// naming it.
func TestTraceIDFilter(t *testing.T) {
	t.Parallel()
	const trace = "4bf92f3577b34da6a3ce929d0e0e4736"
	rs := storetest.Records(0, 12)
	for i := range rs {
		rs[i].TraceID, rs[i].SpanID = "", ""
		if i%4 == 0 {
			rs[i].TraceID, rs[i].SpanID = trace, "00f067aa0ba902b7"
		}
	}
	e := newEnv(t, rs)
	want := storetest.QueryAll(t, e.store, audit.Filter{TraceID: trace})
	if len(want) != 3 {
		t.Fatalf("the test data has %d records of the trace, want 3", len(want))
	}
	if got := e.listAll("admin", "/audit-logs?trace_id="+trace); !slices.Equal(got, ids(want)) {
		t.Errorf("list: got %v, want %v", got, ids(want))
	}
	if got := e.exportIDs("admin", "&trace_id="+trace); !slices.Equal(got, ids(want)) {
		t.Errorf("export: got %v, want %v", got, ids(want))
	}
	for _, bad := range []string{
		strings.ToUpper(trace), trace[:31], trace + "0", strings.Repeat("0", 32), trace[:31] + "g", "00f067aa0ba902b7",
	} {
		for _, path := range []string{"/audit-logs?trace_id=", "/audit-logs/export?format=ndjson&trace_id="} {
			r := e.get("admin", path+bad)
			if r.StatusCode != http.StatusBadRequest {
				t.Errorf("%s%s: status %d, want 400", path, bad, r.StatusCode)
				continue
			}
			if p := r.problem(t); p.Parameter != "trace_id" {
				t.Errorf("%s%s: problem names %q, want trace_id", path, bad, p.Parameter)
			}
		}
	}
}
