// Package storekit is for the authors of stores, as database/sql/driver
// is for the authors of database drivers: it holds what a store needs to
// implement audit.Store, audit.Querier and the other store interfaces the
// way the module's stores do, and what users of the audit package do not
// need. The conformance suite, package storetest, checks a store against
// the same rules.
//
// A Querier returns records newest first, ordered by OccurredAt and then
// by ID (CompareIDs: as PostgreSQL orders uuid values), PageSize records
// at most per page; Page.NextCursor is CursorAfter(last record).String()
// when more may follow, and a query with Filter.Cursor set continues
// after DecodeCursor's position (Cursor.Precedes). Details and Changes
// are returned as CanonicalJSON, so that a record read back compares and
// hashes exactly like the one written.
package storekit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/internal/canonical"
	"github.com/trailmark/audit/internal/cursor"
)

// Cursor is a position in the newest-first order of records: the
// OccurredAt and ID of the last record of a page.
type Cursor struct {
	OccurredAt time.Time
	ID         uuid.UUID
}

// CursorAfter returns the cursor that continues after r.
func CursorAfter(r *audit.Record) Cursor {
	return Cursor{OccurredAt: r.OccurredAt, ID: r.ID}
}

// String encodes c as an opaque, URL-safe token, the Page.NextCursor a
// query returns. OccurredAt is kept to the microsecond.
func (c Cursor) String() string { return cursor.Encode(c.OccurredAt, c.ID) }

// Precedes reports whether r comes after c in newest-first order, that is,
// whether r belongs to the pages that follow c.
func (c Cursor) Precedes(r *audit.Record) bool {
	if !r.OccurredAt.Equal(c.OccurredAt) {
		return r.OccurredAt.Before(c.OccurredAt)
	}
	return CompareIDs(r.ID, c.ID) < 0
}

// DecodeCursor parses a token made by Cursor.String, such as
// Filter.Cursor. It returns an error wrapping audit.ErrInvalidFilter for
// anything else.
func DecodeCursor(s string) (Cursor, error) {
	t, id, err := cursor.Decode(s)
	if err != nil {
		return Cursor{}, (&audit.Filter{Cursor: s}).Validate()
	}
	return Cursor{OccurredAt: t, ID: id}, nil
}

// CompareIDs orders IDs by their bytes, as PostgreSQL orders uuid values.
func CompareIDs(a, b uuid.UUID) int {
	return bytes.Compare(a[:], b[:])
}

// PageSize returns the number of records a page for f holds at most:
// f.Limit, or audit.DefaultLimit when it is 0.
func PageSize(f *audit.Filter) int {
	if f.Limit == 0 {
		return audit.DefaultLimit
	}
	return f.Limit
}

// Match reports whether r satisfies every field of f but Limit and Cursor
// (Since and Until at microsecond precision).
func Match(f *audit.Filter, r *audit.Record) bool {
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

// CanonicalJSON re-encodes JSON text in the canonical form the Logger
// stores: sorted object keys, no insignificant white space, numbers in
// plain decimal notation, invalid UTF-8 and NUL replaced by U+FFFD. Input
// nested more than 1000 levels deep is an error. A store returns Details
// and Changes in this form, so that a record read back from it
// (PostgreSQL jsonb reorders keys and rewrites white space) compares and
// hashes exactly like the original. nil or blank input yields nil; the
// result never shares memory with raw.
func CanonicalJSON(raw []byte) ([]byte, error) { return canonical.JSON(raw) }

// Seal runs fn, the sealing callback a store's SealNext is given, on recs,
// the records to seal after last, and checks what it returns: one seal per
// record, in order, continuing the chain from last. A store writes the
// seals only when Seal returns no error.
func Seal(fn func(last audit.Seal, recs []audit.Record) ([]audit.Seal, error), last audit.Seal, recs []audit.Record) ([]audit.Seal, error) {
	seals, err := fn(last, recs)
	if err != nil {
		return nil, err
	}
	if len(seals) != len(recs) {
		return nil, fmt.Errorf("the sealer returned %d seals for %d records", len(seals), len(recs))
	}
	for i := range seals {
		if seals[i].Seq != last.Seq+uint64(i)+1 || seals[i].EventID != recs[i].ID {
			return nil, fmt.Errorf("seal %d does not continue the chain", seals[i].Seq)
		}
	}
	return seals, nil
}

// Rows is what ScanOne and ScanAll use of a result set (*sql.Rows has it).
type Rows interface {
	Next() bool
	Err() error
	Close() error
}

// ScanOne reads the first row of rows with scan, then closes rows. No row
// is an error wrapping audit.ErrNotFound.
func ScanOne[R Rows](rows R, scan func(R) (audit.Record, error)) (audit.Record, error) {
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return audit.Record{}, err
		}
		return audit.Record{}, audit.ErrNotFound
	}
	r, err := scan(rows)
	if err != nil {
		return audit.Record{}, err
	}
	return r, rows.Close()
}

// ScanAll reads every row of rows with scan, which returns a record and a
// key of the store's own for it (such as its position in the order of
// sealing), then closes rows.
func ScanAll[R Rows, K any](rows R, scan func(R) (audit.Record, K, error)) ([]audit.Record, []K, error) {
	defer rows.Close()
	var (
		recs []audit.Record
		keys []K
	)
	for rows.Next() {
		r, k, err := scan(rows)
		if err != nil {
			return nil, nil, err
		}
		recs = append(recs, r)
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return recs, keys, rows.Close()
}

// QueryPage reads a Querier's page from rows, which holds up to limit+1
// records in newest-first order, then closes rows: limit records at most,
// and a NextCursor when the extra one shows that more follow.
func QueryPage[R Rows](rows R, limit int, scan func(R) (audit.Record, error)) (audit.Page, error) {
	defer rows.Close()
	var page audit.Page
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return audit.Page{}, err
		}
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return audit.Page{}, err
	}
	if len(page.Records) > limit {
		page.Records = page.Records[:limit]
		page.NextCursor = CursorAfter(&page.Records[limit-1]).String()
	}
	return page, rows.Close()
}

// TenantCutoffsColumn returns the column value a store keeps for a
// checkpoint's TenantCutoffs: their JSON as a string, or nil (SQL NULL)
// for none. TenantCutoffs reads it back.
func TenantCutoffsColumn(c []audit.TenantCutoff) (any, error) {
	if len(c) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

// TenantCutoffs parses the JSON form of a checkpoint's TenantCutoffs, as a
// store keeps it (TenantCutoffsColumn). It returns nil for an empty
// string, and for JSON that does not parse: the checkpoint's signature,
// which covers the cutoffs, then fails, and Verify reports it, as it
// reports any other damaged checkpoint.
func TenantCutoffs(s string) []audit.TenantCutoff {
	if s == "" {
		return nil
	}
	var out []audit.TenantCutoff
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil
	}
	return out
}
