package main

import (
	"crypto/rand"
	"fmt"
	"net/http"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
	"github.com/trailmark/audit/trail"
	"github.com/trailmark/audit/viewer"
)

// actionViewerTokenIssue records the minting of a viewer token.
const actionViewerTokenIssue audit.Action = "viewer_token.issue"

// authorizeAPI is the audit log API's Authorizer: a viewer token (read
// only, scoped) or else a user's session, as allowAuditAPI says.
func (a *app) authorizeAPI(r *http.Request) (api.Caller, error) {
	return a.tokens.Authorizer(api.AllowActor(a.allowAuditAPI)).Authorize(r)
}

// mountAuditLog serves the audit trail's API at /audit-logs and its
// viewer at /audit-logs/viewer/, and lets admins mint viewer tokens at
// POST /admin/viewer-tokens.
//
// The page itself holds no data and needs no login; it reads the API
// with the token in its URL fragment (/audit-logs/viewer/#token=…): an
// admin's session token (the whole log) or a viewer token (its scope
// only).
func (a *app) mountAuditLog(mux *http.ServeMux, cfg appConfig) error {
	key := cfg.ViewerKey
	if key == nil {
		// DEMO ONLY: a key per process; tokens die with it. Keep a real
		// key in your secret store, apart from the chain's key.
		key = make([]byte, 32)
		rand.Read(key)
	}
	var err error
	if a.tokens, err = viewer.NewTokens(key, cfg.ViewerTokens); err != nil {
		return err
	}
	h, err := a.trail.Handler("/audit-logs", api.AuthorizeFunc(a.authorizeAPI), &trail.HandlerOptions{
		API:    &api.Options{OnError: func(err error) { fmt.Fprintln(cfg.Log, err) }},
		Viewer: &viewer.Options{Title: "Trailmark demo: audit log", Formats: []string{"csv", "ndjson", "ocsf"}},
		Tiles:  true, // the Merkle tree as C2SP tlog-tiles at /audit-logs/tlog/, for monitors and witnesses
	})
	if err != nil {
		return err
	}
	mux.Handle("/audit-logs", h)
	mux.Handle("/audit-logs/", h)
	mux.HandleFunc("POST /admin/viewer-tokens", a.handleIssueViewerToken)
	return nil
}

// viewerTokenRequest asks for a viewer token. Subject defaults to the
// scope's user, else to the admin who asks. TenantID gives a customer
// organisation its own log and nothing else.
type viewerTokenRequest struct {
	Subject      string `json:"subject"`
	TenantID     string `json:"tenant_id"`
	UserID       string `json:"user_id"`
	ResourceType string `json:"resource_type"`
	ResourceID   string `json:"resource_id"`
}

func (a *app) handleIssueViewerToken(w http.ResponseWriter, r *http.Request) {
	u, ok := a.currentUser(r.Context())
	if !ok {
		writeError(w, errBadCredentials)
		return
	}
	if !a.hasPermission(u.ID, permAdmin) {
		writeError(w, fmt.Errorf("%w: only admins issue viewer tokens", errForbidden))
		return
	}
	var req viewerTokenRequest
	if !readJSON(w, r, &req) {
		return
	}
	s := viewer.Scope{Subject: req.Subject, TenantID: req.TenantID, UserID: req.UserID, ResourceType: req.ResourceType, ResourceID: req.ResourceID}
	if s.Subject == "" {
		s.Subject = s.UserID
	}
	if s.Subject == "" {
		s.Subject = u.ID
	}
	token, err := a.tokens.Issue(s)
	if err != nil {
		writeError(w, fmt.Errorf("%w: %v", errBadRequest, err))
		return
	}
	err = a.logger.Log(r.Context(), audit.Event{
		Action: actionViewerTokenIssue, ResourceType: "viewer_token", Status: audit.StatusSuccess,
		Details: map[string]any{"subject": s.Subject, "tenant_id": s.TenantID, "user_id": s.UserID, "resource_type": s.ResourceType, "resource_id": s.ResourceID},
	})
	if err != nil {
		writeError(w, fmt.Errorf("%w: %w", audit.ErrNotRecorded, err)) // fail closed: no token the log does not know of
		return
	}
	writeJSONResponse(w, http.StatusCreated, map[string]any{
		"token":      token,
		"url":        "/audit-logs/viewer/#token=" + token,
		"expires_in": a.tokens.TTL().String(),
	})
}
