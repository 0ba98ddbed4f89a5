//go:build !nopostgres

package main

import (
	"context"
	"crypto/rand"
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
// It reports requests/s and the p50 and p95 latency:
//
//	AUDIT_TEST_DATABASE_URL=… go test ./examples/service -run '^$' -bench AdminAPI -benchtime 5000x
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
	var rb [6]byte
	rand.Read(rb[:])
	schema := "trailmark_apibench_" + hex.EncodeToString(rb[:])
	s, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		s.DB().ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		s.Close(context.Background())
	}()
	if err := s.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if err := fillAPIBench(ctx, s, schema, rows); err != nil {
		b.Fatal(err)
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
			st, err := postgres.Open(ctx, dsn, &postgres.Options{Schema: schema})
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
			loadAPI(b, srv.URL, 100)
		})
	}
}

// fillAPIBench inserts n records spread over the last 30 days, 1000 users,
// then analyzes the table.
func fillAPIBench(ctx context.Context, s *postgres.Store, schema string, n int) error {
	now := time.Now().UTC()
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO `+schema+`.audit_logs (id, "timestamp", user_id, user_email, ip_address,
	user_agent, action, resource_type, resource_id, details, request_id, session_id, status)
SELECT gen_random_uuid(), $1::timestamptz - i * interval '2 seconds', 'user-' || (i % 1000), 'user' || (i % 1000) || '@example.com',
	'192.0.2.1'::inet, 'bench/1.0', (ARRAY['user.login','resource.read','resource.update','api_key.create'])[1 + i % 4],
	'document', 'doc-' || (i % 20000), jsonb_build_object('i', i), 'req-' || i, 'sess-' || (i % 5000), 'success'
FROM generate_series(1, $2::int) AS i`, now, n); err != nil {
		return err
	}
	_, err := s.DB().ExecContext(ctx, "ANALYZE "+schema+".audit_logs")
	return err
}

// loadAPI sends b.N list requests to the API at url from clients
// goroutines, as the admin, and reports requests/s, p50 and p95.
func loadAPI(b *testing.B, url string, clients int) {
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
}
