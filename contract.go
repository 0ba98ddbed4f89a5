package audit

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/trailmark/audit/internal/canonical"
)

// The record contract. Every door by which a record enters a store — the
// Logger, each store's Append (in a transaction too), the JetStream
// Loader, auditctl load — keeps the same one, Record.Validate, so that a
// record a store accepts can always be sealed, verified and exported.
// The Logger's cleaning (Limits) keeps well inside it.
const (
	// MaxRecordDepth is how deeply arrays and objects may nest in Details
	// and Changes: the depth the canonical form, and so the Sealer's
	// digest, accepts.
	MaxRecordDepth = canonical.MaxDepth
	// MaxRecordJSONBytes caps Details, and separately Changes.
	MaxRecordJSONBytes = 16 << 20
	// MaxRecordFieldBytes caps each string field of a record.
	MaxRecordFieldBytes = 64 << 10
)

var (
	minRecordTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxRecordTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Validate reports whether r keeps the record contract that every store
// enforces before it stores anything, so that a stored record can always
// be sealed (its Digest computed), verified and exported (its JSON form
// read back the same): a non-nil ID; OccurredAt in the years 1 to 9999;
// Action, ResourceType and a valid Status; an IPAddress without a zone;
// string fields in valid UTF-8, without NUL, of at most
// MaxRecordFieldBytes; the identities (user, action, resource type and
// id, request, session and tenant ids) valid as CheckID says; Details and Changes absent or a JSON object in
// UTF-8, of at most MaxRecordJSONBytes, nested at most MaxRecordDepth
// deep. RecordedAt is the store's to set and is not checked.
//
// It returns nil or a *FieldError that wraps ErrInvalidEvent and names
// the field. A record the Logger cleaned always passes.
func (r *Record) Validate() error {
	bad := func(field, msg string) error {
		return &FieldError{Field: field, Msg: msg, kind: ErrInvalidEvent}
	}
	switch {
	case r.ID == uuid.Nil:
		return bad("id", "is the nil UUID")
	case r.OccurredAt.Before(minRecordTime) || !r.OccurredAt.Before(maxRecordTime):
		return bad("timestamp", fmt.Sprintf("year %d is out of range 1–9999", r.OccurredAt.UTC().Year()))
	case strings.TrimSpace(string(r.Action)) == "":
		return bad("action", "is required")
	case strings.TrimSpace(r.ResourceType) == "":
		return bad("resource_type", "is required")
	case !r.Status.Valid():
		return bad("status", "must be success, failure or error")
	case r.IPAddress.Zone() != "":
		return bad("ip_address", "has a zone")
	}
	if !r.plainStrings() {
		if err := r.validateStrings(); err != nil {
			return err
		}
	}
	for _, f := range [...]struct {
		name string
		v    []byte
	}{{"details", r.Details}, {"changes", r.Changes}} {
		if len(f.v) == 0 {
			continue
		}
		if msg := jsonContract(f.v); msg != "" {
			return bad(f.name, msg)
		}
	}
	return nil
}

// plainStrings reports whether every string field of r is printable
// ASCII of at most MaxIDBytes bytes, as nearly every record's are: such
// fields keep the contract, and validateStrings has nothing to say.
func (r *Record) plainStrings() bool {
	for _, v := range [...]string{
		r.UserID, r.UserEmail, r.UserAgent, string(r.Action), r.ResourceType, r.ResourceID,
		r.RequestID, r.SessionID, r.ErrorMessage, r.TenantID, r.TraceID, r.SpanID,
	} {
		if len(v) > MaxIDBytes || !printable(v) {
			return false
		}
	}
	return true
}

// validateStrings checks the string fields of r, the first that breaks
// the contract first.
func (r *Record) validateStrings() error {
	bad := func(field, msg string) error {
		return &FieldError{Field: field, Msg: msg, kind: ErrInvalidEvent}
	}
	for _, f := range [...]struct{ name, v string }{
		{"user_id", r.UserID}, {"user_email", r.UserEmail}, {"user_agent", r.UserAgent},
		{"action", string(r.Action)}, {"resource_type", r.ResourceType}, {"resource_id", r.ResourceID},
		{"request_id", r.RequestID}, {"session_id", r.SessionID}, {"error_message", r.ErrorMessage},
		{"tenant_id", r.TenantID}, {"trace_id", r.TraceID}, {"span_id", r.SpanID},
	} {
		switch {
		case len(f.v) > MaxRecordFieldBytes:
			return bad(f.name, fmt.Sprintf("is %d bytes long, more than %d", len(f.v), MaxRecordFieldBytes))
		case !utf8.ValidString(f.v) || strings.IndexByte(f.v, 0) >= 0:
			return bad(f.name, "must be valid UTF-8 without NUL bytes")
		}
	}
	// Identities are exact or refused at every door, as the Logger
	// refuses them: a store never holds two that one filter reads as one.
	for _, f := range [...]struct{ name, v string }{
		{"user_id", r.UserID}, {"action", string(r.Action)}, {"resource_type", r.ResourceType},
		{"resource_id", r.ResourceID}, {"request_id", r.RequestID}, {"session_id", r.SessionID},
		{"tenant_id", r.TenantID},
	} {
		if p := idProblem(f.v); p != "" {
			return bad(f.name, p)
		}
	}
	return nil
}

// jsonContract says what is wrong with Details or Changes j, or "".
func jsonContract(j []byte) string {
	// Canonical JSON (the Logger's, and what every store returns) is
	// valid UTF-8 nested at most MaxRecordDepth deep (IsCanonical refuses
	// deeper): one pass says all
	if len(j) > 0 && len(j) <= MaxRecordJSONBytes && j[0] == '{' && canonical.IsCanonical(j) {
		return ""
	}
	return jsonProblem(j)
}

// jsonProblem is jsonContract without its fast path.
func jsonProblem(j []byte) string {
	switch {
	case len(j) > MaxRecordJSONBytes:
		return fmt.Sprintf("is %d bytes long, more than %d", len(j), MaxRecordJSONBytes)
	case !utf8.Valid(j):
		return "must be valid JSON in UTF-8"
	}
	if t := bytes.TrimLeft(j, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return "must be a JSON object"
	}
	if d := canonical.Depth(j); d > MaxRecordDepth {
		return fmt.Sprintf("nests arrays and objects %d deep, deeper than %d", d, MaxRecordDepth)
	}
	if _, err := canonical.Bytes(j); err != nil {
		return "must be valid JSON in UTF-8"
	}
	return ""
}
