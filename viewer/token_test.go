package viewer

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/trailmark/audit/api"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

func testTokens(t *testing.T, now *time.Time) *Tokens {
	t.Helper()
	tk, err := NewTokens(testKey, &TokenOptions{TTL: 10 * time.Minute, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestNewTokensRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  []byte
		opts *TokenOptions
	}{
		{"short key", testKey[:31], nil},
		{"no key", nil, nil},
		{"negative TTL", testKey, &TokenOptions{TTL: -time.Minute}},
		{"TTL too long", testKey, &TokenOptions{TTL: MaxTTL + time.Second}},
	}
	for _, tt := range tests {
		if _, err := NewTokens(tt.key, tt.opts); err == nil || !strings.HasPrefix(err.Error(), "audit: viewer: ") {
			t.Errorf("%s: got error %v, want an audit: viewer: error", tt.name, err)
		}
	}
	if _, err := NewTokens(testKey, nil); err != nil {
		t.Errorf("nil options: %v", err)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tk := testTokens(t, &now)
	for _, s := range []Scope{
		{Subject: "cust-1"},
		{Subject: "cust-1", UserID: "u-bob"},
		{Subject: "cust-1", ResourceType: "doc", ResourceID: "d/1 <x>"},
		{Subject: "cust-1", TenantID: "acme"},
		{Subject: "cust-1", TenantID: "acme", UserID: "u-bob"},
	} {
		tok, err := tk.Issue(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tk.Verify(tok)
		if err != nil || got != s {
			t.Errorf("Verify(Issue(%+v)) = %+v, %v", s, got, err)
		}
	}
	for _, s := range []Scope{{}, {UserID: "x"}, {Subject: "a", ResourceID: "1"}, {Subject: "a\x00"}, {Subject: "a", TenantID: "t\x00"}} {
		if _, err := tk.Issue(s); err == nil {
			t.Errorf("Issue(%+v): got no error", s)
		}
	}
}

func TestTokenHostile(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tk := testTokens(t, &now)
	tok, err := tk.Issue(Scope{Subject: "cust-1", TenantID: "acme", UserID: "A"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewTokens([]byte(strings.Repeat("k", 32)), nil)
	otherTok, _ := other.Issue(Scope{Subject: "cust-1", UserID: "A"})
	dot := strings.LastIndexByte(tok, '.')
	payload, _ := base64.RawURLEncoding.DecodeString(tok[len(TokenPrefix):dot])
	forged := strings.Replace(string(payload), `"uid":"A"`, `"uid":"B"`, 1)
	unscoped := strings.Replace(string(payload), `,"uid":"A"`, ``, 1)
	otherTenant := strings.Replace(string(payload), `"tid":"acme"`, `"tid":"globex"`, 1)
	noTenant := strings.Replace(string(payload), `"tid":"acme",`, ``, 1)
	if otherTenant == string(payload) || noTenant == string(payload) {
		t.Fatalf("the payload %s has no tenant to change", payload)
	}
	tests := []struct{ name, token string }{
		{"empty", ""},
		{"prefix only", TokenPrefix},
		{"no signature", tok[:dot]},
		{"empty signature", tok[:dot+1]},
		{"altered scope, old signature", TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(forged)) + tok[dot:]},
		{"scope removed, old signature", TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(unscoped)) + tok[dot:]},
		{"other tenant, old signature", TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(otherTenant)) + tok[dot:]},
		{"tenant removed, old signature", TokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(noTenant)) + tok[dot:]},
		{"flipped signature bit", tok[:len(tok)-2] + string(tok[len(tok)-2]^1) + tok[len(tok)-1:]},
		{"other key", otherTok},
		{"padded signature", tok + "="},
		{"other version", "tmv2." + tok[len(TokenPrefix):]},
		{"huge", tok + strings.Repeat("A", maxTokenSize)},
	}
	for _, tt := range tests {
		if _, err := tk.Verify(tt.token); !errors.Is(err, ErrTokenInvalid) || !errors.Is(err, api.ErrUnauthenticated) {
			t.Errorf("%s: got %v, want ErrTokenInvalid", tt.name, err)
		}
	}
	now = now.Add(10*time.Minute - time.Second)
	if _, err := tk.Verify(tok); err != nil {
		t.Errorf("a second before expiry: %v", err)
	}
	now = now.Add(time.Second)
	if _, err := tk.Verify(tok); !errors.Is(err, ErrTokenExpired) {
		t.Errorf("at expiry: got %v, want ErrTokenExpired", err)
	}
}

func TestTokensAuthorize(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tk := testTokens(t, &now)
	tok, _ := tk.Issue(Scope{Subject: "cust-1", TenantID: "acme", ResourceType: "doc", ResourceID: "d1"})
	next := api.AuthorizeFunc(func(r *http.Request) (api.Caller, error) {
		if r.Header.Get("Authorization") == "Bearer session" {
			return api.Caller{}, nil
		}
		return api.Caller{}, api.ErrForbidden
	})
	auth := tk.Authorizer(next).Authorize
	req := func(h string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/audit-logs", nil)
		if h != "" {
			r.Header.Set("Authorization", h)
		}
		return r
	}
	c, err := auth(req("Bearer " + tok))
	if want := (api.Scope{TenantID: "acme", ResourceType: "doc", ResourceID: "d1"}); err != nil || c.Scope != want || c.UserID != "cust-1" {
		t.Errorf("viewer token: got %+v, %v; want scope %+v as cust-1", c, err, want)
	}
	if _, err := auth(req("Bearer session")); err != nil {
		t.Errorf("session: got %v, want next's answer", err)
	}
	if _, err := auth(req("Bearer " + tok + "x")); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("bad viewer token: got %v, want ErrTokenInvalid, not next's answer", err)
	}
	if _, err := tk.Authorizer(nil).Authorize(req("")); !errors.Is(err, api.ErrUnauthenticated) {
		t.Errorf("no token, no next: got %v, want ErrUnauthenticated", err)
	}
}
