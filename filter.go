package audit

import (
	"fmt"
	"time"

	"github.com/trailmark/audit/internal/cursor"
)

// Query limits.
const (
	DefaultLimit = 100  // records per page when Filter.Limit is 0
	MaxLimit     = 1000 // the largest Filter.Limit
)

// Filter selects records. Zero fields match everything; set fields combine
// with AND. Results come newest first.
type Filter struct {
	UserID string
	// Action matches one action exactly.
	Action Action
	// ActionPrefix matches every action that starts with it, such as
	// "user." for all user actions.
	ActionPrefix string
	ResourceType string
	ResourceID   string
	Status       Status
	RequestID    string
	// TenantID matches the records of one tenant exactly (see
	// Event.TenantID); TraceID those of one trace.
	TenantID string
	TraceID  string
	// Since and Until bound OccurredAt: Since <= OccurredAt < Until, at
	// microsecond precision (both are truncated to the microsecond). A
	// zero time leaves that side open.
	Since, Until time.Time

	// Limit is the page size: 0 means DefaultLimit; at most MaxLimit.
	Limit int
	// Cursor continues a previous query: pass the NextCursor of the page
	// before, with the same filter. The pages of one walk (the first page
	// and those that follow by their cursors) read one fixed set: the
	// records committed when the first page was read. They neither skip
	// nor repeat records while others commit, in any order; those
	// committed later are for the next walk (see After).
	Cursor string
	// After selects the records committed after an earlier walk's first
	// page: pass that walk's Page.Tail. A record is committed after a walk
	// or within it, never both nor neither, whatever its OccurredAt: so a
	// poller that walks with After set to the Tail of its previous walk
	// reads each record that matches its filter exactly once, even those
	// that commit late with an old OccurredAt. (A filter on Since misses
	// those.)
	After string
}

// Validate reports what is wrong with f, as an error wrapping
// ErrInvalidFilter that names the field. Its ids, action and resource
// type must be valid identities, as in an event (see CheckID): a filter
// can only ask for what a record may hold.
func (f *Filter) Validate() error {
	if f.Limit < 0 || f.Limit > MaxLimit {
		return filterError("limit", fmt.Sprintf("must be between 1 and %d, got %d", MaxLimit, f.Limit))
	}
	if f.Status != "" && !f.Status.Valid() {
		return filterError("status", fmt.Sprintf("must be success, failure or error, got %q", f.Status))
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return filterError("until", "must be after since")
	}
	for _, t := range [...]struct {
		name string
		v    time.Time
	}{{"since", f.Since}, {"until", f.Until}} {
		if !t.v.IsZero() && (t.v.Before(minTime) || t.v.After(maxTime)) {
			return filterError(t.name, "must be between the years 1 and 9999")
		}
	}
	for _, s := range [...]struct{ name, v string }{
		{"user_id", f.UserID}, {"action", string(f.Action)}, {"action_prefix", f.ActionPrefix},
		{"resource_type", f.ResourceType}, {"resource_id", f.ResourceID}, {"request_id", f.RequestID},
		{"tenant_id", f.TenantID}, {"trace_id", f.TraceID},
	} {
		if p := idProblem(s.v); p != "" {
			return filterError(s.name, p)
		}
	}
	if f.Cursor != "" {
		if _, _, _, err := cursor.Decode(f.Cursor); err != nil {
			return filterError("cursor", err.Error())
		}
	}
	if f.After != "" {
		if _, err := cursor.DecodeTail(f.After); err != nil {
			return filterError("after", "not the tail of a page returned by a query")
		}
	}
	return nil
}

func filterError(field, msg string) error {
	return &FieldError{Field: field, Msg: msg, kind: ErrInvalidFilter}
}
