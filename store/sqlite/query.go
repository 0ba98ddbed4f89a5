package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// selectList reads a record from the alias e, in the order scanRecord
// expects.
const selectList = `e.id, e.ts, e.recorded_at, COALESCE(e.user_id, ''), COALESCE(e.user_email, ''),
COALESCE(e.ip_address, ''), COALESCE(e.user_agent, ''), e.action, e.resource_type, COALESCE(e.resource_id, ''),
e.details, e.changes, COALESCE(e.request_id, ''), COALESCE(e.session_id, ''), e.status, COALESCE(e.error_message, ''),
COALESCE(e.tenant_id, ''), COALESCE(e.trace_id, ''), COALESCE(e.span_id, '')`

// Query returns the records that match f, newest first, with keyset
// pagination on (OccurredAt, ID): every filter is a bound parameter and is
// served by an index range (ActionPrefix as the range [prefix,
// successor)), so a deep page costs what the first one does.
//
// A walk (the pages that follow one another by their cursors) reads the
// records committed when its first page was read, no more and no fewer
// (but those purged meanwhile): SQLite has one writer at a time, so a
// record committed later has a larger row (AUTOINCREMENT); the cursor
// carries the largest row the first page could see, and later pages
// return only records at or below it. Records committed after the first
// page are for the next walk.
func (s *Store) Query(ctx context.Context, f audit.Filter) (audit.Page, error) {
	if err := f.Validate(); err != nil {
		return audit.Page{}, fmt.Errorf("audit: sqlite: query: %w", err)
	}
	page, err := s.page(ctx, &f)
	if err == nil {
		page, err = storekit.EmptyFirstPage(&f, page, func() ([]byte, error) {
			var last int64
			err := s.reader.QueryRowContext(ctx, "SELECT COALESCE(max(row), 0) FROM audit_logs").Scan(&last)
			return binary.AppendUvarint(nil, uint64(last)), err
		}, func() (audit.Page, error) { return s.page(ctx, &f) })
	}
	if err != nil {
		return audit.Page{}, fmt.Errorf("audit: sqlite: query: %w", err)
	}
	return page, nil
}

// page reads one page for f, valid.
func (s *Store) page(ctx context.Context, f *audit.Filter) (audit.Page, error) {
	limit := storekit.PageSize(f)
	q, args := buildQuery(f, limit+1)
	rows, err := s.reader.QueryContext(ctx, q, args...)
	if err != nil {
		return audit.Page{}, err
	}
	scan := func(rows *sql.Rows) (audit.Record, error) { return scanRecord(rows) }
	var horizon func() []byte
	if f.Cursor != "" {
		c, _ := storekit.DecodeCursor(f.Cursor) // validated above
		horizon = func() []byte { return c.Horizon }
	} else {
		// the first page of a walk: read its horizon with it
		last := int64(-1) // unknown until a row is read
		scan = func(rows *sql.Rows) (audit.Record, error) { return scanRecord(rows, &last) }
		horizon = func() []byte {
			if last < 0 {
				return nil
			}
			return binary.AppendUvarint(nil, uint64(last))
		}
	}
	return storekit.QueryPage(rows, limit, scan, horizon)
}

// buildQuery returns the SELECT of the records that match f, newest
// first, at most limit of them, with its parameters.
func buildQuery(f *audit.Filter, limit int) (string, []any) {
	var sb strings.Builder
	if f.Cursor == "" {
		// the horizon of the walk, read in the same statement (one read
		// transaction): the last row the page can see
		sb.WriteString("SELECT (SELECT COALESCE(max(row), 0) FROM audit_logs), " + selectList + " FROM audit_logs e")
	} else {
		sb.WriteString("SELECT " + selectList + " FROM audit_logs e")
	}
	var args []any
	sep := " WHERE "
	and := func(cond string, vs ...any) {
		sb.WriteString(sep)
		sb.WriteString(cond)
		sep = " AND "
		args = append(args, vs...)
	}
	eq := func(col, v string) {
		if v != "" {
			and("e."+col+" = ?", v)
		}
	}
	eq("user_id", f.UserID)
	eq("action", string(f.Action))
	if f.ActionPrefix != "" {
		if hi, ok := successor(f.ActionPrefix); ok {
			and("e.action >= ? AND e.action < ?", f.ActionPrefix, hi)
		} else {
			and("e.action >= ?", f.ActionPrefix)
		}
	}
	eq("resource_type", f.ResourceType)
	eq("resource_id", f.ResourceID)
	eq("status", string(f.Status))
	eq("request_id", f.RequestID)
	eq("tenant_id", f.TenantID)
	eq("trace_id", f.TraceID)
	if !f.Since.IsZero() {
		and("e.ts >= ?", f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		and("e.ts < ?", f.Until.UnixMicro())
	}
	if f.Cursor != "" {
		c, _ := storekit.DecodeCursor(f.Cursor) // validated by the caller
		t := c.OccurredAt.UnixMicro()
		// the first condition bounds the index range; the second is exact
		and("e.ts <= ? AND (e.ts < ? OR e.id < ?)", t, t, c.ID[:])
		if last, ok := horizonRow(c.Horizon); ok {
			and("e.row <= ?", last)
		}
	}
	order := " ORDER BY e.ts DESC, e.id DESC LIMIT "
	if f.After != "" {
		h, _ := storekit.DecodeTail(f.After) // validated by the caller
		if last, ok := horizonRow(h); ok {
			// the records committed after an earlier walk: a range of
			// rows, sorted (+ keeps the planner from walking the whole
			// (ts, id) index instead)
			and("e.row > ?", last)
			order = " ORDER BY +e.ts DESC, e.id DESC LIMIT "
		}
	}
	sb.WriteString(order)
	sb.WriteString(strconv.Itoa(limit))
	return sb.String(), args
}

// horizonRow returns the last row of a walk's horizon, and false for
// none.
func horizonRow(h []byte) (int64, bool) {
	last, n := binary.Uvarint(h)
	if n <= 0 || n != len(h) || last > math.MaxInt64 {
		return 0, false
	}
	return int64(last), true
}

// successor returns the smallest string greater than every string that
// starts with p (SQLite compares text by its bytes), or false when there
// is none.
func successor(p string) (string, bool) {
	b := []byte(p)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// Get returns the record with the given ID, or an error wrapping
// audit.ErrNotFound.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (audit.Record, error) {
	rows, err := s.reader.QueryContext(ctx, "SELECT "+selectList+" FROM audit_logs e WHERE e.id = ?", id[:])
	if err != nil {
		return audit.Record{}, fmt.Errorf("audit: sqlite: get %s: %w", id, err)
	}
	r, err := storekit.ScanOne(rows, func(rows *sql.Rows) (audit.Record, error) { return scanRecord(rows) })
	if err != nil {
		return audit.Record{}, fmt.Errorf("audit: sqlite: get %s: %w", id, err)
	}
	return r, nil
}

// scanRecord reads lead, then the columns of selectList.
func scanRecord(rows *sql.Rows, lead ...any) (audit.Record, error) {
	var (
		r                audit.Record
		id               []byte
		ts, recorded     int64
		ip               string
		action, status   string
		details, changes sql.NullString
	)
	err := rows.Scan(append(lead, &id, &ts, &recorded, &r.UserID, &r.UserEmail, &ip, &r.UserAgent,
		&action, &r.ResourceType, &r.ResourceID, &details, &changes, &r.RequestID, &r.SessionID,
		&status, &r.ErrorMessage, &r.TenantID, &r.TraceID, &r.SpanID)...)
	if err != nil {
		return audit.Record{}, err
	}
	if r.ID, err = uuid.FromBytes(id); err != nil {
		return audit.Record{}, fmt.Errorf("id: %w", err)
	}
	// Append stores only addresses; text that is not one was put there
	// around every door, and is read as no address rather than stopping
	// every read and sealing step at the row (the seal then covers no
	// address; docs/operations.md, Unsealable records).
	if ip != "" {
		if a, err := netip.ParseAddr(ip); err == nil {
			r.IPAddress = a
		}
	}
	r.OccurredAt, r.RecordedAt = micros(ts), micros(recorded)
	r.Action, r.Status = audit.Action(action), audit.Status(status)
	if details.Valid {
		r.Details = []byte(details.String)
	}
	if changes.Valid {
		r.Changes = []byte(changes.String)
	}
	return r, nil
}

// micros returns the UTC time of Unix microseconds us.
func micros(us int64) time.Time { return time.UnixMicro(us).UTC() }
