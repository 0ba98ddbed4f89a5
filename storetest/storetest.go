// Package storetest is the conformance suite for audit stores: a store
// that passes Run behaves as the Logger, the query API and the verifier
// expect. It plays the role testing/slogtest plays for slog handlers.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) audit.Store { return mystore.New(…) })
//	}
//
// The factory must return a new, empty store for each call, and clean it
// up with t.Cleanup. Subtests run in parallel. Capabilities the store
// lacks (Querier, Getter, Purger) are skipped, and said so.
package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// Factory returns a new, empty store for one test.
type Factory func(t *testing.T) audit.Store

// Run runs the conformance suite against the stores newStore makes.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, Factory)
	}{
		{"RoundTrip", testRoundTrip},
		{"LoggedRoundTrip", testLoggedRoundTrip},
		{"CanonicalJSON", testCanonicalJSON},
		{"Idempotent", testIdempotent},
		{"Filters", testFilters},
		{"TenantAndTraceFilters", testTenantAndTrace},
		{"ActionPrefixIsLiteral", testActionPrefixLiteral},
		{"HostileFilterValues", testHostileValues},
		{"OrderTies", testOrderTies},
		{"TimeBounds", testTimeBounds},
		{"Pagination", testPagination},
		{"PaginationWhileAppending", testPaginationWhileAppending},
		{"WalkAndTail", testWalkAndTail},
		{"TailWhileWriting", testTailWhileWriting},
		{"Limits", testLimits},
		{"InvalidFilters", testInvalidFilters},
		{"Get", testGet},
		{"Purge", testPurge},
		{"ConcurrentPurge", testConcurrentPurge},
		{"ConcurrentAppend", testConcurrentAppend},
		{"EmptyAppend", testEmptyAppend},
		{"Positions", testPositions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStore)
		})
	}
}

var base = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)

// Record returns a valid record with every field set, distinct for each i.
func Record(i int) audit.Record {
	details, _ := storekit.CanonicalJSON([]byte(fmt.Sprintf(
		`{"i":%d,"name":"n\u00e9e %d","nested":{"b":[1,2.5,"x"],"a":true},"big":12345678901234567890,"small":0.000001}`, i, i)))
	changes, _ := storekit.CanonicalJSON([]byte(`{"title":{"before":"old","after":"new"},"size":{"before":1,"after":null}}`))
	return audit.Record{
		ID:           uuid.Must(uuid.NewV7()),
		OccurredAt:   base.Add(time.Duration(i) * time.Minute).Truncate(time.Microsecond),
		UserID:       fmt.Sprintf("user-%d", i%3),
		UserEmail:    fmt.Sprintf("user%d@example.com", i%3),
		IPAddress:    netip.MustParseAddr([]string{"192.0.2.1", "2001:db8::1"}[i%2]),
		UserAgent:    "storetest/1.0",
		Action:       []audit.Action{audit.ActionUserLogin, audit.ActionUserLogout, audit.ActionResourceUpdate, audit.ActionAPIKeyCreate}[i%4],
		ResourceType: []string{"user", "document"}[i%2],
		ResourceID:   fmt.Sprintf("res-%d", i%5),
		Details:      details,
		Changes:      changes,
		RequestID:    fmt.Sprintf("req-%d", i%7),
		SessionID:    fmt.Sprintf("sess-%d", i%2),
		Status:       []audit.Status{audit.StatusSuccess, audit.StatusFailure, audit.StatusError}[i%3],
		ErrorMessage: []string{"", "denied", "boom"}[i%3],
		// every fourth record has no tenant, every third no trace: the
		// records of before these fields existed
		TenantID: []string{"tenant-a", "tenant-b", "tenant-a", ""}[i%4],
		TraceID:  []string{fmt.Sprintf("4bf92f3577b34da6a3ce929d%08x", i%6), "", ""}[i%3],
		SpanID:   []string{fmt.Sprintf("00f067aa%08x", i), "", ""}[i%3],
	}
}

// Records returns Record(from) … Record(to-1).
func Records(from, to int) []audit.Record {
	rs := make([]audit.Record, 0, to-from)
	for i := from; i < to; i++ {
		rs = append(rs, Record(i))
	}
	return rs
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func mustAppend(t *testing.T, s audit.Store, rs ...audit.Record) {
	t.Helper()
	if err := s.Append(ctx(t), rs...); err != nil {
		t.Fatalf("Append(%d records): %v", len(rs), err)
	}
}

func querier(t *testing.T, s audit.Store) audit.Querier {
	t.Helper()
	q, ok := s.(audit.Querier)
	if !ok {
		t.Skipf("%T does not implement audit.Querier", s)
	}
	return q
}

// QueryAll pages through every record that matches f.
func QueryAll(t *testing.T, q audit.Querier, f audit.Filter) []audit.Record {
	t.Helper()
	var all []audit.Record
	for range 100000 {
		p, err := q.Query(ctx(t), f)
		if err != nil {
			t.Fatalf("Query(%+v): %v", f, err)
		}
		all = append(all, p.Records...)
		if p.NextCursor == "" {
			return all
		}
		if len(p.Records) == 0 {
			t.Fatalf("Query(%+v): empty page with a next cursor", f)
		}
		f.Cursor = p.NextCursor
	}
	t.Fatalf("Query(%+v): too many pages", f)
	return nil
}

// newestFirst sorts records as queries return them.
func newestFirst(rs []audit.Record) []audit.Record {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b audit.Record) int {
		if c := b.OccurredAt.Compare(a.OccurredAt); c != 0 {
			return c
		}
		return storekit.CompareIDs(b.ID, a.ID)
	})
	return rs
}

func ids(rs []audit.Record) []uuid.UUID {
	out := make([]uuid.UUID, len(rs))
	for i := range rs {
		out[i] = rs[i].ID
	}
	return out
}

// Equal reports how got differs from want, comparing every field a store
// keeps (JSON by its canonical form), or "" if it does not.
func Equal(got, want audit.Record) string {
	var diffs []string
	add := func(field string, g, w any) { diffs = append(diffs, fmt.Sprintf("%s: got %v, want %v", field, g, w)) }
	if got.ID != want.ID {
		add("ID", got.ID, want.ID)
	}
	if !got.OccurredAt.Equal(want.OccurredAt) {
		add("OccurredAt", got.OccurredAt, want.OccurredAt)
	}
	for _, f := range []struct {
		name, g, w string
	}{
		{"UserID", got.UserID, want.UserID}, {"UserEmail", got.UserEmail, want.UserEmail},
		{"IPAddress", got.IPAddress.String(), want.IPAddress.String()}, {"UserAgent", got.UserAgent, want.UserAgent},
		{"Action", string(got.Action), string(want.Action)}, {"ResourceType", got.ResourceType, want.ResourceType},
		{"ResourceID", got.ResourceID, want.ResourceID}, {"RequestID", got.RequestID, want.RequestID},
		{"SessionID", got.SessionID, want.SessionID}, {"Status", string(got.Status), string(want.Status)},
		{"ErrorMessage", got.ErrorMessage, want.ErrorMessage},
		{"TenantID", got.TenantID, want.TenantID}, {"TraceID", got.TraceID, want.TraceID}, {"SpanID", got.SpanID, want.SpanID},
	} {
		if f.g != f.w {
			add(f.name, fmt.Sprintf("%q", f.g), fmt.Sprintf("%q", f.w))
		}
	}
	for _, f := range []struct {
		name string
		g, w json.RawMessage
	}{{"Details", got.Details, want.Details}, {"Changes", got.Changes, want.Changes}} {
		cg, err1 := storekit.CanonicalJSON(f.g)
		cw, err2 := storekit.CanonicalJSON(f.w)
		if err1 != nil || err2 != nil || !bytes.Equal(cg, cw) {
			add(f.name, string(f.g), string(f.w))
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	return fmt.Sprint(diffs)
}

func testRoundTrip(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	want := Records(0, 4)
	// edge values a store must keep exactly
	want[1].IPAddress = netip.Addr{}
	want[1].Details, want[1].Changes = nil, nil
	want[2].UserAgent = "quote ' double \" backslash \\ percent % underscore _ semicolon ; -- comment"
	want[2].Details = json.RawMessage(`{"emoji":"🙂","escapes":"\n\t\"\\","unicode":"\u2028"}`)
	want[3].OccurredAt = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	want[3].TenantID = "org ' \" 🙂 %_" // Record(3) has none: set one that must be kept exactly
	before := time.Now().Add(-time.Minute)
	mustAppend(t, s, want...)
	got := QueryAll(t, q, audit.Filter{})
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	byID := map[uuid.UUID]audit.Record{}
	for _, r := range got {
		byID[r.ID] = r
	}
	for _, w := range want {
		g, ok := byID[w.ID]
		if !ok {
			t.Errorf("record %s missing", w.ID)
			continue
		}
		if d := Equal(g, w); d != "" {
			t.Errorf("record %s: %s", w.ID, d)
		}
		if g.RecordedAt.Before(before) || g.RecordedAt.After(time.Now().Add(time.Minute)) {
			t.Errorf("record %s: RecordedAt %v not set to the time of Append", w.ID, g.RecordedAt)
		}
	}
	// Returned records are copies.
	for i := range got[0].Details {
		got[0].Details[i] = ' '
	}
	got[0].UserID = "changed"
	again := QueryAll(t, q, audit.Filter{})
	if again[0].UserID == "changed" || len(bytes.TrimSpace(again[0].Details)) == 0 {
		t.Errorf("changing a returned record changed the store")
	}
}

func testIdempotent(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	rs := Records(0, 10)
	mustAppend(t, s, rs[:6]...)
	// a retried batch, overlapping the first, with a duplicate inside it
	mustAppend(t, s, append(slices.Clone(rs[3:]), rs[9], rs[0])...)
	changed := rs[2]
	changed.UserID = "someone-else"
	mustAppend(t, s, changed)
	got := QueryAll(t, q, audit.Filter{})
	if len(got) != len(rs) {
		t.Fatalf("got %d records after duplicate appends, want %d", len(got), len(rs))
	}
	for _, g := range got {
		if g.ID == changed.ID && g.UserID != rs[2].UserID {
			t.Errorf("re-appending an ID replaced the stored record: user %q", g.UserID)
		}
	}
}

// dataset appends n records and returns them.
func dataset(t *testing.T, s audit.Store, n int) []audit.Record {
	rs := Records(0, n)
	for i := 0; i < n; i += 25 {
		mustAppend(t, s, rs[i:min(i+25, n)]...)
	}
	return rs
}

func filterCases(rs []audit.Record) []audit.Filter {
	mid := rs[len(rs)/2].OccurredAt
	return []audit.Filter{
		{},
		{UserID: "user-1"},
		{Action: audit.ActionUserLogin},
		{ActionPrefix: "user."},
		{ActionPrefix: "api_key."},
		{ResourceType: "document"},
		{ResourceType: "document", ResourceID: "res-3"},
		{ResourceID: "res-0"},
		{Status: audit.StatusFailure},
		{RequestID: "req-4"},
		{Since: mid},
		{Until: mid},
		{Since: rs[10].OccurredAt, Until: rs[40].OccurredAt},
		{UserID: "user-2", Status: audit.StatusError, ActionPrefix: "resource."},
		{UserID: "user-0", ResourceType: "user", Since: mid},
		{Action: audit.ActionUserLogout, RequestID: "req-1", Until: mid},
		{UserID: "nobody"},
		{Action: audit.ActionUserLogin, ActionPrefix: "user."},
		{Action: audit.ActionUserLogin, ActionPrefix: "resource."},
		{TenantID: "tenant-a"},
		{TenantID: "tenant-b", UserID: "user-1"},
		{TenantID: "tenant-a", Since: mid},
		{TenantID: "tenant-b", Action: audit.ActionUserLogout, Until: mid},
		{TenantID: "tenant-a", ActionPrefix: "user.", Status: audit.StatusSuccess},
		{TenantID: "no-such-tenant"},
		{TraceID: rs[3].TraceID},
		{TraceID: rs[3].TraceID, TenantID: "tenant-b"},
		{TraceID: rs[3].TraceID, RequestID: rs[3].RequestID},
	}
}

func testFilters(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	rs := dataset(t, s, 120)
	for _, f := range filterCases(rs) {
		for _, limit := range []int{0, 7} {
			f.Limit = limit
			var want []audit.Record
			for i := range rs {
				if storekit.Match(&f, &rs[i]) {
					want = append(want, rs[i])
				}
			}
			want = newestFirst(want)
			got := QueryAll(t, q, f)
			if !slices.Equal(ids(got), ids(want)) {
				t.Errorf("Query(%+v): got %d records, want %d (or in another order)", f, len(got), len(want))
			}
			for _, g := range got {
				if !storekit.Match(&f, &g) {
					t.Errorf("Query(%+v) returned a record that does not match: %+v", f, g)
				}
			}
		}
	}
}

// testTenantAndTrace checks the tenant and trace filters against the
// fields themselves, not through Filter.Match.
func testTenantAndTrace(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	rs := dataset(t, s, 60)
	trace := rs[3].TraceID
	tests := []struct {
		f    audit.Filter
		keep func(r *audit.Record) bool
	}{
		{audit.Filter{TenantID: "tenant-a"}, func(r *audit.Record) bool { return r.TenantID == "tenant-a" }},
		{audit.Filter{TenantID: "tenant-b", UserID: "user-1"}, func(r *audit.Record) bool { return r.TenantID == "tenant-b" && r.UserID == "user-1" }},
		{audit.Filter{TraceID: trace}, func(r *audit.Record) bool { return r.TraceID == trace }},
		{audit.Filter{TraceID: trace, TenantID: "tenant-b"}, func(r *audit.Record) bool { return r.TraceID == trace && r.TenantID == "tenant-b" }},
	}
	for _, tt := range tests {
		var want []audit.Record
		for i := range rs {
			if tt.keep(&rs[i]) {
				want = append(want, rs[i])
			}
		}
		if len(want) == 0 || len(want) == len(rs) {
			t.Fatalf("%+v: the dataset has %d of %d matching records: a useless case", tt.f, len(want), len(rs))
		}
		got := QueryAll(t, q, tt.f)
		if !slices.Equal(ids(got), ids(newestFirst(want))) {
			t.Errorf("Query(%+v): got %d records, want %d (or in another order)", tt.f, len(got), len(want))
		}
		for _, g := range got {
			if !tt.keep(&g) {
				t.Errorf("Query(%+v) returned tenant %q trace %q", tt.f, g.TenantID, g.TraceID)
			}
		}
	}
}

func testActionPrefixLiteral(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	rs := Records(0, 5)
	for i, a := range []audit.Action{"api_key.create", "apiXkey.create", "a%b.c", "aZZb.c", `a\b.c`} {
		rs[i].Action = a
	}
	mustAppend(t, s, rs...)
	for _, tt := range []struct {
		prefix string
		want   int
	}{{"api_", 1}, {"a%", 1}, {"a%b", 1}, {`a\`, 1}, {"a", 5}, {"%", 0}, {"_", 0}, {"", 5}} {
		got := QueryAll(t, q, audit.Filter{ActionPrefix: tt.prefix})
		if len(got) != tt.want {
			t.Errorf("ActionPrefix %q: got %d records, want %d", tt.prefix, len(got), tt.want)
		}
	}
}

func testHostileValues(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	rs := dataset(t, s, 10)
	for _, v := range []string{"' OR '1'='1", `"; DROP TABLE audit_logs; --`, "%", "_", `\`, "user-1' --", "ü\u2028", "$1"} {
		for _, f := range []audit.Filter{
			{UserID: v}, {Action: audit.Action(v)}, {ActionPrefix: v}, {ResourceType: v},
			{ResourceID: v}, {RequestID: v}, {TenantID: v}, {TraceID: v},
		} {
			if got := QueryAll(t, q, f); len(got) != 0 {
				t.Errorf("Query(%+v): got %d records, want 0", f, len(got))
			}
		}
	}
	if got := QueryAll(t, q, audit.Filter{}); len(got) != len(rs) {
		t.Errorf("after hostile queries: %d records, want %d", len(got), len(rs))
	}
}

func testOrderTies(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	rs := Records(0, 30)
	for i := range rs {
		rs[i].OccurredAt = base.Add(time.Duration(i%3) * time.Microsecond)
		rs[i].ID = uuid.New()
	}
	mustAppend(t, s, rs...)
	for _, limit := range []int{0, 1, 4} {
		got := QueryAll(t, q, audit.Filter{Limit: limit})
		if !slices.Equal(ids(got), ids(newestFirst(rs))) {
			t.Errorf("limit %d: records with equal timestamps not ordered by ID, newest first", limit)
		}
	}
}

func testTimeBounds(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	rs := Records(0, 3)
	t0 := base.Add(time.Hour)
	for i := range rs {
		rs[i].OccurredAt = t0.Add(time.Duration(i-1) * time.Microsecond) // t0-1µs, t0, t0+1µs
	}
	mustAppend(t, s, rs...)
	tests := []struct {
		f    audit.Filter
		want []uuid.UUID
	}{
		{audit.Filter{Since: t0}, []uuid.UUID{rs[2].ID, rs[1].ID}},
		{audit.Filter{Until: t0}, []uuid.UUID{rs[0].ID}},
		{audit.Filter{Since: t0, Until: t0.Add(time.Microsecond)}, []uuid.UUID{rs[1].ID}},
		{audit.Filter{Since: t0.Add(-time.Microsecond), Until: t0.Add(2 * time.Microsecond)}, []uuid.UUID{rs[2].ID, rs[1].ID, rs[0].ID}},
		// other time zones name the same instants
		{audit.Filter{Since: t0.In(time.FixedZone("X", -7*3600))}, []uuid.UUID{rs[2].ID, rs[1].ID}},
	}
	for _, tt := range tests {
		if got := ids(QueryAll(t, q, tt.f)); !slices.Equal(got, tt.want) {
			t.Errorf("Query(since %v, until %v): got %v, want %v", tt.f.Since, tt.f.Until, got, tt.want)
		}
	}
}

func testPagination(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	rs := dataset(t, s, 53)
	want := newestFirst(rs)
	for _, limit := range []int{1, 10, 53, 100} {
		var got []audit.Record
		f := audit.Filter{Limit: limit}
		pages := 0
		for {
			p, err := q.Query(ctx(t), f)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(p.Records) > limit {
				t.Fatalf("limit %d: page of %d records", limit, len(p.Records))
			}
			got = append(got, p.Records...)
			if p.NextCursor == "" {
				break
			}
			f.Cursor = p.NextCursor
		}
		if !slices.Equal(ids(got), ids(want)) {
			t.Errorf("limit %d: pages skipped, repeated or reordered records", limit)
		}
		if wantPages := (53 + limit - 1) / limit; pages > wantPages+1 {
			t.Errorf("limit %d: %d pages, want at most %d", limit, pages, wantPages+1)
		}
	}
}

func testPaginationWhileAppending(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	rs := dataset(t, s, 60)
	want := newestFirst(rs)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1000; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			r := Record(i) // newer than everything in the dataset
			if err := s.Append(context.Background(), r); err != nil {
				t.Errorf("Append: %v", err)
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	f := audit.Filter{Limit: 7}
	seen := map[uuid.UUID]int{}
	var order []uuid.UUID
	for {
		p, err := q.Query(ctx(t), f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range p.Records {
			seen[r.ID]++
			order = append(order, r.ID)
		}
		if p.NextCursor == "" {
			break
		}
		f.Cursor = p.NextCursor
		time.Sleep(2 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	var ordered []uuid.UUID
	for _, id := range order {
		if seen[id] > 1 {
			t.Errorf("record %s returned %d times", id, seen[id])
		}
	}
	old := map[uuid.UUID]bool{}
	for _, r := range rs {
		old[r.ID] = true
	}
	for _, id := range order {
		if old[id] {
			ordered = append(ordered, id)
		}
	}
	if !slices.Equal(ordered, ids(want)) {
		t.Errorf("while appending: pages returned %d of %d existing records, or out of order", len(ordered), len(want))
	}
}

func testLimits(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	dataset(t, s, 1050)
	for _, tt := range []struct {
		limit, want int
		next        bool
	}{{0, audit.DefaultLimit, true}, {1, 1, true}, {1000, 1000, true}, {1050 % 1000, 50, true}} {
		p, err := q.Query(ctx(t), audit.Filter{Limit: tt.limit})
		if err != nil {
			t.Fatalf("limit %d: %v", tt.limit, err)
		}
		if len(p.Records) != tt.want || (p.NextCursor != "") != tt.next {
			t.Errorf("limit %d: got %d records (next cursor %q), want %d", tt.limit, len(p.Records), p.NextCursor, tt.want)
		}
	}
	all := QueryAll(t, q, audit.Filter{Limit: 1000})
	if len(all) != 1050 {
		t.Errorf("paging with limit 1000: got %d records, want 1050", len(all))
	}
	// a last page that is exactly full has no next cursor
	p, err := q.Query(ctx(t), audit.Filter{Limit: 50, Until: all[len(all)-50].OccurredAt.Add(time.Microsecond)})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 50 || p.NextCursor != "" {
		t.Errorf("exactly full last page: got %d records and next cursor %q, want 50 and none", len(p.Records), p.NextCursor)
	}
}

func testInvalidFilters(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	dataset(t, s, 3)
	valid := storekit.CursorAfter(&audit.Record{OccurredAt: base, ID: uuid.New()}).String()
	tests := []struct {
		f     audit.Filter
		field string
	}{
		{audit.Filter{Limit: -1}, "limit"},
		{audit.Filter{Limit: audit.MaxLimit + 1}, "limit"},
		{audit.Filter{Cursor: "garbage"}, "cursor"},
		{audit.Filter{Cursor: valid[:len(valid)-2]}, "cursor"},
		{audit.Filter{Status: "maybe"}, "status"},
		{audit.Filter{Since: base, Until: base}, "until"},
		{audit.Filter{Since: base, Until: base.Add(-time.Hour)}, "until"},
		{audit.Filter{UserID: "a\x00b"}, "user_id"},
		{audit.Filter{ResourceID: "\xff"}, "resource_id"},
		{audit.Filter{TenantID: "a\x00b"}, "tenant_id"},
		{audit.Filter{TraceID: "\xff"}, "trace_id"},
		{audit.Filter{TenantID: strings.Repeat("t", 4097)}, "tenant_id"},
		{audit.Filter{TenantID: strings.Repeat("t", audit.MaxIDBytes+1)}, "tenant_id"},
		{audit.Filter{UserID: "a\tb"}, "user_id"},
		{audit.Filter{Cursor: storekit.Cursor{OccurredAt: time.Date(20000, 1, 1, 0, 0, 0, 0, time.UTC), ID: uuid.New()}.String()}, "cursor"},
		{audit.Filter{Until: time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC)}, "until"},
	}
	for _, tt := range tests {
		_, err := q.Query(ctx(t), tt.f)
		var fe *audit.FieldError
		if !errors.Is(err, audit.ErrInvalidFilter) || !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("Query(%+v): got error %v, want ErrInvalidFilter naming %q", tt.f, err, tt.field)
		}
	}
	if _, err := q.Query(ctx(t), audit.Filter{Cursor: valid}); err != nil {
		t.Errorf("Query with a well-formed cursor: %v", err)
	}
}

func testGet(t *testing.T, newStore Factory) {
	s := newStore(t)
	g, ok := s.(audit.Getter)
	if !ok {
		t.Skipf("%T does not implement audit.Getter", s)
	}
	rs := dataset(t, s, 5)
	got, err := g.Get(ctx(t), rs[3].ID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if d := Equal(got, rs[3]); d != "" {
		t.Errorf("Get: %s", d)
	}
	if _, err := g.Get(ctx(t), uuid.New()); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("Get(unknown): got %v, want ErrNotFound", err)
	}
}

func purger(t *testing.T, s audit.Store) storekit.Purger {
	p, ok := s.(storekit.Purger)
	if !ok {
		t.Skipf("%T does not implement storekit.Purger", s)
	}
	return p
}

func testPurge(t *testing.T, newStore Factory) {
	s := newStore(t)
	p := purger(t, s)
	q := querier(t, s)
	rs := Records(0, 40)
	// spread over several months, so that partitioned stores drop some
	// partitions whole and delete within others
	for i := range rs {
		rs[i].OccurredAt = base.AddDate(0, -i/8, -i)
	}
	cutoff := base.AddDate(0, -2, -3)
	rs[0].OccurredAt = cutoff
	rs[1].OccurredAt = cutoff.Add(-time.Microsecond)
	rs[2].OccurredAt = cutoff.Add(time.Microsecond)
	mustAppend(t, s, rs...)
	var want []audit.Record
	for _, r := range rs {
		if !r.OccurredAt.Before(cutoff) {
			want = append(want, r)
		}
	}
	n, err := p.Purge(ctx(t), cutoff)
	if err != nil {
		t.Fatalf("Purge: %v", err)
	}
	if n != int64(len(rs)-len(want)) {
		t.Errorf("Purge returned %d, want %d", n, len(rs)-len(want))
	}
	got := QueryAll(t, q, audit.Filter{})
	if !slices.Equal(ids(got), ids(newestFirst(want))) {
		t.Errorf("after Purge: %d records, want %d", len(got), len(want))
	}
	if n, err := p.Purge(ctx(t), cutoff); err != nil || n != 0 {
		t.Errorf("second Purge: got %d, %v; want 0, nil", n, err)
	}
	// appending after a purge still works, also into the purged range
	mustAppend(t, s, Record(100))
	old := Record(101)
	old.OccurredAt = cutoff.AddDate(0, -1, 0)
	mustAppend(t, s, old)
	if got := QueryAll(t, q, audit.Filter{}); len(got) != len(want)+2 {
		t.Errorf("append after purge: %d records, want %d", len(got), len(want)+2)
	}
}

func testConcurrentPurge(t *testing.T, newStore Factory) {
	s := newStore(t)
	p := purger(t, s)
	q := querier(t, s)
	rs := Records(0, 300)
	for i := range rs {
		rs[i].OccurredAt = base.Add(-time.Duration(i) * 6 * time.Hour)
	}
	for i := 0; i < len(rs); i += 50 {
		mustAppend(t, s, rs[i:i+50]...)
	}
	cutoff := base.Add(-30 * 24 * time.Hour)
	var total int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := p.Purge(context.Background(), cutoff)
			if err != nil {
				t.Errorf("concurrent Purge: %v", err)
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	want := 0
	for _, r := range rs {
		if r.OccurredAt.Before(cutoff) {
			want++
		}
	}
	if total != int64(want) {
		t.Errorf("concurrent purges removed %d in all, want %d", total, want)
	}
	if got := QueryAll(t, q, audit.Filter{Limit: 1000}); len(got) != len(rs)-want {
		t.Errorf("after concurrent purges: %d records, want %d", len(got), len(rs)-want)
	}
}

func testConcurrentAppend(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	const writers, batches, size = 8, 10, 20
	all := Records(0, writers*batches*size)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(w), 1))
			mine := all[w*batches*size : (w+1)*batches*size]
			for b := range batches {
				batch := slices.Clone(mine[b*size : (b+1)*size])
				// every writer also re-sends a record of another writer
				batch = append(batch, all[rnd.IntN(len(all))])
				if err := s.Append(context.Background(), batch...); err != nil {
					t.Errorf("Append: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	got := QueryAll(t, q, audit.Filter{Limit: 1000})
	if len(got) != len(all) {
		t.Errorf("got %d records, want %d", len(got), len(all))
	}
	seen := map[uuid.UUID]bool{}
	for _, r := range got {
		if seen[r.ID] {
			t.Errorf("record %s stored twice", r.ID)
		}
		seen[r.ID] = true
	}
}

func testEmptyAppend(t *testing.T, newStore Factory) {
	s := newStore(t)
	if err := s.Append(ctx(t)); err != nil {
		t.Errorf("Append(): %v", err)
	}
	q := querier(t, s)
	p, err := q.Query(ctx(t), audit.Filter{})
	if err != nil || len(p.Records) != 0 || p.NextCursor != "" {
		t.Errorf("Query on an empty store: %+v, %v", p, err)
	}
}
