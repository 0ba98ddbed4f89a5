package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// Query returns the records that match f, newest first, with keyset
// pagination on ("timestamp", id): a page is one index range scan
// whatever its depth. Every filter is a bound parameter; ActionPrefix is
// matched literally.
//
// A walk (the pages that follow one another by their cursors) reads the
// records committed when its first page was read, no more and no fewer
// (but those purged meanwhile): the cursor carries the first page's
// snapshot (pg_current_snapshot), and later pages return only the records
// of transactions that snapshot sees (pg_visible_in_snapshot). So pages
// neither skip nor repeat records while other transactions commit, in any
// order; records committed after the first page are for the next walk.
// Should more transactions be open at once than a cursor can name (some
// 700), the cursor's snapshot is cut to the transactions older than all
// of them: the walk's later pages leave out the records of the others,
// and a tail after it (Filter.After) returns them, some a second time.
// None is lost.
func (s *Store) Query(ctx context.Context, f audit.Filter) (audit.Page, error) {
	if err := f.Validate(); err != nil {
		return audit.Page{}, fmt.Errorf("audit: postgres: query: %w", err)
	}
	done, err := s.admit(ctx)
	if err != nil {
		return audit.Page{}, fmt.Errorf("audit: postgres: query: %w", err)
	}
	defer done()
	page, err := s.page(ctx, &f)
	if err == nil {
		page, err = storekit.EmptyFirstPage(&f, page, func() ([]byte, error) {
			var snap string
			err := s.db.QueryRowContext(ctx, "SELECT pg_current_snapshot()::text").Scan(&snap)
			return snapshotHorizon(snap), err
		}, func() (audit.Page, error) { return s.page(ctx, &f) })
	}
	if err != nil {
		return audit.Page{}, fmt.Errorf("audit: postgres: query: %w", err)
	}
	return page, nil
}

// page reads one page for f, valid.
func (s *Store) page(ctx context.Context, f *audit.Filter) (audit.Page, error) {
	limit := storekit.PageSize(f)
	base, scan := s.sql.query, newRowScanner(true).scan
	var horizon func() []byte
	if f.Cursor != "" {
		c, _ := storekit.DecodeCursor(f.Cursor) // validated above
		horizon = func() []byte { return c.Horizon }
	} else {
		// the first page of a walk: read its snapshot with it
		base = s.sql.queryAt
		var (
			raw  sql.RawBytes
			snap string
		)
		sc := newRowScanner(true, &raw)
		scan = func(rows *sql.Rows) (audit.Record, error) {
			r, err := sc.scan(rows)
			if snap == "" {
				snap = string(raw)
			}
			return r, err
		}
		horizon = func() []byte { return snapshotHorizon(snap) }
	}
	q, args := buildQuery(base, f, limit+1)
	rows, err := s.query(ctx, preparable(f), q, args...)
	if err != nil {
		return audit.Page{}, err
	}
	return storekit.QueryPage(rows, limit, scan, horizon)
}

// ScanRecords calls fn for every record that matches f, newest first,
// from one query and one snapshot, streaming: it holds one record at a
// time, and reads the table once however many records match (paging with
// Query costs one query per page). It starts after f.Cursor if set,
// among the records within the cursor's horizon (see Query), and ignores
// f.Limit. An error from fn stops the scan and is returned as is.
// The api package's export uses it.
func (s *Store) ScanRecords(ctx context.Context, f audit.Filter, fn func(*audit.Record) error) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("audit: postgres: scan: %w", err)
	}
	q, args := buildQuery(s.sql.query, &f, 0)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("audit: postgres: scan: %w", err)
	}
	defer rows.Close()
	sc := newRowScanner(true)
	for rows.Next() {
		r, err := sc.scan(rows)
		if err != nil {
			return fmt.Errorf("audit: postgres: scan: %w", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: postgres: scan: %w", err)
	}
	return nil
}

// buildQuery appends to base the WHERE clause of f, the order and the
// limit (none if limit <= 0), with f's values as parameters.
func buildQuery(base string, f *audit.Filter, limit int) (string, []any) {
	var sb strings.Builder
	sb.Grow(len(base) + 256)
	var args []any
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	after, hasAfter := "", false
	if f.After != "" {
		h, _ := storekit.DecodeTail(f.After) // validated by the caller
		after, hasAfter = horizonSnapshot(h)
	}
	if hasAfter {
		// The records committed after an earlier walk: those of its
		// snapshot's running transactions and of later ones, found by the
		// (xid, id) index and sorted, whatever the planner knows of the
		// table: the subquery is a fence, and a range bounded on both
		// sides is estimated small without statistics (one bounded below
		// only, a third of the table: it read every row).
		from := strings.LastIndex(base, " FROM ")
		xmin, _, _ := strings.Cut(after, ":")
		sb.WriteString(base[:from])
		sb.WriteString(" FROM (SELECT * FROM " + base[from+len(" FROM "):] + " WHERE xid >= " + param(xmin) +
			"::xid8 AND xid < pg_snapshot_xmax(pg_current_snapshot()) OFFSET 0) AS e")
	} else {
		sb.WriteString(base)
	}
	sep := " WHERE "
	and := func(cond string) {
		sb.WriteString(sep)
		sb.WriteString(cond)
		sep = " AND "
	}
	eq := func(col, v string) {
		if v != "" {
			and(col + " = " + param(v))
		}
	}
	eq("user_id", f.UserID)
	eq("action", string(f.Action))
	if f.ActionPrefix != "" {
		// an index range, whatever the planner knows of the table
		if end, ok := prefixEnd(f.ActionPrefix); ok {
			and("action >= " + param(f.ActionPrefix) + " AND action < " + param(end))
		} else {
			and("action >= " + param(f.ActionPrefix))
		}
	}
	eq("resource_type", f.ResourceType)
	eq("resource_id", f.ResourceID)
	eq("status", string(f.Status))
	eq("request_id", f.RequestID)
	eq("tenant_id", f.TenantID)
	eq("trace_id", f.TraceID)
	if !f.Since.IsZero() {
		and(`"timestamp" >= ` + param(micro(f.Since)))
	}
	if !f.Until.IsZero() {
		and(`"timestamp" < ` + param(micro(f.Until)))
	}
	if f.Cursor != "" {
		c, _ := storekit.DecodeCursor(f.Cursor) // validated by the caller
		t, id := param(micro(c.OccurredAt)), param(c.ID.String())
		// The first condition is implied by the second; it lets the
		// planner skip newer partitions.
		and(`"timestamp" <= ` + t + ` AND ("timestamp", id) < (` + t + `::timestamptz, ` + id + `::uuid)`)
		if snap, ok := horizonSnapshot(c.Horizon); ok {
			and("pg_visible_in_snapshot(xid, " + param(snap) + "::pg_snapshot)")
		}
	}
	if hasAfter {
		and("NOT pg_visible_in_snapshot(xid, " + param(after) + "::pg_snapshot)")
	}
	if (f.RequestID != "" || f.TraceID != "") && f.UserID == "" && f.TenantID == "" {
		// A request or a trace holds a handful of records: read them from
		// their own index and sort them. Ordered by the plain columns, a
		// planner without statistics walks the primary key backwards and
		// filters, which reads the whole table for a rare value
		// (TestPlansOnLargeTableWithoutStatistics).
		sb.WriteString(` ORDER BY "timestamp" + interval '0' DESC, id DESC`)
	} else {
		sb.WriteString(` ORDER BY "timestamp" DESC, id DESC`)
	}
	if limit > 0 {
		sb.WriteString(" LIMIT ")
		sb.WriteString(strconv.Itoa(limit))
	}
	return sb.String(), args
}

// micro returns t in UTC, truncated to the microsecond.
func micro(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// prefixEnd returns the least valid UTF-8 string greater than every
// string that starts with p, in byte order (the C collation of the action
// column, which for UTF-8 is code point order): p with its last code point
// replaced by the next one, after dropping trailing U+10FFFF (and skipping
// the surrogates, which UTF-8 cannot encode). ok is false when p holds only
// U+10FFFF: then no upper bound is needed. So the strings starting with p
// are exactly those s with p <= s < end.
func prefixEnd(p string) (end string, ok bool) {
	rs := []rune(p)
	for len(rs) > 0 {
		last := rs[len(rs)-1]
		if last == utf8.MaxRune {
			rs = rs[:len(rs)-1]
			continue
		}
		next := last + 1
		if next == 0xD800 { // the surrogates
			next = 0xE000
		}
		rs[len(rs)-1] = next
		return string(rs), true
	}
	return "", false
}

// Get returns the record with the given ID, or an error wrapping
// audit.ErrNotFound. Should two records share the ID (appended directly
// with different OccurredAt; see the package documentation), Get returns
// the first one recorded.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (audit.Record, error) {
	done, err := s.admit(ctx)
	if err != nil {
		return audit.Record{}, fmt.Errorf("audit: postgres: get %s: %w", id, err)
	}
	defer done()
	rows, err := s.query(ctx, true, s.sql.get, id.String())
	if err != nil {
		return audit.Record{}, fmt.Errorf("audit: postgres: get %s: %w", id, err)
	}
	r, err := storekit.ScanOne(rows, func(rows *sql.Rows) (audit.Record, error) { return scanRecord(rows) })
	if err != nil {
		return audit.Record{}, fmt.Errorf("audit: postgres: get %s: %w", id, err)
	}
	return r, nil
}

// scanRecord reads the columns of selectList.
func scanRecord(rows *sql.Rows) (audit.Record, error) { return scanRecordWith(rows) }

// scanRecordWith reads lead, then the columns of selectList.
func scanRecordWith(rows *sql.Rows, lead ...any) (audit.Record, error) {
	return scanRow(rows, true, lead...)
}

// scanRow is scanRecordWith, with Details and Changes as jsonb prints
// them (valid JSON, not canonical) when canon is false: for the Sealer,
// whose digest makes them canonical anyway.
func scanRow(rows *sql.Rows, canon bool, lead ...any) (audit.Record, error) {
	return newRowScanner(canon, lead...).scan(rows)
}

// rowScanner reads rows of lead and the columns of selectList into
// destinations made once, for all the rows of a query: made for each row,
// they and the record they point into were a seventh of the bytes the
// admin API allocated per request. canon is scanRow's.
type rowScanner struct {
	canon            bool
	r                audit.Record
	ip               string
	action, status   string
	details, changes []byte
	dest             []any
}

func newRowScanner(canon bool, lead ...any) *rowScanner {
	s := &rowScanner{canon: canon}
	s.dest = append(lead, &s.r.ID, timeColumn{&s.r.OccurredAt}, timeColumn{&s.r.RecordedAt}, &s.r.UserID, &s.r.UserEmail, &s.ip, &s.r.UserAgent,
		&s.action, &s.r.ResourceType, &s.r.ResourceID, &s.details, &s.changes, &s.r.RequestID, &s.r.SessionID,
		&s.status, &s.r.ErrorMessage, &s.r.TenantID, &s.r.TraceID, &s.r.SpanID)
	return s
}

// scan reads the current row of rows.
func (s *rowScanner) scan(rows *sql.Rows) (audit.Record, error) {
	s.r, s.ip, s.action, s.status, s.details, s.changes = audit.Record{}, "", "", "", nil, nil
	if err := rows.Scan(s.dest...); err != nil {
		return audit.Record{}, err
	}
	r, ip, action, status, details, changes := s.r, s.ip, s.action, s.status, s.details, s.changes
	var err error
	if ip != "" {
		if r.IPAddress, err = netip.ParseAddr(ip); err != nil {
			return audit.Record{}, fmt.Errorf("record %s: ip_address: %w", r.ID, err)
		}
	}
	r.OccurredAt, r.RecordedAt = r.OccurredAt.UTC(), r.RecordedAt.UTC()
	r.Action, r.Status = audit.Action(action), audit.Status(status)
	if s.canon {
		r.Details, r.Changes = jsonColumn(details), jsonColumn(changes) // canonical, as from every store
	} else {
		r.Details, r.Changes = details, changes
	}
	return r, nil
}
