package postgres_test

import (
	"testing"
	"time"

	"github.com/trailmark/audit/storetest"
)

// TestSealLag holds a transaction with a transaction ID open on a second
// connection: records committed after it began wait, and SealLag names
// it.
func TestSealLag(t *testing.T) {
	db := testDB(t)
	t.Parallel()
	ctx := testCtx(t)
	s, _ := newChainStore(t)
	conn, err := db.Connx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var pid int
	var xid string
	if err := tx.QueryRowContext(ctx, "SELECT pg_backend_pid(), pg_current_xact_id()::text").Scan(&pid, &xid); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	if err := s.Append(ctx, storetest.Records(0, 3)...); err != nil {
		t.Fatal(err)
	}
	lag, err := s.SealLag(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lag.Waiting < 3 || lag.Horizon == "" || lag.Blocker == nil {
		t.Fatalf("SealLag: got %+v, want 3 records waiting behind a transaction", lag)
	}
	t.Logf("lag %+v, blocker %+v (ours: pid %d xid %s)", lag, *lag.Blocker, pid, xid)
	if lag.Horizon == xid && (lag.Blocker.PID != pid || lag.Blocker.Age < 20*time.Millisecond || lag.Blocker.Database == "") {
		t.Errorf("blocker %+v, want pid %d open for 20ms or more in a named database", *lag.Blocker, pid)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	// Once it is rolled back, our transaction holds nothing back. Other
	// tests' transactions on the same cluster may (a long bulk insert for
	// a minute): then they, not ours, are named.
	deadline := time.Now().Add(30 * time.Second)
	for {
		lag, err := s.SealLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lag.Waiting == 0 || lag.Blocker != nil && lag.Blocker.PID != pid && lag.Horizon != xid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the rollback: %+v, want our transaction (pid %d, xid %s) no longer holding records back", lag, pid, xid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
