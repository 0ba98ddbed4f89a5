package middleware

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

// newLogger returns a Logger that writes every event synchronously to a
// memory store, so that tests see events as soon as Log returns.
func newLogger(t *testing.T) (*audit.Logger, *memory.Store) {
	t.Helper()
	s := memory.New(nil)
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l, s
}

func records(t *testing.T, s *memory.Store, f audit.Filter) []audit.Record {
	t.Helper()
	f.Limit = audit.MaxLimit
	p, err := s.Query(context.Background(), f)
	if err != nil {
		t.Fatal(err)
	}
	return p.Records
}

func mustNew(t testing.TB, l *audit.Logger, opts *Options) func(http.Handler) http.Handler {
	t.Helper()
	mw, err := New(l, opts)
	if err != nil {
		t.Fatal(err)
	}
	return mw
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func do(t *testing.T, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func newRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestSpoofing runs the spoofing table against a real server on loopback:
// the client sends the headers, the peer is 127.0.0.1.
func TestSpoofing(t *testing.T) {
	t.Parallel()
	for _, tt := range ipCases {
		if tt.remote != "" {
			continue
		}
		t.Run(tt.name, func(t *testing.T) {
			ps, err := ParseTrustedProxies(tt.trusted)
			if err != nil {
				t.Fatal(err)
			}
			mw := mustNew(t, nil, &Options{TrustedProxies: ps, ClientIPHeader: tt.source})
			srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, ClientIPFrom(r.Context()))
			})))
			req := newRequest(t, http.MethodGet, srv.URL)
			for _, h := range tt.headers {
				req.Header.Add(h.k, h.v)
			}
			_, body := do(t, req)
			if body != tt.want {
				t.Errorf("client IP = %s, want %s", body, tt.want)
			}
		})
	}
}

// TestSpoofingIPv6 checks an IPv6 peer on a real [::1] listener.
func TestSpoofingIPv6(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	tests := []struct {
		trusted, xff, want string
	}{
		{"", "203.0.113.7", "::1"},
		{"127.0.0.0/8", "203.0.113.7", "::1"},
		{"::1/128", "6.6.6.6, 203.0.113.7", "203.0.113.7"},
		{"::1/128", "203.0.113.7, garbage", "::1"},
	}
	handlers := make(map[string]http.Handler)
	for _, tt := range tests {
		ps, _ := ParseTrustedProxies(tt.trusted)
		handlers[tt.trusted] = mustNew(t, nil, &Options{TrustedProxies: ps})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, ClientIPFrom(r.Context()))
		}))
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlers[r.URL.Query().Get("trusted")].ServeHTTP(w, r)
	})}}
	srv.Start()
	defer srv.Close()
	for _, tt := range tests {
		req := newRequest(t, http.MethodGet, srv.URL+"/?trusted="+tt.trusted)
		req.Header.Set("X-Forwarded-For", tt.xff)
		if _, body := do(t, req); body != tt.want {
			t.Errorf("trusted %q, XFF %q: client IP = %s, want %s", tt.trusted, tt.xff, body, tt.want)
		}
	}
}

func TestRequestID(t *testing.T) {
	t.Parallel()
	mw := mustNew(t, nil, &Options{})
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, RequestIDFrom(r.Context()))
	})))
	for _, tt := range requestIDCases {
		if strings.ContainsAny(tt.id, "\r\n\x00") {
			continue // the client refuses to send these; FuzzRequestID covers them
		}
		req := newRequest(t, http.MethodGet, srv.URL)
		req.Header.Set("X-Request-ID", tt.id)
		resp, body := do(t, req)
		echo := resp.Header.Get("X-Request-ID")
		if echo != body {
			t.Errorf("id %q: echoed %q, context %q", tt.id, echo, body)
		}
		if tt.keep && body != tt.id {
			t.Errorf("id %q: got %q, want it kept", tt.id, body)
		}
		if !tt.keep && (body == tt.id || !ValidRequestID(body)) {
			t.Errorf("id %q: got %q, want a new valid id", tt.id, body)
		}
	}

	// none sent, or sent twice: a new one
	req := newRequest(t, http.MethodGet, srv.URL)
	_, a := do(t, req)
	_, b := do(t, req)
	if a == b || !ValidRequestID(a) || !ValidRequestID(b) {
		t.Errorf("generated ids %q and %q: want two different valid ids", a, b)
	}
	req.Header.Add("X-Request-ID", "one")
	req.Header.Add("X-Request-ID", "two")
	if _, got := do(t, req); got == "one" || got == "two" {
		t.Errorf("repeated header: got %q, want a new id", got)
	}
}

func TestRequestIDConfig(t *testing.T) {
	t.Parallel()
	mw := mustNew(t, nil, &Options{
		RequestIDHeader:       "x-correlation-id",
		IgnoreClientRequestID: true,
		NewRequestID:          func() string { return "fixed" },
	})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("X-Correlation-ID", "mine")
	var seen string
	mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = RequestIDFrom(r.Context()) })).ServeHTTP(rec, req)
	if seen != "fixed" || rec.Header().Get("X-Correlation-ID") != "fixed" {
		t.Errorf("got context %q, header %q; want fixed, fixed", seen, rec.Header().Get("X-Correlation-ID"))
	}
}

// TestContextFillsEvents checks that an event logged by a handler with the
// request's context carries the request's id, address, user agent, actor
// and session.
func TestContextFillsEvents(t *testing.T) {
	t.Parallel()
	l, s := newLogger(t)
	mw := mustNew(t, nil, &Options{
		MaxUserAgentLen: 10,
		Identify: func(r *http.Request) (audit.Actor, string) {
			if r.Header.Get("Authorization") == "Bearer alice" {
				return audit.Actor{UserID: "u-alice", UserEmail: "alice@example.com"}, "sess-1"
			}
			return audit.Actor{}, "sess-1"
		},
	})
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := l.Log(r.Context(), audit.Event{Action: "doc.update", ResourceType: "doc", ResourceID: "7", Status: audit.StatusSuccess}); err != nil {
			http.Error(w, err.Error(), 500)
		}
	})))
	req := newRequest(t, http.MethodPost, srv.URL)
	req.Header.Set("Authorization", "Bearer alice")
	req.Header.Set("User-Agent", "curl/8.0.0 (and a long tail)")
	req.Header.Set("X-Request-ID", "req-42")
	if resp, body := do(t, req); resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	rs := records(t, s, audit.Filter{Action: "doc.update"})
	if len(rs) != 1 {
		t.Fatalf("got %d records, want 1", len(rs))
	}
	r := rs[0]
	want := audit.Record{UserID: "u-alice", UserEmail: "alice@example.com", IPAddress: netip.MustParseAddr("127.0.0.1"),
		UserAgent: "curl/8.0.0", RequestID: "req-42", SessionID: "sess-1"}
	if r.UserID != want.UserID || r.UserEmail != want.UserEmail || r.IPAddress != want.IPAddress ||
		r.UserAgent != want.UserAgent || r.RequestID != want.RequestID || r.SessionID != want.SessionID {
		t.Errorf("got %+v, want the request fields of %+v", r, want)
	}

	// without credentials: no actor in the context
	req = newRequest(t, http.MethodPost, srv.URL)
	do(t, req)
	rs = records(t, s, audit.Filter{Action: "doc.update"})
	if len(rs) != 2 || rs[0].UserID != "" {
		t.Errorf("anonymous request: got %d records, newest user %q; want 2, empty user", len(rs), rs[0].UserID)
	}
}

func TestUserAgentCapKeepsUTF8(t *testing.T) {
	t.Parallel()
	m := &mw{Options: Options{MaxUserAgentLen: 4}}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("User-Agent", "aéé")
	if got := m.userAgent(r); got != "aé" {
		t.Errorf("got %q, want %q", got, "aé")
	}
}

func TestAccessorsZeroWhenUnset(t *testing.T) {
	t.Parallel()
	if id, ip := RequestIDFrom(context.Background()), ClientIPFrom(context.Background()); id != "" || ip.IsValid() {
		t.Errorf("got %q, %v; want zero values", id, ip)
	}
}

func TestEventPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		events EventPolicy
		skip   func(*http.Request) bool
		method string
		want   bool
	}{
		{"off GET", EventsOff, nil, "GET", false},
		{"off POST", EventsOff, nil, "POST", false},
		{"all GET", EventsAll, nil, "GET", true},
		{"all POST", EventsAll, nil, "POST", true},
		{"mutating GET", EventsMutating, nil, "GET", false},
		{"mutating HEAD", EventsMutating, nil, "HEAD", false},
		{"mutating OPTIONS", EventsMutating, nil, "OPTIONS", false},
		{"mutating POST", EventsMutating, nil, "POST", true},
		{"mutating PUT", EventsMutating, nil, "PUT", true},
		{"mutating PATCH", EventsMutating, nil, "PATCH", true},
		{"mutating DELETE", EventsMutating, nil, "DELETE", true},
		{"mutating unknown method", EventsMutating, nil, "PURGE", true},
		{"all, skipped", EventsAll, func(r *http.Request) bool { return r.URL.Path == "/healthz" }, "GET", false},
		{"all, not skipped", EventsAll, func(r *http.Request) bool { return r.URL.Path == "/other" }, "GET", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l, s := newLogger(t)
			mw := mustNew(t, l, &Options{Events: tt.events, Skip: tt.skip})
			srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})))
			do(t, newRequest(t, tt.method, srv.URL+"/healthz"))
			if got := len(records(t, s, audit.Filter{Action: ActionHTTPRequest})) == 1; got != tt.want {
				t.Errorf("recorded = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRequestEvent(t *testing.T) {
	t.Parallel()
	l, s := newLogger(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /docs/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("DELETE /docs/{id}", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusForbidden)
	})
	mux.HandleFunc("PUT /docs/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	mux.HandleFunc("PATCH /docs/{id}", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("implicit 200")) // no WriteHeader
	})
	mw := mustNew(t, l, &Options{Events: EventsAll,
		Identify: func(*http.Request) (audit.Actor, string) { return audit.Actor{UserID: "u1"}, "" }})
	srv := serve(t, mw(mux))

	tests := []struct {
		method, path string
		pattern      string
		code         int
		status       audit.Status
		bytes        int
	}{
		{"POST", "/docs/7", "POST /docs/{id}", 201, audit.StatusSuccess, 5},
		{"DELETE", "/docs/7", "DELETE /docs/{id}", 403, audit.StatusFailure, 3},
		{"PUT", "/docs/7", "PUT /docs/{id}", 502, audit.StatusError, 0},
		{"PATCH", "/docs/7", "PATCH /docs/{id}", 200, audit.StatusSuccess, 12},
		{"GET", "/nowhere", "", 404, audit.StatusFailure, 19},
	}
	for _, tt := range tests {
		req := newRequest(t, tt.method, srv.URL+tt.path+"?secret=x")
		req.Header.Set("X-Request-ID", "rq-"+tt.method)
		do(t, req)
		rs := records(t, s, audit.Filter{Action: ActionHTTPRequest, RequestID: "rq-" + tt.method})
		if len(rs) != 1 {
			t.Fatalf("%s %s: got %d events, want 1", tt.method, tt.path, len(rs))
		}
		r := rs[0]
		d, err := r.DecodeDetails()
		if err != nil {
			t.Fatal(err)
		}
		if r.ResourceType != ResourceTypeHTTPRoute || r.ResourceID != tt.pattern || r.Status != tt.status || r.UserID != "u1" {
			t.Errorf("%s %s: got resource %s/%s status %s user %q; want %s/%s %s u1",
				tt.method, tt.path, r.ResourceType, r.ResourceID, r.Status, r.UserID, ResourceTypeHTTPRoute, tt.pattern, tt.status)
		}
		if d["method"] != tt.method || d["path"] != tt.path || d["status_code"] != json.Number(fmt.Sprint(tt.code)) ||
			d["bytes_written"] != json.Number(fmt.Sprint(tt.bytes)) {
			t.Errorf("%s %s: details %v; want method, path (no query), status_code %d, bytes_written %d", tt.method, tt.path, d, tt.code, tt.bytes)
		}
		if _, ok := d["duration_us"]; !ok {
			t.Errorf("%s %s: no duration_us in %v", tt.method, tt.path, d)
		}
	}
}

type recovered struct {
	next http.Handler
	got  chan any
}

func (h recovered) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		p := recover()
		h.got <- p
		if p != nil {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}()
	h.next.ServeHTTP(w, r)
}

func TestPanicRecordedAndReraised(t *testing.T) {
	t.Parallel()
	l, s := newLogger(t)
	mw := mustNew(t, l, &Options{Events: EventsAll})
	boom := errors.New("boom")
	got := make(chan any, 1)
	srv := serve(t, recovered{mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic(boom) })), got})
	resp, _ := do(t, newRequest(t, http.MethodPost, srv.URL+"/x"))
	if p := <-got; p != boom {
		t.Errorf("re-raised %v, want %v", p, boom)
	}
	if resp.StatusCode != 500 {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
	rs := records(t, s, audit.Filter{Action: ActionHTTPRequest})
	if len(rs) != 1 || rs[0].Status != audit.StatusError || rs[0].ErrorMessage != "panic: boom" {
		t.Fatalf("got %+v, want one event with status error and message panic: boom", rs)
	}
	d, _ := rs[0].DecodeDetails()
	if d["status_code"] != json.Number("500") {
		t.Errorf("status_code %v, want 500", d["status_code"])
	}
}

// TestWriterInterfaces checks that the wrapped ResponseWriter keeps the
// optional interfaces of the server's: flushing, hijacking, ReadFrom and
// the http.ResponseController methods.
func TestWriterInterfaces(t *testing.T) {
	t.Parallel()
	l, s := newLogger(t)
	mw := mustNew(t, l, &Options{Events: EventsAll})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /flush", func(w http.ResponseWriter, r *http.Request) {
		_, f := w.(http.Flusher)
		_, rf := w.(io.ReaderFrom)
		_, hj := w.(http.Hijacker)
		if !f || !rf || !hj {
			http.Error(w, fmt.Sprintf("flusher %v readerfrom %v hijacker %v", f, rf, hj), 500)
			return
		}
		rc := http.NewResponseController(w)
		io.WriteString(w, "a")
		if err := rc.Flush(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if err := rc.EnableFullDuplex(); err != nil {
			io.WriteString(w, "no full duplex: "+err.Error())
		}
		io.Copy(w, strings.NewReader("bc")) // through ReadFrom
	})
	mux.HandleFunc("GET /hijack", func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		rw.Flush()
	})
	srv := serve(t, mw(mux))
	if resp, body := do(t, newRequest(t, http.MethodGet, srv.URL+"/flush")); resp.StatusCode != 200 || body != "abc" {
		t.Errorf("flush: got %d %q, want 200 abc", resp.StatusCode, body)
	}
	if resp, body := do(t, newRequest(t, http.MethodGet, srv.URL+"/hijack")); resp.StatusCode != 200 || body != "hijacked" {
		t.Errorf("hijack: got %d %q, want 200 hijacked", resp.StatusCode, body)
	}
	// the client has the hijacked answer before the handler returns and
	// the middleware records the request: wait for the record
	var rs []audit.Record
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if rs = records(t, s, audit.Filter{Action: ActionHTTPRequest, ResourceID: "GET /hijack"}); len(rs) > 0 {
			break
		}
	}
	if len(rs) != 1 {
		t.Fatalf("got %d hijack events, want 1", len(rs))
	}
	if d, _ := rs[0].DecodeDetails(); d["hijacked"] != true {
		t.Errorf("details %v: want hijacked true", d)
	}
	rs = records(t, s, audit.Filter{Action: ActionHTTPRequest, ResourceID: "GET /flush"})
	if d, _ := rs[0].DecodeDetails(); len(rs) != 1 || d["bytes_written"] != json.Number("3") {
		t.Errorf("flush events %v: want one with bytes_written 3", rs)
	}
}

// TestHijackRawConn checks hijacking through the middleware at the TCP
// level, where the client speaks its own protocol after the upgrade.
func TestHijackRawConn(t *testing.T) {
	t.Parallel()
	l, _ := newLogger(t)
	mw := mustNew(t, l, &Options{Events: EventsAll})
	srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo: " + line)
		rw.Flush()
	})))
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	fmt.Fprint(conn, "ping\n")
	if line, _ := br.ReadString('\n'); line != "echo: ping\n" {
		t.Errorf("got %q after upgrade", line)
	}
}

type failingStore struct{}

func (failingStore) Append(context.Context, ...audit.Record) error {
	return storekit.Permanent(errors.New("disk on fire"))
}

func TestEventNotRecordedIsReported(t *testing.T) {
	t.Parallel()
	l, err := audit.New(failingStore{}, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	reported := make(chan error, 1)
	mw := mustNew(t, l, &Options{Events: EventsAll, OnError: func(err error) { reported <- err }})
	rec := httptest.NewRecorder()
	mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, httptest.NewRequest("POST", "/x", nil))
	select {
	case err := <-reported:
		if !strings.Contains(err.Error(), "disk on fire") {
			t.Errorf("reported %v", err)
		}
	default:
		t.Error("nothing reported")
	}
}

// TestEventNotRecordedNoForgedLine: a request path with an encoded line
// break or terminal control, sent over real HTTP, is reported on one line
// with its controls escaped.
func TestEventNotRecordedNoForgedLine(t *testing.T) {
	t.Parallel()
	l, err := audit.New(failingStore{}, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	reported := make(chan error, 4)
	mw := mustNew(t, l, &Options{Events: EventsAll, OnError: func(err error) { reported <- err }})
	srv := httptest.NewServer(mw(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	defer srv.Close()
	for _, path := range []string{"/x%0Aaudit:%20all%20good", "/x%0D%0Aaudit", "/x%1B[2J", "/x%C2%9B2J", "/x%E2%80%AEevil"} {
		resp, err := http.Post(srv.URL+path, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		msg := (<-reported).Error()
		if strings.ContainsAny(msg, "\r\n\x1b\u009b\u202e") {
			t.Errorf("path %s: reported %q, which carries a control raw", path, msg)
		}
		if !strings.Contains(msg, "disk on fire") {
			t.Errorf("path %s: reported %q", path, msg)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	l, _ := newLogger(t)
	tests := []struct {
		name   string
		logger *audit.Logger
		opts   Options
	}{
		{"events without logger", nil, Options{Events: EventsAll}},
		{"mutating without logger", nil, Options{Events: EventsMutating}},
		{"unknown policy", l, Options{Events: 9}},
		{"bad request id header", nil, Options{RequestIDHeader: "X Request"}},
		{"bad client ip header", nil, Options{ClientIPHeader: "X-Real-IP:"}},
		{"invalid prefix", nil, Options{TrustedProxies: []netip.Prefix{{}}}},
		{"negative user agent cap", nil, Options{MaxUserAgentLen: -1}},
	}
	for _, tt := range tests {
		if _, err := New(tt.logger, &tt.opts); err == nil || !strings.HasPrefix(err.Error(), "audit: middleware: ") {
			t.Errorf("%s: got error %v, want one starting with \"audit: middleware: \"", tt.name, err)
		}
	}
	for name, opts := range map[string]*Options{"nil": nil, "zero": {}} {
		if _, err := New(nil, opts); err != nil {
			t.Errorf("%s Options: %v", name, err)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("nil handler: no panic")
		}
	}()
	mustNew(t, nil, nil)(nil)
}

// TestIdentifyOnceAndSetActor checks the identity hook and audit.SetActor:
// Identify runs once per request; an actor a handler sets after
// authenticating names the events logged after it and the request's own
// event, and an Identify actor names them otherwise.
func TestIdentifyOnceAndSetActor(t *testing.T) {
	t.Parallel()
	l, s := newLogger(t)
	var calls atomic.Int64
	mw := mustNew(t, l, &Options{
		Events: EventsAll,
		Identify: func(r *http.Request) (audit.Actor, string) {
			calls.Add(1)
			if r.Header.Get("Authorization") == "Bearer bob" {
				return audit.Actor{UserID: "u-bob"}, "s-bob"
			}
			return audit.Actor{}, ""
		},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		before := audit.ActorFrom(r.Context())
		if !audit.SetActor(r.Context(), audit.Actor{UserID: "u-alice", UserEmail: "alice@example.com"}) {
			t.Error("SetActor = false inside the middleware, want true")
		}
		if err := l.Log(r.Context(), audit.Event{Action: audit.ActionUserLogin, ResourceType: "session", Status: audit.StatusSuccess,
			Details: map[string]any{"before": before.UserID}}); err != nil {
			t.Error(err)
		}
	})
	mux.HandleFunc("POST /docs", func(w http.ResponseWriter, r *http.Request) {})
	srv := serve(t, mw(mux))

	do(t, newRequest(t, http.MethodPost, srv.URL+"/login"))
	req := newRequest(t, http.MethodPost, srv.URL+"/docs")
	req.Header.Set("Authorization", "Bearer bob")
	do(t, req)

	if got := calls.Load(); got != 2 {
		t.Errorf("Identify called %d times for 2 requests, want 2", got)
	}
	tests := []struct {
		action      audit.Action
		route       string
		user, email string
		session     string
	}{
		{audit.ActionUserLogin, "", "u-alice", "alice@example.com", ""},
		{ActionHTTPRequest, "POST /login", "u-alice", "alice@example.com", ""},
		{ActionHTTPRequest, "POST /docs", "u-bob", "", "s-bob"},
	}
	for _, tt := range tests {
		rs := records(t, s, audit.Filter{Action: tt.action, ResourceID: tt.route})
		if len(rs) != 1 {
			t.Errorf("%s %s: got %d records, want 1", tt.action, tt.route, len(rs))
			continue
		}
		if r := rs[0]; r.UserID != tt.user || r.UserEmail != tt.email || r.SessionID != tt.session {
			t.Errorf("%s %s: got user %q <%s> session %q, want %q <%s> session %q",
				tt.action, tt.route, r.UserID, r.UserEmail, r.SessionID, tt.user, tt.email, tt.session)
		}
	}
}

// TestOuterActorKept checks that the middleware keeps an actor an outer
// layer put in the context when Identify names no one.
func TestOuterActorKept(t *testing.T) {
	t.Parallel()
	var got audit.Actor
	h := mustNew(t, nil, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = audit.ActorFrom(r.Context()) }))
	outer := audit.Actor{UserID: "u-outer"}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	h.ServeHTTP(httptest.NewRecorder(), req.WithContext(audit.WithActor(req.Context(), outer)))
	if got != outer {
		t.Errorf("ActorFrom in the handler = %+v, want the outer %+v", got, outer)
	}
}
