package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// recorder is a Store that keeps a copy of what it is given.
type recorder struct {
	audit.Store
	mu  sync.Mutex
	got []audit.Record
}

func (r *recorder) Append(ctx context.Context, rs ...audit.Record) error {
	if err := r.Store.Append(ctx, rs...); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range rs {
		r.got = append(r.got, rs[i].Clone())
	}
	return nil
}

// LoggedRecords writes records into s as an application does, through an
// audit.Logger, and returns them as the Logger handed them to s: fields
// empty or set; Details and Changes absent, nested, in Unicode, with
// 20-digit integers, 1.50, and HTML characters; tenant, trace and span ids
// set, taken from the context, and a malformed span id the Logger dropped
// (noted in Details). A last record, appended
// directly, has {} as Details and Changes. The records occur from at on,
// a microsecond apart.
func LoggedRecords(t testing.TB, s audit.Store, at time.Time) []audit.Record {
	t.Helper()
	rec := &recorder{Store: s}
	tick := at.UTC().Truncate(time.Microsecond)
	var mu sync.Mutex
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		tick = tick.Add(time.Microsecond)
		return tick
	}
	l, err := audit.New(rec, &audit.Options{Policy: audit.Policy{Default: audit.Sync}, NoLifecycleEvents: true, Now: clock, OnError: func(err error) { t.Errorf("logger: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	big := json.Number("12345678901234567890")
	events := []audit.Event{
		// the least an event needs: no Details, no Changes
		{Action: audit.ActionUserLogout, ResourceType: "user", Status: audit.StatusSuccess},
		// every field set
		{
			UserID: "u-1", UserEmail: "ann@example.com", IPAddress: netip.MustParseAddr("2001:db8::7"),
			UserAgent: "Mozilla/5.0 <b>&amp;</b>", Action: audit.ActionResourceUpdate, ResourceType: "document",
			ResourceID: "doc-1", RequestID: "req-1", SessionID: "sess-1", Status: audit.StatusFailure, ErrorMessage: "denied",
			TenantID: "org-1", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7",
			Details: map[string]any{
				"nested": map[string]any{"z": []any{1, "two", map[string]any{"é": true}}, "a": nil},
				"big":    big, "price": json.Number("1.50"), "unicode": "日本語 🙂 \u2028", "html": "<script>&</script>",
			},
			Changes: map[string]audit.Change{"title": {Before: "old", After: "new"}, "count": {Before: big, After: nil}, "added": {After: 1.5}},
		},
		// Changes only
		{Action: audit.ActionResourceCreate, ResourceType: "document", ResourceID: "doc-2", Status: audit.StatusSuccess,
			Changes: map[string]audit.Change{"name": {After: "Ünïcode"}}},
		// Details only, empty maps elsewhere
		{Action: audit.ActionUserLogin, ResourceType: "user", UserID: "u-2", IPAddress: netip.MustParseAddr("192.0.2.9"),
			Status: audit.StatusError, ErrorMessage: "boom", Details: map[string]any{"k": "v"}, Changes: map[string]audit.Change{},
			TraceID: "0AF7651916CD43DD8448EB211C80319D", SpanID: "not-a-span"}, // lowercased; dropped and noted
		{Action: audit.ActionResourceRead, ResourceType: "document", Status: audit.StatusSuccess, Details: map[string]any{}},
	}
	// the Changes-only event takes tenant and trace from the context
	fromCtx := audit.WithRequestInfo(audit.WithTenant(context.Background(), "org-2"),
		audit.RequestInfo{RequestID: "req-2", TraceID: "0af7651916cd43dd8448eb211c80319c", SpanID: "b7ad6b7169203331"})
	for i, e := range events {
		c := context.Background()
		if i == 2 {
			c = fromCtx
		}
		if err := l.Log(c, e); err != nil {
			t.Fatalf("Log: %v", err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	empty := Record(0)
	empty.ID = uuid.Must(uuid.NewV7())
	empty.OccurredAt = clock()
	empty.Details, empty.Changes = json.RawMessage(`{}`), json.RawMessage(`{}`)
	if err := rec.Append(context.Background(), empty); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if len(rec.got) != len(events)+1 {
		t.Fatalf("the Logger appended %d records, want %d", len(rec.got), len(events)+1)
	}
	return rec.got
}

// canonicalOrNil is what a store returns for Details or Changes given j.
func canonicalOrNil(j json.RawMessage) []byte {
	c, err := storekit.CanonicalJSON(j)
	if err != nil || string(c) == "null" {
		return nil
	}
	return c
}

// sameJSON reports whether a store returned exactly the canonical form
// of what it was given.
func sameJSON(got, given json.RawMessage) bool {
	return bytes.Equal(got, canonicalOrNil(given)) && (got == nil) == (canonicalOrNil(given) == nil)
}

// testLoggedRoundTrip checks that records made by the Logger read back
// exactly, JSON byte for byte.
func testLoggedRoundTrip(t *testing.T, newStore Factory) {
	s := newStore(t)
	q := querier(t, s)
	want := LoggedRecords(t, s, base)
	got := map[uuid.UUID]audit.Record{}
	for _, r := range QueryAll(t, q, audit.Filter{}) {
		got[r.ID] = r
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for _, w := range want {
		g := got[w.ID]
		if d := Equal(g, w); d != "" {
			t.Errorf("record %s: %s", w.ID, d)
		}
		if !sameJSON(g.Details, w.Details) || !sameJSON(g.Changes, w.Changes) {
			t.Errorf("record %s: got details %q changes %q, want the canonical %q and %q", w.ID, g.Details, g.Changes, canonicalOrNil(w.Details), canonicalOrNil(w.Changes))
		}
		// the sealed form: the same digest, new fields (tenant, trace) included
		w.RecordedAt = g.RecordedAt // the store's to set
		dg, err1 := storekit.Digest(&g)
		dw, err2 := storekit.Digest(&w)
		if err1 != nil || err2 != nil || !bytes.Equal(dg, dw) {
			t.Errorf("record %s: digest read back %x, appended %x (%v, %v)", w.ID, dg, dw, err1, err2)
		}
	}
}

// testCanonicalJSON checks that a store returns Details and Changes in
// canonical form, whatever form it was given them in.
func testCanonicalJSON(t *testing.T, newStore Factory) {
	s := newStore(t)
	r := Record(1)
	r.Details = json.RawMessage(` { "zeta" : 1, "alpha": [1, 2.50, {"y": 2, "x": "\u00e9\u0041"}], "mid": {"b": null, "a": 12345678901234567890} } `)
	r.Changes = json.RawMessage(`{"title": {"before": "a", "after": "b"}, "a_field": {"before": null, "after": 1.0}}`)
	mustAppend(t, s, r)
	check := func(how string, g audit.Record) {
		t.Helper()
		if !sameJSON(g.Details, r.Details) || !sameJSON(g.Changes, r.Changes) {
			t.Errorf("%s: got details %s changes %s; want the canonical %s and %s", how, g.Details, g.Changes, canonicalOrNil(r.Details), canonicalOrNil(r.Changes))
		}
	}
	if q, ok := s.(audit.Querier); ok {
		for _, g := range QueryAll(t, q, audit.Filter{}) {
			check("Query", g)
		}
	}
	if gt, ok := s.(audit.Getter); ok {
		g, err := gt.Get(ctx(t), r.ID)
		if err != nil {
			t.Fatal(err)
		}
		check("Get", g)
	}
	if cs, ok := s.(storekit.SealStore); ok {
		if err := cs.ScanUnsealed(ctx(t), func(g *audit.Record) error { check("ScanUnsealed", *g); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// a batch in which some records' JSON is canonical as given and some
	// is not, in either field
	batch := Records(10, 15)
	batch[1].Changes = json.RawMessage(`{"size": {"before": 1, "after": 2}}`)
	batch[2].Details = json.RawMessage(`{"b": 2, "a": 1}`)
	mustAppend(t, s, batch...)
	if gt, ok := s.(audit.Getter); ok {
		for i, r := range batch {
			g, err := gt.Get(ctx(t), r.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(g.Details, r.Details) || !sameJSON(g.Changes, r.Changes) {
				t.Errorf("batch record %d: got details %s changes %s; want the canonical %s and %s", i, g.Details, g.Changes, canonicalOrNil(r.Details), canonicalOrNil(r.Changes))
			}
		}
	}
}
