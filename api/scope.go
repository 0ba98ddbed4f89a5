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
// that guessing ids reveals nothing. Cursors hold only a position in the
// log, so a cursor obtained elsewhere still walks only the scope.
type Scope struct {
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
	return (s.UserID == "" || rec.UserID == s.UserID) &&
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
	}{{s.UserID, &f.UserID}, {s.ResourceType, &f.ResourceType}, {s.ResourceID, &f.ResourceID}} {
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
