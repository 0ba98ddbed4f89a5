package api

import (
	"net/url"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

var goodQueries = []struct {
	e     endpoint
	query string
	want  audit.Filter
}{
	{endpointList, "", audit.Filter{}},
	{endpointList, "user_id=u1&status=error&limit=1000", audit.Filter{UserID: "u1", Status: audit.StatusError, Limit: 1000}},
	{endpointList, "action=user.login", audit.Filter{Action: audit.ActionUserLogin}},
	{endpointList, "action=user.", audit.Filter{ActionPrefix: "user."}},
	{endpointList, "action=user.*", audit.Filter{ActionPrefix: "user."}},
	{endpointList, "resource_type=doc&resource_id=%2F7&request_id=r-1", audit.Filter{ResourceType: "doc", ResourceID: "/7", RequestID: "r-1"}},
	{endpointList, "since=2025-01-01T00:00:00Z&until=2025-01-01T00:00:00.000001Z", audit.Filter{
		Since: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2025, 1, 1, 0, 0, 0, 1000, time.UTC)}},
	{endpointList, "since=2025-01-01T02:00:00%2B02:00", audit.Filter{Since: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}},
	// the cursor is opened by Handler.parse, against the caller's scope
	{endpointList, "limit=1&cursor=" + storekit.Cursor{OccurredAt: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}.String(), audit.Filter{Limit: 1}},
	{endpointList, "tenant_id=t1", audit.Filter{TenantID: "t1"}},
	{endpointExport, "tenant_id=t1", audit.Filter{TenantID: "t1"}},
	{endpointExport, "format=csv&status=success", audit.Filter{Status: audit.StatusSuccess}},
	{endpointUser, "days=7&limit=5", audit.Filter{Since: testNow.Add(-7 * 24 * time.Hour), Limit: 5}},
	{endpointUser, "", audit.Filter{Since: testNow.Add(-30 * 24 * time.Hour)}},
}

func TestParseQuery(t *testing.T) {
	t.Parallel()
	for _, tt := range goodQueries {
		q, perr := parseQuery(tt.e, tt.query, testNow)
		if perr != nil {
			t.Errorf("%q: %v", tt.query, perr)
			continue
		}
		f := q.filter
		if !f.Since.Equal(tt.want.Since) || !f.Until.Equal(tt.want.Until) {
			t.Errorf("%q: since %v until %v, want %v %v", tt.query, f.Since, f.Until, tt.want.Since, tt.want.Until)
		}
		f.Since, f.Until, tt.want.Since, tt.want.Until = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if f != tt.want {
			t.Errorf("%q: got %+v, want %+v", tt.query, f, tt.want)
		}
	}
	if q, _ := parseQuery(endpointExport, "", testNow); q.format != formatNDJSON {
		t.Errorf("default format %q, want ndjson", q.format)
	}
}

// FuzzParseQuery checks that any query either parses to a valid filter or
// is refused naming a parameter, and never panics.
func FuzzParseQuery(f *testing.F) {
	for _, tt := range badParams {
		f.Add(uint8(endpointList), tt.query)
		f.Add(uint8(endpointExport), tt.query)
		f.Add(uint8(endpointUser), tt.query)
	}
	for _, tt := range goodQueries {
		f.Add(uint8(tt.e), tt.query)
	}
	f.Fuzz(func(t *testing.T, e uint8, raw string) {
		ep := endpoint(e % 4)
		q, perr := parseQuery(ep, raw, testNow)
		if perr != nil {
			if perr.Param == "" || perr.Msg == "" {
				t.Fatalf("%q: error %+v names no parameter", raw, perr)
			}
			named := perr.Param == "query" || perr.Param == "until" // until: also for a start after the end
			vals, _ := url.ParseQuery(raw)
			for k := range vals {
				named = named || k == perr.Param || clip(k) == perr.Param
			}
			if !named {
				t.Fatalf("%q: error names %q, which the query does not have", raw, perr.Param)
			}
			return
		}
		if err := q.filter.Validate(); err != nil {
			t.Fatalf("%q: parsed to an invalid filter: %v", raw, err)
		}
		if l := q.filter.Limit; l < 0 || l > audit.MaxLimit || l != 0 && ep != endpointList && ep != endpointUser {
			t.Fatalf("%q: limit %d for endpoint %d", raw, l, ep)
		}
		if ep == endpointExport && q.format != formatCSV && q.format != formatNDJSON && q.format != formatOCSF {
			t.Fatalf("%q: format %q", raw, q.format)
		}
	})
}
