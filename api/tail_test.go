package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storetest"
)

// tailEnv serves the API over st on loopback, for an admin.
func tailEnv(t *testing.T, st audit.Store) *env { t.Helper(); return serveStore(t, st, nil) }

// walkAPI walks GET /audit-logs?<query> as the admin, 7 records a page,
// with after= if after is set, and returns the records and the walk's
// tail (after itself if the walk had none to say).
func walkAPI(e *env, query, after string) ([]audit.Record, string) {
	e.t.Helper()
	var (
		recs   []audit.Record
		cursor string
	)
	tail := after
	for range 10000 {
		q := "/audit-logs?limit=7&" + query
		if after != "" {
			q += "&after=" + url.QueryEscape(after)
		}
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.get("admin", q)
		if r.StatusCode != http.StatusOK {
			e.t.Fatalf("GET %s: status %d: %s", q, r.StatusCode, r.body)
		}
		var p audit.Page
		if err := json.Unmarshal(r.body, &p); err != nil {
			e.t.Fatal(err)
		}
		if cursor == "" && p.Tail != "" {
			tail = p.Tail
		}
		recs = append(recs, p.Records...)
		if cursor = p.NextCursor; cursor == "" {
			return recs, tail
		}
	}
	e.t.Fatal("more than 10000 pages")
	return nil, ""
}

// TestTailThroughAPI: on every store, Sync and Async Loggers write while
// a poller tails GET /audit-logs, each walk's after= the tail of the one
// before (issue 20, item 11: a walk by timestamp lost records that
// committed late). Every record is read exactly once.
func TestTailThroughAPI(t *testing.T) {
	t.Parallel()
	for name, open := range tenantStores(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := open(t)
			e := tailEnv(t, st)
			const writers, each = 4, 50
			var (
				wg      sync.WaitGroup
				mu      sync.Mutex
				written = map[uuid.UUID]bool{}
			)
			for w := range writers {
				d := []audit.Delivery{audit.Sync, audit.Async}[w%2]
				var clockMu sync.Mutex
				at := time.Date(2026, 3, 14, 0, 0, w, 0, time.UTC) // the writers' clocks interleave
				l, err := audit.New(st, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: d, NoSecurityDefaults: true},
					Now: func() time.Time {
						clockMu.Lock()
						defer clockMu.Unlock()
						at = at.Add(7 * time.Millisecond)
						return at
					}})
				if err != nil {
					t.Fatal(err)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer l.Close(context.Background())
					for i := range each {
						id := uuid.Must(uuid.NewV7())
						if err := l.Log(context.Background(), audit.Event{ID: id, Action: audit.ActionResourceRead,
							ResourceType: "tailed", ResourceID: fmt.Sprint(w, "-", i), Status: audit.StatusSuccess}); err != nil {
							t.Errorf("writer %d: %v", w, err)
							return
						}
						mu.Lock()
						written[id] = true
						mu.Unlock()
					}
				}()
			}
			done := make(chan struct{})
			go func() { wg.Wait(); close(done) }()
			t.Cleanup(wg.Wait) // a writer never outlives the test, a t.Fatal included
			seen := map[uuid.UUID]int{}
			after := ""
			for running := true; running; {
				select {
				case <-done:
					running = false
				default:
				}
				var recs []audit.Record
				recs, after = walkAPI(e, "resource_type=tailed", after)
				for _, r := range recs {
					seen[r.ID]++
				}
			}
			recs, _ := walkAPI(e, "resource_type=tailed", after) // the writers have returned
			for _, r := range recs {
				seen[r.ID]++
			}
			mu.Lock()
			defer mu.Unlock()
			missed, twice := 0, 0
			for id := range written {
				switch seen[id] {
				case 0:
					missed++
				case 1:
				default:
					twice++
				}
			}
			if missed > 0 || twice > 0 || len(seen) != writers*each {
				t.Errorf("read %d distinct records of %d written: %d missed, %d read more than once", len(seen), writers*each, missed, twice)
			}
		})
	}
}

// TestTailLateCommitPostgres commits two transactions out of order on
// purpose: A appends a record with an earlier OccurredAt and stays open,
// B commits a later one, a poller walks past A's time, and only then A
// commits. The walk does not return A's record (it was not committed when
// the walk began); the next walk, after= the first's tail, returns it and
// only it. Before walks had a horizon, a poller that resumed from the
// newest time it had seen never read it.
func TestTailLateCommitPostgres(t *testing.T) {
	stores := tenantStores(t)
	open, ok := stores["postgres"]
	if !ok {
		t.Skip("AUDIT_TEST_DATABASE_URL not set: no PostgreSQL to test against")
	}
	t.Parallel()
	st := open(t).(*postgres.Store)
	ctx := context.Background()
	e := tailEnv(t, st)
	rs := storetest.Records(0, 20)
	for i := range rs {
		rs[i].ResourceType = "late"
	}
	if err := st.Append(ctx, rs[:10]...); err != nil {
		t.Fatal(err)
	}
	tx, err := st.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	late := rs[10]
	late.OccurredAt = rs[5].OccurredAt.Add(time.Second) // inside the range the walk reads
	if err := st.Tx(tx).Append(ctx, late); err != nil {
		t.Fatal(err)
	}
	if err := st.Append(ctx, rs[11:]...); err != nil { // B commits
		t.Fatal(err)
	}
	first, tail := walkAPI(e, "resource_type=late", "")
	if err := tx.Commit(); err != nil { // A commits behind the walk
		t.Fatal(err)
	}
	if len(first) != 19 {
		t.Errorf("the walk returned %d records, want the 19 committed", len(first))
	}
	for _, r := range first {
		if r.ID == late.ID {
			t.Errorf("the walk returned %s, which committed after it began", late.ID)
		}
	}
	next, _ := walkAPI(e, "resource_type=late", tail)
	if len(next) != 1 || next[0].ID != late.ID {
		t.Errorf("the next walk returned %d records (%v), want only the late one, %s", len(next), next, late.ID)
	}
}
