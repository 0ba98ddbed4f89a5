package api

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storetest"
)

// TestTenantsNotMerged reproduces issue 20's merges through the real API
// on loopback, on every store: two tenants that share a 1 KiB prefix,
// "inv\xff" and "inv\xfe", "nul\x00" and "nul\uFFFD". Before, the Logger
// stored them cut or repaired, so that a caller scoped to one tenant read
// another's records, and filters and scopes took ids of 4 KiB. Now each
// tenant's records are its own: an id that cannot be one is refused by
// the Logger, by the filter (400, parameter tenant_id) and as a scope
// (500: Authorize returned what is not an identity), and a cursor of one
// tenant is refused to the other.
func TestTenantsNotMerged(t *testing.T) {
	t.Parallel()
	eachTenantStore(t, testTenantsNotMerged)
}

// eachTenantStore runs test in parallel on each of tenantStores.
func eachTenantStore(t *testing.T, test func(*testing.T, audit.Store)) {
	for name, open := range tenantStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, open(t))
		})
	}
}

func testTenantsNotMerged(t *testing.T, st audit.Store) {
	ctx := context.Background()
	long := strings.Repeat("p", audit.MaxIDBytes)
	near := strings.Repeat("q", audit.MaxIDBytes-1) // two valid tenants sharing 1,023 bytes
	tenants := []string{
		long + "-a", long + "-b", // over the limit, sharing 1 KiB
		long,                         // the limit itself
		long[:1010] + "…[truncated]", // what the two were cut to before (1,024 bytes)
		"inv\xff", "inv\xfe", "nul\x00", "nul\uFFFD",
		near + "a", near + "b",
	}
	logger, err := audit.New(st, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { logger.Close(context.Background()) })
	for i, tn := range tenants {
		for range 4 { // more than a page of limit=3
			e := audit.Event{Action: audit.ActionResourceRead, ResourceType: "doc", ResourceID: strconv.Itoa(i), Status: audit.StatusSuccess, TenantID: tn}
			err := logger.Log(ctx, e)
			var fe *audit.FieldError
			switch valid := audit.CheckID(tn) == nil; {
			case valid && err != nil:
				t.Fatalf("tenant %d: Log: %v", i, err)
			case !valid && (!errors.As(err, &fe) || fe.Field != "tenant_id"):
				t.Errorf("tenant %d (%.12q…, %d bytes): Log: %v, want a FieldError for tenant_id", i, tn, len(tn), err)
			}
		}
	}
	var h *Handler
	h, err = New(st.(audit.Querier), logger, AuthorizeFunc(func(r *http.Request) (Caller, error) {
		// "Bearer tenant-hex <hex>": a caller scoped to any bytes
		if f := strings.Fields(r.Header.Get("Authorization")); len(f) == 3 && f[1] == "tenant-hex" {
			tn, err := hex.DecodeString(f[2])
			return Caller{Actor: audit.Actor{UserID: "viewer"}, Scope: Scope{TenantID: string(tn)}}, err
		}
		return Caller{Actor: audit.Actor{UserID: "admin"}}, nil
	}), &Options{OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e := &env{t: t, srv: srv, h: h}
	get := func(tenant *string, pathQuery string) (int, []byte) {
		t.Helper()
		token := "admin"
		if tenant != nil {
			token = "tenant-hex " + hex.EncodeToString([]byte(*tenant))
		}
		r := e.get(token, pathQuery)
		return r.StatusCode, r.body
	}
	// own checks that every record of a page was logged for tenant i
	own := func(what string, i int, body []byte) (n int, next string) {
		t.Helper()
		var p audit.Page
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatalf("%s: %v: %.200s", what, err, body)
		}
		for _, r := range p.Records {
			if r.Action != audit.ActionResourceRead {
				continue // the API's own reads
			}
			if r.ResourceID != strconv.Itoa(i) || r.TenantID != tenants[i] {
				j, _ := strconv.Atoi(r.ResourceID)
				t.Errorf("%s: tenant %d (%.12q…) was answered a record logged for tenant %d (%.12q…)", what, i, tenants[i], j, tenants[j])
				continue
			}
			n++
		}
		return n, p.NextCursor
	}
	cursors := map[int]string{}
	for i, tn := range tenants {
		valid := audit.CheckID(tn) == nil
		// as a caller scoped to the tenant
		status, body := get(&tn, "/audit-logs?limit=3&action=resource.read")
		switch {
		case valid && status != http.StatusOK:
			t.Errorf("tenant %d: status %d: %.300s", i, status, body)
		case !valid && status != http.StatusInternalServerError:
			t.Errorf("scope of tenant %d (%.12q…, %d bytes): status %d, want 500 (not an identity): %.300s", i, tn, len(tn), status, body)
		case valid:
			n, next := own("scope", i, body)
			cursors[i] = next
			if n != 3 || next == "" {
				t.Errorf("tenant %d: %d of its records and cursor %q on the first page, want 3 and a cursor", i, n, next)
			}
		}
		// as the admin, with tenant_id=
		status, body = get(nil, "/audit-logs?limit=1000&action=resource.read&tenant_id="+url.QueryEscape(tn))
		switch {
		case valid && status != http.StatusOK:
			t.Errorf("tenant_id of tenant %d: status %d: %.300s", i, status, body)
		case !valid:
			var p ProblemDetails
			json.Unmarshal(body, &p)
			if status != http.StatusBadRequest || p.Parameter != "tenant_id" {
				t.Errorf("tenant_id of tenant %d (%.12q…): status %d %+v, want 400 for tenant_id", i, tn, status, p)
			}
		default:
			if n, _ := own("tenant_id", i, body); n != 4 {
				t.Errorf("tenant_id of tenant %d: %d records, want its 4", i, n)
			}
		}
	}
	// a cursor of one tenant is refused to the tenant that shares its
	// first 1,023 bytes
	a, b := len(tenants)-2, len(tenants)-1
	for _, c := range []struct{ from, to int }{{a, b}, {b, a}} {
		status, body := get(&tenants[c.to], "/audit-logs?limit=3&action=resource.read&cursor="+url.QueryEscape(cursors[c.from]))
		var p ProblemDetails
		json.Unmarshal(body, &p)
		if status != http.StatusBadRequest || p.Parameter != "cursor" {
			t.Errorf("the cursor of tenant %d used by tenant %d: status %d %+v, want 400 for cursor", c.from, c.to, status, p)
		}
		status, body = get(&tenants[c.from], "/audit-logs?limit=3&action=resource.read&cursor="+url.QueryEscape(cursors[c.from]))
		if n, _ := own("next page", c.from, body); status != http.StatusOK || n != 1 {
			t.Errorf("the cursor of tenant %d used by itself: status %d, %d records, want 200 and its last one", c.from, status, n)
		}
	}
	// the refused scopes were recorded, without the id that is not one
	logger.Close(ctx)
	refused := storetest.QueryAll(t, st.(audit.Querier), audit.Filter{Action: audit.ActionAuditLogRead, Status: audit.StatusError})
	if len(refused) != 5 {
		t.Errorf("%d refused scopes recorded, want 5", len(refused))
	}
	for _, r := range refused {
		if r.TenantID != "" || !strings.Contains(r.ErrorMessage, "Scope.TenantID") {
			t.Errorf("a refused scope recorded in tenant %.12q… with %q", r.TenantID, r.ErrorMessage)
		}
	}
}
