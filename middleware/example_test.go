package middleware_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/middleware"
)

// The middleware behind a reverse proxy at 10.0.0.2: the client address
// comes from X-Forwarded-For, read from the right, so that the entry a
// client forged at its left end is never used.
func ExampleNew() {
	mw, err := middleware.New(middleware.Config{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Actor: func(r *http.Request) audit.Actor {
			// demo only: use your authentication here
			return audit.Actor{UserID: r.Header.Get("X-Demo-User")}
		},
	})
	if err != nil {
		panic(err)
	}
	h := mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := audit.RequestInfoFrom(r.Context())
		fmt.Println("request id:", ri.RequestID)
		fmt.Println("client:", ri.IPAddress)
		fmt.Println("actor:", audit.ActorFrom(r.Context()).UserID)
	}))

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.RemoteAddr = "10.0.0.2:51234" // the proxy
	req.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.7")
	req.Header.Set("X-Request-ID", "req-1")
	req.Header.Set("X-Demo-User", "u-42")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println("echoed:", rec.Header().Get("X-Request-ID"))
	// Output:
	// request id: req-1
	// client: 203.0.113.7
	// actor: u-42
	// echoed: req-1
}

// Without trusted proxies the client address is the TCP peer, whatever the
// request claims.
func ExampleNew_untrustedHeaders() {
	mw, err := middleware.New(middleware.Config{})
	if err != nil {
		panic(err)
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
