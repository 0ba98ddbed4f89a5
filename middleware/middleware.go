package middleware

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"
	"unicode/utf8"

	"github.com/felixge/httpsnoop"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/internal/safetext"
)

// ActionHTTPRequest is the action of the events the middleware records for
// requests (see Options.Events).
const ActionHTTPRequest audit.Action = "http.request"

// ResourceTypeHTTPRoute is the resource type of request events; their
// resource id is the route pattern that served the request.
const ResourceTypeHTTPRoute = "http_route"

// EventPolicy chooses which requests the middleware records as events of
// their own.
type EventPolicy uint8

const (
	// EventsOff records no request events. The middleware then only fills
	// the context. It is the default.
	EventsOff EventPolicy = iota
	// EventsAll records every request.
	EventsAll
	// EventsMutating records requests whose method is not GET, HEAD,
	// OPTIONS or TRACE (RFC 9110 safe methods): POST, PUT, PATCH, DELETE
	// and any unknown method.
	EventsMutating
)

// Options configures the middleware. A nil *Options and the zero Options
// are valid: the middleware then fills the context with a request id, the
// TCP peer's address and the user agent, and records nothing itself.
type Options struct {
	// RequestIDHeader is the header that carries the request id in both
	// directions: a client's acceptable id (see ValidRequestID) is kept,
	// any other is replaced, and the id in use is set in the response.
	// A request with the header repeated gets a new id. Default
	// "X-Request-ID".
	RequestIDHeader string
	// IgnoreClientRequestID makes the middleware generate every request
	// id, whatever the client sends.
	IgnoreClientRequestID bool
	// NewRequestID makes a request id when the client sent no acceptable
	// one. Default: a UUIDv7 string (RFC 9562, time-ordered). It must be
	// safe for concurrent use; an empty result, or one that is not an
	// identity (audit.CheckID: over audit.MaxIDBytes, invalid UTF-8, a
	// control character), falls back to the default: a request id is
	// never cut or repaired into another request's id.
	NewRequestID func() string

	// TrustedProxies are the networks of the reverse proxies in front of
	// the service. A request whose TCP peer is in one of them has its
	// client address read from ClientIPHeader; any other request's client
	// address is its TCP peer, whatever headers it carries. Empty (the
	// default) trusts no proxy and ignores every forwarding header. List
	// only proxies: an address in these networks is believed when it
	// claims to have forwarded a request. IPv4-mapped IPv6 prefixes are
	// taken as their IPv4 form.
	TrustedProxies []netip.Prefix
	// ClientIPHeader is the header the trusted proxies write, consulted
	// only when the TCP peer is one of them:
	//
	//   - "X-Forwarded-For" (the default): every X-Forwarded-For line,
	//     merged in order, is walked from the right; the first address not
	//     in TrustedProxies is the client. Entries the client wrote
	//     itself are to the left of it and are never reached.
	//   - "Forwarded": the same walk over the for= parameters of RFC 7239
	//     Forwarded headers.
	//   - any other name, such as "X-Real-IP", "True-Client-IP" or
	//     "CF-Connecting-IP": a header holding one address, which the
	//     nearest proxy sets, overwriting whatever the client sent. Use
	//     one only if your proxy really overwrites it.
	//
	// A hop that is not an address ends the walk; the client address is
	// then the last trusted hop (see the package documentation).
	ClientIPHeader string

	// MaxUserAgentLen caps the user agent kept, in bytes. Default 512.
	MaxUserAgentLen int

	// Identify says who makes the request and in which session: it is
	// the one identity hook. It is called once per request, before the
	// next handler, with the request as the middleware received it; read
	// the result of your authentication there (parse the token once).
	// The actor's UserID and the session id are identities: one that is
	// not valid (audit.CheckID) makes the Logger refuse the request's
	// events, never cut it.
	// The actor goes into the context as the request's actor
	// (audit.ActorFrom), which a handler may change later with
	// audit.SetActor — after a login, say; a zero Actor keeps the
	// context's actor, if an outer layer set one, else none. The session id goes into the
	// request info (audit.RequestInfoFrom); return an id, never the
	// session's secret. Everything inside the middleware reads the
	// identity from the context, package api's Authorize included (see
	// api.AuthorizeActor). Nil identifies no one.
	Identify func(r *http.Request) (actor audit.Actor, sessionID string)

	// Events chooses the requests recorded as events: the route pattern
	// (Request.Pattern, set by a ServeMux inside the middleware), method,
	// path (without the query), status code, bytes written and duration,
	// attributed to the request's actor as it is when the request ends
	// (after any audit.SetActor). Status is success below 400, failure
	// for 4xx and error for 5xx and for a handler that panics (the panic
	// is recorded, then re-raised). The status code is the final one the
	// client received: an informational 1xx a handler sends first (100
	// Continue, 103 Early Hints) is not; 101 Switching Protocols is. A
	// request whose handler hijacks the connection records hijacked true
	// and no status code (the middleware cannot see what the handler wrote
	// on the raw connection) unless a final status was written before the
	// hijack; its status is success, or error if the handler panics.
	// Default EventsOff.
	Events EventPolicy
	// Skip, when set, is asked about each request Events would record;
	// true skips it. It sees the request with the middleware's context.
	Skip func(*http.Request) bool
	// Action is the action of request events. Default ActionHTTPRequest.
	Action audit.Action
	// OnError is told of request events that could not be recorded and
	// that the Logger did not already report to its own error hook. It
	// must be safe for concurrent use. Default: print to standard error.
	OnError func(error)
}

// mw is the validated configuration shared by the handlers New builds.
type mw struct {
	Options // a copy, defaults applied
	logger  *audit.Logger
	ip      *ipResolver
	ids     idSource
}

// New returns middleware configured by opts (nil means the defaults),
// recording request events with logger, which delivers them by its
// Policy for Options.Action (Async unless configured otherwise). logger
// may be nil when opts.Events is EventsOff. New returns an error if opts is not valid: a
// bad header name or prefix, an unknown EventPolicy, or events without a
// logger. The middleware panics if given a nil handler.
func New(logger *audit.Logger, opts *Options) (func(next http.Handler) http.Handler, error) {
	m := &mw{logger: logger}
	if opts != nil {
		m.Options = *opts
		m.TrustedProxies = append([]netip.Prefix(nil), opts.TrustedProxies...)
	}
	header := m.RequestIDHeader
	if m.RequestIDHeader = http.CanonicalHeaderKey(header); m.RequestIDHeader == "" {
		m.RequestIDHeader = "X-Request-Id"
	}
	if !validHeaderName(m.RequestIDHeader) {
		return nil, fmt.Errorf("audit: middleware: RequestIDHeader %q is not a valid header name", header)
	}
	var err error
	if m.ip, err = newIPResolver(m.TrustedProxies, m.ClientIPHeader); err != nil {
		return nil, err
	}
	switch {
	case m.MaxUserAgentLen < 0:
		return nil, fmt.Errorf("audit: middleware: MaxUserAgentLen must not be negative, got %d", m.MaxUserAgentLen)
	case m.MaxUserAgentLen == 0:
		m.MaxUserAgentLen = 512
	}
	if m.Events > EventsMutating {
		return nil, fmt.Errorf("audit: middleware: unknown EventPolicy %d", m.Events)
	}
	if m.Events != EventsOff && m.logger == nil {
		return nil, errors.New("audit: middleware: Events needs a Logger")
	}
	if m.Action == "" {
		m.Action = ActionHTTPRequest
	}
	if m.OnError == nil {
		m.OnError = func(err error) { fmt.Fprintln(os.Stderr, err) }
	}
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("audit: middleware: nil handler")
		}
		return &handler{m: m, next: next}
	}, nil
}

type handler struct {
	m    *mw
	next http.Handler
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := h.m
	id, hdr := m.requestID(r)
	ri := audit.RequestInfo{
		RequestID: id,
		IPAddress: m.ip.resolve(r.RemoteAddr, r.Header),
		UserAgent: m.userAgent(r),
	}
	ri.TraceID, ri.SpanID = traceParent(r.Header)
	var actor audit.Actor
	if m.Identify != nil {
		actor, ri.SessionID = m.Identify(r)
	}
	if actor == (audit.Actor{}) {
		actor = audit.ActorFrom(r.Context()) // what an outer layer set, if anything
	}
	ctx := audit.WithRequest(r.Context(), ri, actor)
	if hdr == nil {
		hdr = []string{id}
	}
	w.Header()[m.RequestIDHeader] = hdr
	r = r.WithContext(ctx)
	if !m.records(r) {
		h.next.ServeHTTP(w, r)
		return
	}
	h.serveRecorded(w, r)
}

// requestID returns the request's id, and a header value of it when it
// has one at hand (nil otherwise).
func (m *mw) requestID(r *http.Request) (string, []string) {
	if !m.IgnoreClientRequestID {
		if v := r.Header[m.RequestIDHeader]; len(v) == 1 && ValidRequestID(v[0]) {
			return v[0], nil
		}
	}
	if m.NewRequestID != nil {
		if id := m.NewRequestID(); id != "" && audit.CheckID(id) == nil {
			return id, nil
		}
	}
	return m.ids.next()
}

func (m *mw) userAgent(r *http.Request) string {
	v := r.Header["User-Agent"]
	if len(v) == 0 {
		return ""
	}
	ua := v[0]
	if len(ua) > m.MaxUserAgentLen {
		cut := m.MaxUserAgentLen
		for cut > 0 && !utf8.RuneStart(ua[cut]) {
			cut--
		}
		ua = ua[:cut]
	}
	return ua
}

func (m *mw) records(r *http.Request) bool {
	switch m.Events {
	case EventsOff:
		return false
	case EventsMutating:
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			return false
		}
	}
	return m.Skip == nil || !m.Skip(r)
}

// capture follows what a handler does with its ResponseWriter.
type capture struct {
	code        int
	wroteHeader bool
	written     int64
	hijacked    bool
}

func (c *capture) hooks() httpsnoop.Hooks {
	return httpsnoop.Hooks{
		WriteHeader: func(next httpsnoop.WriteHeaderFunc) httpsnoop.WriteHeaderFunc {
			return func(code int) {
				next(code)
				if !c.wroteHeader && (code < 100 || code > 199 || code == http.StatusSwitchingProtocols) {
					c.code, c.wroteHeader = code, true
				}
			}
		},
		Write: func(next httpsnoop.WriteFunc) httpsnoop.WriteFunc {
			return func(p []byte) (int, error) {
				n, err := next(p)
				c.written += int64(n)
				c.implicit200()
				return n, err
			}
		},
		WriteString: func(next httpsnoop.WriteStringFunc) httpsnoop.WriteStringFunc {
			return func(s string) (int, error) {
				n, err := next(s)
				c.written += int64(n)
				c.implicit200()
				return n, err
			}
		},
		ReadFrom: func(next httpsnoop.ReadFromFunc) httpsnoop.ReadFromFunc {
			return func(src io.Reader) (int64, error) {
				n, err := next(src)
				c.written += n
				c.implicit200()
				return n, err
			}
		},
		Hijack: func(next httpsnoop.HijackFunc) httpsnoop.HijackFunc {
			return func() (net.Conn, *bufio.ReadWriter, error) {
				conn, rw, err := next()
				if err == nil {
					c.hijacked = true
				}
				return conn, rw, err
			}
		},
	}
}

func (c *capture) implicit200() {
	if !c.wroteHeader {
		c.code, c.wroteHeader = http.StatusOK, true
	}
}

func (h *handler) serveRecorded(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	c := &capture{}
	ww := httpsnoop.Wrap(w, c.hooks())
	defer func() {
		if p := recover(); p != nil {
			h.m.logRequest(r, c, time.Since(start), p)
			panic(p) // re-raised from the deferred call: the trace keeps the handler's frames
		}
	}()
	h.next.ServeHTTP(ww, r)
	h.m.logRequest(r, c, time.Since(start), nil)
}

// logRequest records one request; p is the value the handler panicked
// with, if it did.
func (m *mw) logRequest(r *http.Request, c *capture, d time.Duration, p any) {
	code := c.code
	if !c.wroteHeader && !c.hijacked {
		code = http.StatusOK // what net/http sends for a handler that writes nothing
	}
	ev := audit.Event{
		Action:       m.Action,
		ResourceType: ResourceTypeHTTPRoute,
		ResourceID:   r.Pattern,
		Status:       audit.StatusSuccess,
		Details: map[string]any{
			"method":        r.Method,
			"path":          r.URL.Path,
			"duration_us":   d.Microseconds(),
			"bytes_written": c.written,
		},
	}
	if code != 0 {
		ev.Details["status_code"] = code
	}
	if c.hijacked {
		ev.Details["hijacked"] = true
	}
	switch {
	case p != nil:
		ev.Status, ev.ErrorMessage = audit.StatusError, fmt.Sprintf("panic: %v", p)
		if !c.wroteHeader {
			ev.Details["status_code"] = http.StatusInternalServerError
		}
	case code >= 500:
		ev.Status, ev.ErrorMessage = audit.StatusError, http.StatusText(code)
	case code >= 400:
		ev.Status, ev.ErrorMessage = audit.StatusFailure, http.StatusText(code)
	}
	if err := m.logger.Log(r.Context(), ev); err != nil && !errors.Is(err, audit.ErrQueueFull) {
		// ErrQueueFull was reported to the Logger's ErrorHandler already.
		// The path is the client's, decoded: quoted when it holds a line
		// break or a control, so that it cannot forge a line of the log.
		m.OnError(fmt.Errorf("audit: middleware: recording %s %s: %w", safetext.Line(r.Method), safetext.Line(r.URL.Path), err))
	}
}

// RequestIDFrom returns the request id the middleware put in ctx, or "".
func RequestIDFrom(ctx context.Context) string {
	return audit.RequestInfoFrom(ctx).RequestID
}

// ClientIPFrom returns the client address the middleware put in ctx, or
// the zero Addr (also when the peer was not an IP address, as on a Unix
// socket).
func ClientIPFrom(ctx context.Context) netip.Addr {
	return audit.RequestInfoFrom(ctx).IPAddress
}
