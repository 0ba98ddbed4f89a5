package middleware_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/middleware"
	"github.com/trailmark/audit/store/memory"
)

// One identity hook for the whole request, and a login handler that
// names the user it has just authenticated: the request's own event
// (Events) is attributed to them.
func ExampleNew() {
	store := memory.New(nil)
	logger, err := audit.New(store, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer logger.Close(context.Background())

	mw, err := middleware.New(logger, &middleware.Options{
		// Called once per request: parse the token here, once.
		Identify: func(r *http.Request) (audit.Actor, string) {
			if r.Header.Get("Authorization") == "Bearer tok-alice" { // demo only
				return audit.Actor{UserID: "u-alice"}, "s-1"
			}
			return audit.Actor{}, ""
		},
		Events: middleware.EventsMutating,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		// … check the password, then name the user for the rest of the request:
		audit.SetActor(r.Context(), audit.Actor{UserID: "u-alice", UserEmail: "alice@example.com"})
		io.WriteString(w, "tok-alice")
	})
	srv := httptest.NewServer(mw(mux))
	defer srv.Close()

	resp, err := http.Post(srv.URL+"/login", "application/json", strings.NewReader(`{}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()

	page, err := store.Query(context.Background(), audit.Filter{Action: middleware.ActionHTTPRequest})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, rec := range page.Records {
		fmt.Println(rec.Action, rec.ResourceID, rec.UserID, rec.UserEmail, rec.Status)
	}
	// Output: http.request POST /login u-alice alice@example.com success
}

// The middleware behind a reverse proxy at 10.0.0.2: the client address
// comes from X-Forwarded-For, read from the right, so that the entry a
// client forged at its left end is never used.
func ExampleNew_trustedProxy() {
	mw, err := middleware.New(nil, &middleware.Options{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := audit.RequestInfoFrom(r.Context())
		fmt.Println("request id:", ri.RequestID)
		fmt.Println("client:", ri.IPAddress)
	}))

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.2:51234" // the proxy
	req.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
	req.Header.Set("X-Request-ID", "req-1")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println("echoed:", rec.Header().Get("X-Request-ID"))
	// Output:
	// request id: req-1
	// client: 203.0.113.7
	// echoed: req-1
}

// Without trusted proxies the client address is the TCP peer, whatever the
// request claims.
func ExampleNew_untrustedHeaders() {
	mw, err := middleware.New(nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println(middleware.ClientIPFrom(r.Context()))
	}))
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "192.0.2.1:40000"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	req.Header.Set("X-Real-IP", "203.0.113.8")
	h.ServeHTTP(httptest.NewRecorder(), req)
	// Output: 192.0.2.1
}

func ExampleValidRequestID() {
	fmt.Println(middleware.ValidRequestID("0190b3d2-7c1a-7d6e-9f00-1a2b3c4d5e6f"))
	fmt.Println(middleware.ValidRequestID("id with spaces"))
	fmt.Println(middleware.ValidRequestID("=cmd|' /C calc'!A0"))
	// Output:
	// true
	// false
	// false
}

func ExampleParseTrustedProxies() {
	ps, err := middleware.ParseTrustedProxies("10.0.0.0/8, 192.168.1.7, fd00::/8")
	fmt.Println(ps, err)
	// Output: [10.0.0.0/8 192.168.1.7/32 fd00::/8] <nil>
}
