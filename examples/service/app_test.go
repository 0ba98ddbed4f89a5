package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/bcrypt"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

type client struct {
	t   *testing.T
	url string
	hc  *http.Client
}

type result struct {
	status int
	header http.Header
	body   []byte
}

func (r result) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (c *client) do(method, path, token, body string, hdr ...string) result {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return result{resp.StatusCode, resp.Header, b}
}

func (c *client) want(status int, r result) result {
	c.t.Helper()
	if r.status != status {
		c.t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	return r
}

func (c *client) login(email, password string) string {
	c.t.Helper()
	r := c.want(200, c.do("POST", "/login", "", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)))
	var out struct{ Token string }
	r.json(c.t, &out)
	if !strings.HasPrefix(out.Token, "tok_") {
		c.t.Fatalf("token %q", out.Token)
	}
	return out.Token
}

// auditLog returns the records the API answers for query, all pages.
func (c *client) auditLog(token, query string) []audit.Record {
	c.t.Helper()
	var all []audit.Record
	cursor := ""
	for range 100 {
		q := query + "&limit=1000"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		r := c.want(200, c.do("GET", "/audit-logs?"+q, token, ""))
		var page struct {
			Items      []audit.Record `json:"items"`
			NextCursor string         `json:"next_cursor"`
		}
		r.json(c.t, &page)
		all = append(all, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			return all
		}
	}
	c.t.Fatal("too many pages")
	return nil
}

// testConfig is the configuration of the tests' app: known passwords.
func testConfig(s backend) appConfig {
	return appConfig{Store: s, AdminPassword: "alice-demo-password", UserPassword: "bob-demo-password"}
}

func newTestApp(t *testing.T) (*app, *client) {
	t.Helper()
	return newTestAppWith(t, testConfig(memory.New(nil)))
}

// newTestAppWith serves an app of cfg on loopback until the test ends.
func newTestAppWith(t *testing.T, cfg appConfig) (*app, *client) {
	t.Helper()
	a, err := newApp(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.handler)
	t.Cleanup(func() {
		srv.Close()
		a.close(context.Background())
	})
	return a, &client{t: t, url: srv.URL, hc: srv.Client()}
}

// TestEndToEnd walks through the service as the README does, then reads
// the audit log through its API and checks what each step left there.
func TestEndToEnd(t *testing.T) {
	a, c := newTestApp(t)

	// the audit log API is closed to strangers
	c.want(401, c.do("GET", "/audit-logs", "", ""))

	// a failed login, then two good ones
	c.want(401, c.do("POST", "/login", "", `{"email":"bob@example.com","password":"guess"}`, "X-Request-ID", "req-bad-login"))
	bob := c.login("bob@example.com", "bob-demo-password")
	alice := c.login("alice@example.com", "alice-demo-password")
	c.want(400, c.do("POST", "/login", "", `{"email":1}`))

	// bob updates his profile
	r := c.want(200, c.do("PATCH", "/me", bob, `{"name":"Bobby"}`, "X-Request-ID", "req-profile", "User-Agent", "e2e-test/1.0"))
	if r.header.Get("X-Request-ID") != "req-profile" {
		t.Errorf("request id echoed %q", r.header.Get("X-Request-ID"))
	}

	// bob may not grant, alice may
	c.want(403, c.do("POST", "/users/u-bob/permissions", bob, `{"permission":"audit:read"}`))
	c.want(200, c.do("POST", "/users/u-bob/permissions", alice, `{"permission":"audit:read"}`))

	// bob creates and revokes an API key
	r = c.want(201, c.do("POST", "/api-keys", bob, `{"name":"ci"}`))
	var key struct{ ID, Key string }
	r.json(t, &key)
	c.want(204, c.do("DELETE", "/api-keys/"+key.ID, bob, ""))
	c.want(404, c.do("DELETE", "/api-keys/"+key.ID, bob, ""))

	// bob can now read the log but not export it; alice can do both
	c.want(200, c.do("GET", "/audit-logs?limit=1", bob, ""))
	c.want(403, c.do("GET", "/audit-logs/export", bob, ""))
	export := c.want(200, c.do("GET", "/audit-logs/export?format=csv", alice, ""))

	// bob logs out; his token stops working
	c.want(204, c.do("POST", "/logout", bob, ""))
	c.want(401, c.do("GET", "/me", bob, ""))
	c.want(401, c.do("GET", "/audit-logs", bob, ""))

	if err := a.logger.Flush(context.Background()); err != nil { // async actions (profile, logout, requests)
		t.Fatal(err)
	}
	all := c.auditLog(alice, "")
	byAction := map[audit.Action][]audit.Record{}
	for _, rec := range all {
		byAction[rec.Action] = append(byAction[rec.Action], rec)
		if !rec.IPAddress.IsLoopback() && rec.Action != audit.ActionAuditLoggerStart {
			t.Errorf("%s: ip %v, want loopback", rec.Action, rec.IPAddress)
		}
	}
	count := func(action audit.Action, st audit.Status) int {
		n := 0
		for _, rec := range byAction[action] {
			if rec.Status == st {
				n++
			}
		}
		return n
	}
	for _, tt := range []struct {
		action  audit.Action
		status  audit.Status
		atLeast int
	}{
		{audit.ActionUserLogin, audit.StatusSuccess, 2},
		{audit.ActionUserLogin, audit.StatusFailure, 1},
		{audit.ActionUserProfileUpdate, audit.StatusSuccess, 1},
		{audit.ActionPermissionGrant, audit.StatusFailure, 1},
		{audit.ActionPermissionGrant, audit.StatusSuccess, 1},
		{audit.ActionAPIKeyCreate, audit.StatusSuccess, 1},
		{audit.ActionAPIKeyRevoke, audit.StatusSuccess, 1},
		{audit.ActionAPIKeyRevoke, audit.StatusFailure, 1},
		{audit.ActionUserLogout, audit.StatusSuccess, 1},
		{audit.ActionAuditLogRead, audit.StatusSuccess, 1},
		{audit.ActionAuditLogRead, audit.StatusFailure, 2}, // the 401s
		{audit.ActionAuditLogExport, audit.StatusFailure, 1},
		{audit.ActionAuditLogExport, audit.StatusSuccess, 2}, // start and end
		{"http.request", audit.StatusSuccess, 7},
		{"http.request", audit.StatusFailure, 4},
	} {
		if n := count(tt.action, tt.status); n < tt.atLeast {
			t.Errorf("%s %s: %d records, want at least %d", tt.action, tt.status, n, tt.atLeast)
		}
	}

	// the failed login names the account it tried, and its request
	bad := c.auditLog(alice, "action=user.login&status=failure")
	if len(bad) != 1 || bad[0].UserEmail != "bob@example.com" || bad[0].UserID != "u-bob" || bad[0].RequestID != "req-bad-login" ||
		bad[0].ErrorMessage != "wrong email or password" {
		t.Errorf("failed login records %+v", bad)
	}

	// the profile update carries the request's context and the change
	prof := c.auditLog(alice, "request_id=req-profile")
	var upd *audit.Record
	for i := range prof {
		if prof[i].Action == audit.ActionUserProfileUpdate {
			upd = &prof[i]
		}
	}
	if upd == nil || len(prof) != 2 {
		t.Fatalf("request req-profile: %d records (%+v), want the update and its http.request", len(prof), prof)
	}
	changes, _ := upd.DecodeChanges()
	if upd.UserID != "u-bob" || upd.UserAgent != "e2e-test/1.0" || upd.SessionID == "" || upd.ResourceID != "u-bob" ||
		changes["name"].Before != "Bob" || changes["name"].After != "Bobby" {
		t.Errorf("profile update %+v, changes %v", upd, changes)
	}

	// the grant names the admin, the target and the permission
	grants := c.auditLog(alice, "action=permission.grant&status=success")
	if d, _ := grants[0].DecodeDetails(); len(grants) != 1 || grants[0].UserID != "u-alice" || grants[0].ResourceID != "u-bob" || d["permission"] != "audit:read" {
		t.Errorf("grant records %+v", grants)
	}

	// the request events name the route pattern
	reqs := c.auditLog(alice, "action=http.request&resource_id="+strings.ReplaceAll("DELETE /api-keys/{id}", " ", "%20"))
	if len(reqs) != 2 {
		t.Errorf("DELETE /api-keys/{id}: %d request events, want 2", len(reqs))
	}

	// no secret reached the log: passwords, the API key, tokens
	everything := c.want(200, c.do("GET", "/audit-logs/export", alice, "")).body
	for _, secret := range []string{"bob-demo-password", "alice-demo-password", "guess", key.Key, bob, alice} {
		if bytes.Contains(everything, []byte(secret)) || bytes.Contains(export.body, []byte(secret)) {
			t.Errorf("the audit log contains the secret %q", secret)
		}
	}
	// and the export is one JSON record per line
	sc := bufio.NewScanner(bytes.NewReader(everything))
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		var rec audit.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("export line %d: %v", lines+1, err)
		}
		lines++
	}
	if lines < len(all) {
		t.Errorf("export has %d lines, the API listed %d records before", lines, len(all))
	}
}

// TestLoginRequestNamesUser checks the one identity hook and
// audit.SetActor through real HTTP: the http.request event of a
// successful login names the user who logged in, a failed login's names
// no one, and the OCSF export (which the viewer offers) answers NDJSON.
func TestLoginRequestNamesUser(t *testing.T) {
	a, c := newTestApp(t)
	c.want(401, c.do("POST", "/login", "", `{"email":"bob@example.com","password":"guess"}`, "X-Request-ID", "req-login-bad"))
	c.want(200, c.do("POST", "/login", "", `{"email":"bob@example.com","password":"bob-demo-password"}`, "X-Request-ID", "req-login-bob"))
	alice := c.login("alice@example.com", "alice-demo-password")
	if err := a.logger.Flush(context.Background()); err != nil { // http.request events are async
		t.Fatal(err)
	}
	for _, tt := range []struct {
		requestID, user, email string
		status                 audit.Status
	}{
		{"req-login-bob", "u-bob", "bob@example.com", audit.StatusSuccess},
		{"req-login-bad", "", "", audit.StatusFailure},
	} {
		reqs := c.auditLog(alice, "action=http.request&request_id="+tt.requestID)
		if len(reqs) != 1 {
			t.Fatalf("%s: %d http.request records, want 1", tt.requestID, len(reqs))
		}
		if r := reqs[0]; r.UserID != tt.user || r.UserEmail != tt.email || r.Status != tt.status || r.ResourceID != "POST /login" {
			t.Errorf("%s: http.request by %q <%s>, %s, route %q; want %q <%s>, %s, POST /login",
				tt.requestID, r.UserID, r.UserEmail, r.Status, r.ResourceID, tt.user, tt.email, tt.status)
		}
	}
	r := c.want(200, c.do("GET", "/audit-logs/export?format=ocsf&action=user.login", alice, ""))
	if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Errorf("OCSF export Content-Type %q, want application/x-ndjson", ct)
	}
	lines := bytes.Split(bytes.TrimSpace(r.body), []byte("\n"))
	for i, line := range lines {
		var ev struct {
			ClassUID int `json:"class_uid"`
		}
		if err := json.Unmarshal(line, &ev); err != nil || ev.ClassUID == 0 {
			t.Errorf("OCSF line %d %s: %v, class_uid %d", i+1, line, err, ev.ClassUID)
		}
	}
	if len(lines) != 3 {
		t.Errorf("OCSF export of the logins: %d lines, want 3", len(lines))
	}
}

// TestFailClosedUndo checks that a security action whose record cannot be
// written is undone and answered 503.
func TestFailClosedUndo(t *testing.T) {
	store := &breakableStore{Store: memory.New(nil)}
	cfg := testConfig(store)
	cfg.LoggerOptions = &audit.Options{Policy: audit.Policy{SyncTimeout: 200 * time.Millisecond}}
	a, c := newTestAppWith(t, cfg)
	alice := c.login("alice@example.com", "alice-demo-password")

	store.broken.Store(true)
	c.want(503, c.do("POST", "/login", "", `{"email":"bob@example.com","password":"bob-demo-password"}`))
	c.want(503, c.do("POST", "/users/u-bob/permissions", alice, `{"permission":"admin"}`))
	c.want(503, c.do("POST", "/api-keys", alice, `{"name":"x"}`))
	c.want(503, c.do("GET", "/audit-logs", alice, ""))
	store.broken.Store(false)

	if a.hasPermission("u-bob", permAdmin) {
		t.Error("the unrecorded grant was not undone")
	}
	a.mu.Lock()
	sessions, live := len(a.sessions), 0
	for _, k := range a.keys {
		if !k.Revoked {
			live++
		}
	}
	a.mu.Unlock()
	if sessions != 1 || live != 0 {
		t.Errorf("%d sessions and %d live keys, want alice's session only", sessions, live)
	}
}

// startRun runs the command's server with cfg on a free loopback port
// and returns a client of it and a function that stops it as a signal
// would and returns run's error.
func startRun(t *testing.T, cfg runConfig) (*client, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	cfg.Addr, cfg.Ready = "127.0.0.1:0", func(a net.Addr) { ready <- a }
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	}
	c := &client{t: t, url: "http://" + addr.String(), hc: &http.Client{Transport: &http.Transport{}}}
	return c, func() error {
		c.hc.CloseIdleConnections()
		cancel()
		return <-done
	}
}

// TestRun starts the command's server on a free loopback port, uses it,
// and stops it as a signal would.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	c, stop := startRun(t, runConfig{Out: &out, AdminPassword: "alice-demo-password", UserPassword: "bob-demo-password"})
	c.want(200, c.do("GET", "/healthz", "", ""))
	alice := c.login("alice@example.com", "alice-demo-password")
	c.want(200, c.do("GET", "/audit-logs?action=user.", alice, ""))
	if err := stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	if !strings.Contains(out.String(), "listening on http://127.0.0.1:") {
		t.Errorf("output %q", out.String())
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	if err := run(context.Background(), runConfig{Addr: "127.0.0.1:0", TrustedProxies: "not-an-ip", Out: io.Discard}); err == nil {
		t.Error("bad TRUSTED_PROXIES: no error")
	}
}

// breakableStore is a memory store whose writes can be made to fail.
type breakableStore struct {
	*memory.Store
	broken atomic.Bool
}

func (s *breakableStore) Append(ctx context.Context, rs ...audit.Record) error {
	if s.broken.Load() {
		return storekit.Permanent(errors.New("audit store down"))
	}
	return s.Store.Append(ctx, rs...)
}

// TestPasswordsHashedWithBcrypt: passwords are stored as salted bcrypt
// hashes, not as unsalted SHA-256.
func TestPasswordsHashedWithBcrypt(t *testing.T) {
	a, err := newApp(appConfig{Store: memory.New(nil), AdminPassword: "same-password-1", UserPassword: "same-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.close(context.Background())
	alice, bob := a.users["u-alice"].PasswordHash, a.users["u-bob"].PasswordHash
	if bytes.Equal(alice, bob) {
		t.Error("two equal passwords have the same hash: not salted")
	}
	for _, h := range [][]byte{alice, bob} {
		if cost, err := bcrypt.Cost(h); err != nil || cost < bcrypt.DefaultCost {
			t.Errorf("hash %q: cost %d, %v; want bcrypt of cost >= %d", h, cost, err, bcrypt.DefaultCost)
		}
		if bcrypt.CompareHashAndPassword(h, []byte("same-password-1")) != nil {
			t.Error("the hash does not match its password")
		}
	}
	if _, err := newApp(appConfig{Store: memory.New(nil), AdminPassword: "short", UserPassword: "bob-demo-password"}); err == nil {
		t.Error("a 5-byte admin password was accepted")
	}
}

// TestSessionExpires: a session stops working after SessionTTL.
func TestSessionExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	cfg := testConfig(memory.New(nil))
	cfg.SessionTTL = time.Hour
	cfg.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	a, c := newTestAppWith(t, cfg)
	bob := c.login("bob@example.com", "bob-demo-password")
	c.want(200, c.do("GET", "/me", bob, ""))
	mu.Lock()
	now = now.Add(59 * time.Minute)
	mu.Unlock()
	c.want(200, c.do("GET", "/me", bob, ""))
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	c.want(401, c.do("GET", "/me", bob, ""))
	a.mu.Lock()
	n := len(a.sessions)
	a.mu.Unlock()
	if n != 0 {
		t.Errorf("%d sessions kept after expiry, want 0", n)
	}
}

// TestRunCredentials: without passwords in the configuration, run
// generates them and prints each once; the old fixed passwords do not
// work; passwords given are used and not printed.
func TestRunCredentials(t *testing.T) {
	for _, given := range []bool{false, true} {
		var out bytes.Buffer
		cfg := runConfig{Out: &out}
		if given {
			cfg.AdminPassword, cfg.UserPassword = "admin-from-env-1", "user-from-env-1"
		}
		c, stop := startRun(t, cfg)
		c.want(401, c.do("POST", "/login", "", `{"email":"alice@example.com","password":"alice-demo-password"}`))
		adminPW := "admin-from-env-1"
		if !given {
			m := regexp.MustCompile(`alice@example.com \(admin\) / (\S+?),`).FindStringSubmatch(out.String())
			if m == nil {
				t.Fatalf("no generated admin password in %q", out.String())
			}
			adminPW = m[1]
			if n := strings.Count(out.String(), adminPW); n != 1 {
				t.Errorf("generated password printed %d times, want once", n)
			}
		} else if strings.Contains(out.String(), "from-env") {
			t.Errorf("given passwords printed: %q", out.String())
		}
		c.login("alice@example.com", adminPW)
		if err := stop(); err != nil {
			t.Errorf("run: %v", err)
		}
		if !strings.Contains(out.String(), "listening on") {
			t.Errorf("output %q", out.String())
		}
	}
}
