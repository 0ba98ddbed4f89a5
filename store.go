package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit/internal/canonical"
)

// Record is an Event as a Store holds it: cleaned, with its ID and
// OccurredAt filled, and Details and Changes encoded as canonical JSON
// objects (sorted keys, no insignificant white space; see
// storekit.CanonicalJSON). The Logger hands Records to a Store; queries
// return them.
//
// A Record read from a store is a copy: changing it changes nothing stored.
type Record struct {
	ID         uuid.UUID `json:"id"`
	OccurredAt time.Time `json:"timestamp"`
	// RecordedAt is when the store accepted the record, by the store's own
	// clock. Stores set it; Append ignores the value it is given.
	RecordedAt time.Time `json:"recorded_at"`

	UserID    string     `json:"user_id"`
	UserEmail string     `json:"user_email"`
	IPAddress netip.Addr `json:"ip_address"`
	UserAgent string     `json:"user_agent"`

	Action       Action `json:"action"`
	ResourceType string `json:"resource_type"`
	ResourceID   string `json:"resource_id"`

	// Details is a JSON object, or nil.
	Details json.RawMessage `json:"details"`
	// Changes is a JSON object {"field": {"before": …, "after": …}}, or nil.
	Changes json.RawMessage `json:"changes"`

	RequestID string `json:"request_id"`
	SessionID string `json:"session_id"`

	Status       Status `json:"status"`
	ErrorMessage string `json:"error_message"`

	// TenantID is the organisation, workspace or account of the record;
	// TraceID and SpanID are W3C trace-context ids in lowercase hex (see
	// Event). Each is empty when unknown.
	TenantID string `json:"tenant_id"`
	TraceID  string `json:"trace_id"`
	SpanID   string `json:"span_id"`
}

// DecodeDetails decodes r.Details into a map. Numbers decode as
// json.Number, so that they keep their exact text.
func (r *Record) DecodeDetails() (map[string]any, error) {
	return decodeObject(r.Details)
}

// DecodeChanges decodes r.Changes.
func (r *Record) DecodeChanges() (map[string]Change, error) {
	if len(r.Changes) == 0 {
		return nil, nil
	}
	var m map[string]Change
	if err := canonical.Unmarshal(r.Changes, &m); err != nil {
		return nil, fmt.Errorf("audit: decode changes: %w", err)
	}
	return m, nil
}

// Clone returns a copy of r that shares no memory with it.
func (r *Record) Clone() Record {
	c := *r
	c.Details = cloneBytes(r.Details)
	c.Changes = cloneBytes(r.Changes)
	return c
}

func cloneBytes(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	return append(json.RawMessage(nil), b...)
}

// Store is where records go. It is the one thing a backend must implement;
// everything else a backend can do is an optional interface (Querier,
// Getter, Purger) that callers discover with a type assertion.
//
// Append stores records, which the Logger has already validated and
// cleaned. It must be idempotent: appending a record that is already
// stored is a no-op, never a duplicate, and not an error, so that a batch
// retried after a lost connection is safe. A store may recognise a record
// by its ID alone (the memory store) or by its ID and OccurredAt (the
// PostgreSQL store, whose primary key must hold its partition column);
// both suffice, because the Logger assigns the ID once and re-sends the
// very same record. Append is either all or
// nothing for the records it is given, as far as the backend allows; on a
// partial failure a retry of the whole batch must be safe (it is, by
// idempotency).
//
// The records Append is given may share memory with one another: the
// Details and Changes of a Logger's Async records are carved from blocks
// of memory the batcher allocates for many records at once, each slice
// with a capacity of its own length. A store that keeps a record's Details
// or Changes after Append returns should copy them (the memory store
// does), or the slice it keeps holds its whole block in memory.
//
// A Store reports errors that retrying cannot fix (a record the backend
// refuses) by wrapping them with Permanent; any other error is taken as
// transient and retried. Append must be safe for concurrent use.
type Store interface {
	Append(ctx context.Context, records ...Record) error
}

// Querier is a Store that can answer queries.
type Querier interface {
	// Query returns the records that match f, newest first (by OccurredAt,
	// then ID, both descending), at most f.Limit of them, and a cursor for
	// the next page. The pages of one walk read the records committed when
	// its first page was read, and a walk with f.After reads those
	// committed after an earlier one (see Filter.Cursor and Filter.After).
	// It returns an error wrapping ErrInvalidFilter when f is not valid
	// (see Filter.Validate).
	Query(ctx context.Context, f Filter) (Page, error)
}

// Getter is a Store that can look one record up by ID.
type Getter interface {
	// Get returns the record with the given ID, or an error wrapping
	// ErrNotFound.
	Get(ctx context.Context, id uuid.UUID) (Record, error)
}

// Page is one page of query results.
type Page struct {
	Records []Record `json:"items"`
	// NextCursor is the cursor for the next page; empty when this is the
	// last one.
	NextCursor string `json:"next_cursor"`
	// Tail is the token for Filter.After that selects the records
	// committed after this walk's first page read: every page of one walk
	// carries the same. Empty from a store that cannot tell.
	Tail string `json:"tail,omitempty"`
}
