package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/store/sqlite"
	"github.com/trailmark/audit/storetest"
)

// tenantStores are the stores the tenant isolation test runs on: memory,
// SQLite, and PostgreSQL when AUDIT_TEST_DATABASE_URL is set.
func tenantStores(t *testing.T) map[string]func(t *testing.T) audit.Store {
	stores := map[string]func(t *testing.T) audit.Store{
		"memory": func(*testing.T) audit.Store { return memory.New(nil) },
		"sqlite": func(t *testing.T) audit.Store {
			st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "audit.db"), nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close(context.Background()) })
			return st
		},
	}
	if dsn := os.Getenv("AUDIT_TEST_DATABASE_URL"); dsn != "" {
		stores["postgres"] = func(t *testing.T) audit.Store {
			var b [6]byte
			rand.Read(b[:])
			schema := "trailmark_api_tenant_" + hex.EncodeToString(b[:])
			ctx := context.Background()
			st, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				st.DB().Exec("DROP SCHEMA IF EXISTS " + schema + " CASCADE")
				st.Close(context.Background())
			})
			if err := st.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return st
		}
	}
	return stores
}

// serveStore serves the API over st on loopback, with a Logger of its
// own (e.logger), for the tokens of authorize. opts may be nil.
func serveStore(t *testing.T, st audit.Store, opts *Options) *env {
	t.Helper()
	logger, err := audit.New(st, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logger.Close(context.Background()) })
	var h *Handler
	if h, err = New(st.(audit.Querier), logger, authorize(&h), opts); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, srv: srv, h: h, logger: logger}
}

// tenantRecords returns 40 records, alternately of tenant-alpha and
// tenant-bravo. Both tenants have a user "shared" and a resource doc/d1;
// every field of a bravo record that is free text holds "bravo-secret".
func tenantRecords() (alpha, bravo []audit.Record) {
	for i, r := range storetest.Records(0, 40) {
		r.UserID = []string{"shared", "own"}[i%4/2]
		r.ResourceType, r.ResourceID = "doc", "d1"
		if i%2 == 0 {
			r.TenantID = "tenant-alpha"
			alpha = append(alpha, r)
			continue
		}
		r.TenantID = "tenant-bravo"
		r.UserEmail = fmt.Sprintf("bravo-secret-%d@example.com", i)
		r.ErrorMessage = "bravo-secret message"
		r.Details = json.RawMessage(`{"note":"bravo-secret details"}`)
		bravo = append(bravo, r)
	}
	return alpha, bravo
}

// TestTenantIsolation seeds two tenants and checks, on every store, that
// no response to a caller scoped to tenant-alpha ever holds an id or a
// field value of tenant-bravo, whatever it asks: tenant_id= of the other
// tenant, filters that match both tenants, per-user lists, ids of the
// other tenant, exports in every format, cursors of the other tenant, of
// an admin, altered or forged.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	eachTenantStore(t, testTenantIsolation)
}

func testTenantIsolation(t *testing.T, st audit.Store) {
	ctx := context.Background()
	alpha, bravo := tenantRecords()
	if err := st.Append(ctx, append(append([]audit.Record(nil), alpha...), bravo...)...); err != nil {
		t.Fatal(err)
	}
	e := serveStore(t, st, &Options{Now: func() time.Time { return testNow }})
	e.h.pageSize = 3 // exports page through the store

	// what must never reach alpha
	var leaks []string
	for _, r := range bravo {
		leaks = append(leaks, r.ID.String(), r.UserEmail)
	}
	leaks = append(leaks, "bravo-secret")
	const A, B = "tenant tenant-alpha", "tenant tenant-bravo"
	check := func(what string, r response) {
		t.Helper()
		for _, l := range leaks {
			if bytes.Contains(r.body, []byte(l)) {
				t.Errorf("%s: the response to alpha holds %q of bravo:\n%.600s", what, l, r.body)
				return
			}
		}
	}
	alphaIDs := map[string]bool{}
	for _, r := range alpha {
		alphaIDs[r.ID.String()] = true
	}
	// page walks a list as alpha with limit=3, checking every page, and
	// returns the seeded ids seen and the cursors returned.
	page := func(path string) (ids []string, cursors []string) {
		t.Helper()
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		cursor := ""
		for range 50 {
			q := path + sep + "limit=3"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			r := e.get(A, q)
			check("GET "+q, r)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: status %d: %s", q, r.StatusCode, r.body)
			}
			var p audit.Page
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			for _, rec := range p.Records {
				if rec.TenantID != "tenant-alpha" {
					t.Errorf("GET %s: a record of tenant %q", q, rec.TenantID)
				}
				if alphaIDs[rec.ID.String()] {
					ids = append(ids, rec.ID.String())
				}
			}
			if cursor = p.NextCursor; cursor == "" {
				return ids, cursors
			}
			cursors = append(cursors, cursor)
		}
		t.Fatalf("GET %s: more than 50 pages", path)
		return nil, nil
	}

	lists := []struct {
		path string
		want int // seeded alpha records
	}{
		{"/audit-logs", len(alpha)},
		{"/audit-logs?tenant_id=tenant-alpha", len(alpha)},
		{"/audit-logs?tenant_id=tenant-bravo", 0},
		{"/audit-logs?user_id=shared", len(alpha) / 2},
		{"/audit-logs?resource_type=doc&resource_id=d1", len(alpha)},
		{"/audit-logs?status=success", -1},
		{"/audit-logs/users/shared?days=90", -1},
		{"/audit-logs/users/own?days=90", -1},
	}
	var alphaCursors []string
	for _, l := range lists {
		ids, cs := page(l.path)
		if l.want >= 0 && len(ids) != l.want {
			t.Errorf("GET %s as alpha: got %d of alpha's records, want %d", l.path, len(ids), l.want)
		}
		alphaCursors = append(alphaCursors, cs...)
	}

	// exports, every format, with filters that match both tenants
	for _, q := range []string{"", "&tenant_id=tenant-bravo", "&user_id=shared", "&resource_type=doc", "&action=user.*"} {
		for _, format := range []string{"ndjson", "csv", "ocsf"} {
			r := e.get(A, "/audit-logs/export?format="+format+q)
			check("export "+format+q, r)
			if r.StatusCode != http.StatusOK {
				t.Errorf("export %s%s: status %d", format, q, r.StatusCode)
			}
			if q == "" && format == "ndjson" {
				for _, rec := range alpha {
					if !bytes.Contains(r.body, []byte(rec.ID.String())) {
						t.Errorf("export as alpha lacks alpha's record %s", rec.ID)
					}
				}
			}
		}
	}

	// cursors: bravo's, an admin's, altered, forged, bare store cursors
	var bravoCursors []string
	for _, path := range []string{"/audit-logs?limit=3", "/audit-logs?limit=3&tenant_id=tenant-alpha"} {
		for _, token := range []string{B, "admin"} {
			r := e.get(token, path)
			var p audit.Page
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatalf("%s as %s: %s (%v)", path, token, r.body, err)
			}
			if p.NextCursor != "" {
				bravoCursors = append(bravoCursors, p.NextCursor)
			}
		}
	}
	if len(bravoCursors) != 3 {
		t.Fatalf("got %d cursors of bravo and the admin, want 3", len(bravoCursors))
	}
	if len(alphaCursors) == 0 {
		t.Fatal("alpha was given no cursor")
	}
	ac := alphaCursors[0]
	dot := strings.LastIndexByte(ac, '.')
	storeCursor := ac[:dot]
	hostile := append(bravoCursors,
		storeCursor, // the bare store cursor
		storeCursor+".",
		storeCursor+"."+strings.Repeat("A", 22), // a forged MAC
		ac[:len(ac)-1]+map[bool]string{true: "B", false: "A"}[ac[len(ac)-1] == 'A'],
		bravoCursors[0][:strings.LastIndexByte(bravoCursors[0], '.')]+ac[dot:], // bravo's position, alpha's MAC
	)
	for _, c := range hostile {
		for _, path := range []string{"/audit-logs?cursor=", "/audit-logs/users/shared?cursor=", "/audit-logs/export?cursor="} {
			r := e.get(A, path+url.QueryEscape(c))
			check("cursor", r)
			if p := r.problem(t); r.StatusCode != http.StatusBadRequest || p.Parameter != "cursor" {
				t.Errorf("GET %s%s as alpha: status %d, parameter %q, want 400 cursor", path, c, r.StatusCode, p.Parameter)
			}
		}
	}
	// alpha's own cursors keep working for alpha only
	if r := e.get(A, "/audit-logs?cursor="+url.QueryEscape(ac)); r.StatusCode != http.StatusOK {
		t.Errorf("alpha's own cursor: status %d: %s", r.StatusCode, r.body)
	}
	if r := e.get(B, "/audit-logs?cursor="+url.QueryEscape(ac)); r.StatusCode != http.StatusBadRequest {
		t.Errorf("alpha's cursor used by bravo: status %d, want 400", r.StatusCode)
	}

	// Last, as alpha's own read records hold what alpha asked for,
	// including the ids it guessed: they are in alpha's log from now on.
	// bravo's ids: answered as ids that do not exist
	missing := e.get(A, "/audit-logs/"+uuid.Must(uuid.NewV7()).String())
	wantProblem := missing.problem(t)
	wantProblem.RequestID = ""
	for _, rec := range bravo {
		r := e.get(A, "/audit-logs/"+rec.ID.String())
		check("GET bravo's id", r)
		got := r.problem(t)
		got.RequestID = ""
		if r.StatusCode != http.StatusNotFound || got != wantProblem {
			t.Errorf("bravo's record as alpha: status %d %+v, want the 404 of a missing id %+v", r.StatusCode, got, wantProblem)
		}
	}
	if r := e.get(A, "/audit-logs/"+alpha[0].ID.String()); r.StatusCode != http.StatusOK {
		t.Errorf("alpha's own record: status %d, want 200", r.StatusCode)
	}

	// the admin sees both, and tenant_id= selects one
	ids, _ := func() ([]string, []string) {
		r := e.get("admin", "/audit-logs?limit=1000&tenant_id=tenant-bravo")
		var p audit.Page
		json.Unmarshal(r.body, &p)
		var ids []string
		for _, rec := range p.Records {
			if rec.TenantID != "tenant-bravo" {
				t.Errorf("admin, tenant_id=tenant-bravo: a record of %q", rec.TenantID)
			}
			ids = append(ids, rec.ID.String())
		}
		return ids, nil
	}()
	if len(ids) < len(bravo) {
		t.Errorf("admin, tenant_id=tenant-bravo: got %d records, want at least %d", len(ids), len(bravo))
	}

	// alpha's reads are recorded in alpha's log
	e.logger.Close(ctx)
	reads := storetest.QueryAll(t, st.(audit.Querier), audit.Filter{UserID: "viewer-tenant-alpha"})
	if len(reads) == 0 {
		t.Fatal("alpha's reads were not recorded")
	}
	for _, r := range reads {
		if r.TenantID != "tenant-alpha" {
			t.Errorf("a read by alpha recorded in tenant %q, want tenant-alpha", r.TenantID)
		}
	}
}
