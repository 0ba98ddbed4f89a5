package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// Errors an Authorize function returns (or wraps) to refuse a caller.
var (
	// ErrUnauthenticated means the caller is not known: 401.
	ErrUnauthenticated = errors.New("audit: api: unauthenticated")
	// ErrForbidden means the caller is known and may not do this: 403.
	ErrForbidden = errors.New("audit: api: forbidden")
)

// ResourceType is the resource type of the events the API records.
const ResourceType = "audit_log"

// An Authorizer says who the caller is, whether they may use the API and
// what part of the log they may see. Authorize returns the caller, or an
// error that wraps ErrUnauthenticated (answered 401) or ErrForbidden
// (403, and return the caller too, so that the refusal names them). Any
// other error is answered 500. A nil error with the zero Actor is taken as
// ErrUnauthenticated: every read of the log is attributed to someone. The
// error's text is recorded, so keep secrets out of it. A Caller with a
// Scope sees only the records inside it (see Scope). The actor's UserID
// and the Scope's fields must be valid identities (audit.CheckID): one
// that is not is never cut or repaired into another tenant's or actor's
// id; the request is answered 500 and recorded without it.
//
// Authorize runs after routing: r.Pattern and r.PathValue tell it what is
// asked (ActionFor maps the request to the action). Behind package
// middleware, r's context already holds the identified caller: an
// Authorizer can read audit.ActorFrom(r.Context()) instead of parsing the
// token again, as AllowActor does. It is called concurrently and must be
// safe for that.
type Authorizer interface {
	Authorize(r *http.Request) (Caller, error)
}

// AuthorizeFunc is a function that is an Authorizer.
type AuthorizeFunc func(r *http.Request) (Caller, error)

// Authorize calls f.
func (f AuthorizeFunc) Authorize(r *http.Request) (Caller, error) { return f(r) }

// nilAuthorizer reports whether a is nil, or a nil function.
func nilAuthorizer(a Authorizer) bool {
	switch f := a.(type) {
	case nil:
		return true
	case AuthorizeFunc:
		return f == nil
	case AllowActor:
		return f == nil
	}
	return false
}

// Options configures a Handler. The zero value of every field is its
// default.
type Options struct {
	// BasePath is where the API lives. Default "/audit-logs". Mount the
	// Handler at BasePath and at BasePath+"/".
	BasePath string
	// WWWAuthenticate is the challenge sent with a 401. Default
	// `Bearer realm="audit"`.
	WWWAuthenticate string
	// Now is the clock that /users/{user_id}?days= counts back from and
	// that names export files. Default time.Now.
	Now func() time.Time
	// CursorKey keys the MAC that binds every cursor the API returns to
	// the caller's Scope (see Scope): at least MinCursorKeySize random
	// bytes, kept secret. Default: a random key drawn by New, so that
	// cursors are valid only on the Handler that returned them. Service
	// instances behind one load balancer must share a CursorKey, or a
	// cursor returned by one is refused by another (400). Use a key of
	// its own, not the chain's or the viewer tokens'.
	CursorKey []byte
	// OnError is told of failures the client cannot be told of: a record
	// that could not be written after the response was decided, a store
	// error during an export. It must be safe for concurrent use. Default:
	// print to standard error.
	OnError func(error)
}

// Handler serves the audit log query API. Build it with New; it is safe
// for concurrent use.
type Handler struct {
	o        Options // a copy, defaults applied
	store    audit.Querier
	getter   audit.Getter        // nil if the store cannot look records up by ID
	tree     storekit.TreeReader // nil if the store keeps no Merkle tree
	logger   *audit.Logger
	auth     Authorizer
	mux      *http.ServeMux
	cursors  cursors
	pageSize int // export page size; audit.MaxLimit but for tests
}

// New returns a Handler that answers from store, to the callers auth
// accepts, and records every request with logger. /{id} needs store to implement audit.Getter too,
// and answers 501 Not Implemented if it does not. logger's Policy decides
// whether reads fail closed: the default delivers ActionAuditLogRead and
// ActionAuditLogExport Sync.
//
// New returns an error if store, logger or auth is nil — the API is never
// served without an authorization check —, if BasePath is not a clean
// absolute path, or if CursorKey is set and too short. opts may be nil for
// the defaults.
func New(store audit.Querier, logger *audit.Logger, auth Authorizer, opts *Options) (*Handler, error) {
	switch {
	case nilAuthorizer(auth):
		return nil, errors.New("audit: api: an Authorizer is required: the audit log is never served without an authorization check")
	case store == nil:
		return nil, errors.New("audit: api: a store is required")
	case logger == nil:
		return nil, errors.New("audit: api: a Logger is required: reads of the audit log are audited")
	}
	h := &Handler{store: store, logger: logger, auth: auth, pageSize: audit.MaxLimit}
	if opts != nil {
		h.o = *opts
	}
	h.getter, _ = store.(audit.Getter)
	h.tree, _ = store.(storekit.TreeReader)
	o := &h.o
	var err error
	if h.cursors, err = newCursors(o.CursorKey); err != nil {
		return nil, err
	}
	o.CursorKey = nil // kept in h.cursors only
	if o.BasePath == "" {
		o.BasePath = "/audit-logs"
	}
	if !strings.HasPrefix(o.BasePath, "/") || o.BasePath == "/" || path.Clean(o.BasePath) != o.BasePath || strings.ContainsAny(o.BasePath, "{}*? \t\r\n%") {
		return nil, fmt.Errorf("audit: api: BasePath %q must be a clean absolute path such as /audit-logs", o.BasePath)
	}
	if o.WWWAuthenticate == "" {
		o.WWWAuthenticate = `Bearer realm="audit"`
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnError == nil {
		o.OnError = func(err error) { fmt.Fprintln(os.Stderr, err) }
	}
	base := o.BasePath
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET "+base, h.list)
	h.mux.HandleFunc("GET "+base+"/export", h.export)
	h.mux.HandleFunc("GET "+base+"/users/{user_id}", h.user)
	h.mux.HandleFunc("GET "+base+"/{id}", h.get)
	// GET base/{id}/proof is routed by other: as a pattern it would
	// conflict with base/users/{user_id}
	h.mux.HandleFunc("GET "+base+"/checkpoint", h.checkpoint)
	h.mux.HandleFunc("GET "+base+"/consistency", h.consistency)
	h.mux.HandleFunc("GET "+base+"/evidence", h.evidence)
	h.mux.HandleFunc(base, h.other)
	h.mux.HandleFunc(base+"/", h.other)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusNotFound, "not part of the audit log API", "")
	})
	return h, nil
}

// ServeHTTP serves the API. Every response is marked Cache-Control:
// no-store.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

// ActionFor returns the action a request to the API is recorded as:
// ActionAuditLogExport for the export and a tenant's evidence,
// ActionAuditLogRead for anything else. Authorize functions may use it to
// require more for exports.
func (h *Handler) ActionFor(r *http.Request) audit.Action {
	if r.URL.Path == h.o.BasePath+"/export" || r.URL.Path == h.o.BasePath+"/evidence" {
		return audit.ActionAuditLogExport
	}
	return audit.ActionAuditLogRead
}

// actionKey carries, in the context of the request given to Authorize,
// the action the request is recorded as (see AllowActor).
type actionKey struct{}

// AllowActor is an Authorizer for callers that middleware in front of the
// Handler has identified (package middleware's Options.Identify, or
// audit.WithActor): the caller is audit.ActorFrom(r.Context()), so the
// token is parsed once per request. No actor there is ErrUnauthenticated
// (401). Otherwise the function says whether the actor may do action —
// ActionAuditLogRead, or ActionAuditLogExport for the export and the evidence, as
// ActionFor says: nil lets them, with the whole log in view; an error
// wrapping ErrForbidden refuses them (403); any other error is a failure
// (500). Its text is recorded. It is called concurrently.
//
// Called outside a Handler, Authorize asks about ActionAuditLogExport, the
// stricter action.
type AllowActor func(r *http.Request, a audit.Actor, action audit.Action) error

// Authorize identifies the caller from r's context and asks allow.
func (allow AllowActor) Authorize(r *http.Request) (Caller, error) {
	c := Caller{Actor: audit.ActorFrom(r.Context())}
	if c.Actor == (audit.Actor{}) {
		return c, fmt.Errorf("%w: no identified caller", ErrUnauthenticated)
	}
	if allow == nil {
		return c, errors.New("audit: api: AllowActor is nil")
	}
	action, ok := r.Context().Value(actionKey{}).(audit.Action)
	if !ok {
		action = audit.ActionAuditLogExport
	}
	return c, allow(r, c.Actor, action)
}

// authorize checks the caller. When it refuses them, it records the
// refusal, answers 401, 403 or 500, and returns false.
func (h *Handler) authorize(w http.ResponseWriter, r *http.Request) (Caller, bool) {
	action := h.ActionFor(r)
	a, err := h.auth.Authorize(r.WithContext(context.WithValue(r.Context(), actionKey{}, action)))
	if err == nil && a.Actor == (audit.Actor{}) {
		err = fmt.Errorf("%w: Authorize returned no actor", ErrUnauthenticated)
	}
	if err == nil {
		err = checkIdentities(&a)
	}
	if err == nil {
		return a, true
	}
	status, st, reason, detail := http.StatusInternalServerError, audit.StatusError, "error", "authorization failed"
	switch {
	case errors.Is(err, ErrUnauthenticated):
		status, st, reason, detail = http.StatusUnauthorized, audit.StatusFailure, "unauthenticated", "authentication required"
		w.Header().Set("WWW-Authenticate", h.o.WWWAuthenticate)
	case errors.Is(err, ErrForbidden):
		status, st, reason, detail = http.StatusForbidden, audit.StatusFailure, "forbidden", "not allowed to read the audit log"
	}
	if status == http.StatusForbidden && action == audit.ActionAuditLogExport {
		detail = "not allowed to export the audit log"
	}
	ev := h.event(r, a, action, st, err.Error())
	ev.Details["refused"] = reason
	ev.Details["http_status"] = status
	h.note(r, ev, "a refused") // the refusal stands whether or not it is recorded
	writeProblem(w, r, status, detail, "")
	return a, false
}

// checkIdentities reports the first of a's identities that is not one
// (see audit.CheckID): a failure of Authorize, never cut or repaired into
// a tenant or actor that may exist. It clears every such identity in a,
// so that the refusal can be recorded without it.
func checkIdentities(a *Caller) error {
	var first error
	for _, f := range [...]struct {
		name string
		v    *string
	}{{"Actor.UserID", &a.UserID}, {"Scope.TenantID", &a.Scope.TenantID}, {"Scope.UserID", &a.Scope.UserID},
		{"Scope.ResourceType", &a.Scope.ResourceType}, {"Scope.ResourceID", &a.Scope.ResourceID}} {
		if err := audit.CheckID(*f.v); err != nil {
			if first == nil {
				first = fmt.Errorf("audit: api: Authorize returned a %s that is not an identity: %w", f.name, err)
			}
			*f.v = ""
		}
	}
	return first
}

// event returns the event that records a request to the API by a, with
// a's scope when it has one.
func (h *Handler) event(r *http.Request, a Caller, action audit.Action, st audit.Status, msg string) audit.Event {
	ev := audit.Event{
		UserID:       a.UserID,
		UserEmail:    a.UserEmail,
		Action:       action,
		ResourceType: ResourceType,
		Status:       st,
		ErrorMessage: msg,
		Details:      map[string]any{"method": r.Method, "path": r.URL.Path},
	}
	if !a.Scope.IsZero() {
		ev.Details["scope"] = a.Scope.details()
	}
	if a.Scope.TenantID != "" {
		ev.TenantID = a.Scope.TenantID // a tenant's reads show in its own log
	}
	return ev
}

// note records ev, an outcome already decided: a failure to record it is
// told to OnError as "recording <what> <action>", and changes nothing.
func (h *Handler) note(r *http.Request, ev audit.Event, what string) {
	if err := h.logger.Log(r.Context(), ev); err != nil {
		h.o.OnError(fmt.Errorf("audit: api: recording %s %s: %w", what, ev.Action, err))
	}
}

// refuse records a request refused for a bad parameter and answers 400.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, a Caller, action audit.Action, perr *paramError) {
	ev := h.event(r, a, action, audit.StatusFailure, perr.Error())
	ev.Details["parameter"] = perr.Param
	ev.Details["query"] = queryDetails(r.URL.RawQuery)
	h.note(r, ev, "a refused")
	writeProblem(w, r, http.StatusBadRequest, perr.Param+" "+perr.Msg, perr.Param)
}

// queryDetails returns the parameters of a raw query, as given, for the
// record of a refused request: each name with its value, or its values
// when it is given more than once. They go into Details as keys, so that
// the Logger's redaction applies to them as to any key: the value of
// "access_token" or "password" is never stored. A name that does not
// unescape is kept as it came, without its value (a bad escape could hide
// a secret's name). Both '&' and ';' separate parameters here, so that
// "a=1;password=x" cannot pass a secret off as the value of a.
func queryDetails(raw string) map[string]any {
	m := map[string]any{}
	for _, part := range strings.FieldsFunc(raw, func(r rune) bool { return r == '&' || r == ';' }) {
		name, value, _ := strings.Cut(part, "=")
		if n, err := url.QueryUnescape(name); err != nil {
			value = "[not kept: the name does not unescape]"
		} else {
			name = n
			if v, err := url.QueryUnescape(value); err == nil {
				value = v
			}
		}
		switch prev := m[name].(type) {
		case nil:
			m[name] = value
		case string:
			m[name] = []any{prev, value}
		case []any:
			m[name] = append(prev, value)
		}
	}
	return m
}

// failed records and answers a store error: 400 for a filter the store
// refuses, 500 for anything else. A request whose client has gone is
// recorded and not answered.
func (h *Handler) failed(w http.ResponseWriter, r *http.Request, a Caller, action audit.Action, q *query, err error) {
	if errors.Is(err, audit.ErrInvalidFilter) {
		h.refuse(w, r, a, action, filterParamError(err))
		return
	}
	st, status := audit.StatusError, http.StatusInternalServerError
	if r.Context().Err() != nil {
		st, status = audit.StatusFailure, 0
	}
	ev := h.event(r, a, action, st, err.Error())
	if q != nil {
		ev.Details["query"] = q.params
	}
	h.note(r, ev, "a failed")
	if status == 0 {
		return
	}
	h.o.OnError(fmt.Errorf("audit: api: %s: %w", action, err))
	writeProblem(w, r, status, "the audit log could not be read", "")
}

// recordRead records a successful read before its data is sent. If the
// record cannot be written it answers 503 and returns false: the data is
// not sent (fail closed).
func (h *Handler) recordRead(w http.ResponseWriter, r *http.Request, ev audit.Event) bool {
	err := h.logger.Log(r.Context(), ev)
	if err == nil {
		return true
	}
	h.o.OnError(fmt.Errorf("audit: api: %s refused, it could not be recorded: %w", ev.Action, err))
	writeProblem(w, r, http.StatusServiceUnavailable,
		"this read of the audit log could not itself be recorded, so no data is returned; try again later", "")
	return false
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	a, ok := h.authorize(w, r)
	if !ok {
		return
	}
	q, perr := h.parse(endpointList, r, a)
	if perr != nil {
		h.refuse(w, r, a, audit.ActionAuditLogRead, perr)
		return
	}
	h.serveQuery(w, r, a, &q)
}

func (h *Handler) user(w http.ResponseWriter, r *http.Request) {
	a, ok := h.authorize(w, r)
	if !ok {
		return
	}
	q, perr := h.parse(endpointUser, r, a)
	if perr == nil {
		q.filter.UserID = r.PathValue("user_id")
		if err := q.filter.Validate(); err != nil {
			perr = filterParamError(err)
		}
	}
	if perr != nil {
		h.refuse(w, r, a, audit.ActionAuditLogRead, perr)
		return
	}
	h.serveQuery(w, r, a, &q)
}

// parse parses the query of r, a request by a to endpoint e, and opens
// its cursor: a cursor that was not returned to a caller with a's scope
// is refused like one that does not parse, so that the answer tells
// nothing about whose it was.
func (h *Handler) parse(e endpoint, r *http.Request, a Caller) (query, *paramError) {
	q, perr := parseQuery(e, r.URL.RawQuery, h.o.Now())
	if perr != nil || q.cursor == "" && q.after == "" {
		return q, perr
	}
	if q.cursor != "" {
		c, ok := h.cursors.open(a.Scope, q.cursor)
		if !ok {
			return q, badParam("cursor", "is not a cursor this API returned to this caller")
		}
		q.filter.Cursor = c
	}
	if q.after != "" {
		// a page's tail is sealed to the caller's scope as its cursor is
		c, ok := h.cursors.open(a.Scope, q.after)
		if !ok {
			return q, badParam("after", "is not a tail this API returned to this caller")
		}
		q.filter.After = c
	}
	if err := q.filter.Validate(); err != nil {
		return q, filterParamError(err)
	}
	return q, nil
}

// serveQuery answers one page of q, recorded before it is sent.
func (h *Handler) serveQuery(w http.ResponseWriter, r *http.Request, a Caller, q *query) {
	var page audit.Page
	var err error
	if a.Scope.narrow(&q.filter) {
		page, err = h.store.Query(r.Context(), q.filter)
	}
	if err != nil {
		h.failed(w, r, a, audit.ActionAuditLogRead, q, err)
		return
	}
	if page.Records == nil {
		page.Records = []audit.Record{}
	}
	page.NextCursor = h.cursors.seal(a.Scope, page.NextCursor)
	page.Tail = h.cursors.seal(a.Scope, page.Tail)
	for i := range page.Records {
		readable(&page.Records[i])
	}
	body, err := appendPage(make([]byte, 0, 1024+700*len(page.Records)), &page)
	if err != nil {
		h.failed(w, r, a, audit.ActionAuditLogRead, q, fmt.Errorf("encoding: %w", err))
		return
	}
	ev := h.event(r, a, audit.ActionAuditLogRead, audit.StatusSuccess, "")
	ev.Details["query"] = q.params
	if q.filter.UserID != "" {
		ev.Details["user_id"] = q.filter.UserID
	}
	ev.Details["returned"] = len(page.Records)
	ev.Details["more"] = page.NextCursor != ""
	if !h.recordRead(w, r, ev) {
		return
	}
	writeJSON(w, body)
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	a, rec, ok := h.lookup(w, r, r.PathValue("id"), nil)
	if !ok {
		return
	}
	action := audit.ActionAuditLogRead
	readable(&rec)
	body, err := appendRecord(make([]byte, 0, 1024), &rec)
	if err != nil {
		h.failed(w, r, a, action, nil, fmt.Errorf("encoding: %w", err))
		return
	}
	ev := h.event(r, a, action, audit.StatusSuccess, "")
	ev.ResourceID = rec.ID.String()
	if !h.recordRead(w, r, ev) {
		return
	}
	writeJSON(w, body)
}

// lookup authorizes the request and reads the record with id raw, as
// /{id} and /{id}/proof do: a bad id is a 400, a record outside the
// caller's scope a 404 answered and recorded exactly as an id that does
// not exist. need, if set, answers for what else the route needs of the
// store (true: answered). ok is false when the request was answered.
func (h *Handler) lookup(w http.ResponseWriter, r *http.Request, raw string, need func() bool) (a Caller, rec audit.Record, ok bool) {
	a, ok = h.authorize(w, r)
	if !ok {
		return a, rec, false
	}
	action := audit.ActionAuditLogRead
	if _, perr := parseQuery(endpointGet, r.URL.RawQuery, h.o.Now()); perr != nil {
		h.refuse(w, r, a, action, perr)
		return a, rec, false
	}
	id, err := uuid.Parse(raw)
	if err != nil || len(raw) != 36 {
		h.refuse(w, r, a, action, badParam("id", "must be a UUID such as 0190b3d2-7c1a-7d6e-9f00-1a2b3c4d5e6f"))
		return a, rec, false
	}
	if h.getter == nil {
		writeProblem(w, r, http.StatusNotImplemented, "this store cannot look records up by id", "")
		return a, rec, false
	}
	if need != nil && need() {
		return a, rec, false
	}
	rec, err = h.getter.Get(r.Context(), id)
	if err == nil && !a.Scope.Matches(&rec) {
		// Outside the caller's scope: answered and recorded exactly as
		// an id that does not exist, so that guessing ids reveals nothing.
		err = audit.ErrNotFound
	}
	if errors.Is(err, audit.ErrNotFound) {
		ev := h.event(r, a, action, audit.StatusFailure, "not found")
		ev.ResourceID = id.String()
		h.note(r, ev, "a failed")
		writeProblem(w, r, http.StatusNotFound, "no audit record has this id", "")
		return a, rec, false
	}
	if err != nil {
		h.failed(w, r, a, action, nil, err)
		return a, rec, false
	}
	return a, rec, true
}

// other answers what no route matches, for a caller Authorize accepts.
func (h *Handler) other(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		if rest, ok := strings.CutPrefix(r.URL.Path, h.o.BasePath+"/"); ok {
			if id, ok := strings.CutSuffix(rest, "/proof"); ok && id != "" && !strings.Contains(id, "/") {
				h.proof(w, r, id)
				return
			}
		}
	}
	a, ok := h.authorize(w, r)
	if !ok {
		return
	}
	status, detail := http.StatusNotFound, "no such endpoint of the audit log API"
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		status, detail = http.StatusMethodNotAllowed, "the audit log API is read-only"
		w.Header().Set("Allow", "GET, HEAD")
	}
	ev := h.event(r, a, h.ActionFor(r), audit.StatusFailure, http.StatusText(status))
	h.note(r, ev, "a refused")
	writeProblem(w, r, status, detail, "")
}
