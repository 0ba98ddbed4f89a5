package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/middleware"
	"github.com/trailmark/audit/otelaudit"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/trail"
	"github.com/trailmark/audit/viewer"
)

// backend is what the service needs of a store: writing, and queries for
// the audit log API.
type backend interface {
	audit.Store
	audit.Querier
}

// Permissions a user can hold.
const (
	permAdmin       = "admin"        // may grant permissions
	permAuditRead   = "audit:read"   // may read the audit log
	permAuditExport = "audit:export" // may export the audit log
)

// Errors of the service's operations, mapped to HTTP statuses by
// writeError.
var (
	errBadCredentials = errors.New("wrong email or password")
	errForbidden      = errors.New("not allowed")
	errNotFound       = errors.New("not found")
	errBadRequest     = errors.New("bad request")
)

// appConfig configures the service.
type appConfig struct {
	// Store is the audit log; the service's Trail takes charge of it and
	// closes it in close.
	Store backend
	// Keys, when set, seal the audit log into a hash chain (see
	// loadKeys). Streams forward it to SIEMs. Retention, when set,
	// removes what is older than its MaxAge. All are run by one
	// trail.Trail.
	Keys           *chain.KeyFile
	Streams        []siem.Stream
	Retention      *audit.RetentionOptions
	TrustedProxies []netip.Prefix
	// Log receives the Logger's delivery errors. Default io.Discard.
	Log io.Writer
	// LoggerOptions are extra options for the audit Logger (tests use
	// them for a clock).
	LoggerOptions *audit.Options
	// AdminPassword and UserPassword are the passwords of the two demo
	// accounts, alice (admin) and bob; at least 12 bytes, at most 72
	// (bcrypt's limit). run takes them from the environment or generates
	// them.
	AdminPassword, UserPassword string
	// SessionTTL is how long a session lasts after login. Default 30
	// minutes.
	SessionTTL time.Duration
	// Now is the clock sessions expire by. Default time.Now.
	Now func() time.Time
	// ViewerKey signs viewer tokens; random at each start when nil.
	ViewerKey []byte
	// ViewerTokens configures viewer tokens (tests set a clock).
	ViewerTokens *viewer.TokenOptions
}

// app is the demo service: accounts, sessions, permissions and API keys in
// memory, every change audited.
//
// DEMO ONLY: two accounts whose passwords come from the environment or
// are generated at start, hashed with bcrypt; sessions live in a map and
// expire after SessionTTL; nothing is persisted but the audit log. The
// authentication shows the minimum (a salted, slow password hash;
// expiring, random session tokens), not a complete design: no rate
// limiting, lockout, MFA or password change. Copy the auditing.
type app struct {
	telemetry *telemetry
	trail     *trail.Trail  // the audit trail: store, Logger, Sealer, streams
	logger    *audit.Logger // trail.Logger()
	handler   http.Handler
	now       func() time.Time
	ttl       time.Duration
	dummy     []byte // a bcrypt hash to compare with when the email is unknown

	mu       sync.Mutex
	users    map[string]*user    // by id
	byEmail  map[string]string   // email → id
	sessions map[string]*session // by token
	keys     map[string]*apiKey  // by id
	tokens   *viewer.Tokens      // viewer tokens, see viewer.go

	// The operations, wrapped by audit.Wrap: each call is recorded.
	login  func(context.Context, loginRequest) (*session, error)
	logout func(context.Context, string) (*session, error)
	update func(context.Context, profileUpdate) (profile, error)
	grant  func(context.Context, grantRequest) ([]string, error)
	create func(context.Context, string) (newKey, error)
	revoke func(context.Context, string) (string, error)
}

type user struct {
	ID, Email, Name string
	PasswordHash    []byte // bcrypt
	Permissions     map[string]bool
}

type session struct {
	ID      string // recorded in the audit log
	token   string // the bearer secret, never recorded
	UserID  string
	Expires time.Time
}

type apiKey struct {
	ID, Name, Owner string
	Hash            [32]byte // of the key, which is shown once
	Revoked         bool
}

// profile is what PATCH /me changes; its fields are diffed into the
// audit record's changes.
type profile struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// newApp builds the service over cfg.Store. Call close when done.
func newApp(cfg appConfig) (*app, error) {
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 30 * time.Minute
	}
	for _, pw := range []string{cfg.AdminPassword, cfg.UserPassword} {
		if len(pw) < 12 || len(pw) > 72 {
			return nil, errors.New("the demo passwords must be 12 to 72 bytes long")
		}
	}
	var opts audit.Options
	if cfg.LoggerOptions != nil {
		opts = *cfg.LoggerOptions
	}
	opts.OnError = func(err error) { fmt.Fprintln(cfg.Log, "audit:", err) }
	tel, err := newTelemetry()
	if err != nil {
		return nil, err
	}
	opts.Observer, opts.TraceFrom = tel.audit, otelaudit.TraceFrom
	tr, err := trail.New(cfg.Store, &trail.Options{
		Logger:    &opts,
		Keys:      cfg.Keys,
		Retention: cfg.Retention,
		Streams:   cfg.Streams,
		OnError:   opts.OnError,
	})
	if err != nil {
		tel.close(context.Background())
		return nil, err
	}
	logger := tr.Logger()
	if err := tel.audit.Register(otelaudit.Sources{Logger: logger, Sealer: tr.Sealer(), Retention: tr.Retention(), Tee: tr.Tee()}); err != nil {
		tr.Close(context.Background())
		tel.close(context.Background())
		return nil, err
	}
	a := &app{
		telemetry: tel,
		trail:     tr,
		logger:    logger,
		now:       cfg.Now,
		ttl:       cfg.SessionTTL,
		users:     map[string]*user{},
		byEmail:   map[string]string{},
		sessions:  map[string]*session{},
		keys:      map[string]*apiKey{},
	}
	// DEMO ONLY: two accounts.
	if err := a.addUser("u-alice", "alice@example.com", "Alice", cfg.AdminPassword, permAdmin, permAuditRead, permAuditExport); err != nil {
		a.close(context.Background())
		return nil, err
	}
	if err := a.addUser("u-bob", "bob@example.com", "Bob", cfg.UserPassword); err != nil {
		a.close(context.Background())
		return nil, err
	}
	if a.dummy, err = bcrypt.GenerateFromPassword([]byte(randomID("")), bcrypt.DefaultCost); err != nil {
		a.close(context.Background())
		return nil, err
	}
	if err := a.wrapOperations(); err != nil {
		a.close(context.Background())
		return nil, err
	}

	mw, err := middleware.New(logger, &middleware.Options{
		TrustedProxies: cfg.TrustedProxies,
		Identify:       a.identify,
		Events:         middleware.EventsMutating,
		OnError:        func(err error) { fmt.Fprintln(cfg.Log, err) },
	})
	if err != nil {
		a.close(context.Background())
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.Handle("GET /metrics", tel.handler) // DEMO: unauthenticated; counts only, no record content
	mux.HandleFunc("POST /login", a.handleLogin)
	mux.HandleFunc("POST /logout", a.handleLogout)
	mux.HandleFunc("GET /me", a.handleMe)
	mux.HandleFunc("PATCH /me", a.handleUpdateProfile)
	mux.HandleFunc("POST /users/{id}/permissions", a.handleGrant)
	mux.HandleFunc("POST /api-keys", a.handleCreateKey)
	mux.HandleFunc("DELETE /api-keys/{id}", a.handleRevokeKey)
	if err := a.mountAuditLog(mux, cfg); err != nil {
		a.close(context.Background())
		return nil, err
	}
	a.handler = mw(mux)
	return a, nil
}

// close stops the audit trail: the Logger records its stop and writes
// what is queued, the streams drain, the Sealer seals what is left, and
// the store is closed (trail.Trail.Close).
func (a *app) close(ctx context.Context) error {
	err := a.trail.Close(ctx)
	return errors.Join(err, a.telemetry.close(ctx))
}

func (a *app) addUser(id, email, name, password string, perms ...string) error {
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("hashing the password of %s: %w", email, err)
	}
	u := &user{ID: id, Email: email, Name: name, PasswordHash: h, Permissions: map[string]bool{}}
	for _, p := range perms {
		u.Permissions[p] = true
	}
	a.users[id] = u
	a.byEmail[email] = id
	return nil
}

// randomID returns prefix and 16 random bytes in hex.
func randomID(prefix string) string {
	var b [16]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// sessionOf returns the live session of the request's bearer token, or
// nil. An expired session is removed.
func (a *app) sessionOf(r *http.Request) *session {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sessions[token]
	if s != nil && !a.now().Before(s.Expires) {
		delete(a.sessions, token)
		return nil
	}
	return s
}

// identify is the middleware's identity hook: the user and session of
// the bearer token, read once per request. It returns the session's id,
// never its token.
func (a *app) identify(r *http.Request) (audit.Actor, string) {
	s := a.sessionOf(r)
	if s == nil {
		return audit.Actor{}, ""
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	u := a.users[s.UserID]
	return audit.Actor{UserID: u.ID, UserEmail: u.Email}, s.ID
}

// currentUser returns the user the middleware found for the request.
func (a *app) currentUser(ctx context.Context) (*user, bool) {
	id := audit.ActorFrom(ctx).UserID
	if id == "" {
		return nil, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[id]
	return u, ok
}

func (a *app) hasPermission(userID, perm string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[userID]
	return ok && u.Permissions[perm]
}

// allowAuditAPI lets users with audit:read read the log, and those with
// audit:export export it too. The caller is the one the middleware's
// identity hook found (api.AuthorizeActor).
func (a *app) allowAuditAPI(_ *http.Request, actor audit.Actor, action audit.Action) error {
	need := permAuditRead
	if action == audit.ActionAuditLogExport {
		need = permAuditExport
	}
	if !a.hasPermission(actor.UserID, need) {
		return fmt.Errorf("%w: needs %s", api.ErrForbidden, need)
	}
	return nil
}

// statusOf classifies an operation's error for its audit record: refusals
// are failures, anything else an error.
func statusOf(err error) audit.Status {
	for _, e := range []error{errBadCredentials, errForbidden, errNotFound, errBadRequest} {
		if errors.Is(err, e) {
			return audit.StatusFailure
		}
	}
	return audit.StatusError
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type profileUpdate struct {
	UserID string  `json:"-"`
	Name   *string `json:"name"`
	Email  *string `json:"email"`
}

type grantRequest struct {
	UserID     string `json:"-"`
	Permission string `json:"permission"`
}

type newKey struct {
	ID  string `json:"id"`
	Key string `json:"key"` // shown once, never recorded
}

// wrapOperations wraps each operation with audit.Wrap, so that every call
// is recorded with its outcome.
func (a *app) wrapOperations() error {
	var errs [6]error
	a.login, errs[0] = audit.Wrap(a.logger, audit.Operation[loginRequest, *session]{
		Action: audit.ActionUserLogin, ResourceType: "session",
		ResourceID: func(_ loginRequest, s *session) string {
			if s == nil {
				return ""
			}
			return s.ID
		},
		Status: statusOf,
	}, a.doLogin)

	a.logout, errs[1] = audit.Wrap(a.logger, audit.Operation[string, *session]{
		Action: audit.ActionUserLogout, ResourceType: "session",
		ResourceID: func(_ string, s *session) string {
			if s == nil {
				return ""
			}
			return s.ID
		},
		Status: statusOf,
	}, a.doLogout)

	a.update, errs[2] = audit.Wrap(a.logger, audit.Operation[profileUpdate, profile]{
		Action: audit.ActionUserProfileUpdate, ResourceType: "user",
		ResourceID: func(u profileUpdate, _ profile) string { return u.UserID },
		// Before and After make the record's changes: {"name": {"before": …, "after": …}}.
		Before: func(_ context.Context, u profileUpdate) (any, error) { return a.profileOf(u.UserID) },
		After:  func(_ context.Context, u profileUpdate, _ profile) (any, error) { return a.profileOf(u.UserID) },
		Status: statusOf,
	}, a.doUpdateProfile)

	a.grant, errs[3] = audit.Wrap(a.logger, audit.Operation[grantRequest, []string]{
		Action: audit.ActionPermissionGrant, ResourceType: "user",
		ResourceID: func(g grantRequest, _ []string) string { return g.UserID },
		Details:    func(g grantRequest, _ []string) map[string]any { return map[string]any{"permission": g.Permission} },
		Status:     statusOf,
	}, a.doGrant)

	a.create, errs[4] = audit.Wrap(a.logger, audit.Operation[string, newKey]{
		Action: audit.ActionAPIKeyCreate, ResourceType: "api_key",
		ResourceID: func(_ string, k newKey) string { return k.ID },
		Details:    func(name string, _ newKey) map[string]any { return map[string]any{"name": name} },
		Status:     statusOf,
	}, a.doCreateKey)

	a.revoke, errs[5] = audit.Wrap(a.logger, audit.Operation[string, string]{
		Action: audit.ActionAPIKeyRevoke, ResourceType: "api_key",
		ResourceID: func(id string, _ string) string { return id },
		Status:     statusOf,
	}, a.doRevokeKey)
	return errors.Join(errs[:]...)
}

func (a *app) doLogin(_ context.Context, req loginRequest) (*session, error) {
	a.mu.Lock()
	u, ok := a.users[a.byEmail[req.Email]]
	hash := a.dummy // an unknown email costs as much as a wrong password
	if ok {
		hash = u.PasswordHash
	}
	a.mu.Unlock()
	if err := bcrypt.CompareHashAndPassword(hash, []byte(req.Password)); err != nil || !ok {
		return nil, errBadCredentials
	}
	now := a.now()
	s := &session{ID: randomID("s-")[:18], token: randomID("tok_"), UserID: u.ID, Expires: now.Add(a.ttl)}
	a.mu.Lock()
	defer a.mu.Unlock()
	for t, old := range a.sessions { // DEMO ONLY: a sweep per login keeps the map small
		if !now.Before(old.Expires) {
			delete(a.sessions, t)
		}
	}
	a.sessions[s.token] = s
	return s, nil
}

func (a *app) doLogout(_ context.Context, token string) (*session, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[token]
	if !ok {
		return nil, errNotFound
	}
	delete(a.sessions, token)
	return s, nil
}

func (a *app) profileOf(userID string) (profile, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[userID]
	if !ok {
		return profile{}, errNotFound
	}
	return profile{Name: u.Name, Email: u.Email}, nil
}

func (a *app) doUpdateProfile(_ context.Context, p profileUpdate) (profile, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[p.UserID]
	if !ok {
		return profile{}, errNotFound
	}
	if p.Name != nil {
		if *p.Name == "" || len(*p.Name) > 100 {
			return profile{}, fmt.Errorf("%w: name must be 1 to 100 bytes", errBadRequest)
		}
		u.Name = *p.Name
	}
	if p.Email != nil && *p.Email != u.Email {
		if !strings.Contains(*p.Email, "@") || len(*p.Email) > 200 {
			return profile{}, fmt.Errorf("%w: not an email address", errBadRequest)
		}
		if _, taken := a.byEmail[*p.Email]; taken {
			return profile{}, fmt.Errorf("%w: email taken", errBadRequest)
		}
		delete(a.byEmail, u.Email)
		u.Email = *p.Email
		a.byEmail[u.Email] = u.ID
	}
	return profile{Name: u.Name, Email: u.Email}, nil
}

// doGrant adds a permission; only admins may. ctx carries the acting user.
func (a *app) doGrant(ctx context.Context, g grantRequest) ([]string, error) {
	if !a.hasPermission(audit.ActorFrom(ctx).UserID, permAdmin) {
		return nil, fmt.Errorf("%w: only admins grant permissions", errForbidden)
	}
	switch g.Permission {
	case permAdmin, permAuditRead, permAuditExport:
	default:
		return nil, fmt.Errorf("%w: unknown permission", errBadRequest)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	u, ok := a.users[g.UserID]
	if !ok {
		return nil, errNotFound
	}
	u.Permissions[g.Permission] = true
	return slices.Sorted(maps.Keys(u.Permissions)), nil
}

func (a *app) ungrant(g grantRequest) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if u, ok := a.users[g.UserID]; ok {
		delete(u.Permissions, g.Permission)
	}
}

func (a *app) doCreateKey(ctx context.Context, name string) (newKey, error) {
	if name == "" || len(name) > 100 {
		return newKey{}, fmt.Errorf("%w: name must be 1 to 100 bytes", errBadRequest)
	}
	k := newKey{ID: randomID("key_")[:20], Key: randomID("tmk_")}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.keys[k.ID] = &apiKey{ID: k.ID, Name: name, Owner: audit.ActorFrom(ctx).UserID, Hash: sha256.Sum256([]byte(k.Key))}
	return k, nil
}

func (a *app) doRevokeKey(ctx context.Context, id string) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	k, ok := a.keys[id]
	if !ok || k.Revoked || k.Owner != audit.ActorFrom(ctx).UserID {
		return "", errNotFound
	}
	k.Revoked = true
	return id, nil
}

// setKeyRevoked undoes a creation (true) or a revocation (false) that
// could not be recorded.
func (a *app) setKeyRevoked(id string, revoked bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if k, ok := a.keys[id]; ok {
		k.Revoked = revoked
	}
}

// Handlers.

func (a *app) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if !readJSON(w, r, &req) {
		return
	}
	// The login is attributed to the account it claims, known or not.
	actor := audit.Actor{UserEmail: req.Email}
	a.mu.Lock()
	if id, ok := a.byEmail[req.Email]; ok {
		actor.UserID = id
	}
	a.mu.Unlock()
	s, err := a.login(audit.WithActor(r.Context(), actor), req)
	if errors.Is(err, audit.ErrNotRecorded) && s != nil {
		a.doLogout(r.Context(), s.token) // fail closed: no session that the log does not know of
	}
	if err != nil {
		writeError(w, err)
		return
	}
	audit.SetActor(r.Context(), actor) // the rest of the request, its http.request event included, is the user's
	writeJSONResponse(w, http.StatusOK, map[string]string{"token": s.token, "user_id": s.UserID, "session_id": s.ID})
}

func (a *app) handleLogout(w http.ResponseWriter, r *http.Request) {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	// A logout that could not be recorded stands: ending a session is the
	// safe direction.
	if _, err := a.logout(r.Context(), token); err != nil && !errors.Is(err, audit.ErrNotRecorded) {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (a *app) handleMe(w http.ResponseWriter, r *http.Request) {
	u, ok := a.currentUser(r.Context())
	if !ok {
		writeError(w, errBadCredentials)
		return
	}
	p, _ := a.profileOf(u.ID)
	writeJSONResponse(w, http.StatusOK, p)
}

func (a *app) handleUpdateProfile(w http.ResponseWriter, r *http.Request) {
	u, ok := a.currentUser(r.Context())
	if !ok {
		writeError(w, errBadCredentials)
		return
	}
	upd := profileUpdate{UserID: u.ID}
	if !readJSON(w, r, &upd) {
		return
	}
	upd.UserID = u.ID
	p, err := a.update(r.Context(), upd)
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSONResponse(w, http.StatusOK, p)
}

func (a *app) handleGrant(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.currentUser(r.Context()); !ok {
		writeError(w, errBadCredentials)
		return
	}
	var g grantRequest
	if !readJSON(w, r, &g) {
		return
	}
	g.UserID = r.PathValue("id")
	perms, err := a.grant(r.Context(), g)
	if errors.Is(err, audit.ErrNotRecorded) && perms != nil {
		a.ungrant(g) // fail closed: a grant that is not in the log is undone
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSONResponse(w, http.StatusOK, map[string]any{"user_id": g.UserID, "permissions": perms})
}

func (a *app) handleCreateKey(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.currentUser(r.Context()); !ok {
		writeError(w, errBadCredentials)
		return
	}
	var req struct {
		Name string `json:"name"`
	}
	if !readJSON(w, r, &req) {
		return
	}
	k, err := a.create(r.Context(), req.Name)
	if errors.Is(err, audit.ErrNotRecorded) && k.ID != "" {
		a.setKeyRevoked(k.ID, true) // fail closed
	}
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSONResponse(w, http.StatusCreated, k)
}

func (a *app) handleRevokeKey(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.currentUser(r.Context()); !ok {
		writeError(w, errBadCredentials)
		return
	}
	id, err := a.revoke(r.Context(), r.PathValue("id"))
	if errors.Is(err, audit.ErrNotRecorded) && id != "" {
		a.setKeyRevoked(id, false) // fail closed: the key stays valid and the client is told
	}
	if err != nil {
		writeError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// readJSON decodes a small JSON body into v, or answers 400.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, fmt.Errorf("%w: body: %v", errBadRequest, err))
		return false
	}
	return true
}

func writeJSONResponse(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers an operation's error as an RFC 9457 problem.
func writeError(w http.ResponseWriter, err error) {
	status, detail := http.StatusInternalServerError, "internal error"
	switch {
	case errors.Is(err, audit.ErrNotRecorded):
		status, detail = http.StatusServiceUnavailable, "the change could not be recorded in the audit log and was undone"
	case errors.Is(err, errBadCredentials):
		status, detail = http.StatusUnauthorized, err.Error()
		w.Header().Set("WWW-Authenticate", `Bearer realm="demo"`)
	case errors.Is(err, errForbidden):
		status, detail = http.StatusForbidden, err.Error()
	case errors.Is(err, errNotFound):
		status, detail = http.StatusNotFound, err.Error()
	case errors.Is(err, errBadRequest):
		status, detail = http.StatusBadRequest, err.Error()
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(api.ProblemDetails{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail})
}
