package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/middleware"
	"github.com/trailmark/audit/store/memory"
)

// TestAllowActor checks the API behind the middleware's one identity
// hook, through real HTTP: Authorize reads the caller from the context,
// allow is asked with the action ActionFor gives, and refusals are
// answered and recorded as from any Authorize.
func TestAllowActor(t *testing.T) {
	t.Parallel()
	s := memory.New(nil)
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	var identified sync.Map // token → times Identify saw it
	mw, err := middleware.New(l, &middleware.Options{
		Identify: func(r *http.Request) (audit.Actor, string) {
			tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			n, _ := identified.LoadOrStore(tok, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			if tok == "" {
				return audit.Actor{}, ""
			}
			return audit.Actor{UserID: "u-" + tok}, "s-" + tok
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		asked []string
	)
	h, err := New(s, l, AllowActor(func(r *http.Request, a audit.Actor, action audit.Action) error {
		mu.Lock()
		asked = append(asked, a.UserID+" "+string(action))
		mu.Unlock()
		switch {
		case a.UserID == "u-broken":
			return errors.New("permission store down")
		case action == audit.ActionAuditLogExport && a.UserID != "u-auditor":
			return fmt.Errorf("%w: %s needs the auditor role", ErrForbidden, action)
		}
		return nil
	}), &Options{
		BasePath: "/admin/audit",
		OnError:  func(error) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/admin/audit", h)
	mux.Handle("/admin/audit/", h)
	srv := httptest.NewServer(mw(mux))
	t.Cleanup(srv.Close)

	tests := []struct {
		token, path string
		status      int
		asked       string // what allow was asked, "" for nothing
	}{
		{"", "/admin/audit", http.StatusUnauthorized, ""},
		{"reader", "/admin/audit", http.StatusOK, "u-reader audit_log.read"},
		{"reader", "/admin/audit/export", http.StatusForbidden, "u-reader audit_log.export"},
		{"auditor", "/admin/audit/export?format=ocsf", http.StatusOK, "u-auditor audit_log.export"},
		{"broken", "/admin/audit", http.StatusInternalServerError, "u-broken audit_log.read"},
	}
	for _, tt := range tests {
		mu.Lock()
		asked = nil
		mu.Unlock()
		req, err := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.status {
			t.Errorf("%s %s: status %d, want %d", tt.token, tt.path, resp.StatusCode, tt.status)
		}
		mu.Lock()
		got := strings.Join(asked, ", ")
		mu.Unlock()
		if got != tt.asked {
			t.Errorf("%s %s: allow asked %q, want %q", tt.token, tt.path, got, tt.asked)
		}
	}
	identified.Range(func(tok, n any) bool {
		if want := map[string]int{"": 1, "reader": 2, "auditor": 1, "broken": 1}[tok.(string)]; n.(*atomic.Int64).Load() != int64(want) {
			t.Errorf("Identify saw token %q %d times, want %d (once per request)", tok, n.(*atomic.Int64).Load(), want)
		}
		return true
	})
	// The refusal names the reader and the session from Identify.
	p, err := s.Query(context.Background(), audit.Filter{Action: audit.ActionAuditLogExport, UserID: "u-reader"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 1 || p.Records[0].Status != audit.StatusFailure || p.Records[0].SessionID != "s-reader" ||
		!strings.Contains(p.Records[0].ErrorMessage, "needs the auditor role") {
		t.Errorf("refused export records: %+v, want one failure by u-reader in s-reader", p.Records)
	}
}

func TestAllowActorOutsideHandler(t *testing.T) {
	t.Parallel()
	var got audit.Action
	auth := AllowActor(func(_ *http.Request, _ audit.Actor, action audit.Action) error { got = action; return nil }).Authorize
	r := httptest.NewRequest(http.MethodGet, "/audit-logs", nil)
	if _, err := auth(r); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("no actor: got %v, want ErrUnauthenticated", err)
	}
	r = r.WithContext(audit.WithActor(r.Context(), audit.Actor{UserID: "u1"}))
	c, err := auth(r)
	if err != nil || c.UserID != "u1" || !c.Scope.IsZero() {
		t.Fatalf("got %+v, %v; want u1 with the zero Scope", c, err)
	}
	if got != audit.ActionAuditLogExport {
		t.Errorf("action outside a Handler %q, want the stricter %q", got, audit.ActionAuditLogExport)
	}
	if _, err := AllowActor(nil).Authorize(r); err == nil {
		t.Error("a nil AllowActor authorized a caller")
	}
}

func TestErrorsPrefixed(t *testing.T) {
	t.Parallel()
	for _, err := range []error{ErrUnauthenticated, ErrForbidden} {
		if !strings.HasPrefix(err.Error(), "audit: api: ") {
			t.Errorf("error %q, want the prefix \"audit: api: \"", err)
		}
	}
}
