package memory_test

import (
	"context"
	"errors"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// TestTx checks that a Tx keeps what LogTo writes until Commit, drops it
// on Rollback, and ends after either.
func TestTx(t *testing.T) {
	ctx := context.Background()
	s := memory.New(nil)
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	ev := func(id string) audit.Event {
		return audit.Event{Action: audit.ActionResourceCreate, ResourceType: "account", ResourceID: id, Status: audit.StatusSuccess,
			Details: map[string]any{"password": "hunter2"}}
	}

	tx := s.Begin()
	if err := l.LogTo(ctx, tx, ev("rolled-back")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); !errors.Is(err, memory.ErrTxDone) {
		t.Errorf("Commit after Rollback: got %v, want ErrTxDone", err)
	}

	tx = s.Begin()
	if err := l.LogTo(ctx, tx, ev("committed")); err != nil {
		t.Fatal(err)
	}
	r := storetest.Record(1)
	for range 2 { // idempotent within the Tx
		if err := tx.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if got := storetest.QueryAll(t, s, audit.Filter{}); len(got) != 0 {
		t.Fatalf("before Commit: got %d records, want 0", len(got))
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := tx.Append(ctx, storetest.Record(2)); !errors.Is(err, memory.ErrTxDone) {
		t.Errorf("Append after Commit: got %v, want ErrTxDone", err)
	}
	if err := tx.Rollback(); !errors.Is(err, memory.ErrTxDone) {
		t.Errorf("Rollback after Commit: got %v, want ErrTxDone", err)
	}
	got := storetest.QueryAll(t, s, audit.Filter{})
	if len(got) != 2 {
		t.Fatalf("after Commit: got %d records, want 2", len(got))
	}
	for _, g := range got {
		if g.ResourceID == "rolled-back" {
			t.Errorf("a rolled-back record was stored")
		}
		if g.ResourceID == "committed" && string(g.Details) != `{"password":"[REDACTED]"}` {
			t.Errorf("LogTo did not clean the event: details %s", g.Details)
		}
	}

	bad := storetest.Record(3)
	bad.Details = []byte(`{"a":`)
	if err := s.Begin().Append(ctx, bad); !storekit.IsPermanent(err) {
		t.Errorf("Append of invalid JSON: got %v, want a permanent error", err)
	}
}
