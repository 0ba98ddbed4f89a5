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
		return audit.Actor{UserID: "u-1", UserEmail: "a@example.com"}, "s-1"
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
			req := benchRequest(c.headers, c.remote)
			w := &discardWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
			}
		})
	}
}

// benchRequest returns the request the benchmarks serve: a POST with a
// browser's user agent, the headers given, from remote if not "".
func benchRequest(headers map[string]string, remote string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, "/docs/7", nil)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if remote != "" {
		req.RemoteAddr = remote
	}
	return req
}

// TestMiddlewareAllocs pins the allocations per request of the cases of
// BenchmarkMiddleware that record no event: a new allocation fails it.
// They are the request context (audit.WithRequest), the request copy
// (Request.WithContext), and the request id with the response header's
// value that holds it (one allocation for a new id, the value alone for
// a client's).
func TestMiddlewareAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	bare := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	tests := []struct {
		name    string
		opts    *Options
		headers map[string]string
		remote  string
		want    float64
	}{
		{name: "default", opts: &Options{}, want: 3},
		{name: "client_request_id", opts: &Options{}, headers: map[string]string{"X-Request-Id": "0190b3d2-7c1a-7d6e-9f00-1a2b3c4d5e6f"}, want: 3},
		{name: "trusted_proxy_xff", opts: &Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, remote: "10.0.0.2:4000",
			headers: map[string]string{"X-Forwarded-For": "6.6.6.6, 203.0.113.7, 10.0.0.3"}, want: 3},
		{name: "traceparent", opts: &Options{}, headers: map[string]string{"Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}, want: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := mustNew(t, nil, tt.opts)(bare)
			req := benchRequest(tt.headers, tt.remote)
			w := &discardWriter{h: http.Header{}}
			got := testing.AllocsPerRun(1000, func() {
				clear(w.h)
				h.ServeHTTP(w, req)
			})
			if got != tt.want {
				t.Errorf("got %v allocations per request, want %v", got, tt.want)
			}
		})
	}
}
