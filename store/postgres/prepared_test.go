package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storetest"
)

// TestPreparable: the page queries whose best plan does not depend on
// their values are prepared, the others are planned for their values.
func TestPreparable(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		f    audit.Filter
		want bool
	}{
		{"no filter", audit.Filter{}, true},
		{"time range", audit.Filter{Since: t0, Until: t0.Add(time.Hour)}, true},
		{"user", audit.Filter{UserID: "u"}, true},
		{"user in a time range", audit.Filter{UserID: "u", Since: t0}, true},
		{"tenant", audit.Filter{TenantID: "t"}, true},
		{"tenant's user", audit.Filter{TenantID: "t", UserID: "u"}, true},
		{"request", audit.Filter{RequestID: "r"}, true},
		{"trace", audit.Filter{TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}, true},
		{"resource id", audit.Filter{ResourceID: "42"}, false},
		{"resource", audit.Filter{ResourceType: "document", ResourceID: "42"}, true},
		{"resource type", audit.Filter{ResourceType: "document"}, false},
		{"action", audit.Filter{Action: audit.ActionUserLogin}, false},
		{"user and action", audit.Filter{UserID: "u", Action: audit.ActionUserLogin}, false},
		{"action prefix", audit.Filter{ActionPrefix: "user."}, false},
		{"status", audit.Filter{Status: audit.StatusError}, false},
		{"user and resource", audit.Filter{UserID: "u", ResourceID: "42"}, false},
		{"request and trace", audit.Filter{RequestID: "r", TraceID: "4bf92f3577b34da6a3ce929d0e0e4736"}, false},
		{"tail", audit.Filter{After: "x"}, false},
	}
	for _, tt := range tests {
		if got := postgres.Preparable(&tt.f); got != tt.want {
			t.Errorf("%s: got prepared %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestPreparedQueries: pages read through prepared statements, past the
// executions after which PostgreSQL plans them generically, are those a
// Store that prepares nothing reads; a Store keeps at most 64 statements;
// after Close, a Store made by New still answers, unprepared.
func TestPreparedQueries(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	plain, err := postgres.New(s.DB(), &postgres.Options{Schema: schemaOf(t, s), Unprepared: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	rs := storetest.Records(0, 60)
	for i := range rs {
		rs[i].UserID = []string{"alice", "bob", "carol"}[i%3]
		rs[i].TenantID = []string{"", "org-1"}[i%2]
	}
	if err := s.Append(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	walk := func(st *postgres.Store, f audit.Filter) []audit.Record {
		t.Helper()
		var all []audit.Record
		for {
			p, err := st.Query(ctx, f)
			if err != nil {
				t.Fatalf("%+v: %v", f, err)
			}
			all = append(all, p.Records...)
			if p.NextCursor == "" {
				return all
			}
			f.Cursor = p.NextCursor
		}
	}
	filters := []audit.Filter{
		{Limit: 7},
		{UserID: "bob", Limit: 4},
		{TenantID: "org-1", UserID: "carol", Limit: 3},
		{Action: rs[0].Action, Limit: 5}, // not prepared
	}
	for round := range 8 { // a generic plan from the sixth execution on
		for _, f := range filters {
			got, want := walk(s, f), walk(plain, f)
			if len(got) != len(want) || len(got) == 0 {
				t.Fatalf("round %d, %+v: got %d records, want %d", round, f, len(got), len(want))
			}
			for i := range got {
				if d := storetest.Equal(got[i], want[i]); d != "" {
					t.Fatalf("round %d, %+v: record %d: %s", round, f, i, d)
				}
			}
		}
		if g, err := s.Get(ctx, rs[round].ID); err != nil || g.ID != rs[round].ID {
			t.Fatalf("Get %s: %v, %v", rs[round].ID, g.ID, err)
		}
	}
	if n := postgres.PreparedCount(s); n == 0 || n > 64 {
		t.Errorf("%d statements prepared after the walks, want some", n)
	}
	for limit := 1; limit <= 80; limit++ { // each page size is a statement
		if _, err := s.Query(ctx, audit.Filter{UserID: "alice", Limit: limit}); err != nil {
			t.Fatal(err)
		}
	}
	if n := postgres.PreparedCount(s); n != 64 {
		t.Errorf("%d statements prepared, want the bound, 64", n)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := postgres.PreparedCount(s); n != 0 {
		t.Errorf("%d statements prepared after Close, want 0", n)
	}
	if got := walk(s, audit.Filter{UserID: "bob", Limit: 4}); len(got) != 20 {
		t.Errorf("after Close: got %d records of bob, want 20", len(got))
	}
}

// TestDiscardedStatements: when other code on the Store's pool discards
// the connection's prepared statements (DISCARD ALL, DEALLOCATE ALL, as a
// pooler's reset does), appends of one record and prepared pages still
// succeed, and the statements are prepared again, on a pool of one
// connection where every call meets the discarded statements.
func TestDiscardedStatements(t *testing.T) {
	t.Parallel()
	base := newStore(t, nil)
	db, err := sqlx.Open("postgres", dsn(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	s, err := postgres.New(db, &postgres.Options{Schema: schemaOf(t, base)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	rs := storetest.Records(0, 8)
	prepared := func() int {
		t.Helper()
		var n int
		if err := db.GetContext(ctx, &n, "SELECT count(*) FROM pg_prepared_statements"); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for i, reset := range []string{"DISCARD ALL", "DEALLOCATE ALL", "DISCARD ALL"} {
		if err := s.Append(ctx, rs[2*i]); err != nil {
			t.Fatalf("append before %s: %v", reset, err)
		}
		if _, err := s.Query(ctx, audit.Filter{UserID: rs[0].UserID, Limit: 5}); err != nil {
			t.Fatalf("page before %s: %v", reset, err)
		}
		if n := prepared(); n < 2 {
			t.Fatalf("%d statements prepared on the connection, want the insert and the page", n)
		}
		if _, err := db.ExecContext(ctx, reset); err != nil {
			t.Fatal(err)
		}
		if err := s.Append(ctx, rs[2*i+1]); err != nil {
			t.Fatalf("append after %s: %v", reset, err)
		}
		if _, err := s.Query(ctx, audit.Filter{UserID: rs[0].UserID, Limit: 5}); err != nil {
			t.Fatalf("page after %s: %v", reset, err)
		}
	}
	if got := len(storetest.QueryAll(t, s, audit.Filter{Limit: audit.MaxLimit})); got != 6 {
		t.Errorf("%d records stored, want 6", got)
	}
}
