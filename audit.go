package audit

import (
	"context"
	"net/netip"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Action names what was done, as "domain.verb" ("user.login",
// "resource.update"). The constants below cover the common cases;
// applications may use their own action strings too.
type Action string

// Actions of users on their own accounts.
const (
	ActionUserLogin          Action = "user.login"
	ActionUserLogout         Action = "user.logout"
	ActionUserRegister       Action = "user.register"
	ActionUserPasswordChange Action = "user.password_change"
	ActionUserProfileUpdate  Action = "user.profile_update"
	ActionUserDeleteAccount  Action = "user.delete_account"
)

// Actions on application resources.
const (
	ActionResourceCreate Action = "resource.create"
	ActionResourceRead   Action = "resource.read"
	ActionResourceUpdate Action = "resource.update"
	ActionResourceDelete Action = "resource.delete"
)

// Actions on permissions and credentials.
const (
	ActionPermissionGrant  Action = "permission.grant"
	ActionPermissionRevoke Action = "permission.revoke"
	ActionAPIKeyCreate     Action = "api_key.create"
	ActionAPIKeyRevoke     Action = "api_key.revoke"
	// ActionUserRoleChange records a change of a user's role, by an
	// administrator or the application: ResourceType "user", ResourceID
	// the user, Changes {"role": {"before": …, "after": …}}.
	ActionUserRoleChange Action = "user.role_change"
)

// Actions of the audit log itself: reading the log leaves a trace, and so do
// retention runs and the start and stop of a Logger.
const (
	ActionAuditLogRead      Action = "audit_log.read"
	ActionAuditLogExport    Action = "audit_log.export"
	ActionAuditRetentionRun Action = "audit.retention_run"
	ActionAuditLoggerStart  Action = "audit.logger_start"
	ActionAuditLoggerStop   Action = "audit.logger_stop"
)

// Status is the outcome of an audited action.
type Status string

// The three outcomes of an action. Failure means the action was refused or
// did not succeed for a reason the application expected (wrong password,
// permission denied); Error means something broke (a panic, a database
// error).
const (
	StatusSuccess Status = "success"
	StatusFailure Status = "failure"
	StatusError   Status = "error"
)

// Valid reports whether s is one of StatusSuccess, StatusFailure and
// StatusError.
func (s Status) Valid() bool {
	return s == StatusSuccess || s == StatusFailure || s == StatusError
}

// Event is what an application records: who did what, to which resource,
// from where, when, and with what result.
//
// Only Action, ResourceType and Status are required. The Logger fills ID and
// OccurredAt when they are zero, and fills the request fields (RequestID,
// IPAddress, UserAgent, SessionID, TraceID and SpanID), the actor (UserID,
// UserEmail) and the tenant from the context when they are empty; see
// WithRequestInfo, WithActor and WithTenant.
//
// The Logger never keeps a reference to Details or Changes after Log
// returns: they are cleaned and encoded during the call, so the caller may
// reuse its maps.
type Event struct {
	// ID identifies the event. Leave it zero to have the Logger assign a
	// UUIDv7; set it yourself to make your own retries idempotent (a store
	// ignores an ID it already holds).
	ID uuid.UUID
	// OccurredAt is when the action happened. Zero means now, by the
	// Logger's clock. It is stored in UTC with microsecond precision.
	OccurredAt time.Time

	UserID    string     // who: the acting user's stable id
	UserEmail string     // who: the acting user's email, for humans
	IPAddress netip.Addr // from where: the client address
	UserAgent string     // from where: the client's User-Agent

	Action       Action // what was done
	ResourceType string // to what kind of thing ("document", "user", "api_key")
	ResourceID   string // to which one

	// Details is any JSON object worth keeping: values must be encodable as
	// JSON (values that are not are replaced by a note, never dropped
	// silently). Keys that look like secrets are redacted.
	Details map[string]any
	// Changes holds the before and after value of each changed field; Diff
	// builds it from two values.
	Changes map[string]Change

	RequestID string // the request this happened in
	SessionID string // the session this happened in

	Status       Status // success, failure or error
	ErrorMessage string // why it failed, when it did

	// TenantID is the organisation, workspace or account the event belongs
	// to, in a service with many; empty in one without. The Logger takes
	// it from the context (WithTenant) when it is empty.
	TenantID string
	// TraceID and SpanID join the event to the distributed trace of the
	// request it happened in: W3C trace-context ids, 32 and 16 lowercase
	// hex digits (uppercase is lowercased). The Logger drops an id that is
	// not one, or is all zeros, and notes it under MetaKey in Details: a
	// bad id never makes the event fail. When both are empty, the Logger
	// takes both from the context's RequestInfo.
	TraceID string
	SpanID  string
}

// Change is the value of one field before and after an action. A nil
// Before means the field was added; a nil After means it was removed.
type Change struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// Actor is who acts: the authenticated user behind a request.
type Actor struct {
	UserID    string
	UserEmail string
}

// RequestInfo is what is known about the request an action happens in.
// Middleware puts it in the context with WithRequestInfo.
type RequestInfo struct {
	RequestID string
	IPAddress netip.Addr
	UserAgent string
	SessionID string
	// TraceID and SpanID are the W3C trace-context ids of the request
	// (from a traceparent header or an active span), as lowercase hex.
	TraceID string
	SpanID  string
}

type (
	actorKey       struct{}
	requestInfoKey struct{}
	tenantKey      struct{}
)

// actorValue is what WithActor puts in a context: the actor, and the
// request's slot if the parent context has one, so that SetActor still
// reaches it.
type actorValue struct {
	a    Actor
	slot *actorSlot
}

// actorSlot holds the actor of one request, which SetActor may change
// while the request is served.
type actorSlot struct {
	mu sync.Mutex
	a  Actor
}

// WithActor returns a copy of ctx that carries a. Events logged with the
// returned context and no user of their own are attributed to a. It
// overrides, for the returned context and those derived from it, the
// actor of the request (see SetActor).
func WithActor(ctx context.Context, a Actor) context.Context {
	v := actorValue{a: a}
	switch p := ctx.Value(actorKey{}).(type) {
	case *actorSlot:
		v.slot = p
	case actorValue:
		v.slot = p.slot
	}
	return context.WithValue(ctx, actorKey{}, v)
}

// WithSettableActor returns a copy of ctx that carries a as the actor of
// a request, which SetActor can change for the rest of the request.
// Middleware calls it once per request (package middleware does); a
// handler has no need to.
func WithSettableActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, &actorSlot{a: a})
}

// SetActor sets the actor of the request ctx belongs to, for the rest of
// the request: from then on ActorFrom returns a for the request's context
// and every context derived from it, except those that WithActor gave an
// actor of their own; events logged with them are attributed to a,
// including the request's own event that middleware records at its end.
// Call it after authenticating someone inside a request, as a login
// handler does. It reports whether ctx has a request actor to set, that
// is, whether it comes from WithSettableActor (as contexts of requests
// served through package middleware do); if not, it changes nothing and
// returns false. It is safe for concurrent use.
func SetActor(ctx context.Context, a Actor) bool {
	var s *actorSlot
	switch v := ctx.Value(actorKey{}).(type) {
	case *actorSlot:
		s = v
	case actorValue:
		s = v.slot
	}
	if s == nil {
		return false
	}
	s.mu.Lock()
	s.a = a
	s.mu.Unlock()
	return true
}

// ActorFrom returns the Actor in ctx, or the zero Actor: the nearest one
// WithActor put there, else the request's actor as last set (see
// WithSettableActor and SetActor).
func ActorFrom(ctx context.Context) Actor {
	switch v := ctx.Value(actorKey{}).(type) {
	case actorValue:
		return v.a
	case *actorSlot:
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.a
	}
	return Actor{}
}

// WithTenant returns a copy of ctx that carries the tenant id: the
// organisation, workspace or account the request acts for. Events logged
// with the returned context and no TenantID of their own belong to it.
func WithTenant(ctx context.Context, tenantID string) context.Context {
	return context.WithValue(ctx, tenantKey{}, tenantID)
}

// TenantFrom returns the tenant id in ctx, or "".
func TenantFrom(ctx context.Context) string {
	t, _ := ctx.Value(tenantKey{}).(string)
	return t
}

// WithRequestInfo returns a copy of ctx that carries ri. Events logged with
// the returned context take their request id, client address, user agent
// and session id from ri where they have none of their own, and its trace
// and span ids when they have neither.
func WithRequestInfo(ctx context.Context, ri RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// RequestInfoFrom returns the RequestInfo in ctx, or the zero RequestInfo.
func RequestInfoFrom(ctx context.Context) RequestInfo {
	switch v := ctx.Value(requestInfoKey{}).(type) {
	case RequestInfo:
		return v
	case *RequestInfo:
		return *v
	}
	return RequestInfo{}
}

// WithRequest returns a copy of ctx that carries ri and, as the actor of
// the request, a: the same as WithSettableActor(WithRequestInfo(ctx, ri), a),
// in one allocation instead of four. Middleware calls it once per request
// (package middleware does); a handler has no need to.
func WithRequest(ctx context.Context, ri RequestInfo, a Actor) context.Context {
	return &requestCtx{Context: ctx, ri: ri, slot: actorSlot{a: a}}
}

// requestCtx is the context WithRequest returns: one node that answers for
// the request info and the request's actor slot, and asks its parent for
// every other key. ri is never changed after WithRequest.
type requestCtx struct {
	context.Context
	ri   RequestInfo
	slot actorSlot
}

func (c *requestCtx) Value(key any) any {
	switch key.(type) {
	case requestInfoKey:
		return &c.ri
	case actorKey:
		return &c.slot
	}
	return c.Context.Value(key)
}

// String names the context as package context names its own, without
// the values.
func (c *requestCtx) String() string {
	if p, ok := c.Context.(interface{ String() string }); ok {
		return p.String() + ".WithRequest"
	}
	return "context.WithRequest"
}

// fillFromContext sets the empty request and actor fields of e from ctx.
func (e *Event) fillFromContext(ctx context.Context) {
	if e.UserID == "" && e.UserEmail == "" {
		if a := ActorFrom(ctx); a != (Actor{}) {
			e.UserID, e.UserEmail = a.UserID, a.UserEmail
		}
	}
	if e.TenantID == "" {
		e.TenantID = TenantFrom(ctx)
	}
	ri := RequestInfoFrom(ctx)
	if ri == (RequestInfo{}) {
		return
	}
	if e.RequestID == "" {
		e.RequestID = ri.RequestID
	}
	if !e.IPAddress.IsValid() {
		e.IPAddress = ri.IPAddress
	}
	if e.UserAgent == "" {
		e.UserAgent = ri.UserAgent
	}
	if e.SessionID == "" {
		e.SessionID = ri.SessionID
	}
	if e.TraceID == "" && e.SpanID == "" { // a span belongs to its trace: both or neither
		e.TraceID, e.SpanID = ri.TraceID, ri.SpanID
	}
}
