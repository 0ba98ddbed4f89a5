package middleware

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/trailmark/audit"
)

// discardWriter is a ResponseWriter that keeps nothing, so that a benchmark
// measures the handlers, not the recorder.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

type discardStore struct{}

func (discardStore) Append(context.Context, ...audit.Record) error { return nil }

// BenchmarkMiddleware compares a bare handler with the same handler behind
// the middleware, in the same run: the difference is the middleware's cost
// per request.
func BenchmarkMiddleware(b *testing.B) {
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	l, err := audit.New(discardStore{}, &audit.Options{NoLifecycleEvents: true, Async: audit.AsyncOptions{Overflow: audit.OverflowDrop}, OnError: func(error) {}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	identify := func(*http.Request) (audit.Actor, string) {
		return audit.Actor{UserID: "u-1", Email: "a@example.com"}, "s-1"
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	cases := []struct {
		name    string
		logger  *audit.Logger
		opts    *Options // nil: the bare handler
		headers map[string]string
		remote  string
	}{
		{name: "bare"},
		{name: "default", opts: &Options{}},
		{name: "client_request_id", opts: &Options{}, headers: map[string]string{"X-Request-Id": "0190b3d2-7c1a-7d6e-9f00-1a2b3c4d5e6f"}},
		{name: "actor_session", opts: &Options{Identify: identify}},
		{name: "trusted_proxy_xff", opts: &Options{TrustedProxies: trusted}, remote: "10.0.0.2:4000",
			headers: map[string]string{"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 10.0.0.3"}},
		{name: "events_async", logger: l, opts: &Options{Identify: identify, Events: EventsAll}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var h http.Handler = bare
			if c.opts != nil {
				h = mustNew(b, c.logger, c.opts)(bare)
			}
			req := httptest.NewRequest(http.MethodPost, "/docs/7", nil)
			req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			if c.remote != "" {
				req.RemoteAddr = c.remote
			}
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}
