// Package storekit is for the authors of stores, as database/sql/driver
// is for the authors of database drivers: it holds what a store needs to
// implement audit.Store, audit.Querier and the other store interfaces the
// way the module's stores do, and what users of the audit package do not
// need. The conformance suite, package storetest, checks a store against
// the same rules.
//
// A Querier returns records newest first, ordered by OccurredAt and then
// by ID (CompareIDs: as PostgreSQL orders uuid values), PageSize records
// at most per page; Page.NextCursor is CursorAfter(last record), with the
// walk's horizon, as a String when more may follow, and a query with
// Filter.Cursor set continues after DecodeCursor's position
// (Cursor.Precedes), among the records within the cursor's horizon.
// Details and Changes are returned as CanonicalJSON, so that a record
// read back compares and hashes exactly like the one written.
//
// # Walks and their horizon
//
// A walk is the pages of one query, each asked with the NextCursor of the
// one before. Records become visible when their transaction commits, not
// in OccurredAt order: a record that commits while a walk is under way may
// belong to a page the walk has already passed. So a walk reads one set
// of records, fixed by its first page: the records committed when the
// first page was read, no more, no fewer (but those purged meanwhile).
// The store records in the cursor which set that is, its horizon (an
// opaque value of its own: a PostgreSQL snapshot, the last row of a
// single-writer table), and a page with a cursor returns only records
// within it. A store that cannot tell which records were committed when
// a walk began does not have the Querier's contract.
//
// # Appending
//
// Append refuses, before it stores anything, a batch with a record that
// breaks the record contract (CheckRecords, which marks the error
// Permanent, so that the Logger stops retrying and isolates the record),
// and ignores a record whose ID it already holds: a retried batch never
// duplicates. Errors that retrying cannot fix are marked Permanent.
//
// # The hash chain and retention
//
// A store that keeps a hash chain (package chain) implements SealStore:
// it stores the Seals and Checkpoints the chain's Sealer makes, under one
// sealing lock (RunSealer checks what the Sealer returns), and gives them
// back in order with their records; Digest and SealDigest are the bytes a
// seal covers, the same from every store. A store that retention can
// purge implements Purger (and TenantPurger for per-tenant retention,
// ChainPurger to remove the seals a retention checkpoint covers).
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
// OccurredAt and ID of the last record of a page, and the horizon of the
// walk it continues.
type Cursor struct {
	OccurredAt time.Time
	ID         uuid.UUID
	// Horizon tells the store that made the cursor which records the walk
	// reads (see the package documentation); nil for a cursor made
	// without one, which continues among every record visible. It is at
	// most MaxHorizon bytes, and only the store that made it reads it.
	Horizon []byte
}

// MaxHorizon is the longest Cursor.Horizon, in bytes.
const MaxHorizon = cursor.MaxHorizon

// CursorAfter returns the cursor that continues after r.
func CursorAfter(r *audit.Record) Cursor {
	return Cursor{OccurredAt: r.OccurredAt, ID: r.ID}
}

// String encodes c as an opaque, URL-safe token, the Page.NextCursor a
// query returns. OccurredAt is kept to the microsecond. It panics if the
// Horizon is longer than MaxHorizon.
func (c Cursor) String() string { return cursor.Encode(c.OccurredAt, c.ID, c.Horizon) }

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
	t, id, horizon, err := cursor.Decode(s)
	if err != nil {
		return Cursor{}, (&audit.Filter{Cursor: s}).Validate()
	}
	return Cursor{OccurredAt: t, ID: id, Horizon: horizon}, nil
}

// Tail returns the token for Filter.After of the walk whose horizon is
// horizon (at most MaxHorizon bytes, or Tail panics), the Page.Tail of
// each of its pages.
func Tail(horizon []byte) string { return cursor.EncodeTail(horizon) }

// DecodeTail returns the horizon of a token made by Tail, such as
// Filter.After. It returns an error wrapping audit.ErrInvalidFilter for
// anything else.
func DecodeTail(s string) ([]byte, error) {
	h, err := cursor.DecodeTail(s)
	if err != nil {
		return nil, (&audit.Filter{After: s}).Validate()
	}
	return h, nil
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

// CheckRecords checks each record against the record contract
// (audit.Record.Validate): what every store's Append must refuse, before it
// stores anything, so that every record it stores can be sealed and
// verified. It returns nil, or an error marked Permanent that names
// the first record at fault, by its index and ID, and wraps the
// *audit.FieldError that says which field and why.
func CheckRecords(recs []audit.Record) error {
	for i := range recs {
		if err := recs[i].Validate(); err != nil {
			return Permanent(fmt.Errorf("record %d (id %s): %w", i, recs[i].ID, err))
		}
	}
	return nil
}

// RunSealer runs fn, the sealing callback a store's SealNext is given, on recs,
// the records to seal after last, and checks what it returns: one seal per
// record, in order, continuing the chain from last. A store writes the
// seals only when RunSealer returns no error.
func RunSealer(fn func(last Seal, recs []audit.Record) ([]Seal, error), last Seal, recs []audit.Record) ([]Seal, error) {
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

// ScanOne reads the first row of rows with scan (a record, or another row
// of the store's), then closes rows. No row is an error wrapping
// audit.ErrNotFound.
func ScanOne[R Rows, T any](rows R, scan func(R) (T, error)) (T, error) {
	defer rows.Close()
	var zero T
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return zero, err
		}
		return zero, audit.ErrNotFound
	}
	r, err := scan(rows)
	if err != nil {
		return zero, err
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
// and a NextCursor when the extra one shows that more follow. The cursor
// and the page's Tail carry the walk's horizon, which horizon returns
// once every row has been scanned (scan may be what learns it, from the
// first row); horizon may be nil, for a store without one, or return nil
// when it is unknown (a first page without rows: see EmptyFirstPage).
func QueryPage[R Rows](rows R, limit int, scan func(R) (audit.Record, error), horizon func() []byte) (audit.Page, error) {
	defer rows.Close()
	var page audit.Page
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return audit.Page{}, err
		}
		if page.Records == nil {
			// room for the page and the record after it, read to know
			// that there is a next page: a page of 20 grew six times, a
			// fifth of the bytes the admin API allocated per request (a
			// large page, which may find few records, starts smaller)
			page.Records = make([]audit.Record, 0, min(limit+1, 128))
		}
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return audit.Page{}, err
	}
	var h []byte
	if horizon != nil {
		h = horizon()
	}
	if len(page.Records) > limit {
		page.Records = page.Records[:limit]
		c := CursorAfter(&page.Records[limit-1])
		c.Horizon = h
		page.NextCursor = c.String()
	}
	if len(h) > 0 {
		page.Tail = Tail(h)
	}
	return page, rows.Close()
}

// EmptyFirstPage gives an empty first page of a tail its Tail. A store
// that reads a walk's horizon with the page's rows learns none from a
// page without rows, and a poller whose filter matches nothing for long
// would then tail from an ever older horizon, reading more at each poll.
// page is the first page query returned for f, with f.After set; if it
// is empty, EmptyFirstPage takes the store's horizon now, then calls
// query again: still empty, the page gets that horizon's Tail (nothing
// that matches f was committed by then, so the walk after it loses
// nothing); no longer empty, the new page (with its own horizon) is
// returned. Any other page is returned as it is: an empty first page
// without After costs nothing more, and the poller's next walk reads
// what it would have.
func EmptyFirstPage(f *audit.Filter, page audit.Page, horizon func() ([]byte, error), query func() (audit.Page, error)) (audit.Page, error) {
	if f.After == "" || f.Cursor != "" || len(page.Records) > 0 || page.Tail != "" {
		return page, nil
	}
	h, err := horizon()
	if err != nil {
		return audit.Page{}, err
	}
	if page, err = query(); err != nil || len(page.Records) > 0 {
		return page, err
	}
	if len(h) > 0 {
		page.Tail = Tail(h)
	}
	return page, nil
}

// TenantCutoffsColumn returns the column value a store keeps for a
// checkpoint's TenantCutoffs: their JSON as a string, or nil (SQL NULL)
// for none. TenantCutoffs reads it back.
func TenantCutoffsColumn(c []TenantCutoff) (any, error) {
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
func TenantCutoffs(s string) []TenantCutoff {
	if s == "" {
		return nil
	}
	var out []TenantCutoff
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil
	}
	return out
}
