package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storetest"
)

// scopedRecords returns 30 records: users A and B, resources doc/d1 and
// doc/d2 and note/n1, in turn.
func scopedRecords() []audit.Record {
	rs := storetest.Records(0, 30)
	for i := range rs {
		rs[i].UserID = []string{"A", "B"}[i%2]
		rs[i].ResourceType, rs[i].ResourceID = []string{"doc", "doc", "note"}[i%3], []string{"d1", "d2", "n1"}[i%3]
	}
	return rs
}

// listAll pages through a list endpoint with limit=7 and returns the ids.
func (e *env) listAll(token, pathQuery string) []string {
	e.t.Helper()
	var ids []string
	sep := "?"
	if bytes.ContainsRune([]byte(pathQuery), '?') {
		sep = "&"
	}
	cursor := ""
	for range 100 {
		q := pathQuery + sep + "limit=7"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.get(token, q)
		if r.StatusCode != http.StatusOK {
			e.t.Fatalf("GET %s: status %d: %s", q, r.StatusCode, r.body)
		}
		var p audit.Page
		if err := json.Unmarshal(r.body, &p); err != nil {
			e.t.Fatal(err)
		}
		for _, rec := range p.Records {
			ids = append(ids, rec.ID.String())
		}
		if cursor = p.NextCursor; cursor == "" {
			return ids
		}
	}
	e.t.Fatalf("GET %s: more than 100 pages", pathQuery)
	return nil
}

// exportIDs exports with the query and returns the ids of the NDJSON rows.
func (e *env) exportIDs(token, query string) []string {
	e.t.Helper()
	r := e.get(token, "/audit-logs/export?format=ndjson"+query)
	if r.StatusCode != http.StatusOK {
		e.t.Fatalf("export %s: status %d: %s", query, r.StatusCode, r.body)
	}
	var ids []string
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec audit.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			e.t.Fatalf("export row %s: %v", sc.Bytes(), err)
		}
		ids = append(ids, rec.ID.String())
	}
	return ids
}

// TestScopeHostile checks that a scoped caller sees exactly the records of
// its scope, whatever it asks for: lists, per-user lists, exports, cursors
// minted for an unscoped caller, and ids guessed or learnt elsewhere.
func TestScopeHostile(t *testing.T) {
	t.Parallel()
	records := scopedRecords()
	e := newEnv(t, records)
	// want returns the ids of the seeded records inside s, newest first.
	want := func(s Scope, extra func(*audit.Record) bool) []string {
		var ids []string
		for _, rec := range storetest.QueryAll(t, e.store, audit.Filter{}) {
			if strings.HasPrefix(string(rec.Action), "audit_log.") || !s.Matches(&rec) || (extra != nil && !extra(&rec)) {
				continue
			}
			ids = append(ids, rec.ID.String())
		}
		return ids
	}
	onlySeeded := func(ids []string) []string {
		seeded := map[string]bool{}
		for _, r := range records {
			seeded[r.ID.String()] = true
		}
		return slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !seeded[id] })
	}
	// An admin's cursor, minted on an unscoped page.
	adminPage := e.get("admin", "/audit-logs?limit=3")
	var ap audit.Page
	if err := json.Unmarshal(adminPage.body, &ap); err != nil || ap.NextCursor == "" {
		t.Fatalf("admin page: %s (%v)", adminPage.body, err)
	}

	scopeA := Scope{UserID: "A"}
	scopeD1 := Scope{ResourceType: "doc", ResourceID: "d1"}
	tests := []struct {
		name, token, path string
		scope             Scope
		extra             func(*audit.Record) bool // nil: the whole scope
	}{
		{"A lists", "scoped A - -", "/audit-logs?action=user.", scopeA, nil},
		{"A asks for B", "scoped A - -", "/audit-logs?user_id=B", scopeA, func(*audit.Record) bool { return false }},
		{"A asks for A", "scoped A - -", "/audit-logs?user_id=A", scopeA, nil},
		{"A asks for a resource", "scoped A - -", "/audit-logs?resource_type=doc&resource_id=d2", scopeA,
			func(r *audit.Record) bool { return r.ResourceType == "doc" && r.ResourceID == "d2" }},
		{"A per user B", "scoped A - -", "/audit-logs/users/B?days=90", scopeA, func(*audit.Record) bool { return false }},
		{"d1 lists", "scoped - doc d1", "/audit-logs?user_id=B", scopeD1, func(r *audit.Record) bool { return r.UserID == "B" }},
		{"d1 asks for d2", "scoped - doc d1", "/audit-logs?resource_id=d2", scopeD1, func(*audit.Record) bool { return false }},
		{"d1 asks for note", "scoped - doc d1", "/audit-logs?resource_type=note", scopeD1, func(*audit.Record) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := onlySeeded(e.listAll(tt.token, tt.path))
			w := want(tt.scope, tt.extra)
			if tt.path == "/audit-logs?action=user." {
				w = want(tt.scope, func(r *audit.Record) bool { return strings.HasPrefix(string(r.Action), "user.") })
			}
			if !slices.Equal(got, w) {
				t.Errorf("GET %s as %q: got %d records %v, want %d %v", tt.path, tt.token, len(got), got, len(w), w)
			}
			for _, id := range got {
				r := e.get("admin", "/audit-logs/"+id)
				var rec audit.Record
				json.Unmarshal(r.body, &rec)
				if !tt.scope.Matches(&rec) {
					t.Errorf("GET %s as %q returned %s, outside the scope: %+v", tt.path, tt.token, id, rec)
				}
			}
		})
	}

	t.Run("admin cursor", func(t *testing.T) {
		// cursors are bound to the scope they were returned to
		r := e.get("scoped A - -", "/audit-logs?limit=1000&cursor="+url.QueryEscape(ap.NextCursor))
		if p := r.problem(t); r.StatusCode != http.StatusBadRequest || p.Parameter != "cursor" {
			t.Errorf("an admin's cursor used by A: status %d, parameter %q, want 400 cursor: %s", r.StatusCode, p.Parameter, r.body)
		}
	})

	t.Run("export", func(t *testing.T) {
		for _, q := range []string{"", "&user_id=B", "&user_id=A", "&resource_type=note"} {
			got := onlySeeded(e.exportIDs("scoped A - -", q))
			w := want(scopeA, nil)
			switch q {
			case "&user_id=B":
				w = nil
			case "&resource_type=note":
				w = want(scopeA, func(r *audit.Record) bool { return r.ResourceType == "note" })
			}
			if !slices.Equal(got, w) {
				t.Errorf("export%s as A: got %d records, want %d", q, len(got), len(w))
			}
		}
		r := e.get("scoped A - -", "/audit-logs/export?format=csv&user_id=B")
		if n := bytes.Count(r.body, []byte("\r\n")); r.StatusCode != http.StatusOK || n != 1 {
			t.Errorf("CSV export of B as A: status %d, %d rows, want 200 and the header only:\n%s", r.StatusCode, n, r.body)
		}
	})

	t.Run("id guessing", func(t *testing.T) {
		missing := e.get("scoped A - -", "/audit-logs/"+uuid.Must(uuid.NewV7()).String())
		want := missing.problem(t)
		want.RequestID = ""
		for _, rec := range records {
			r := e.get("scoped A - -", "/audit-logs/"+rec.ID.String())
			if rec.UserID == "A" {
				if r.StatusCode != http.StatusOK {
					t.Errorf("A's own record %s: status %d, want 200", rec.ID, r.StatusCode)
				}
				continue
			}
			if r.StatusCode != http.StatusNotFound {
				t.Fatalf("B's record %s as A: status %d, want 404: %s", rec.ID, r.StatusCode, r.body)
			}
			got := r.problem(t)
			got.RequestID = ""
			if got != want {
				t.Errorf("B's record as A: got problem %+v, want the one of a missing id %+v", got, want)
			}
		}
		// The refusals are recorded as a missing id is: same status, message and details.
		evs := e.events(audit.Filter{UserID: "viewer", Status: audit.StatusFailure})
		if len(evs) < 2 {
			t.Fatalf("got %d failed reads recorded, want one per guess", len(evs))
		}
		for _, ev := range evs {
			if ev.ResourceID == "" {
				continue // not a read by id: the refused cursor above
			}
			if ev.ErrorMessage != "not found" {
				t.Errorf("recorded a guess as %q, want \"not found\"", ev.ErrorMessage)
			}
			var d map[string]any
			json.Unmarshal(ev.Details, &d)
			if len(d) != 3 || d["scope"] == nil {
				t.Errorf("recorded a guess with details %s, want method, path and scope only", ev.Details)
			}
		}
	})
}

func TestScopeRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, scopedRecords())
	if r := e.get("scoped A doc -", "/audit-logs"); r.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", r.StatusCode, r.body)
	}
	evs := e.events(audit.Filter{UserID: "viewer"})
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1", len(evs))
	}
	var d struct{ Scope map[string]string }
	json.Unmarshal(evs[0].Details, &d)
	if want := map[string]string{"user_id": "A", "resource_type": "doc"}; !maps.Equal(d.Scope, want) {
		t.Errorf("recorded scope %v, want %v", d.Scope, want)
	}
}
