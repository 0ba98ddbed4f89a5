package audit

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
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
	// before. Pages neither skip nor repeat records while new ones arrive.
	Cursor string
}

// Validate reports what is wrong with f, as an error wrapping
// ErrInvalidFilter that names the field.
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
		if !utf8.ValidString(s.v) || strings.IndexByte(s.v, 0) >= 0 {
			return filterError(s.name, "must be valid UTF-8 without NUL bytes")
		}
		if len(s.v) > maxFilterValue {
			return filterError(s.name, fmt.Sprintf("longer than %d bytes", maxFilterValue))
		}
	}
	if f.Cursor != "" {
		if _, err := DecodeCursor(f.Cursor); err != nil {
			return err
		}
	}
	return nil
}

const maxFilterValue = 4096

// PageSize returns the number of records a page for f holds at most.
func (f *Filter) PageSize() int {
	if f.Limit == 0 {
		return DefaultLimit
	}
	return f.Limit
}

// Match reports whether r satisfies every field of f but Limit and Cursor.
func (f *Filter) Match(r *Record) bool {
	switch {
	case f.UserID != "" && r.UserID != f.UserID,
		f.Action != "" && r.Action != f.Action,
		f.ActionPrefix != "" && !strings.HasPrefix(string(r.Action), f.ActionPrefix),
		f.ResourceType != "" && r.ResourceType != f.ResourceType,
		f.ResourceID != "" && r.ResourceID != f.ResourceID,
		f.Status != "" && r.Status != f.Status,
		f.RequestID != "" && r.RequestID != f.RequestID,
		f.TenantID != "" && r.TenantID != f.TenantID,
		f.TraceID != "" && r.TraceID != f.TraceID,
		!f.Since.IsZero() && r.OccurredAt.Before(f.Since.Truncate(time.Microsecond)),
		!f.Until.IsZero() && !r.OccurredAt.Before(f.Until.Truncate(time.Microsecond)):
		return false
	}
	return true
}

func filterError(field, msg string) error {
	return &FieldError{Field: field, Msg: msg, kind: ErrInvalidFilter}
}

// Cursor is a position in the newest-first order of records: the
// OccurredAt and ID of the last record of a page.
type Cursor struct {
	OccurredAt time.Time
	ID         uuid.UUID
}

const cursorVersion = 1

// CursorAfter returns the cursor that continues after r.
func CursorAfter(r *Record) Cursor {
	return Cursor{OccurredAt: r.OccurredAt, ID: r.ID}
}

// String encodes c as an opaque, URL-safe token.
func (c Cursor) String() string {
	var b [25]byte
	b[0] = cursorVersion
	binary.BigEndian.PutUint64(b[1:9], uint64(c.OccurredAt.UnixMicro()))
	copy(b[9:], c.ID[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Precedes reports whether r comes after c in newest-first order, that is,
// whether r belongs to the pages that follow c.
func (c Cursor) Precedes(r *Record) bool {
	if !r.OccurredAt.Equal(c.OccurredAt) {
		return r.OccurredAt.Before(c.OccurredAt)
	}
	return CompareIDs(r.ID, c.ID) < 0
}

// CompareIDs orders IDs by their bytes, as PostgreSQL orders uuid values.
func CompareIDs(a, b uuid.UUID) int {
	return strings.Compare(string(a[:]), string(b[:]))
}

// DecodeCursor parses a token made by Cursor.String. It returns an error
// wrapping ErrInvalidFilter for anything else.
func DecodeCursor(s string) (Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 25 || b[0] != cursorVersion {
		return Cursor{}, filterError("cursor", "not a cursor returned by a query")
	}
	us := int64(binary.BigEndian.Uint64(b[1:9]))
	t := time.UnixMicro(us).UTC()
	if t.Before(minTime) || !t.Before(maxTime) {
		return Cursor{}, filterError("cursor", "not a cursor returned by a query")
	}
	var id uuid.UUID
	copy(id[:], b[9:])
	return Cursor{OccurredAt: t, ID: id}, nil
}
