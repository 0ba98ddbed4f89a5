package postgres_test

// Unit tests of the SQL the Store sends and of its error paths, against
// go-sqlmock: they need no database.

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/DATA-DOG/go-sqlmock"
	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// The statements, as the Store must send them for schema "audit".
const (
	cols = `id, "timestamp", user_id, user_email, ip_address, user_agent, action, resource_type, resource_id, details, changes, request_id, session_id, status, error_message, tenant_id, trace_id, span_id`

	sqlInsertOne = `INSERT INTO "audit"."audit_logs" (` + cols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18) ON CONFLICT DO NOTHING`

	sqlCreateStaging = `CREATE TEMPORARY TABLE IF NOT EXISTS pg_temp.trailmark_audit_staging_v2 (
	id uuid, "timestamp" timestamptz, user_id text, user_email text, ip_address inet, user_agent text,
	action text, resource_type text, resource_id text, details jsonb, changes jsonb,
	request_id text, session_id text, status text, error_message text,
	tenant_id text, trace_id text, span_id text
) ON COMMIT DELETE ROWS`

	sqlCopyStaging = `COPY pg_temp.trailmark_audit_staging_v2 (` + cols + `) FROM STDIN`

	sqlCopyTable = `COPY "audit"."audit_logs" (` + cols + `) FROM STDIN`

	sqlFromStaging = `WITH batch AS (DELETE FROM pg_temp.trailmark_audit_staging_v2 RETURNING *) INSERT INTO "audit"."audit_logs" (` + cols + `) SELECT ` + cols + ` FROM batch ORDER BY "timestamp", id ON CONFLICT DO NOTHING`

	sqlSelect = `SELECT id, "timestamp", recorded_at, COALESCE(user_id, ''), COALESCE(user_email, ''),
COALESCE(host(ip_address), ''), COALESCE(user_agent, ''), action, resource_type, COALESCE(resource_id, ''),
details, changes, COALESCE(request_id, ''), COALESCE(session_id, ''), status, COALESCE(error_message, ''),
COALESCE(tenant_id, ''), COALESCE(trace_id, ''), COALESCE(span_id, '') FROM "audit"."audit_logs"`

	sqlEnsure = `SELECT "audit"."audit_logs_ensure_partitions"($1::date[])`
)

// mockClock is in the month of storetest's records.
var mockClock = time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)

// newMock returns a Store on a go-sqlmock database that expects the exact
// statements, and checks at the end of the test that all expectations
// were met.
func newMock(t *testing.T, opts *postgres.Options) (*postgres.Store, sqlmock.Sqlmock) {
	t.Helper()
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherEqual))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := mock.ExpectationsWereMet(); err != nil {
			t.Errorf("unmet expectations: %v", err)
		}
		db.Close()
	})
	s, err := postgres.New(sqlx.NewDb(db, "postgres"), withDefaults(opts, postgres.Options{
		Schema: "audit", Now: func() time.Time { return mockClock },
		PartitionsPast: postgres.NoPartitions, PartitionsAhead: postgres.NoPartitions,
		OnError: func(err error) { t.Errorf("error handler: %v", err) },
	}))
	if err != nil {
		t.Fatal(err)
	}
	return s, mock
}

// expectEnsure expects the creation of the partitions of months.
func expectEnsure(mock sqlmock.Sqlmock, months string) {
	mock.ExpectBegin()
	mock.ExpectExec("SET LOCAL lock_timeout = 2000").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(sqlEnsure).WithArgs(months).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectCommit()
}

// args are the values the Store sends for r, NULL for empty strings.
func args(r audit.Record) []driver.Value {
	str := func(s string) driver.Value {
		if s == "" {
			return nil
		}
		return s
	}
	var ip, details, changes driver.Value
	if r.IPAddress.IsValid() {
		ip = r.IPAddress.String()
	}
	if r.Details != nil {
		details = string(r.Details)
	}
	if r.Changes != nil {
		changes = string(r.Changes)
	}
	return []driver.Value{r.ID.String(), r.OccurredAt.UTC(), str(r.UserID), str(r.UserEmail), ip, str(r.UserAgent),
		string(r.Action), r.ResourceType, str(r.ResourceID), details, changes, str(r.RequestID),
		str(r.SessionID), string(r.Status), str(r.ErrorMessage), str(r.TenantID), str(r.TraceID), str(r.SpanID)}
}

func TestAppendOneSQL(t *testing.T) {
	s, mock := newMock(t, nil)
	r := storetest.Record(1)
	r.IPAddress, r.Details, r.ErrorMessage = netip.Addr{}, nil, ""
	expectEnsure(mock, `{"2026-03-01"}`)
	one := mock.ExpectPrepare(sqlInsertOne) // once, for every lone record
	one.ExpectExec().WithArgs(args(r)...).WillReturnResult(sqlmock.NewResult(0, 1))
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	// known partitions are not created again
	one.ExpectExec().WithArgs(args(r)...).WillReturnResult(sqlmock.NewResult(0, 0))
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	// an Unprepared store sends the plain statement
	s, mock = newMock(t, &postgres.Options{Unprepared: true})
	expectEnsure(mock, `{"2026-03-01"}`)
	mock.ExpectExec(sqlInsertOne).WithArgs(args(r)...).WillReturnResult(sqlmock.NewResult(0, 1))
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

// expectCopy expects the COPY of rs, in that order, with the statement q.
func expectCopy(mock sqlmock.Sqlmock, q string, rs []audit.Record) {
	prep := mock.ExpectPrepare(q)
	for _, r := range rs {
		prep.ExpectExec().WithArgs(args(r)...).WillReturnResult(sqlmock.NewResult(0, 0))
	}
	prep.ExpectExec().WithoutArgs().WillReturnResult(sqlmock.NewResult(0, int64(len(rs))))
	prep.WillBeClosed()
}

// expectDirect expects a batch copied straight into the table.
func expectDirect(mock sqlmock.Sqlmock, rs []audit.Record) {
	mock.ExpectBegin()
	expectCopy(mock, sqlCopyTable, rs)
	mock.ExpectCommit()
}

// expectStaging expects a batch moved through the staging table, within
// a transaction.
func expectStaging(mock sqlmock.Sqlmock, rs []audit.Record) {
	mock.ExpectExec(sqlCreateStaging).WillReturnResult(sqlmock.NewResult(0, 0))
	expectCopy(mock, sqlCopyStaging, rs)
	mock.ExpectExec(sqlFromStaging).WillReturnResult(sqlmock.NewResult(0, int64(len(rs))))
}

func TestAppendBatchSQL(t *testing.T) {
	s, mock := newMock(t, nil)
	rs := storetest.Records(0, 3)
	rs[2].OccurredAt = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC) // default partition: no creation
	expectEnsure(mock, `{"2026-03-01"}`)
	expectDirect(mock, rs)
	if err := s.Append(context.Background(), rs...); err != nil {
		t.Fatal(err)
	}
}

// A batch that meets a stored record, or a deadlock, goes again through
// the staging table.
func TestAppendFallsBackToStaging(t *testing.T) {
	rs := storetest.Records(0, 3)
	for _, cause := range []*pq.Error{
		{Code: "23505", Message: `duplicate key value violates unique constraint "audit_logs_p202603_pkey"`},
		{Code: "40P01", Message: "deadlock detected"},
	} {
		t.Run(string(cause.Code), func(t *testing.T) {
			s, mock := newMock(t, nil)
			expectEnsure(mock, `{"2026-03-01"}`)
			mock.ExpectBegin()
			prep := mock.ExpectPrepare(sqlCopyTable)
			for _, r := range rs {
				prep.ExpectExec().WithArgs(args(r)...).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			prep.ExpectExec().WithoutArgs().WillReturnError(cause)
			prep.WillBeClosed()
			mock.ExpectRollback()
			mock.ExpectBegin()
			expectStaging(mock, rs)
			mock.ExpectCommit()
			if err := s.Append(context.Background(), rs...); err != nil {
				t.Errorf("Append: %v", err)
			}
		})
	}
}

// Records are copied in ("timestamp", id) order, whatever their order in
// the call, and an error names the record by its place in the call.
func TestAppendCopiesInKeyOrder(t *testing.T) {
	s, mock := newMock(t, nil)
	rs := storetest.Records(0, 4)
	rs[3].OccurredAt = rs[1].OccurredAt
	rs[1].ID, rs[3].ID = uuid.MustParse("ffffffff-0000-7000-8000-000000000000"), uuid.MustParse("00000000-0000-7000-8000-000000000000")
	given := []audit.Record{rs[2], rs[1], rs[0], rs[3]}
	expectEnsure(mock, `{"2026-03-01"}`)
	mock.ExpectBegin()
	prep := mock.ExpectPrepare(sqlCopyTable)
	for _, r := range []audit.Record{rs[0], rs[3], rs[1], rs[2]} {
		prep.ExpectExec().WithArgs(args(r)...).WillReturnResult(sqlmock.NewResult(0, 0))
	}
	prep.ExpectExec().WithoutArgs().WillReturnError(&pq.Error{Code: "22P02", Message: "invalid input syntax for type json",
		Where: `COPY audit_logs, line 3, column details: "{"`})
	prep.WillBeClosed()
	mock.ExpectRollback()
	err := s.Append(context.Background(), given...)
	if want := "record 1 (id " + rs[1].ID.String() + ")"; err == nil || !strings.Contains(err.Error(), want) || !storekit.IsPermanent(err) {
		t.Errorf("got %v, want a permanent error naming %s", err, want)
	}
	if given[0].ID != rs[2].ID || given[1].ID != rs[1].ID {
		t.Errorf("Append reordered its argument")
	}
}

func TestAppendInTxSQL(t *testing.T) {
	s, mock := newMock(t, nil)
	rs := storetest.Records(0, 2)
	mock.ExpectBegin() // the application's transaction; no partitions made in it
	expectStaging(mock, rs)
	mock.ExpectExec(sqlInsertOne).WithArgs(args(rs[0])...).WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectRollback()
	ctx := context.Background()
	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := s.Tx(tx)
	if err := ts.Append(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	if err := ts.Append(ctx, rs[0]); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
}

// failure is an error a step of Append can meet, and how the Store must
// classify it.
type failure struct {
	name      string
	err       error
	permanent bool
}

var failures = []failure{
	{"invalid text", &pq.Error{Code: "22P02", Message: "invalid input syntax for type json"}, true},
	{"NUL in jsonb", &pq.Error{Code: "22P05", Message: "unsupported Unicode escape sequence"}, true},
	{"bad encoding", &pq.Error{Code: "22021", Message: "invalid byte sequence for encoding"}, true},
	{"check violation", &pq.Error{Code: "23514", Message: "violates check constraint"}, true},
	{"not null", &pq.Error{Code: "23502", Message: "null value"}, true},
	{"index row too big", &pq.Error{Code: "54000", Message: "index row size exceeds maximum"}, true},
	{"serialization", &pq.Error{Code: "40001", Message: "could not serialize access"}, false},
	{"deadlock", &pq.Error{Code: "40P01", Message: "deadlock detected"}, false},
	{"admin shutdown", &pq.Error{Code: "57P01", Message: "terminating connection due to administrator command"}, false},
	{"crash shutdown", &pq.Error{Code: "57P02", Message: "terminating connection because of crash"}, false},
	{"starting up", &pq.Error{Code: "57P03", Message: "the database system is starting up"}, false},
	{"cancelled", &pq.Error{Code: "57014", Message: "canceling statement due to statement timeout"}, false},
	{"lock timeout", &pq.Error{Code: "55P03", Message: "canceling statement due to lock timeout"}, false},
	{"connection failure", &pq.Error{Code: "08006", Message: "connection failure"}, false},
	{"too many connections", &pq.Error{Code: "53300", Message: "too many connections"}, false},
	{"missing table", &pq.Error{Code: "42P01", Message: "relation does not exist"}, false},
	{"no privilege", &pq.Error{Code: "42501", Message: "permission denied"}, false},
	{"unexpected EOF", io.ErrUnexpectedEOF, false},
	{"connection reset", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, false},
	{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, false},
	{"deadline", context.DeadlineExceeded, false},
}

func checkFailure(t *testing.T, err error, f failure) {
	t.Helper()
	if !errors.Is(err, f.err) {
		t.Errorf("got %v, want an error wrapping %v", err, f.err)
	}
	if err != nil && !strings.HasPrefix(err.Error(), "audit: postgres: ") {
		t.Errorf("got %q, want the prefix %q", err, "audit: postgres: ")
	}
	if got := storekit.IsPermanent(err); got != f.permanent {
		t.Errorf("IsPermanent(%v): got %v, want %v", err, got, f.permanent)
	}
}

func TestAppendOneErrors(t *testing.T) {
	for _, f := range failures {
		t.Run(f.name, func(t *testing.T) {
			s, mock := newMock(t, &postgres.Options{Now: func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) }})
			r := storetest.Record(1)
			expectEnsure(mock, `{"2026-03-01"}`)
			mock.ExpectPrepare(sqlInsertOne).ExpectExec().WithArgs(args(r)...).WillReturnError(f.err)
			checkFailure(t, s.Append(context.Background(), r), f)
		})
		t.Run(f.name+" preparing", func(t *testing.T) {
			s, mock := newMock(t, &postgres.Options{Now: func() time.Time { return time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC) }})
			r := storetest.Record(1)
			expectEnsure(mock, `{"2026-03-01"}`)
			mock.ExpectPrepare(sqlInsertOne).WillReturnError(f.err)
			checkFailure(t, s.Append(context.Background(), r), f)
		})
	}
}

func TestAppendBatchErrors(t *testing.T) {
	rs := storetest.Records(0, 3)
	// failDirect makes the COPY straight into the table fail with a
	// unique violation, as for a retried batch: the staging path follows.
	failDirect := func(mock sqlmock.Sqlmock) {
		mock.ExpectBegin()
		prep := mock.ExpectPrepare(sqlCopyTable)
		prep.ExpectExec().WithArgs(args(rs[0])...).WillReturnError(&pq.Error{Code: "23505", Message: "duplicate key value"})
		prep.WillBeClosed()
		mock.ExpectRollback()
	}
	steps := []struct {
		name   string
		expect func(mock sqlmock.Sqlmock, err error)
	}{
		{"begin", func(mock sqlmock.Sqlmock, err error) { mock.ExpectBegin().WillReturnError(err) }},
		{"copy row", func(mock sqlmock.Sqlmock, err error) {
			mock.ExpectBegin()
			prep := mock.ExpectPrepare(sqlCopyTable)
			prep.ExpectExec().WithArgs(args(rs[0])...).WillReturnResult(sqlmock.NewResult(0, 0))
			prep.ExpectExec().WithArgs(args(rs[1])...).WillReturnError(err)
			prep.WillBeClosed()
			mock.ExpectRollback()
		}},
		{"end of copy", func(mock sqlmock.Sqlmock, err error) {
			mock.ExpectBegin()
			prep := mock.ExpectPrepare(sqlCopyTable)
			for _, r := range rs {
				prep.ExpectExec().WithArgs(args(r)...).WillReturnResult(sqlmock.NewResult(0, 0))
			}
			prep.ExpectExec().WithoutArgs().WillReturnError(err)
			prep.WillBeClosed()
			mock.ExpectRollback()
		}},
		{"commit", func(mock sqlmock.Sqlmock, err error) {
			mock.ExpectBegin()
			expectCopy(mock, sqlCopyTable, rs)
			mock.ExpectCommit().WillReturnError(err)
		}},
		{"staging table", func(mock sqlmock.Sqlmock, err error) {
			failDirect(mock)
			mock.ExpectBegin()
			mock.ExpectExec(sqlCreateStaging).WillReturnError(err)
			mock.ExpectRollback()
		}},
		{"move from staging", func(mock sqlmock.Sqlmock, err error) {
			failDirect(mock)
			mock.ExpectBegin()
			mock.ExpectExec(sqlCreateStaging).WillReturnResult(sqlmock.NewResult(0, 0))
			expectCopy(mock, sqlCopyStaging, rs)
			mock.ExpectExec(sqlFromStaging).WillReturnError(err)
			mock.ExpectRollback()
		}},
		{"commit after staging", func(mock sqlmock.Sqlmock, err error) {
			failDirect(mock)
			mock.ExpectBegin()
			expectStaging(mock, rs)
			mock.ExpectCommit().WillReturnError(err)
		}},
	}
	for _, step := range steps {
		for _, f := range failures {
			if pqCode(f.err) == "40P01" && !strings.Contains(step.name, "staging") {
				continue // a deadlock in the first attempt leads to the staging path: TestAppendFallsBackToStaging
			}
			t.Run(step.name+"/"+f.name, func(t *testing.T) {
				s, mock := newMock(t, nil)
				expectEnsure(mock, `{"2026-03-01"}`)
				step.expect(mock, f.err)
				checkFailure(t, s.Append(context.Background(), rs...), f)
			})
		}
	}
	// A connection lost during COMMIT is transient: the Logger retries the
	// batch, which then meets its own records and takes the staging path.
	t.Run("commit/bad connection", func(t *testing.T) {
		s, mock := newMock(t, nil)
		expectEnsure(mock, `{"2026-03-01"}`)
		mock.ExpectBegin()
		expectCopy(mock, sqlCopyTable, rs)
		mock.ExpectCommit().WillReturnError(driver.ErrBadConn)
		checkFailure(t, s.Append(context.Background(), rs...), failure{err: driver.ErrBadConn})
	})
}

func TestAppendCopyErrorNamesRecord(t *testing.T) {
	s, mock := newMock(t, nil)
	rs := storetest.Records(0, 4)
	expectEnsure(mock, `{"2026-03-01"}`)
	mock.ExpectBegin()
	prep := mock.ExpectPrepare(sqlCopyTable)
	for _, r := range rs {
		prep.ExpectExec().WithArgs(args(r)...).WillReturnResult(sqlmock.NewResult(0, 0))
	}
	prep.ExpectExec().WithoutArgs().WillReturnError(&pq.Error{
		Code: "22P05", Message: "unsupported Unicode escape sequence",
		Where: "JSON data, line 1: {\"a\":\"\\u0000...\nCOPY audit_logs, line 3, column details: \"{\"a\":\"\\u0000\"}\"",
	})
	prep.WillBeClosed()
	mock.ExpectRollback()
	err := s.Append(context.Background(), rs...)
	if !storekit.IsPermanent(err) {
		t.Errorf("got %v, want a permanent error", err)
	}
	if want := "record 2 (id " + rs[2].ID.String() + ")"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want it to name %s", err, want)
	}
}

func TestAppendRefusesBadRecords(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *audit.Record)
		field  string
	}{
		{"nil id", func(r *audit.Record) { r.ID = uuid.Nil }, "id"},
		{"year 0", func(r *audit.Record) { r.OccurredAt = time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC) }, "timestamp"},
		{"year 10000", func(r *audit.Record) { r.OccurredAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "timestamp"},
		{"no action", func(r *audit.Record) { r.Action = " " }, "action"},
		{"no resource type", func(r *audit.Record) { r.ResourceType = "" }, "resource_type"},
		{"bad status", func(r *audit.Record) { r.Status = "maybe" }, "status"},
		{"IP zone", func(r *audit.Record) { r.IPAddress = netip.MustParseAddr("fe80::1%eth0") }, "ip_address"},
		{"NUL in user", func(r *audit.Record) { r.UserID = "a\x00b" }, "user_id"},
		{"invalid UTF-8 in agent", func(r *audit.Record) { r.UserAgent = "\xff\xfe" }, "user_agent"},
		{"NUL in error", func(r *audit.Record) { r.ErrorMessage = "\x00" }, "error_message"},
		{"NUL in session", func(r *audit.Record) { r.SessionID = "\x00" }, "session_id"},
		{"invalid UTF-8 in details", func(r *audit.Record) { r.Details = []byte("{\"a\":\"\xff\"}") }, "details"},
		{"malformed details", func(r *audit.Record) { r.Details = []byte(`{"a":`) }, "details"},
		{"details not an object", func(r *audit.Record) { r.Details = []byte(`[1,2]`) }, "details"},
		{"changes not an object", func(r *audit.Record) { r.Changes = []byte(`"x"`) }, "changes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newMock(t, nil) // expects nothing: no statement is sent
			rs := storetest.Records(0, 5)
			tt.change(&rs[3])
			for _, batch := range [][]audit.Record{rs, rs[3:4]} {
				err := s.Append(context.Background(), batch...)
				var re *postgres.RecordError
				if !storekit.IsPermanent(err) || !errors.As(err, &re) {
					t.Fatalf("got %v, want a permanent *RecordError", err)
				}
				want := 3 // the bad record's position in the batch
				if len(batch) == 1 {
					want = 0
				}
				if re.Field != tt.field || re.Index != want || re.ID != rs[3].ID {
					t.Errorf("got record %d (%s) field %q, want record %d (%s) field %q", re.Index, re.ID, re.Field, want, rs[3].ID, tt.field)
				}
				if !strings.HasPrefix(err.Error(), "audit: postgres: append") {
					t.Errorf("got %q, want the prefix audit: postgres: append", err)
				}
			}
		})
	}
}

func TestEnsureIsBestEffort(t *testing.T) {
	now := mockClock
	var reported []error
	s, mock := newMock(t, &postgres.Options{Now: func() time.Time { return now }, OnError: func(err error) { reported = append(reported, err) }})
	r := storetest.Record(1)
	refused := &pq.Error{Code: "42501", Message: "permission denied for function audit_logs_ensure_partitions"}
	mock.ExpectBegin()
	mock.ExpectExec("SET LOCAL lock_timeout = 2000").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(sqlEnsure).WithArgs(`{"2026-03-01"}`).WillReturnError(refused)
	mock.ExpectRollback()
	one := mock.ExpectPrepare(sqlInsertOne)
	one.ExpectExec().WithArgs(args(r)...).WillReturnResult(sqlmock.NewResult(0, 1))
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatalf("Append after a failed partition creation: %v", err)
	}
	if len(reported) != 1 || !errors.Is(reported[0], refused) || !strings.HasPrefix(reported[0].Error(), "audit: postgres: creating partitions") {
		t.Fatalf("error handler got %v, want one error wrapping %v", reported, refused)
	}
	// backing off: no new attempt for a while
	one.ExpectExec().WithArgs(args(r)...).WillReturnResult(sqlmock.NewResult(0, 0))
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	expectEnsure(mock, `{"2026-03-01"}`)
	one.ExpectExec().WithArgs(args(r)...).WillReturnResult(sqlmock.NewResult(0, 0))
	if err := s.Append(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

func TestEnsureMonthsAheadAndInWindow(t *testing.T) {
	s, mock := newMock(t, &postgres.Options{PartitionsPast: 2, PartitionsAhead: 1})
	rs := storetest.Records(0, 2)
	rs[0].OccurredAt = time.Date(2026, 1, 31, 23, 59, 59, 0, time.UTC)  // 2 months back: in the window
	rs[1].OccurredAt = time.Date(2025, 12, 31, 23, 59, 59, 0, time.UTC) // 3 months back: default partition
	expectEnsure(mock, `{"2026-03-01","2026-04-01","2026-01-01"}`)
	expectDirect(mock, []audit.Record{rs[1], rs[0]}) // in key order
	if err := s.Append(context.Background(), rs...); err != nil {
		t.Fatal(err)
	}
}

func TestQuerySQL(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 535897123, time.FixedZone("X", 3600))
	id := uuid.MustParse("01890a5d-ac96-774b-bcce-b302099a8057")
	cursor := storekit.CursorAfter(&audit.Record{OccurredAt: t0.Truncate(time.Microsecond), ID: id}).String()
	walk := storekit.CursorAfter(&audit.Record{OccurredAt: t0.Truncate(time.Microsecond), ID: id})
	walk.Horizon = postgres.SnapshotHorizon("1000:1300:1001,1299")
	walkCursor := walk.String()
	order := ` ORDER BY "timestamp" DESC, id DESC LIMIT `
	tests := []struct {
		name  string
		f     audit.Filter
		where string
		args  []driver.Value
		limit string
	}{
		{"all", audit.Filter{}, "", nil, "101"},
		{"user", audit.Filter{UserID: "u' OR '1'='1", Limit: 7}, " WHERE user_id = $1", []driver.Value{"u' OR '1'='1"}, "8"},
		{"action", audit.Filter{Action: audit.ActionUserLogin}, " WHERE action = $1", []driver.Value{"user.login"}, "101"},
		{"prefix", audit.Filter{ActionPrefix: `a%b_c\d.`}, " WHERE action >= $1 AND action < $2", []driver.Value{`a%b_c\d.`, `a%b_c\d/`}, "101"},
		{"resource", audit.Filter{ResourceType: "document", ResourceID: "42"},
			" WHERE resource_type = $1 AND resource_id = $2", []driver.Value{"document", "42"}, "101"},
		{"status and request", audit.Filter{Status: audit.StatusError, RequestID: "r"},
			" WHERE status = $1 AND request_id = $2", []driver.Value{"error", "r"}, "101"},
		{"tenant and trace", audit.Filter{TenantID: "org' --", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", UserID: "u"},
			" WHERE user_id = $1 AND tenant_id = $2 AND trace_id = $3", []driver.Value{"u", "org' --", "4bf92f3577b34da6a3ce929d0e0e4736"}, "101"},
		{"time", audit.Filter{Since: t0, Until: t0.Add(time.Hour), Limit: 1000},
			` WHERE "timestamp" >= $1 AND "timestamp" < $2`,
			[]driver.Value{t0.UTC().Truncate(time.Microsecond), t0.Add(time.Hour).UTC().Truncate(time.Microsecond)}, "1001"},
		{"cursor", audit.Filter{UserID: "u", Cursor: cursor},
			` WHERE user_id = $1 AND "timestamp" <= $2 AND ("timestamp", id) < ($2::timestamptz, $3::uuid)`,
			[]driver.Value{"u", t0.UTC().Truncate(time.Microsecond), id.String()}, "101"},
		{"cursor with a horizon", audit.Filter{UserID: "u", Cursor: walkCursor},
			` WHERE user_id = $1 AND "timestamp" <= $2 AND ("timestamp", id) < ($2::timestamptz, $3::uuid) AND pg_visible_in_snapshot(xid, $4::pg_snapshot)`,
			[]driver.Value{"u", t0.UTC().Truncate(time.Microsecond), id.String(), "1000:1300:1001,1299"}, "101"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, mock := newMock(t, nil)
			o := order
			if tt.f.RequestID != "" && tt.f.UserID == "" {
				o = ` ORDER BY "timestamp" + interval '0' DESC, id DESC LIMIT ` // read by its own index, then sorted
			}
			sel := sqlSelect
			if tt.f.Cursor == "" { // a first page reads its snapshot
				sel = `SELECT (SELECT pg_current_snapshot())::text, ` + strings.TrimPrefix(sqlSelect, "SELECT ")
			}
			prepared := false
			expectPage := func() {
				var q *sqlmock.ExpectedQuery
				switch {
				case !postgres.Preparable(&tt.f):
					q = mock.ExpectQuery(sel + tt.where + o + tt.limit)
				case !prepared: // prepared once, at its first use
					q = mock.ExpectPrepare(sel + tt.where + o + tt.limit).ExpectQuery()
					prepared = true
				default:
					q = mock.ExpectQuery(sel + tt.where + o + tt.limit)
				}
				if tt.args != nil {
					q.WithArgs(tt.args...)
				} else {
					q.WithoutArgs()
				}
				q.WillReturnRows(sqlmock.NewRows([]string{"id"}))
			}
			expectPage()
			wantTail := ""
			if tt.f.Cursor == walkCursor { // every page of a walk carries its tail
				wantTail = storekit.Tail(walk.Horizon)
			}
			if tt.f.Cursor == "" && tt.f.After != "" {
				// an empty first page of a tail: a snapshot, then the page again
				mock.ExpectQuery(`SELECT pg_current_snapshot()::text`).WithoutArgs().
					WillReturnRows(sqlmock.NewRows([]string{"s"}).AddRow("10:12:11"))
				expectPage()
				wantTail = storekit.Tail(postgres.SnapshotHorizon("10:12:11"))
			}
			p, err := s.Query(context.Background(), tt.f)
			if err != nil || len(p.Records) != 0 || p.NextCursor != "" || p.Tail != wantTail {
				t.Errorf("got %+v, %v; want an empty page with tail %q", p, err, wantTail)
			}
		})
	}
}

var recordColumns = []string{"id", "timestamp", "recorded_at", "user_id", "user_email", "ip", "user_agent", "action",
	"resource_type", "resource_id", "details", "changes", "request_id", "session_id", "status", "error_message",
	"tenant_id", "trace_id", "span_id"}

func recordRow(r audit.Record) []driver.Value {
	ip := ""
	if r.IPAddress.IsValid() {
		ip = r.IPAddress.String()
	}
	return []driver.Value{r.ID.String(), r.OccurredAt.In(time.FixedZone("X", 3600)), r.OccurredAt, r.UserID, r.UserEmail, ip,
		r.UserAgent, string(r.Action), r.ResourceType, r.ResourceID, []byte(r.Details), []byte(r.Changes),
		r.RequestID, r.SessionID, string(r.Status), r.ErrorMessage, r.TenantID, r.TraceID, r.SpanID}
}

func TestQueryPages(t *testing.T) {
	s, mock := newMock(t, nil)
	rs := storetest.Records(0, 3)
	rs[2].IPAddress, rs[2].Details, rs[2].Changes = netip.Addr{}, nil, nil
	// a first page reads its snapshot, the horizon of its walk
	const snap = "1000:1300:1001,1299"
	rows := sqlmock.NewRows(append([]string{"snapshot"}, recordColumns...))
	for _, r := range rs {
		rows.AddRow(append([]driver.Value{snap}, recordRow(r)...)...)
	}
	mock.ExpectPrepare(`SELECT (SELECT pg_current_snapshot())::text, ` + strings.TrimPrefix(sqlSelect, "SELECT ") +
		` ORDER BY "timestamp" DESC, id DESC LIMIT 3`).ExpectQuery().WillReturnRows(rows)
	p, err := s.Query(context.Background(), audit.Filter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Records) != 2 {
		t.Fatalf("got %d records, want 2", len(p.Records))
	}
	c := storekit.CursorAfter(&rs[1])
	c.Horizon = postgres.SnapshotHorizon(snap)
	if want := c.String(); p.NextCursor != want {
		t.Errorf("got next cursor %q, want %q", p.NextCursor, want)
	}
	if got, ok := postgres.HorizonSnapshot(c.Horizon); got != snap || !ok {
		t.Errorf("the horizon of %s reads back as %q, %v", snap, got, ok)
	}
	if want := storekit.Tail(c.Horizon); p.Tail != want {
		t.Errorf("got tail %q, want %q", p.Tail, want)
	}
	for i, g := range p.Records {
		if d := storetest.Equal(g, rs[i]); d != "" {
			t.Errorf("record %d: %s", i, d)
		}
		if g.OccurredAt.Location() != time.UTC {
			t.Errorf("record %d: OccurredAt in %v, want UTC", i, g.OccurredAt.Location())
		}
	}
	// the record without IP or JSON
	rows = sqlmock.NewRows(recordColumns).AddRow(recordRow(rs[2])...)
	mock.ExpectPrepare(sqlSelect + ` WHERE id = $1 ORDER BY recorded_at, "timestamp" LIMIT 1`).ExpectQuery().WithArgs(rs[2].ID.String()).WillReturnRows(rows)
	g, err := s.Get(context.Background(), rs[2].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d := storetest.Equal(g, rs[2]); d != "" || g.IPAddress.IsValid() || g.Details != nil {
		t.Errorf("Get: %s (IP %v, details %q)", d, g.IPAddress, g.Details)
	}
}

func TestGetNotFound(t *testing.T) {
	s, mock := newMock(t, nil)
	id := uuid.New()
	mock.ExpectPrepare(sqlSelect + ` WHERE id = $1 ORDER BY recorded_at, "timestamp" LIMIT 1`).ExpectQuery().WithArgs(id.String()).
		WillReturnRows(sqlmock.NewRows(recordColumns))
	_, err := s.Get(context.Background(), id)
	if !errors.Is(err, audit.ErrNotFound) || !strings.HasPrefix(err.Error(), "audit: postgres: get "+id.String()) {
		t.Errorf("got %v, want ErrNotFound with the prefix audit: postgres: get", err)
	}
}

func TestQueryInvalidFilterSendsNothing(t *testing.T) {
	s, _ := newMock(t, nil)
	_, err := s.Query(context.Background(), audit.Filter{UserID: "a\x00"})
	var fe *audit.FieldError
	if !errors.Is(err, audit.ErrInvalidFilter) || !errors.As(err, &fe) || fe.Field != "user_id" {
		t.Errorf("got %v, want ErrInvalidFilter naming user_id", err)
	}
}

func TestPurgeSQL(t *testing.T) {
	s, mock := newMock(t, &postgres.Options{PurgeBatch: 10})
	cutoff := time.Date(2026, 1, 11, 15, 9, 26, 535897999, time.UTC)
	c := cutoff.Truncate(time.Microsecond)
	mock.ExpectBegin()
	mock.ExpectExec("SET LOCAL lock_timeout = 5000").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectQuery(`SELECT "audit"."audit_logs_drop_partitions"($1)`).WithArgs(c).
		WillReturnRows(sqlmock.NewRows([]string{"n"}).AddRow(int64(7)))
	mock.ExpectCommit()
	purge := `SELECT "audit"."audit_logs_purge_rows"($1, $2)`
	mock.ExpectQuery(purge).WithArgs(c, int64(10)).WillReturnRows(sqlmock.NewRows([]string{"n"}).AddRow(int64(10)))
	mock.ExpectQuery(purge).WithArgs(c, int64(10)).WillReturnRows(sqlmock.NewRows([]string{"n"}).AddRow(int64(3)))
	n, err := s.Purge(context.Background(), cutoff)
	if n != 20 || err != nil {
		t.Errorf("Purge: got %d, %v; want 20, nil", n, err)
	}
}

func TestPurgeError(t *testing.T) {
	s, mock := newMock(t, nil)
	cutoff := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	timeout := &pq.Error{Code: "55P03", Message: "canceling statement due to lock timeout"}
	mock.ExpectBegin()
	mock.ExpectExec("SET LOCAL lock_timeout = 5000").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectQuery(`SELECT "audit"."audit_logs_drop_partitions"($1)`).WithArgs(cutoff).WillReturnError(timeout)
	mock.ExpectRollback()
	n, err := s.Purge(context.Background(), cutoff)
	if n != 0 || !errors.Is(err, timeout) || !strings.HasPrefix(err.Error(), "audit: postgres: purge") {
		t.Errorf("Purge: got %d, %v; want 0 and an error wrapping %v", n, err, timeout)
	}
}

func TestMigrateSQL(t *testing.T) {
	db, mock, err := sqlmock.New(sqlmock.QueryMatcherOption(sqlmock.QueryMatcherFunc(func(want, got string) error {
		if !regexp.MustCompile(want).MatchString(got) {
			return errors.New("got " + got)
		}
		return nil
	})))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := postgres.New(sqlx.NewDb(db, "postgres"), &postgres.Options{Schema: "audit", PartitionsPast: postgres.NoPartitions, PartitionsAhead: 1, Now: func() time.Time { return mockClock }})
	if err != nil {
		t.Fatal(err)
	}
	q := regexp.QuoteMeta
	expectStart := func(versions ...int64) {
		mock.ExpectBegin()
		mock.ExpectExec(q("SELECT pg_advisory_xact_lock($1)")).WithArgs(sqlmock.AnyArg()).WillReturnResult(sqlmock.NewResult(0, 0))
		mock.ExpectExec(q(`CREATE SCHEMA IF NOT EXISTS "audit"`)).WillReturnResult(sqlmock.NewResult(0, 0))
		mock.ExpectExec(q(`CREATE TABLE IF NOT EXISTS "audit"."audit_logs_migrations"`)).WillReturnResult(sqlmock.NewResult(0, 0))
		rows := sqlmock.NewRows([]string{"version"})
		for _, v := range versions {
			rows.AddRow(v)
		}
		mock.ExpectQuery(q(`SELECT version FROM "audit"."audit_logs_migrations"`)).WillReturnRows(rows)
	}
	expectEnsure := func() {
		mock.ExpectBegin()
		mock.ExpectExec("SET LOCAL lock_timeout = 2000").WillReturnResult(sqlmock.NewResult(0, 0))
		mock.ExpectExec(q(sqlEnsure)).WithArgs(`{"2026-03-01","2026-04-01"}`).WillReturnResult(sqlmock.NewResult(0, 1))
		mock.ExpectCommit()
	}
	// a new database
	expectStart()
	mock.ExpectExec(`(?s)^-- The audit table.*CREATE TABLE "audit"\."audit_logs" \(.*PARTITION BY RANGE \("timestamp"\)`).WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(q(`INSERT INTO "audit"."audit_logs_migrations" (version, name) VALUES (1, 'audit_log') ON CONFLICT DO NOTHING`)).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectExec(`(?s)^-- The hash chain.*ALTER TABLE "audit"\."audit_logs" ADD COLUMN xid xid8`).WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(q(`INSERT INTO "audit"."audit_logs_migrations" (version, name) VALUES (2, 'chain') ON CONFLICT DO NOTHING`)).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectExec(`(?s)^-- Hardening.*CREATE TABLE "audit"\."audit_logs_settings"`).WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(q(`INSERT INTO "audit"."audit_logs_migrations" (version, name) VALUES (3, 'hardening') ON CONFLICT DO NOTHING`)).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectExec(`(?s)^-- Tenants and trace correlation.*ADD COLUMN tenant_id text`).WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(q(`INSERT INTO "audit"."audit_logs_migrations" (version, name) VALUES (4, 'tenant_trace') ON CONFLICT DO NOTHING`)).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectExec(`(?s)^-- Retention per tenant.*ADD COLUMN tenant_tag bytea`).WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(q(`INSERT INTO "audit"."audit_logs_migrations" (version, name) VALUES (5, 'tenant_retention') ON CONFLICT DO NOTHING`)).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectExec(`(?s)^-- The Merkle tree.*CREATE TABLE "audit"\."audit_logs_tree_leaves"`).WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(q(`INSERT INTO "audit"."audit_logs_migrations" (version, name) VALUES (6, 'tree') ON CONFLICT DO NOTHING`)).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectExec(`(?s)^-- Stream positions.*CREATE TABLE "audit"\."audit_logs_stream_positions"`).WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(q(`INSERT INTO "audit"."audit_logs_migrations" (version, name) VALUES (7, 'stream_positions') ON CONFLICT DO NOTHING`)).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectExec(`(?s)^-- Runs of leaves.*ALTER TABLE "audit"\."audit_logs_tree_leaves" ADD COLUMN n integer`).WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(q(`INSERT INTO "audit"."audit_logs_migrations" (version, name) VALUES (8, 'leaf_runs') ON CONFLICT DO NOTHING`)).WillReturnResult(sqlmock.NewResult(0, 1))
	mock.ExpectCommit()
	expectEnsure()
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	// up to date
	expectStart(1, 2, 3, 4, 5, 6, 7, 8)
	mock.ExpectCommit()
	mock.ExpectBegin() // the partitions are known now: only the ensure call of Migrate
	mock.ExpectExec("SET LOCAL lock_timeout = 2000").WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectExec(q(sqlEnsure)).WithArgs(`{"2026-03-01","2026-04-01"}`).WillReturnResult(sqlmock.NewResult(0, 0))
	mock.ExpectCommit()
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	// a database newer than the program
	expectStart(1, 99)
	mock.ExpectRollback()
	if err := s.Migrate(context.Background()); err == nil || !strings.Contains(err.Error(), "version 99, newer than this program") {
		t.Errorf("Migrate of a newer database: got %v, want an error naming version 99", err)
	}
	if err := mock.ExpectationsWereMet(); err != nil {
		t.Error(err)
	}
}

func TestOptions(t *testing.T) {
	db, _, err := sqlmock.New()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	x := sqlx.NewDb(db, "postgres")
	tests := []struct {
		name string
		opts postgres.Options
		ok   bool
	}{
		{"schema", postgres.Options{Schema: "tenant_1"}, true},
		{"table", postgres.Options{Table: "events"}, true},
		{"upper-case schema", postgres.Options{Schema: "Audit"}, false},
		{"quote in table", postgres.Options{Table: `a"b`}, false},
		{"SQL in schema", postgres.Options{Schema: "x; DROP TABLE y"}, false},
		{"digit first", postgres.Options{Table: "1audit"}, false},
		{"long table", postgres.Options{Table: strings.Repeat("a", 41)}, false},
		{"40 bytes", postgres.Options{Table: strings.Repeat("a", 40)}, true},
		{"negative months", postgres.Options{PartitionsPast: -2, PartitionsAhead: 3}, false},
		{"no partitions", postgres.Options{PartitionsPast: postgres.NoPartitions, PartitionsAhead: postgres.NoPartitions}, true},
		{"purge batch", postgres.Options{PurgeBatch: -1}, false},
		{"zero value", postgres.Options{}, true},
	}
	for _, tt := range tests {
		_, err := postgres.New(x, &tt.opts)
		if (err == nil) != tt.ok {
			t.Errorf("%s: got %v, want ok %v", tt.name, err, tt.ok)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "audit: postgres: ") {
			t.Errorf("%s: got %q, want the prefix audit: postgres:", tt.name, err)
		}
	}
	if _, err := postgres.New(nil, nil); err == nil {
		t.Errorf("New(nil): got no error")
	}
}

// TestSnapshotHorizon: a snapshot round-trips through a cursor's
// horizon; one with more in-progress transactions than a horizon holds
// becomes "xmin:xmin:", which sees only what is older than all of them.
func TestSnapshotHorizon(t *testing.T) {
	many := make([]string, 3000)
	for i := range many {
		many[i] = strconv.Itoa(100000 + 3*i)
	}
	tests := []struct{ snap, want string }{
		{"5:5:", "5:5:"},
		{"100:130:", "100:130:"},
		{"100:130:100,101,129", "100:130:100,101,129"},
		{"18446744073709551000:18446744073709551615:18446744073709551001", "18446744073709551000:18446744073709551615:18446744073709551001"},
		{"100000:200000:" + strings.Join(many, ","), "100000:100000:"},
	}
	for _, tt := range tests {
		h := postgres.SnapshotHorizon(tt.snap)
		if len(h) > storekit.MaxHorizon {
			t.Errorf("%.40s: a horizon of %d bytes", tt.snap, len(h))
		}
		if got, ok := postgres.HorizonSnapshot(h); !ok || got != tt.want {
			t.Errorf("%.40s: got %q, %v; want %q", tt.snap, got, ok, tt.want)
		}
	}
	for _, bad := range []string{"", "1:2", "2:1:", "1:5:7", "x:5:", "1:5:3,2"} {
		if h := postgres.SnapshotHorizon(bad); h != nil {
			if got, ok := postgres.HorizonSnapshot(h); ok {
				t.Errorf("%q: a horizon reading back as %q", bad, got)
			}
		}
	}
}

// TestQueryTailSQL: a tail (Filter.After) reads the records its walk's
// snapshot did not see, from the (xid, id) index, then sorts them; an
// empty first page of a tail takes a snapshot and reads the page again,
// and gets that snapshot as its tail.
func TestQueryTailSQL(t *testing.T) {
	s, mock := newMock(t, nil)
	const snap = "1000:1300:1001,1299"
	after := storekit.Tail(postgres.SnapshotHorizon(snap))
	page := `SELECT (SELECT pg_current_snapshot())::text, ` + strings.TrimSuffix(strings.TrimPrefix(sqlSelect, "SELECT "), ` FROM "audit"."audit_logs"`) +
		` FROM (SELECT * FROM "audit"."audit_logs" WHERE xid >= $1::xid8 AND xid < pg_snapshot_xmax(pg_current_snapshot()) OFFSET 0) AS e` +
		` WHERE user_id = $2 AND NOT pg_visible_in_snapshot(xid, $3::pg_snapshot) ORDER BY "timestamp" DESC, id DESC LIMIT 101`
	args := []driver.Value{"1000", "u", snap}
	mock.ExpectQuery(page).WithArgs(args...).WillReturnRows(sqlmock.NewRows([]string{"id"}))
	mock.ExpectQuery(`SELECT pg_current_snapshot()::text`).WithoutArgs().WillReturnRows(sqlmock.NewRows([]string{"s"}).AddRow("1290:1400:1299"))
	mock.ExpectQuery(page).WithArgs(args...).WillReturnRows(sqlmock.NewRows([]string{"id"}))
	p, err := s.Query(context.Background(), audit.Filter{UserID: "u", After: after})
	if want := storekit.Tail(postgres.SnapshotHorizon("1290:1400:1299")); err != nil || len(p.Records) != 0 || p.Tail != want {
		t.Errorf("got %+v, %v; want an empty page with tail %q", p, err, want)
	}
}
