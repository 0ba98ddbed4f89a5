package api

import "github.com/trailmark/audit"

// Caller is what Authorize returns: who is calling, recorded as the
// reader of the log, and the part of the log they may see.
type Caller struct {
	audit.Actor
	// Scope restricts the caller to some records. The zero Scope sees
	// the whole log.
	Scope Scope
}

// Scope restricts a caller to the records that match every field it
// sets; a field left empty does not restrict. The API applies it to every
// request, whatever the query says: it is ANDed into the filter of lists,
// per-user lists and exports (a query for other records answers an empty
// list, not an error), and a record outside it is answered by /{id}
// exactly as an id that does not exist: 404, recorded the same way, so
// that guessing ids reveals nothing. Every cursor the API returns is
// bound to the scope of the caller it was returned to (a MAC over the
// scope and the position, see Options.CursorKey): presented by a caller
// with another scope, or altered, it is refused (400, parameter cursor).
//
// TenantID is the isolation of a multi-tenant service: a caller scoped
// to a tenant sees that tenant's records and nothing else, and the reads
// it makes are recorded in that tenant (Event.TenantID), so that they
// show in its own log.
type Scope struct {
	// TenantID restricts the caller to the records of one tenant (see
	// audit.Event.TenantID).
	TenantID string
	// UserID restricts the caller to the records of one actor.
	UserID string
	// ResourceType and ResourceID restrict the caller to the records of
	// one kind of resource, or of one resource.
	ResourceType string
	ResourceID   string
}

// IsZero reports whether s restricts nothing.
func (s Scope) IsZero() bool { return s == Scope{} }

// Matches reports whether rec is inside s.
func (s Scope) Matches(rec *audit.Record) bool {
	return (s.TenantID == "" || rec.TenantID == s.TenantID) &&
		(s.UserID == "" || rec.UserID == s.UserID) &&
		(s.ResourceType == "" || rec.ResourceType == s.ResourceType) &&
		(s.ResourceID == "" || rec.ResourceID == s.ResourceID)
}

// narrow restricts f to s. It returns false when f asks for records
// outside s, so that nothing can match: the answer is empty.
func (s Scope) narrow(f *audit.Filter) bool {
	ok := true
	for _, c := range [...]struct {
		scope string
		field *string
	}{{s.TenantID, &f.TenantID}, {s.UserID, &f.UserID}, {s.ResourceType, &f.ResourceType}, {s.ResourceID, &f.ResourceID}} {
		if c.scope == "" {
			continue
		}
		if *c.field != "" && *c.field != c.scope {
			ok = false
		}
		*c.field = c.scope
	}
	return ok
}

// details returns s for the record of a request.
func (s Scope) details() map[string]any {
	d := map[string]any{}
	if s.TenantID != "" {
		d["tenant_id"] = s.TenantID
	}
	if s.UserID != "" {
		d["user_id"] = s.UserID
	}
	if s.ResourceType != "" {
		d["resource_type"] = s.ResourceType
	}
	if s.ResourceID != "" {
		d["resource_id"] = s.ResourceID
	}
	return d
}
