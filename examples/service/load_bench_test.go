//go:build !nopostgres

package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
)

// BenchmarkAdminAPI loads the example service's audit log API with 100
// concurrent clients over loopback HTTP, on PostgreSQL holding
// AUDIT_BENCH_API_ROWS records (default 1M). Every read is itself audited,
// Sync (fail-closed). Two ways to write those Sync records, in one run:
//
//	group-commit      the Logger's default: concurrent reads share commits
//	per-event-commit  one transaction per record, a connection per caller
//	                  (SyncBatchSize 1, 90 writers and connections): what
//	                  Sync delivery did before group commit
//
// It reports requests/s, the p50, p95 and p99 latency, how long the
// requests waited for a connection of the pool (pool-wait-ms/op, the
// growth of sql.DBStats.WaitDuration per request, and pool-waits/op), and
// the CPU time per request of this process, service and clients together
// (go-cpu-ms/op), and of the database backends that serve the service
// (pg-cpu-ms/op, read from /proc when the server runs on this machine):
// on a machine shared with other work, these two tell a change from the
// load of the others, which moves the latencies.
//
//	AUDIT_TEST_DATABASE_URL=… go test ./examples/service -run '^$' -bench AdminAPI -benchtime 5000x
//
// Filling the table takes most of a run (34 s for 1M records on two cores
// shared with other work). Set AUDIT_BENCH_API_SCHEMA to a schema name to keep the
// records there and use them again in later runs: the schema is filled
// once (its comment says with how many records) and never dropped; each
// run adds its own read records. Drop it when done:
//
//	DROP SCHEMA <name> CASCADE
func BenchmarkAdminAPI(b *testing.B) {
	dsn := os.Getenv("AUDIT_TEST_DATABASE_URL")
	if dsn == "" {
		b.Skip("AUDIT_TEST_DATABASE_URL not set: no PostgreSQL to test against")
	}
	rows := 1_000_000
	if v := os.Getenv("AUDIT_BENCH_API_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			b.Fatal(err)
		}
		rows = n
	}
	ctx := context.Background()
	schema, keep := os.LookupEnv("AUDIT_BENCH_API_SCHEMA")
	if !keep {
		var rb [6]byte
		rand.Read(rb[:])
		schema = "trailmark_apibench_" + hex.EncodeToString(rb[:])
	}
	s, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if !keep {
			s.DB().ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		}
		s.Close(context.Background())
	}()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	began := time.Now()
	if filled, err := fillAPIBench(ctx, s, schema, rows); err != nil {
		b.Fatal(err)
	} else if filled {
		b.Logf("%d records made in %v", rows, time.Since(began).Round(time.Second))
	}
	for _, v := range []struct {
		name   string
		policy audit.Policy
		conns  int
	}{
		{"group-commit", audit.Policy{}, postgres.DefaultMaxConns},
		{"per-event-commit", audit.Policy{SyncWriters: 90, SyncBatchSize: 1}, 90},
	} {
		b.Run(v.name, func(b *testing.B) {
			maxReads := 0 // the default: the pool's size less 2
			if v.conns != postgres.DefaultMaxConns {
				maxReads = v.conns // a connection per caller
			}
			st, err := postgres.Open(ctx, withAppName(dsn, apiBenchApp), &postgres.Options{Schema: schema, MaxReads: maxReads})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close(context.Background())
			st.DB().SetMaxOpenConns(v.conns)
			st.DB().SetMaxIdleConns(v.conns)
			a, err := newApp(appConfig{Store: st, LoggerOptions: &audit.Options{Policy: v.policy},
				AdminPassword: "alice-demo-password", UserPassword: "bob-demo-password"})
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(a.handler)
			defer func() {
				srv.Close()
				a.close(ctx)
			}()
			loadAPI(b, srv.URL, 100, st.DB().DB, func() map[int]time.Duration { return backendsCPU(ctx, s.DB().DB, apiBenchApp) })
		})
	}
}

// apiBenchApp is the application_name of the connections that serve the
// API in BenchmarkAdminAPI: their backends' CPU time is counted.
const apiBenchApp = "trailmark_apibench"

// withAppName returns dsn, a URL or key=value connection string, with
// application_name set to name.
func withAppName(dsn, name string) string {
	switch {
	case !strings.Contains(dsn, "://"):
		return dsn + " application_name=" + name
	case strings.Contains(dsn, "?"):
		return dsn + "&application_name=" + name
	}
	return dsn + "?application_name=" + name
}

// backendsCPU returns the CPU time used by each backend of the
// connections named app, read from /proc when the server runs on this
// machine: none when it cannot be read.
func backendsCPU(ctx context.Context, db *sql.DB, app string) map[int]time.Duration {
	rows, err := db.QueryContext(ctx, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", app)
	if err != nil {
		return nil
	}
	defer rows.Close()
	m := map[int]time.Duration{}
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) != nil {
			return nil
		}
		if d, ok := pidCPU(pid); ok {
			m[pid] = d
		}
	}
	return m
}

// fillAPIBench inserts n records, one every 2 seconds back from now (23
// days for 1M), 1000 users, into the monthly partitions that Append would
// have made for them, then analyzes the table. The records are made by the
// server (generate_series): none crosses the connection, as they would
// even by COPY. A schema whose comment says it holds n records already is left
// as it is: filled is false.
func fillAPIBench(ctx context.Context, s *postgres.Store, schema string, n int) (filled bool, err error) {
	mark := fmt.Sprintf("BenchmarkAdminAPI: %d records", n)
	var comment sql.NullString
	if err := s.DB().QueryRowContext(ctx, "SELECT obj_description($1::regnamespace, 'pg_namespace')", schema).Scan(&comment); err != nil {
		return false, err
	}
	switch comment.String {
	case mark:
		return false, nil
	case "":
	default:
		return false, fmt.Errorf("schema %s holds %q, not %d records: drop it or set AUDIT_BENCH_API_ROWS", schema, comment.String, n)
	}
	now := time.Now().UTC()
	var months []string
	for m := now.Add(-2 * time.Second * time.Duration(n)); ; m = m.AddDate(0, 1, 0) {
		first := time.Date(m.Year(), m.Month(), 1, 0, 0, 0, 0, time.UTC)
		months = append(months, first.Format(time.DateOnly))
		if !first.AddDate(0, 1, 0).Before(now) {
			break
		}
	}
	if _, err := s.DB().ExecContext(ctx, "SELECT "+schema+".audit_logs_ensure_partitions($1::date[])", "{"+strings.Join(months, ",")+"}"); err != nil {
		return false, err
	}
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO `+schema+`.audit_logs (id, "timestamp", user_id, user_email, ip_address,
	user_agent, action, resource_type, resource_id, details, request_id, session_id, status)
SELECT gen_random_uuid(), $1::timestamptz - i * interval '2 seconds', 'user-' || (i % 1000), 'user' || (i % 1000) || '@example.com',
	'192.0.2.1'::inet, 'bench/1.0', (ARRAY['user.login','resource.read','resource.update','api_key.create'])[1 + i % 4],
	'document', 'doc-' || (i % 20000), jsonb_build_object('i', i), 'req-' || i, 'sess-' || (i % 5000), 'success'
FROM generate_series(1, $2::int) AS i`, now, n); err != nil {
		return false, err
	}
	if _, err := s.DB().ExecContext(ctx, "ANALYZE "+schema+".audit_logs"); err != nil {
		return false, err
	}
	_, err = s.DB().ExecContext(ctx, "COMMENT ON SCHEMA "+schema+" IS '"+mark+"'")
	return err == nil, err
}

// loadAPI sends b.N list requests to the API at url from clients
// goroutines, as the admin, and reports requests/s, p50, p95 and p99, the
// waits for a connection of db, the pool of the store, and the CPU time
// per request of this process (the service and the clients) and of the
// database backends that backends reports.
func loadAPI(b *testing.B, url string, clients int, db *sql.DB, backends func() map[int]time.Duration) {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}, Timeout: time.Minute}
	defer hc.CloseIdleConnections()
	resp, err := hc.Post(url+"/login", "application/json",
		strings.NewReader(`{"email":"alice@example.com","password":"alice-demo-password"}`))
	if err != nil {
		b.Fatal(err)
	}
	var login struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if login.Token == "" {
		b.Fatalf("login: status %d", resp.StatusCode)
	}
	var (
		next   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
		lats   = make([][]time.Duration, clients)
	)
	b.ResetTimer()
	pool, pg := db.Stats(), backends()
	cpu, cpuOK := processCPU()
	start := time.Now()
	for c := range clients {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/audit-logs?user_id=user-%d&limit=20", url, i%1000), nil)
				req.Header.Set("Authorization", "Bearer "+login.Token)
				t := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
					continue
				}
				lats[c] = append(lats[c], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	after, pgAfter := db.Stats(), backends()
	cpuAfter, _ := processCPU()
	if n := failed.Load(); n > 0 {
		b.Errorf("%d of %d requests failed", n, b.N)
	}
	all := slices.Concat(lats...)
	if len(all) == 0 {
		b.Fatal("no request succeeded")
	}
	slices.Sort(all)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(all[len(all)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(all[len(all)*95/100])/1e6, "p95-ms")
	b.ReportMetric(float64(all[len(all)*99/100])/1e6, "p99-ms")
	b.ReportMetric(float64(after.WaitCount-pool.WaitCount)/float64(b.N), "pool-waits/op")
	b.ReportMetric(float64(after.WaitDuration-pool.WaitDuration)/1e6/float64(b.N), "pool-wait-ms/op")
	if cpuOK {
		b.ReportMetric(float64(cpuAfter-cpu)/1e6/float64(b.N), "go-cpu-ms/op")
	}
	if len(pgAfter) > 0 {
		var used time.Duration
		for pid, d := range pgAfter {
			used += d - pg[pid]
		}
		b.ReportMetric(float64(used)/1e6/float64(b.N), "pg-cpu-ms/op")
	}
}
