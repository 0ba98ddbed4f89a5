package postgres_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
)

// TestSyncBurst: 256 concurrent Sync callers, each logging 20 events, on a
// store from Open (whose pool is bounded), while this test's backends are
// terminated again and again. Every call succeeds, and every event is
// stored exactly once; the store never held more than DefaultMaxConns
// connections.
func TestSyncBurst(t *testing.T) {
	direct := testDB(t)
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	schema := schemaOf(t, newStore(t, nil))
	app := randomName("trailmark_burst_")
	s, err := postgres.Open(ctx, proxyDSN(t, serverAddr(t), app), &postgres.Options{Schema: schema, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync, SyncTimeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())

	const callers, each = 256, 20
	var (
		wg       sync.WaitGroup
		failures atomic.Int64
		maxConns atomic.Int64
	)
	stop := make(chan struct{})
	chaos := make(chan int)
	go func() {
		terminated := 0
		defer func() { chaos <- terminated }()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for range 400 {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			var n, conns int
			err := direct.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)), count(*)
				FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, app).Scan(&n, &conns)
			if err != nil {
				t.Errorf("pg_terminate_backend: %v", err)
				return
			}
			terminated += n
			if int64(conns) > maxConns.Load() {
				maxConns.Store(int64(conns))
			}
		}
	}()
	for c := range callers {
		wg.Go(func() {
			for i := range each {
				err := l.Log(ctx, audit.Event{
					Action: audit.ActionUserLogin, ResourceType: "user", ResourceID: strconv.Itoa(c*each + i),
					Status: audit.StatusSuccess,
				})
				if err != nil {
					failures.Add(1)
					t.Errorf("caller %d, event %d: %v", c, i, err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	terminated := <-chaos

	st := l.Stats()
	t.Logf("%d Sync events from %d callers; %d retries; %d backends terminated; at most %d connections seen",
		callers*each, callers, st.Retried, terminated, maxConns.Load())
	if failures.Load() > 0 || st.Written != callers*each || st.Failed != 0 {
		t.Errorf("stats %+v, %d failed calls; want %d written, none failed", st, failures.Load(), callers*each)
	}
	if maxConns.Load() > postgres.DefaultMaxConns {
		t.Errorf("%d connections seen, want at most DefaultMaxConns = %d", maxConns.Load(), postgres.DefaultMaxConns)
	}
	var count, distinct int
	err = direct.QueryRowContext(ctx, "SELECT count(*), count(DISTINCT resource_id) FROM "+schema+".audit_logs").Scan(&count, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	if count != callers*each || distinct != count {
		t.Errorf("stored count(*) = %d, distinct = %d; want both %d", count, distinct, callers*each)
	}
}
