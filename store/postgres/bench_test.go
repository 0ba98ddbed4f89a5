package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storekit"
)

// The write benchmarks compare, in one run and on one table with all its
// indexes, three ways to store the same events:
//
//	BenchmarkNaiveInsert          the reference design: one INSERT, one COMMIT per event
//	BenchmarkCopyBaseline         raw COPY of 1000-event batches straight into the table
//	BenchmarkLoggerAsyncPostgres  audit.Logger, Async, into the Store
//
// Each reports events/s. Run them together:
//
//	go test ./store/postgres/ -run '^$' -bench 'Naive|CopyBaseline|LoggerAsync' -benchtime 5s

// benchDetails is the details of a typical event, as audit.Logger encodes
// them.
var benchDetails = map[string]any{"title": "Quarterly report", "size": 1234, "tags": []string{"a", "b"}}

func benchEvent() audit.Event {
	return audit.Event{
		UserID: "user-42", UserEmail: "ada@example.com", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)",
		IPAddress: netip.MustParseAddr("192.0.2.7"),
		Action:    audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "doc-7",
		Details: benchDetails, RequestID: "req-1", SessionID: "sess-1", Status: audit.StatusSuccess,
	}
}

// benchRecord is benchEvent as the Logger hands it to a store.
func benchRecord(t time.Time) audit.Record {
	d, _ := json.Marshal(benchDetails)
	details, _ := storekit.CanonicalJSON(d)
	ev := benchEvent()
	return audit.Record{
		ID: uuid.Must(uuid.NewV7()), OccurredAt: t.UTC().Truncate(time.Microsecond),
		UserID: ev.UserID, UserEmail: ev.UserEmail, IPAddress: ev.IPAddress, UserAgent: ev.UserAgent,
		Action: ev.Action, ResourceType: ev.ResourceType, ResourceID: ev.ResourceID, Details: details,
		RequestID: ev.RequestID, SessionID: ev.SessionID, Status: ev.Status,
	}
}

func reportRate(b *testing.B, n int, elapsed time.Duration) {
	b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
}

// naiveInsert is the reference design's statement.
const naiveInsert = `INSERT INTO %s (id, "timestamp", user_id, user_email, ip_address, user_agent, action,
resource_type, resource_id, details, changes, request_id, session_id, status, error_message)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`

func BenchmarkNaiveInsert(b *testing.B) {
	schema, db := benchSchema(b)
	q := strings.Replace(naiveInsert, "%s", schema+".audit_logs", 1)
	ctx := context.Background()
	r := benchRecord(time.Now())
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		r.ID = uuid.Must(uuid.NewV7())
		r.OccurredAt = time.Now().UTC().Truncate(time.Microsecond)
		if _, err := db.ExecContext(ctx, q, values(&r)...); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportRate(b, n, time.Since(start))
}

func BenchmarkCopyBaseline(b *testing.B) {
	schema, db := benchSchema(b)
	copyStmt := `COPY ` + schema + `.audit_logs (id, "timestamp", user_id, user_email, ip_address, user_agent, action,
resource_type, resource_id, details, changes, request_id, session_id, status, error_message) FROM STDIN`
	ctx := context.Background()
	const batch = 1000
	rs := make([]audit.Record, 0, batch)
	flush := func() {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		stmt, err := tx.PrepareContext(ctx, copyStmt)
		if err != nil {
			b.Fatal(err)
		}
		for i := range rs {
			if _, err := stmt.ExecContext(ctx, values(&rs[i])...); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := stmt.ExecContext(ctx); err != nil {
			b.Fatal(err)
		}
		if err := stmt.Close(); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		rs = rs[:0]
	}
	tmpl := benchRecord(time.Now()) // the record is built once: only ID and time change
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		r := tmpl
		r.ID = uuid.Must(uuid.NewV7())
		r.OccurredAt = time.Now().UTC().Truncate(time.Microsecond)
		rs = append(rs, r)
		if len(rs) == batch {
			flush()
		}
		n++
	}
	if len(rs) > 0 {
		flush()
	}
	reportRate(b, n, time.Since(start))
}

func BenchmarkLoggerAsyncPostgres(b *testing.B) {
	schema, db := benchSchema(b)
	s, err := postgres.New(db, &postgres.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, Async: audit.AsyncOptions{BatchSize: 1000, BlockTimeout: time.Minute}, OnError: func(err error) { b.Error(err) }})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close(context.Background())
	ctx := context.Background()
	ev := benchEvent()
	b.ReportAllocs()
	n := 0
	start := time.Now()
	for b.Loop() {
		if err := l.Log(ctx, ev); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := l.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	reportRate(b, n, time.Since(start))
}

// benchSchema returns a migrated schema of its own and the shared pool.
func benchSchema(b *testing.B) (string, *sqlx.DB) {
	b.Helper()
	schema := newSchema(b)
	s, err := postgres.New(testDB(b), &postgres.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return schema, testDB(b)
}

// values are the column values of r, as the benchmarks' own statements
// take them.
func values(r *audit.Record) []any {
	return []any{r.ID.String(), r.OccurredAt, r.UserID, r.UserEmail, r.IPAddress.String(), r.UserAgent,
		string(r.Action), r.ResourceType, r.ResourceID, string(r.Details), nil, r.RequestID, r.SessionID,
		string(r.Status), nil}
}

// queryRows is the size of the table of BenchmarkQuery;
// AUDIT_BENCH_ROWS overrides it for quicker runs.
func queryRows(b *testing.B) int {
	if v := os.Getenv("AUDIT_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		return n
	}
	return 1_000_000
}

// BenchmarkQuery measures the latency of one page (100 records) for each
// filter on a table of 1M records over six months, with random values per
// query, and reports its 50th and 95th percentiles. Making the table takes
// about a minute; run it alone:
//
//	go test ./store/postgres/ -run '^$' -bench Query -benchtime 2000x
func BenchmarkQuery(b *testing.B) {
	n := queryRows(b)
	s := newStore(b, nil)
	schema := schemaOf(b, s)
	ctx := context.Background()
	start := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	const step = 15 * time.Second
	t0 := time.Now()
	if err := generate(ctx, s.DB(), schema, n, start, step, true); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d records made in %v", n, time.Since(t0).Round(time.Second))
	if testing.Verbose() { // the plans, for the README
		for _, tt := range explainFilters(start, step, n) {
			q, args := postgres.QueryText(s, tt.f)
			var plan []string
			if err := s.DB().SelectContext(ctx, &plan, "EXPLAIN (ANALYZE, COSTS OFF, SUMMARY ON) "+q, args...); err != nil {
				b.Fatal(err)
			}
			b.Logf("%s: %s\n%s", tt.name, q[strings.Index(q, " FROM "):], strings.Join(plan, "\n"))
		}
	}
	actions := []audit.Action{audit.ActionUserLogin, audit.ActionUserLogout, audit.ActionResourceRead, audit.ActionAPIKeyRevoke}
	types := []string{"document", "user", "api_key", "folder", "report"}
	span := time.Duration(n) * step
	for _, tt := range explainFilters(start, step, n) {
		b.Run(tt.name, func(b *testing.B) {
			rnd := rand.New(rand.NewPCG(1, 2))
			var lat []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				f := tt.f // a different value each time, so that no page is cached whole
				switch {
				case f.UserID != "":
					f.UserID = fmt.Sprintf("user-%d", rnd.IntN(1000))
				case f.RequestID != "":
					f.RequestID = fmt.Sprintf("req-%d", rnd.IntN(n/3))
				case f.ResourceID != "":
					f.ResourceID = fmt.Sprintf("res-%d", rnd.IntN(20000))
					if f.ResourceType != "" {
						f.ResourceType = types[rnd.IntN(len(types))]
					}
				case f.ResourceType != "":
					f.ResourceType = types[rnd.IntN(len(types))]
				case f.Action != "":
					f.Action = actions[rnd.IntN(len(actions))]
				case f.ActionPrefix != "":
					f.ActionPrefix = []string{"user.", "resource.", "api_key.", "user.password"}[rnd.IntN(4)]
				case f.Status != "":
					f.Status = []audit.Status{audit.StatusSuccess, audit.StatusFailure, audit.StatusError}[rnd.IntN(3)]
				case !f.Until.IsZero():
					f.Until = start.Add(-time.Duration(rnd.Int64N(int64(span - 24*time.Hour))))
					f.Since = f.Until.Add(-24 * time.Hour)
				}
				if f.Cursor != "" {
					f.Cursor = storekit.CursorAfter(&audit.Record{OccurredAt: start.Add(-time.Duration(rnd.Int64N(int64(span))))}).String()
				}
				t := time.Now()
				if _, err := s.Query(ctx, f); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t))
			}
			slices.Sort(lat)
			ms := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(ms(0.50), "p50-ms")
			b.ReportMetric(ms(0.95), "p95-ms")
		})
	}
}

// BenchmarkPurgeMonth purges one month of 200k records: by dropping its
// partition, and by deleting the same records in batches (the cutoff one
// microsecond before the month ends keeps the partition). It reports the
// time of the purge alone; ns/op includes making the records.
//
//	go test ./store/postgres/ -run '^$' -bench PurgeMonth
func BenchmarkPurgeMonth(b *testing.B) {
	const rows = 200_000
	end := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	step := 28 * 24 * time.Hour / rows // all of February
	for _, bc := range []struct {
		name   string
		cutoff time.Time
	}{{"drop_partition", end}, {"delete", end.Add(-time.Microsecond)}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			var took time.Duration
			for range b.N {
				s := newStore(b, nil)
				if err := generate(ctx, s.DB(), schemaOf(b, s), rows, end, step, true); err != nil {
					b.Fatal(err)
				}
				t := time.Now()
				n, err := s.Purge(ctx, bc.cutoff)
				took += time.Since(t)
				if err != nil || n != rows {
					b.Fatalf("Purge: got %d, %v; want %d", n, err, rows)
				}
			}
			per := took / time.Duration(b.N)
			b.ReportMetric(float64(per.Microseconds())/1000, "purge-ms")
			b.ReportMetric(rows/per.Seconds(), "records/s")
		})
	}
}

// schemaOf returns the schema of s's audit table.
func schemaOf(_ testing.TB, s *postgres.Store) string {
	q, _ := postgres.QueryText(s, audit.Filter{})
	from := strings.Fields(q[strings.Index(q, " FROM ")+6:])[0]
	return strings.Trim(from[:strings.IndexByte(from, '.')], `"`)
}
