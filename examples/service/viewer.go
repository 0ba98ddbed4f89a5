package main

import (
	"net/http"

	"github.com/trailmark/audit/api"
)

// authorizeAPI is the audit log API's Authorize: a user's session, as
// authorizeAuditAPI says.
func (a *app) authorizeAPI(r *http.Request) (api.Caller, error) {
	actor, err := a.authorizeAuditAPI(r)
	return api.Caller{Actor: actor}, err
}
