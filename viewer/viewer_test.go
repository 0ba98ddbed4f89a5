package viewer

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
	"github.com/trailmark/audit/chain"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	seal := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	auth := api.AuthorizeFunc(func(r *http.Request) (api.Caller, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer admin":
			return api.Caller{Actor: audit.Actor{UserID: "admin"}}, nil
		case "Bearer scoped":
			return api.Caller{Actor: audit.Actor{UserID: "c"}, Scope: api.Scope{UserID: "A"}}, nil
		}
		return api.Caller{}, api.ErrUnauthenticated
	})
	h, err := New(auth, &Options{
		Title:  `<b>"x"</b>`,
		Status: func(context.Context) (ChainStatus, error) { return ChainStatus{LastSeal: seal, Sealed: 3}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	get := func(path, token string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 1<<16)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp, b.String()
	}
	tests := []struct {
		path, token string
		status      int
		ctype, body string
	}{
		{"/viewer/", "", 200, "text/html; charset=utf-8", `<title>&lt;b&gt;&#34;x&#34;&lt;/b&gt;</title>`},
		{"/viewer/viewer.js", "", 200, "text/javascript; charset=utf-8", "textContent"},
		{"/viewer/viewer.css", "", 200, "text/css; charset=utf-8", "@media"},
		{"/viewer/status", "", 401, "application/json", `"configured":true`},
		{"/viewer/status", "scoped", 200, "application/json", `{"configured":true,"scoped":true}`},
		{"/viewer/status", "admin", 200, "application/json", `"last_seal":"2026-01-01T00:00:00Z","sealed":3`},
		{"/viewer/other", "", 404, "", ""},
	}
	for _, tt := range tests {
		resp, body := get(tt.path, tt.token)
		if resp.StatusCode != tt.status || (tt.ctype != "" && resp.Header.Get("Content-Type") != tt.ctype) || !strings.Contains(body, tt.body) {
			t.Errorf("GET %s as %q: got %d %q %s, want %d %q containing %s", tt.path, tt.token, resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.status, tt.ctype, tt.body)
		}
		for k, v := range map[string]string{"Content-Security-Policy": ContentSecurityPolicy, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"} {
			if got := resp.Header.Get(k); got != v {
				t.Errorf("GET %s: %s: got %q, want %q", tt.path, k, got, v)
			}
		}
	}
	// The page has no inline script or style.
	_, page := get("/viewer/", "")
	for _, bad := range []string{"<script>", "<style", "style=", "onclick", "onload", "javascript:"} {
		if strings.Contains(page, bad) {
			t.Errorf("the page contains %q", bad)
		}
	}
	// Without Status the page says so, to anyone.
	h2, _ := New(denyAll, nil)
	rec := httptest.NewRecorder()
	h2.ServeHTTP(rec, httptest.NewRequest("GET", "/viewer/status", nil))
	var st statusResponse
	json.Unmarshal(rec.Body.Bytes(), &st)
	if rec.Code != 200 || st.Configured {
		t.Errorf("no Status: got %d %s, want 200 configured false", rec.Code, rec.Body)
	}
}

func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for _, auth := range []api.Authorizer{nil, api.AuthorizeFunc(nil)} {
		if _, err := New(auth, nil); err == nil || !strings.HasPrefix(err.Error(), "audit: viewer: ") {
			t.Errorf("no Authorizer (%T): got %v, want an audit: viewer: error", auth, err)
		}
	}
	for name, o := range map[string]Options{
		"relative base":     {BasePath: "viewer"},
		"quote in API path": {APIPath: `/a"b`},
		"bad format":        {Formats: []string{"c sv"}},
	} {
		if _, err := New(denyAll, &o); err == nil || !strings.HasPrefix(err.Error(), "audit: viewer: ") {
			t.Errorf("%s: got %v, want an audit: viewer: error", name, err)
		}
	}
}

// TestContact: Options.Contact reaches the page as an attribute, escaped,
// and defaults to words that fit the page's "Ask … for a new one."
func TestContact(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ contact, want string }{
		{"", `data-contact="whoever sent you this link"`},
		{"Acme support", `data-contact="Acme support"`},
		{`<b>"x"</b>`, `data-contact="&lt;b&gt;&#34;x&#34;&lt;/b&gt;"`},
	} {
		h, err := New(denyAll, &Options{Contact: tt.contact})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/viewer/", nil))
		if !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("Contact %q: the page has no %s", tt.contact, tt.want)
		}
	}
}

// denyAll is an Authorizer that refuses every caller.
var denyAll = api.AuthorizeFunc(func(*http.Request) (api.Caller, error) { return api.Caller{}, api.ErrUnauthenticated })

// TestLogKey: with Options.LogKey the page loads proof.js and names the
// key's origin and fingerprint; without it, neither; a key that is not a
// verifier key is refused.
func TestLogKey(t *testing.T) {
	t.Parallel()
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := chain.VerifierKey("example.com/log", pub)
	if err != nil {
		t.Fatal(err)
	}
	page := func(o *Options) string {
		h, err := New(denyAll, o)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/viewer/", nil))
		return rec.Body.String()
	}
	with := html.UnescapeString(page(&Options{LogKey: vkey}))
	for _, want := range []string{`data-log-key="` + vkey + `"`, `/viewer/proof.js`, `<span class="key-name">example.com/log</span>`, KeyFingerprint(vkey), `<th scope="col">Proof</th>`} {
		if !strings.Contains(with, want) {
			t.Errorf("with LogKey, the page has no %s", want)
		}
	}
	without := page(nil)
	for _, bad := range []string{"data-log-key", "proof.js", "log-key", "Proof"} {
		if strings.Contains(without, bad) {
			t.Errorf("without LogKey, the page has %s", bad)
		}
	}
	for _, bad := range []string{"example.com/log", "x+00000000+AQ==", vkey[:len(vkey)-2], strings.Replace(vkey, "+", "+0", 1)} {
		if _, err := New(denyAll, &Options{LogKey: bad}); err == nil || !strings.HasPrefix(err.Error(), "audit: viewer: Options.LogKey") {
			t.Errorf("LogKey %q: got %v, want an audit: viewer: Options.LogKey error", bad, err)
		}
	}
	h, _ := New(denyAll, &Options{LogKey: vkey})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/viewer/proof.js", nil))
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/javascript; charset=utf-8" || !strings.Contains(rec.Body.String(), "TrailmarkProof") {
		t.Errorf("proof.js: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
}

func ExampleKeyFingerprint() {
	fmt.Println(KeyFingerprint("example.com/log+8ac1b2c3+AfQjcnTwzdbXRTb0ABeO/c0EgHNJbM3Sq8tYmfWqBzME"))
	// Output: fae1 00a1 4208 2dd8 d0b6 4d25 9647 4fdc
}
