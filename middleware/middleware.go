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
// requests (see Config.Events).
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

// Config configures the middleware. The zero Config is valid: it fills the
// context with a request id, the TCP peer's address and the user agent,
// and records nothing itself.
type Config struct {
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
	// one. Default: a UUIDv7 string from crypto/rand. It must be safe for
	// concurrent use; an empty result falls back to the default.
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

	// Actor returns who makes the request, for the context (see
	// audit.WithActor); a zero Actor puts none there. It is called once
	// per request, before the next handler, with the request as the
	// middleware received it. Use it to read the result of your
	// authentication; it should be cheap.
	Actor func(*http.Request) audit.Actor
	// SessionID returns the id of the request's session, for the context.
	// It is called like Actor. Return an id, never the session's secret.
	SessionID func(*http.Request) string

	// Events chooses the requests recorded as events: the route pattern
	// (Request.Pattern, set by a ServeMux inside the middleware), method,
	// path (without the query), status code, bytes written and duration.
	// Status is success below 400, failure for 4xx and error for 5xx and
	// for a handler that panics (the panic is recorded, then re-raised).
	// Default EventsOff.
	Events EventPolicy
	// Skip, when set, is asked about each request Events would record;
	// true skips it. It sees the request with the middleware's context.
	Skip func(*http.Request) bool
	// Logger records the request events; required unless Events is
	// EventsOff. Request events are delivered by the Logger's policy for
	// Action, Async unless configured otherwise.
	Logger *audit.Logger
	// Action is the action of request events. Default ActionHTTPRequest.
	Action audit.Action
	// OnError is told of request events that could not be recorded and
	// that the Logger did not already report to its own ErrorHandler. It
	// must be safe for concurrent use. Default: print to standard error.
	OnError func(error)
}

// mw is the validated configuration shared by the handlers New builds.
type mw struct {
	idHeader     string
	ignoreClient bool
	newID        func() string
	ip           *ipResolver
	maxUA        int
	actor        func(*http.Request) audit.Actor
	sessionID    func(*http.Request) string
	events       EventPolicy
	skip         func(*http.Request) bool
	logger       *audit.Logger
	action       audit.Action
	onError      func(error)
}

// New returns middleware configured by cfg, or an error if cfg is not
// valid: a bad header name or prefix, an unknown EventPolicy, or events
// without a Logger. The middleware panics if given a nil handler.
func New(cfg Config) (func(next http.Handler) http.Handler, error) {
	m := &mw{
		idHeader:     http.CanonicalHeaderKey(cfg.RequestIDHeader),
		ignoreClient: cfg.IgnoreClientRequestID,
		newID:        cfg.NewRequestID,
		maxUA:        cfg.MaxUserAgentLen,
		actor:        cfg.Actor,
		sessionID:    cfg.SessionID,
		events:       cfg.Events,
		skip:         cfg.Skip,
		logger:       cfg.Logger,
		action:       cfg.Action,
		onError:      cfg.OnError,
	}
	if m.idHeader == "" {
		m.idHeader = "X-Request-Id"
	}
	if !validHeaderName(m.idHeader) {
		return nil, fmt.Errorf("audit: middleware: RequestIDHeader %q is not a valid header name", cfg.RequestIDHeader)
	}
	var err error
	if m.ip, err = newIPResolver(cfg.TrustedProxies, cfg.ClientIPHeader); err != nil {
		return nil, err
	}
	switch {
	case m.maxUA < 0:
		return nil, fmt.Errorf("audit: middleware: MaxUserAgentLen must not be negative, got %d", m.maxUA)
	case m.maxUA == 0:
		m.maxUA = 512
	}
	if m.events > EventsMutating {
		return nil, fmt.Errorf("audit: middleware: unknown EventPolicy %d", m.events)
	}
	if m.events != EventsOff && m.logger == nil {
		return nil, errors.New("audit: middleware: Events needs a Logger")
	}
	if m.action == "" {
		m.action = ActionHTTPRequest
	}
	if m.onError == nil {
		m.onError = func(err error) { fmt.Fprintln(os.Stderr, err) }
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
	ri := audit.RequestInfo{
		RequestID: m.requestID(r),
		IPAddress: m.ip.resolve(r.RemoteAddr, r.Header),
		UserAgent: m.userAgent(r),
	}
	if m.sessionID != nil {
		ri.SessionID = m.sessionID(r)
	}
	ctx := audit.WithRequestInfo(r.Context(), ri)
	if m.actor != nil {
		if a := m.actor(r); a != (audit.Actor{}) {
			ctx = audit.WithActor(ctx, a)
		}
	}
	w.Header()[m.idHeader] = []string{ri.RequestID}
	r = r.WithContext(ctx)
	if !m.records(r) {
		h.next.ServeHTTP(w, r)
		return
	}
	h.serveRecorded(w, r)
}

func (m *mw) requestID(r *http.Request) string {
	if !m.ignoreClient {
		if v := r.Header[m.idHeader]; len(v) == 1 && ValidRequestID(v[0]) {
			return v[0]
		}
	}
	if m.newID != nil {
		if id := m.newID(); id != "" {
			return id
		}
	}
	return newRequestID()
}

func (m *mw) userAgent(r *http.Request) string {
	v := r.Header["User-Agent"]
	if len(v) == 0 {
		return ""
	}
	ua := v[0]
	if len(ua) > m.maxUA {
		cut := m.maxUA
		for cut > 0 && !utf8.RuneStart(ua[cut]) {
			cut--
		}
		ua = ua[:cut]
	}
	return ua
}

func (m *mw) records(r *http.Request) bool {
	switch m.events {
	case EventsOff:
		return false
	case EventsMutating:
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			return false
		}
	}
	return m.skip == nil || !m.skip(r)
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
		Action:       m.action,
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
		m.onError(fmt.Errorf("audit: middleware: recording %s %s: %w", safetext.Line(r.Method), safetext.Line(r.URL.Path), err))
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
