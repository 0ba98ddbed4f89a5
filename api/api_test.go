package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/middleware"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// now is the test clock: after every storetest record.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// testStore is a memory store whose Append can be made to fail, to test
// what happens when reads cannot be recorded.
type testStore struct {
	*memory.Store
	failAppend atomic.Bool
	// notJSON makes every record read back hold Details and Changes that
	// are not JSON, as a row inserted around every door may.
	notJSON atomic.Bool
}

func (s *testStore) Query(ctx context.Context, f audit.Filter) (audit.Page, error) {
	p, err := s.Store.Query(ctx, f)
	if s.notJSON.Load() {
		for i := range p.Records {
			s.spoil(&p.Records[i])
		}
	}
	return p, err
}

func (s *testStore) Get(ctx context.Context, id uuid.UUID) (audit.Record, error) {
	r, err := s.Store.Get(ctx, id)
	if s.notJSON.Load() {
		s.spoil(&r)
	}
	return r, err
}

func (s *testStore) spoil(r *audit.Record) {
	r.Details = json.RawMessage("{\"a\": [1, \xff")
	r.Changes = json.RawMessage("not json")
}

func (s *testStore) Append(ctx context.Context, rs ...audit.Record) error {
	if s.failAppend.Load() {
		return storekit.Permanent(errors.New("audit store down"))
	}
	return s.Store.Append(ctx, rs...)
}

// authorize is the test authorization: the bearer token names the
// caller. "Bearer scoped <user_id> <resource_type> <resource_id>" is a
// caller with that Scope ("-" for a field left open); "Bearer tenant <id>"
// a caller scoped to that tenant.
func authorize(h **Handler) AuthorizeFunc {
	actor := authorizeActor(h)
	return func(r *http.Request) (Caller, error) {
		if f := strings.Fields(r.Header.Get("Authorization")); len(f) == 3 && f[0] == "Bearer" && f[1] == "tenant" {
			return Caller{Actor: audit.Actor{UserID: "viewer-" + f[2]}, Scope: Scope{TenantID: f[2]}}, nil
		}
		if f := strings.Fields(r.Header.Get("Authorization")); len(f) == 5 && f[0] == "Bearer" && f[1] == "scoped" {
			open := func(s string) string { return strings.TrimPrefix(s, "-") }
			return Caller{
				Actor: audit.Actor{UserID: "viewer"},
				Scope: Scope{UserID: open(f[2]), ResourceType: open(f[3]), ResourceID: open(f[4])},
			}, nil
		}
		a, err := actor(r)
		return Caller{Actor: a}, err
	}
}

func authorizeActor(h **Handler) func(r *http.Request) (audit.Actor, error) {
	return func(r *http.Request) (audit.Actor, error) {
		switch r.Header.Get("Authorization") {
		case "":
			return audit.Actor{}, ErrUnauthenticated
		case "Bearer admin":
			return audit.Actor{UserID: "admin", UserEmail: "admin@example.com"}, nil
		case "Bearer reader": // may read, may not export
			a := audit.Actor{UserID: "reader"}
			if (*h).ActionFor(r) == audit.ActionAuditLogExport {
				return a, fmt.Errorf("%w: exports need the auditor role", ErrForbidden)
			}
			return a, nil
		case "Bearer nobody":
			return audit.Actor{UserID: "nobody"}, ErrForbidden
		case "Bearer broken":
			return audit.Actor{}, errors.New("identity provider unreachable")
		case "Bearer anonymous":
			return audit.Actor{}, nil
		}
		return audit.Actor{}, fmt.Errorf("%w: unknown token", ErrUnauthenticated)
	}
}

type env struct {
	t      *testing.T
	srv    *httptest.Server
	store  *testStore
	logger *audit.Logger
	h      *Handler
	errs   chan error
}

// newEnv serves the API behind the middleware on loopback. Records are
// appended to the store directly; the API's own events go through the
// Logger into the same store.
// setup is what newEnv passes to New, for tests to change.
type setup struct {
	Store audit.Querier
	Auth  AuthorizeFunc
	Options
}

func newEnv(t *testing.T, records []audit.Record, tweak ...func(*setup)) *env {
	t.Helper()
	e := &env{t: t, store: &testStore{Store: memory.New(nil)}, errs: make(chan error, 100)}
	if len(records) > 0 {
		if err := e.store.Append(context.Background(), records...); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	e.logger, err = audit.New(e.store, &audit.Options{NoLifecycleEvents: true, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.logger.Close(context.Background()) })
	cfg := setup{Store: e.store, Auth: authorize(&e.h), Options: Options{
		Now: func() time.Time { return testNow },
		OnError: func(err error) {
			select {
			case e.errs <- err:
			default:
			}
		},
	}}
	for _, f := range tweak {
		f(&cfg)
	}
	if e.h, err = New(cfg.Store, e.logger, cfg.Auth, &cfg.Options); err != nil {
		t.Fatal(err)
	}
	mw, err := middleware.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/audit-logs", e.h)
	mux.Handle("/audit-logs/", e.h)
	e.srv = httptest.NewServer(mw(mux))
	t.Cleanup(e.srv.Close)
	return e
}

type response struct {
	*http.Response
	body []byte
}

func (e *env) get(token, pathQuery string) response {
	return e.do(http.MethodGet, token, pathQuery)
}

func (e *env) do(method, token, pathQuery string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+pathQuery, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading the body: %v", method, pathQuery, err)
	}
	return response{resp, b}
}

func (r response) problem(t *testing.T) ProblemDetails {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d, Content-Type %q, want application/problem+json; body %s", r.StatusCode, ct, r.body)
	}
	var p ProblemDetails
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem %s: %v", r.body, err)
	}
	if p.Status != r.StatusCode || p.Type != "about:blank" || p.Title != http.StatusText(r.StatusCode) {
		t.Errorf("problem %+v does not match status %d", p, r.StatusCode)
	}
	return p
}

// events returns the API's own events, newest first.
func (e *env) events(f audit.Filter) []audit.Record {
	e.t.Helper()
	if f.Action == "" {
		f.ActionPrefix = "audit_log."
	}
	return storetest.QueryAll(e.t, e.store, f)
}

// seed returns n storetest records, all before testNow.
func seed(n int) []audit.Record { return storetest.Records(0, n) }

func TestNewRefusesIncompleteConfig(t *testing.T) {
	t.Parallel()
	s := memory.New(nil)
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	allow := AuthorizeFunc(func(*http.Request) (Caller, error) { return Caller{Actor: audit.Actor{UserID: "x"}}, nil })
	tests := []struct {
		name   string
		store  audit.Querier
		logger *audit.Logger
		auth   Authorizer
		opts   *Options
	}{
		{"no Authorizer", s, l, nil, nil},
		{"nil AuthorizeFunc", s, l, AuthorizeFunc(nil), nil},
		{"nil AllowActor", s, l, AllowActor(nil), nil},
		{"no Store", nil, l, allow, nil},
		{"no Logger", s, nil, allow, nil},
		{"relative base", s, l, allow, &Options{BasePath: "audit"}},
		{"root base", s, l, allow, &Options{BasePath: "/"}},
		{"trailing slash", s, l, allow, &Options{BasePath: "/audit/"}},
		{"wildcard base", s, l, allow, &Options{BasePath: "/{x}"}},
	}
	for _, tt := range tests {
		if h, err := New(tt.store, tt.logger, tt.auth, tt.opts); err == nil || h != nil || !strings.HasPrefix(err.Error(), "audit: api: ") {
			t.Errorf("%s: got %v, %v; want a nil Handler and an error starting with \"audit: api: \"", tt.name, h, err)
		}
	}
	if _, err := New(s, l, allow, &Options{BasePath: "/admin/audit"}); err != nil {
		t.Errorf("valid options: %v", err)
	}
}

func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	recs := seed(3)
	e := newEnv(t, recs)
	paths := []string{
		"/audit-logs",
		"/audit-logs/users/user-1",
		"/audit-logs/" + recs[0].ID.String(),
		"/audit-logs/export",
		"/audit-logs/nope/nope",
	}
	tests := []struct {
		token string
		want  []int // per path
	}{
		{"", []int{401, 401, 401, 401, 401}},
		{"garbage", []int{401, 401, 401, 401, 401}},
		{"anonymous", []int{401, 401, 401, 401, 401}},
		{"nobody", []int{403, 403, 403, 403, 403}},
		{"broken", []int{500, 500, 500, 500, 500}},
		{"reader", []int{200, 200, 200, 403, 404}},
		{"admin", []int{200, 200, 200, 200, 404}},
	}
	for _, tt := range tests {
		for i, p := range paths {
			before := len(e.events(audit.Filter{}))
			r := e.get(tt.token, p)
			if r.StatusCode != tt.want[i] {
				t.Errorf("token %q GET %s: status %d, want %d; %s", tt.token, p, r.StatusCode, tt.want[i], r.body)
				continue
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("token %q GET %s: Cache-Control %q, want no-store", tt.token, p, r.Header.Get("Cache-Control"))
			}
			if r.StatusCode >= 400 {
				r.problem(t)
			}
			if r.StatusCode == 401 && r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("token %q GET %s: 401 without WWW-Authenticate", tt.token, p)
			}
			if r.StatusCode == 401 || r.StatusCode == 403 || r.StatusCode == 500 {
				if strings.Contains(string(r.body), "user-1") || strings.Contains(string(r.body), "items") {
					t.Errorf("token %q GET %s: refusal leaks data: %s", tt.token, p, r.body)
				}
			}
			evs := e.events(audit.Filter{})
			if len(evs) != before+1 && !(p == "/audit-logs/export" && r.StatusCode == 200 && len(evs) == before+2) {
				t.Errorf("token %q GET %s: %d new events, want 1 (2 for an export)", tt.token, p, len(evs)-before)
				continue
			}
			ev := evs[0]
			wantAction := audit.ActionAuditLogRead
			if p == "/audit-logs/export" {
				wantAction = audit.ActionAuditLogExport
			}
			wantStatus := audit.StatusSuccess
			switch {
			case r.StatusCode == 500:
				wantStatus = audit.StatusError
			case r.StatusCode >= 400:
				wantStatus = audit.StatusFailure
			}
			if ev.Action != wantAction || ev.Status != wantStatus {
				t.Errorf("token %q GET %s: recorded %s/%s, want %s/%s", tt.token, p, ev.Action, ev.Status, wantAction, wantStatus)
			}
			if (tt.token == "nobody" || tt.token == "reader" || tt.token == "admin") && ev.UserID != tt.token {
				t.Errorf("token %q GET %s: recorded user %q, want the caller", tt.token, p, ev.UserID)
			}
			if ev.RequestID == "" || r.Header.Get("X-Request-ID") != ev.RequestID {
				t.Errorf("token %q GET %s: recorded request id %q, response has %q", tt.token, p, ev.RequestID, r.Header.Get("X-Request-ID"))
			}
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		for _, p := range []string{"/audit-logs", "/audit-logs/export", "/audit-logs/x"} {
			r := e.do(m, "admin", p)
			if r.StatusCode != 405 || r.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s %s: %d Allow %q, want 405 Allow GET, HEAD", m, p, r.StatusCode, r.Header.Get("Allow"))
			}
			r.problem(t)
			if r := e.do(m, "", p); r.StatusCode != 401 {
				t.Errorf("%s %s without credentials: %d, want 401", m, p, r.StatusCode)
			}
		}
	}
}

// badParams are requests with one bad parameter each, and the parameter
// the 400 must name.
var badParams = []struct {
	path, query, param string
}{
	{"/audit-logs", "colour=red", "colour"},
	{"/audit-logs", "userid=u1", "userid"},
	{"/audit-logs", "user_id=", "user_id"},
	{"/audit-logs", "user_id=a&user_id=b", "user_id"},
	{"/audit-logs", "since=yesterday", "since"},
	{"/audit-logs", "since=2025-01-01", "since"},
	{"/audit-logs", "since=2025-01-01T00:00:00+02:00", "since"}, // the + is a space
	{"/audit-logs", "until=2025-13-01T00:00:00Z", "until"},
	{"/audit-logs", "since=2025-02-01T00:00:00Z&until=2025-01-01T00:00:00Z", "until"},
	{"/audit-logs", "since=2025-02-01T00:00:00Z&until=2025-02-01T00:00:00Z", "until"},
	{"/audit-logs", "since=0000-01-01T00:00:00Z", "since"},
	{"/audit-logs", "limit=0", "limit"},
	{"/audit-logs", "limit=5000", "limit"},
	{"/audit-logs", "limit=1001", "limit"},
	{"/audit-logs", "limit=-1", "limit"},
	{"/audit-logs", "limit=ten", "limit"},
	{"/audit-logs", "limit=99999999999999999999", "limit"},
	{"/audit-logs", "cursor=not-a-cursor", "cursor"},
	{"/audit-logs", "cursor=AAAA", "cursor"},
	{"/audit-logs", "status=ok", "status"},
	{"/audit-logs", "action=*", "action"},
	{"/audit-logs", "action=us*er", "action"},
	{"/audit-logs", "action=user.**", "action"},
	{"/audit-logs", "user_id=%ff%fe", "user_id"},
	{"/audit-logs", "resource_id=a%00b", "resource_id"},
	{"/audit-logs", "request_id=" + strings.Repeat("x", 5000), "request_id"},
	{"/audit-logs", "user_id=%zz", "query"},
	{"/audit-logs", "=0", "query"},
	{"/audit-logs", "a=1;b=2", "query"},
	{"/audit-logs", "format=csv", "format"},
	{"/audit-logs", "days=3", "days"},
	{"/audit-logs/export", "format=xml", "format"},
	{"/audit-logs/export", "format=", "format"},
	{"/audit-logs/export", "limit=10", "limit"},
	{"/audit-logs/export", "until=2025-01-01T00:00:00Z&since=2025-06-01T00:00:00Z", "until"},
	{"/audit-logs/export", "cursor=xyz", "cursor"},
	{"/audit-logs/users/u1", "days=0", "days"},
	{"/audit-logs/users/u1", "days=91", "days"},
	{"/audit-logs/users/u1", "days=1.5", "days"},
	{"/audit-logs/users/u1", "action=user.login", "action"},
	{"/audit-logs/users/u1", "limit=0", "limit"},
	{"/audit-logs/users/" + strings.Repeat("u", 5000), "", "user_id"},
	{"/audit-logs/not-a-uuid", "", "id"},
	{"/audit-logs/0190b3d27c1a7d6e9f001a2b3c4d5e6f", "", "id"},
	{"/audit-logs/0190b3d2-7c1a-7d6e-9f00-1a2b3c4d5e6f", "limit=1", "limit"},
}

// TestRefusedQueryRedacted: the record of a refused request keeps the
// parameters it was given, with the values of secrets redacted by the
// Logger's rules, over real HTTP.
func TestRefusedQueryRedacted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, seed(1))
	tests := []struct{ path, query string }{
		{"/audit-logs", "access_token=MARK-1&user_id=u1"},
		{"/audit-logs", "password=MARK-2&password=MARK-3"},
		{"/audit-logs", "x=1;api_key=MARK-4"},
		{"/audit-logs", "pin=MARK-5&spinner=kept-1"},
		{"/audit-logs", "pass%zzword=MARK-6"},
		{"/audit-logs", "Pass%E2%80%8Bword=MARK-7"},
		{"/audit-logs/export", "format=csv&session_token=MARK-8"},
		{"/audit-logs/users/u1", "days=3&client_secret=MARK-9&otp=MARK-10"},
	}
	for _, tt := range tests {
		before := len(e.events(audit.Filter{Status: audit.StatusFailure}))
		if r := e.get("admin", tt.path+"?"+tt.query); r.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s?%s: status %d, want 400", tt.path, tt.query, r.StatusCode)
		}
		evs := e.events(audit.Filter{Status: audit.StatusFailure})
		if len(evs) != before+1 {
			t.Fatalf("%s?%s: %d events, want 1", tt.path, tt.query, len(evs)-before)
		}
		rec, _ := json.Marshal(evs[0])
		if strings.Contains(string(rec), "MARK") {
			t.Errorf("%s?%s: a secret was recorded: %s", tt.path, tt.query, rec)
		}
		if !strings.Contains(string(evs[0].Details), `"query":{`) {
			t.Errorf("%s?%s: details %s, want the parameters under query", tt.path, tt.query, evs[0].Details)
		}
	}
	if d := string(e.events(audit.Filter{Status: audit.StatusFailure})[4].Details); !strings.Contains(d, `"spinner":"kept-1"`) {
		t.Errorf("innocent parameter not kept: %s", d)
	}
}

func TestBadParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, seed(5))
	for _, tt := range badParams {
		before := len(e.events(audit.Filter{Status: audit.StatusFailure}))
		r := e.get("admin", tt.path+"?"+tt.query)
		if r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s?%s: status %d, want 400; %s", tt.path, clip(tt.query), r.StatusCode, r.body)
			continue
		}
		p := r.problem(t)
		if p.Parameter != tt.param || !strings.HasPrefix(p.Detail, tt.param+" ") {
			t.Errorf("%s?%s: parameter %q detail %q, want %q", tt.path, clip(tt.query), p.Parameter, p.Detail, tt.param)
		}
		if p.RequestID == "" {
			t.Errorf("%s?%s: problem without request id", tt.path, clip(tt.query))
		}
		if n := len(e.events(audit.Filter{Status: audit.StatusFailure})); n != before+1 {
			t.Errorf("%s?%s: %d failure events recorded, want 1", tt.path, clip(tt.query), n-before)
		}
	}
}

// TestPlusInDate checks that a correctly escaped offset works.
func TestPlusInDate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, seed(5))
	q := url.Values{"since": {"2025-01-01T00:00:00+02:00"}}.Encode()
	if r := e.get("admin", "/audit-logs?"+q); r.StatusCode != 200 {
		t.Errorf("status %d: %s", r.StatusCode, r.body)
	}
}

type listBody struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

func decodeList(t *testing.T, r response) ([]audit.Record, string) {
	t.Helper()
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, Content-Type %q: %s", r.StatusCode, r.Header.Get("Content-Type"), r.body)
	}
	var lb listBody
	if err := json.Unmarshal(r.body, &lb); err != nil {
		t.Fatal(err)
	}
	if lb.Items == nil {
		t.Fatalf("items is not an array: %s", r.body)
	}
	rs := make([]audit.Record, len(lb.Items))
	for i, raw := range lb.Items {
		checkAllFields(t, raw)
		if err := json.Unmarshal(raw, &rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	return rs, lb.NextCursor
}

// checkAllFields checks that a record's JSON has every field.
func checkAllFields(t *testing.T, raw []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range csvHeader() {
		if _, ok := m[k]; !ok {
			t.Fatalf("field %q missing from %s", k, raw)
		}
	}
}

func ids(rs []audit.Record) []string {
	out := make([]string, len(rs))
	for i := range rs {
		out[i] = rs[i].ID.String()
	}
	return out
}

func TestListPagesAndFilters(t *testing.T) {
	t.Parallel()
	recs := seed(250)
	e := newEnv(t, recs)
	before := fmt.Sprintf("until=%s", testNow.Add(-time.Hour).Format(time.RFC3339)) // leaves the API's own events out
	tests := []struct {
		query  string
		filter audit.Filter
	}{
		{before, audit.Filter{}},
		{before + "&user_id=user-1", audit.Filter{UserID: "user-1"}},
		{before + "&action=user.login", audit.Filter{Action: audit.ActionUserLogin}},
		{before + "&action=user.", audit.Filter{ActionPrefix: "user."}},
		{before + "&action=user.*", audit.Filter{ActionPrefix: "user."}},
		{before + "&action=api_key*", audit.Filter{ActionPrefix: "api_key"}},
		{before + "&resource_type=document&resource_id=res-3", audit.Filter{ResourceType: "document", ResourceID: "res-3"}},
		{before + "&status=failure", audit.Filter{Status: audit.StatusFailure}},
		{before + "&request_id=req-4", audit.Filter{RequestID: "req-4"}},
		{"since=2026-03-14T16:00:00Z&until=2026-03-14T17:00:00.5Z", audit.Filter{
			Since: time.Date(2026, 3, 14, 16, 0, 0, 0, time.UTC), Until: time.Date(2026, 3, 14, 17, 0, 0, 5e8, time.UTC)}},
	}
	for _, tt := range tests {
		for _, limit := range []int{0, 7, 100, 1000} {
			tt.filter.Limit = 0
			if tt.filter.Until.IsZero() {
				tt.filter.Until = testNow.Add(-time.Hour)
			}
			want := storetest.QueryAll(t, e.store, tt.filter)
			if len(want) == 0 {
				t.Fatalf("%s: the test data has no match", tt.query)
			}
			var got []audit.Record
			q := tt.query
			if limit > 0 {
				q += fmt.Sprintf("&limit=%d", limit)
			}
			pageSize := cmpOr(limit, audit.DefaultLimit)
			for pages := 0; ; pages++ {
				if pages > 300 {
					t.Fatalf("%s: too many pages", q)
				}
				rs, next := decodeList(t, e.get("admin", "/audit-logs?"+q))
				if len(rs) > pageSize {
					t.Fatalf("%s: page of %d, want at most %d", q, len(rs), pageSize)
				}
				got = append(got, rs...)
				if next == "" {
					break
				}
				q = tt.query + fmt.Sprintf("&limit=%d&cursor=%s", pageSize, next)
			}
			if !slices.Equal(ids(got), ids(want)) {
				t.Errorf("%s (limit %d): got %d records, want %d, or in another order", tt.query, limit, len(got), len(want))
				continue
			}
			for i := range got {
				if d := storetest.Equal(got[i], want[i]); d != "" {
					t.Fatalf("%s: record %d: %s", tt.query, i, d)
				}
			}
		}
	}
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func TestReadIsRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, seed(20))
	r := e.get("admin", "/audit-logs?user_id=user-2&limit=3")
	rs, next := decodeList(t, r)
	if len(rs) != 3 || next == "" {
		t.Fatalf("got %d records, next %q", len(rs), next)
	}
	evs := e.events(audit.Filter{Action: audit.ActionAuditLogRead})
	if len(evs) != 1 {
		t.Fatalf("got %d read events, want 1", len(evs))
	}
	ev := evs[0]
	d, _ := ev.DecodeDetails()
	q, _ := d["query"].(map[string]any)
	if ev.UserID != "admin" || ev.UserEmail != "admin@example.com" || ev.Status != audit.StatusSuccess ||
		ev.ResourceType != ResourceType || !ev.IPAddress.IsLoopback() || ev.RequestID != r.Header.Get("X-Request-ID") ||
		q["user_id"] != "user-2" || q["limit"] != "3" || d["returned"] != json.Number("3") || d["more"] != true {
		t.Errorf("read event %+v, details %v", ev, d)
	}
}

func TestUserActivity(t *testing.T) {
	t.Parallel()
	var recs []audit.Record
	for i, age := range []time.Duration{time.Hour, 29 * 24 * time.Hour, 31 * 24 * time.Hour, 89 * 24 * time.Hour, 91 * 24 * time.Hour} {
		r := storetest.Record(i)
		r.UserID = "alice"
		r.OccurredAt = testNow.Add(-age)
		recs = append(recs, r)
	}
	other := storetest.Record(9)
	other.UserID, other.OccurredAt = "bob", testNow.Add(-time.Hour)
	e := newEnv(t, append(recs, other))
	tests := []struct {
		query string
		want  int
	}{{"", 2}, {"?days=30", 2}, {"?days=1", 1}, {"?days=90", 4}, {"?days=90&limit=3", 3}}
	for _, tt := range tests {
		rs, _ := decodeList(t, e.get("admin", "/audit-logs/users/alice"+tt.query))
		if len(rs) != tt.want {
			t.Errorf("%s: got %d records, want %d", tt.query, len(rs), tt.want)
		}
		for _, r := range rs {
			if r.UserID != "alice" {
				t.Errorf("%s: got a record of %q", tt.query, r.UserID)
			}
		}
	}
	// a user id that needs escaping
	if rs, _ := decodeList(t, e.get("admin", "/audit-logs/users/"+url.PathEscape("a/b c"))); len(rs) != 0 {
		t.Errorf("escaped user id: got %d records", len(rs))
	}
	evs := e.events(audit.Filter{Action: audit.ActionAuditLogRead})
	if d, _ := evs[0].DecodeDetails(); d["user_id"] != "a/b c" {
		t.Errorf("user read event details %v, want user_id a/b c", d)
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	recs := seed(3)
	e := newEnv(t, recs)
	r := e.get("admin", "/audit-logs/"+recs[1].ID.String())
	if r.StatusCode != 200 {
		t.Fatalf("status %d: %s", r.StatusCode, r.body)
	}
	checkAllFields(t, r.body)
	var got audit.Record
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	if d := storetest.Equal(got, recs[1]); d != "" {
		t.Error(d)
	}
	evs := e.events(audit.Filter{Action: audit.ActionAuditLogRead})
	if len(evs) != 1 || evs[0].ResourceID != recs[1].ID.String() || evs[0].Status != audit.StatusSuccess {
		t.Errorf("events %+v: want one success naming the record", evs)
	}

	missing := "0190b3d2-7c1a-7d6e-9f00-1a2b3c4d5e6f"
	r = e.get("admin", "/audit-logs/"+missing)
	if r.StatusCode != 404 {
		t.Errorf("missing record: status %d, want 404", r.StatusCode)
	}
	r.problem(t)
	if evs := e.events(audit.Filter{Action: audit.ActionAuditLogRead}); evs[0].ResourceID != missing || evs[0].Status != audit.StatusFailure {
		t.Errorf("not-found event %+v", evs[0])
	}
}

// querierOnly hides the memory store's Get.
type querierOnly struct{ audit.Querier }

func TestGetWithoutGetter(t *testing.T) {
	t.Parallel()
	e := newEnv(t, seed(1), func(c *setup) { c.Store = querierOnly{c.Store} })
	r := e.get("admin", "/audit-logs/0190b3d2-7c1a-7d6e-9f00-1a2b3c4d5e6f")
	if r.StatusCode != http.StatusNotImplemented {
		t.Errorf("status %d, want 501", r.StatusCode)
	}
	r.problem(t)
}

// TestFailClosed checks that a read that cannot be recorded returns no
// data.
func TestFailClosed(t *testing.T) {
	t.Parallel()
	recs := seed(10)
	e := newEnv(t, recs)
	e.store.failAppend.Store(true)
	for _, p := range []string{
		"/audit-logs",
		"/audit-logs/users/user-1",
		"/audit-logs/" + recs[0].ID.String(),
		"/audit-logs/export",
		"/audit-logs/export?format=csv",
	} {
		r := e.get("admin", p)
		if r.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503; %s", p, r.StatusCode, r.body)
			continue
		}
		r.problem(t)
		if strings.Contains(string(r.body), "user-1") || strings.Contains(string(r.body), recs[0].ID.String()) {
			t.Errorf("%s: 503 leaks data: %s", p, r.body)
		}
		select {
		case err := <-e.errs:
			if !strings.Contains(err.Error(), "audit store down") {
				t.Errorf("%s: reported %v", p, err)
			}
		default:
			t.Errorf("%s: nothing reported to OnError", p)
		}
	}
	// refusals stand even when they cannot be recorded
	if r := e.get("", "/audit-logs"); r.StatusCode != 401 {
		t.Errorf("unauthenticated while the store is down: %d, want 401", r.StatusCode)
	}
	if r := e.get("admin", "/audit-logs?limit=0"); r.StatusCode != 400 {
		t.Errorf("bad parameter while the store is down: %d, want 400", r.StatusCode)
	}
}

// failingQuerier fails every query.
type failingQuerier struct{}

func (failingQuerier) Query(context.Context, audit.Filter) (audit.Page, error) {
	return audit.Page{}, errors.New("connection refused (secret host zq-secret-host)")
}

func TestStoreErrorIs500WithoutDetails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, func(c *setup) { c.Store = failingQuerier{} })
	for _, p := range []string{"/audit-logs", "/audit-logs/export", "/audit-logs/users/u"} {
		r := e.get("admin", p)
		if r.StatusCode != 500 {
			t.Errorf("%s: status %d, want 500", p, r.StatusCode)
		}
		r.problem(t)
		if strings.Contains(string(r.body), "zq-secret-host") {
			t.Errorf("%s: problem leaks the store error: %s", p, r.body)
		}
	}
}

// TestNotJSONReadable: a record whose Details and Changes are not JSON
// (inserted around every door; the Sealer seals it as unsealable) does not
// make a page, a lookup or an export fail: the stored text is served as a
// JSON string.
func TestNotJSONReadable(t *testing.T) {
	t.Parallel()
	r := storetest.Record(0)
	e := newEnv(t, []audit.Record{r})
	e.store.notJSON.Store(true)
	var page struct {
		Items []audit.Record `json:"items"`
	}
	resp := e.get("admin", "/audit-logs?limit=10")
	if resp.StatusCode != http.StatusOK || json.Unmarshal(resp.body, &page) != nil {
		t.Fatalf("page: status %d, %s", resp.StatusCode, resp.body)
	}
	if len(page.Items) != 1 || string(page.Items[0].Details) != `"{\"a\": [1, \ufffd"` || string(page.Items[0].Changes) != `"not json"` {
		t.Errorf("page: got %+v, want the stored text as JSON strings", page.Items)
	}
	var one audit.Record
	resp = e.get("admin", "/audit-logs/"+r.ID.String())
	if resp.StatusCode != http.StatusOK || json.Unmarshal(resp.body, &one) != nil {
		t.Fatalf("get: status %d, %s", resp.StatusCode, resp.body)
	}
	if string(one.Changes) != `"not json"` {
		t.Errorf("get: changes %s, want the stored text as a JSON string", one.Changes)
	}
	for _, format := range []string{"ndjson", "csv", "ocsf"} {
		resp := e.openExport(exportQuery + "&format=" + format)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || !strings.Contains(string(body), "not json") {
			t.Errorf("%s export: %v, body %q: want the record with its stored text", format, err, body)
		}
	}
}
