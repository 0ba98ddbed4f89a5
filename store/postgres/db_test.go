package postgres_test

// Tests against a real PostgreSQL server (see envDSN): migrations, the
// append-only guard and the roles it assumes, in-transaction writes,
// partitions and purge, and the plans of queries.

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

func TestMigrateConcurrently(t *testing.T) {
	db := testDB(t)
	t.Parallel()
	schema := newSchema(t)
	ctx := testCtx(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.New(db, &postgres.Options{Schema: schema})
			if err == nil {
				err = s.Migrate(ctx)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent Migrate: %v", err)
		}
	}
	var versions []int
	if err := db.SelectContext(ctx, &versions, "SELECT version FROM "+schema+".audit_logs_migrations ORDER BY version"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(versions, []int{1, 2, 3, 4, 5, 6, 7, 8}) {
		t.Errorf("migrations table holds %v, want [1 2 3 4 5 6 7 8]", versions)
	}
	// and again, one by one
	s, _ := postgres.New(db, &postgres.Options{Schema: schema})
	if err := s.Migrate(ctx); err != nil {
		t.Errorf("Migrate of a migrated schema: %v", err)
	}
	if err := s.Append(ctx, storetest.Records(0, 3)...); err != nil {
		t.Errorf("Append after Migrate: %v", err)
	}
}

func TestMigrationSQLApplies(t *testing.T) {
	db := testDB(t)
	t.Parallel()
	schema := newSchema(t)
	ctx := testCtx(t)
	text, err := postgres.MigrationSQL(&postgres.Options{Schema: schema, Table: "events"})
	if err != nil {
		t.Fatal(err)
	}
	// as psql -1 -f would: one transaction, simple query protocol
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, text); err != nil {
		tx.Rollback()
		t.Fatalf("applying MigrationSQL: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	s, err := postgres.New(db, &postgres.Options{Schema: schema, Table: "events"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate after MigrationSQL: %v", err)
	}
	var n int
	want := strings.Count(text, "\n-- trailmark audit migration ") // one section each
	if err := db.GetContext(ctx, &n, "SELECT count(*) FROM "+schema+".events_migrations"); err != nil || n != want {
		t.Errorf("migrations recorded: got %d, %v; want %d", n, err, want)
	}
	rs := storetest.Records(0, 3)
	if err := s.Append(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	if got := storetest.QueryAll(t, s, audit.Filter{}); len(got) != 3 {
		t.Errorf("got %d records, want 3", len(got))
	}
}

// pqCode returns the SQLSTATE of err, or "".
func pqCode(err error) string {
	if e := pq.As(err); e != nil {
		return string(e.Code)
	}
	return ""
}

func TestGuard(t *testing.T) {
	dsn(t)
	t.Parallel()
	s := newStore(t, nil)
	ctx := testCtx(t)
	rs := storetest.Records(0, 4)
	rs[3].OccurredAt = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC) // in the default partition
	if err := s.Append(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	tbl := schemaOf(t, s) + ".audit_logs"
	part := tbl + "_p" + rs[0].OccurredAt.Format("200601")
	cutoff := rs[1].OccurredAt
	tests := []struct {
		name, sql string
	}{
		{"update", "UPDATE " + tbl + " SET user_id = 'x'"},
		{"update of a partition", "UPDATE " + part + " SET status = 'failure'"},
		{"delete", "DELETE FROM " + tbl},
		{"delete of one record", "DELETE FROM " + tbl + " WHERE id = '" + rs[0].ID.String() + "'"},
		{"delete from the default partition", "DELETE FROM " + tbl + "_default"},
		{"truncate", "TRUNCATE " + tbl},
		{"truncate of a partition", "TRUNCATE " + part},
		{"truncate of the default partition", "TRUNCATE " + tbl + "_default"},
		{"delete newer than the purge cutoff", "SET LOCAL trailmark.purge_before = '" + cutoff.Format(time.RFC3339Nano) + "'; DELETE FROM " + tbl + " WHERE \"timestamp\" >= '" + cutoff.Format(time.RFC3339Nano) + "'"},
	}
	for _, tt := range tests {
		tx, err := s.DB().BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = tx.ExecContext(ctx, tt.sql)
		tx.Rollback()
		if pqCode(err) != "42501" || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: got %v, want the append-only guard's error (42501)", tt.name, err)
		}
	}
	if got := storetest.QueryAll(t, s, audit.Filter{}); len(got) != len(rs) {
		t.Errorf("after refused changes: %d records, want %d", len(got), len(rs))
	}
}

// asRole returns a pool connected as role, closed when t ends.
func asRole(t *testing.T, role string) *sqlx.DB {
	t.Helper()
	u, err := url.Parse(dsn(t))
	if err != nil || u.Scheme == "" {
		t.Skipf("%s is not a URL: cannot connect as another role", envDSN)
	}
	u.User = url.User(role)
	db, err := sqlx.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(4)
	t.Cleanup(func() { db.Close() })
	return db
}

// newRole creates a login role with a fresh name starting with prefix,
// and drops it, with its privileges, when t ends. Register it after the
// schema it is granted on, so that it goes first.
func newRole(t *testing.T, prefix string) string {
	t.Helper()
	admin := testDB(t)
	role := randomName(prefix)
	if _, err := admin.ExecContext(testCtx(t), "CREATE ROLE "+role+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, q := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := admin.ExecContext(context.Background(), q); err != nil {
				t.Errorf("cleanup: %s: %v", q, err)
			}
		}
	})
	return role
}

// grantsDoc are the grants of the package documentation (doc.go), for
// schema audit, the application role app and the sealer role sealer.
const grantsDoc = `
REVOKE ALL ON audit.audit_logs, audit.audit_logs_seals, audit.audit_logs_checkpoints,
           audit.audit_logs_tree_leaves, audit.audit_logs_tree_checkpoints FROM app, sealer;
GRANT USAGE ON SCHEMA audit TO app, sealer;
GRANT SELECT ON audit.audit_logs, audit.audit_logs_seals, audit.audit_logs_checkpoints,
                audit.audit_logs_tree_leaves, audit.audit_logs_tree_checkpoints TO app, sealer;
GRANT INSERT (id, "timestamp", user_id, user_email, ip_address, user_agent, action, resource_type,
              resource_id, details, changes, request_id, session_id, status, error_message,
              tenant_id, trace_id, span_id)
      ON audit.audit_logs TO app;
GRANT EXECUTE ON FUNCTION audit.audit_logs_ensure_partitions(date[]) TO app;
GRANT SELECT, INSERT, UPDATE ON audit.audit_logs_stream_positions TO app;
GRANT INSERT ON audit.audit_logs_seals, audit.audit_logs_checkpoints,
                audit.audit_logs_tree_leaves, audit.audit_logs_tree_checkpoints TO sealer;
GRANT EXECUTE ON FUNCTION audit.audit_logs_drop_partitions(timestamptz),
                          audit.audit_logs_purge_rows(timestamptz, integer),
                          audit.audit_logs_purge_tenant_rows(timestamptz, text[], timestamptz[], integer),
                          audit.audit_logs_purge_seals(bigint) TO sealer;`

// roleSetup is a schema migrated by an owner role, with an application
// role and a sealer role granted as the package documentation says.
type roleSetup struct {
	schema, owner, app, sealer string
	ownerDB, appDB, sealerDB   *sqlx.DB
}

func newRoleSetup(t *testing.T, opts *postgres.Options) roleSetup {
	t.Helper()
	admin := testDB(t)
	ctx := testCtx(t)
	var rs roleSetup
	var dbname string
	if err := admin.GetContext(ctx, &dbname, "SELECT current_database()"); err != nil {
		t.Fatal(err)
	}
	rs.owner = newRole(t, "trailmark_owner_")
	if _, err := admin.ExecContext(ctx, "GRANT CREATE ON DATABASE "+pq.QuoteIdentifier(dbname)+" TO "+rs.owner); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.ExecContext(context.Background(), "REVOKE CREATE ON DATABASE "+pq.QuoteIdentifier(dbname)+" FROM "+rs.owner)
	})
	rs.schema = newSchema(t) // dropped before the roles
	rs.app, rs.sealer = newRole(t, "trailmark_app_"), newRole(t, "trailmark_sealer_")
	rs.ownerDB, rs.appDB, rs.sealerDB = asRole(t, rs.owner), asRole(t, rs.app), asRole(t, rs.sealer)
	ownerStore, err := postgres.New(rs.ownerDB, withDefaults(opts, postgres.Options{Schema: rs.schema}))
	if err != nil {
		t.Fatal(err)
	}
	if err := ownerStore.Migrate(ctx); err != nil {
		t.Fatalf("Migrate as the owner: %v", err)
	}
	grants := strings.NewReplacer("SCHEMA audit ", "SCHEMA "+rs.schema+" ", "audit.", rs.schema+".",
		" app", " "+rs.app, " sealer", " "+rs.sealer).Replace(grantsDoc)
	if _, err := rs.ownerDB.ExecContext(ctx, grants); err != nil {
		t.Fatalf("grants: %v", err)
	}
	return rs
}

// TestRoles applies the roles and grants of the package documentation
// (doc.go): an owner that migrates, an application role that appends and
// reads, and a sealer role that seals, checkpoints and retains; neither
// can change or delete records.
func TestRoles(t *testing.T) {
	admin := testDB(t)
	t.Parallel()
	ctx := testCtx(t)
	clock := func() time.Time { return time.Date(2026, 3, 20, 0, 0, 0, 0, time.UTC) }
	r := newRoleSetup(t, &postgres.Options{Now: clock})
	schema, appDB := r.schema, r.appDB
	as, err := postgres.New(appDB, &postgres.Options{Schema: schema, Now: clock, OnError: func(err error) { t.Errorf("store error: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := postgres.New(r.sealerDB, &postgres.Options{Schema: schema, Now: clock, OnError: func(err error) { t.Errorf("store error: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	rs := storetest.Records(0, 6)
	rs[5].OccurredAt = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a month without a partition yet
	if err := as.Append(ctx, rs[:5]...); err != nil {
		t.Fatalf("Append as the application: %v", err)
	}
	if err := as.Append(ctx, rs[5]); err != nil {
		t.Fatalf("Append as the application: %v", err)
	}
	var owners []string
	if err := admin.SelectContext(ctx, &owners, "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = $1", schema); err != nil {
		t.Fatal(err)
	}
	if len(owners) != 1 || owners[0] != r.owner {
		t.Errorf("tables owned by %v, want only %s (partitions made for the application too)", owners, r.owner)
	}
	if got := storetest.QueryAll(t, as, audit.Filter{}); len(got) != 6 {
		t.Errorf("Query as the application: %d records, want 6", len(got))
	}
	tbl := schema + ".audit_logs"
	for _, q := range []string{
		"UPDATE " + tbl + " SET user_id = 'x'",
		"DELETE FROM " + tbl,
		"TRUNCATE " + tbl,
		"SET trailmark.purge_before = 'infinity'; DELETE FROM " + tbl,
		"INSERT INTO " + tbl + "_default SELECT * FROM " + tbl + " LIMIT 1",
		"ALTER TABLE " + tbl + " DISABLE TRIGGER USER",
		"SELECT " + schema + ".audit_logs_guard()",
		"UPDATE " + tbl + "_seals SET key_id = 'x'",
		"DELETE FROM " + tbl + "_seals",
		"SET trailmark.purge_seals_through = '1000'; DELETE FROM " + tbl + "_seals",
		"TRUNCATE " + tbl + "_checkpoints",
		// the columns the database sets
		`INSERT INTO ` + tbl + ` (id, "timestamp", action, resource_type, status, recorded_at) VALUES (gen_random_uuid(), now(), 'a', 'b', 'success', '2000-01-01')`,
		`INSERT INTO ` + tbl + ` (id, "timestamp", action, resource_type, status, xid) VALUES (gen_random_uuid(), now(), 'a', 'b', 'success', '1')`,
		// the chain is the sealer's
		"INSERT INTO " + tbl + "_seals SELECT * FROM " + tbl + "_seals",
		`INSERT INTO ` + tbl + `_checkpoints (seq, hash, at, signer_id, signature) VALUES (9000000000000000000, '\x00', now(), 's', '\x00')`,
		"INSERT INTO " + tbl + "_tree_leaves SELECT * FROM " + tbl + "_tree_leaves",
		`INSERT INTO ` + tbl + `_tree_checkpoints (size, note) VALUES (9000000000000000000, 'forged')`,
		"SELECT " + schema + ".audit_logs_purge_rows('infinity', 1000)",
		"SELECT " + schema + ".audit_logs_drop_partitions('infinity')",
		"SELECT " + schema + ".audit_logs_purge_seals(1000)",
		"SELECT " + schema + ".audit_logs_retention_floor()",
		"UPDATE " + tbl + "_settings SET min_retention = '0'",
	} {
		_, err := appDB.ExecContext(ctx, q)
		if c := pqCode(err); c != "42501" && c != "0A000" {
			t.Errorf("as the application: %s: got %v, want permission denied", q, err)
		}
	}
	if _, err := r.sealerDB.ExecContext(ctx, "UPDATE "+tbl+"_settings SET min_retention = '0'"); pqCode(err) != "42501" {
		t.Errorf("the sealer changes the minimum retention: got %v, want permission denied", err)
	}
	if err := ss.SetMinRetention(ctx, 0); pqCode(err) != "42501" {
		t.Errorf("SetMinRetention as the sealer: got %v, want permission denied", err)
	}
	// the sealer seals, checkpoints and retains, and the chain verifies
	key := chain.HMACKey{ID: "k", Secret: make([]byte, 32)}
	signer := chain.SigningKey{ID: "s", Key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	sl, err := chain.NewSealer(ss, key, &chain.SealerOptions{SigningKey: &signer, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	sealUntil(t, ss, 6, sl.SealOnce)
	// the sealer wrote the tree; it may not change it
	if n, err := ss.TreeSize(ctx); err != nil || n != 6 {
		t.Errorf("tree of %d leaves after sealing as the sealer, %v; want 6", n, err)
	}
	for _, q := range []string{"UPDATE " + tbl + "_tree_leaves SET salt = NULL", "DELETE FROM " + tbl + "_tree_checkpoints"} {
		if _, err := r.sealerDB.ExecContext(ctx, q); pqCode(err) != "42501" {
			t.Errorf("as the sealer: %s: got %v, want permission denied", q, err)
		}
	}
	ret, err := audit.NewRetention(ss, sl, &audit.RetentionOptions{MaxAge: 60 * 24 * time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ret.RunOnce(ctx)
	if err != nil || res.Purged != 1 {
		t.Errorf("retention as the sealer: got %+v, %v; want 1 purged", res, err)
	}
	cps, _ := ss.Checkpoints(ctx)
	rep, err := chain.Verify(ctx, as, &chain.VerifyOptions{Keys: map[string][]byte{"k": key.Secret}, Trusted: cps,
		PublicKeys: map[string]ed25519.PublicKey{"s": signer.Key.Public().(ed25519.PublicKey)}})
	if err != nil || !rep.OK() || rep.Records != 5 {
		t.Errorf("verify as the application: %+v, %v", rep, err)
	}
	n, err := ss.Purge(ctx, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil || n != 0 {
		t.Errorf("Purge as the sealer: got %d, %v; want 0, nil", n, err)
	}
	// Other roles may not call the privileged functions.
	if _, err := r.ownerDB.ExecContext(ctx, "REVOKE EXECUTE ON FUNCTION "+schema+".audit_logs_drop_partitions(timestamptz) FROM "+r.sealer); err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Purge(ctx, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)); pqCode(err) != "42501" {
		t.Errorf("Purge without EXECUTE: got %v, want permission denied", err)
	}
}

func TestTx(t *testing.T) {
	dsn(t)
	t.Parallel()
	s := newStore(t, nil)
	ctx := testCtx(t)
	schema := schemaOf(t, s)
	tbl := schema + ".audit_logs"
	if _, err := s.DB().ExecContext(ctx, "CREATE TABLE "+schema+".accounts (id int PRIMARY KEY, name text)"); err != nil {
		t.Fatal(err)
	}
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	business := func(id int, commit bool) {
		t.Helper()
		tx, err := s.DB().BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+schema+".accounts VALUES ($1, 'x')", id); err != nil {
			t.Fatal(err)
		}
		err = l.LogTo(ctx, s.Tx(tx), audit.Event{
			Action: audit.ActionResourceCreate, ResourceType: "account", ResourceID: fmt.Sprint(id),
			Status: audit.StatusSuccess, Details: map[string]any{"password": "hunter2", "name": "x"},
		})
		if err != nil {
			t.Fatalf("LogTo: %v", err)
		}
		if commit {
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
	}
	business(1, true)
	business(2, false)
	got := storetest.QueryAll(t, s, audit.Filter{ResourceType: "account"})
	if len(got) != 1 || got[0].ResourceID != "1" {
		t.Fatalf("got %d records (%v), want only the committed one", len(got), got)
	}
	var details map[string]any
	json.Unmarshal(got[0].Details, &details)
	if details["password"] != audit.Redacted {
		t.Errorf("details %s: the password was not redacted", got[0].Details)
	}

	// batches within one transaction, with overlaps: each record once
	rs := storetest.Records(0, 6)
	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts := s.Tx(tx)
	for _, b := range [][]audit.Record{rs[0:3], rs[2:6], rs[1:2], rs[4:6]} {
		if err := ts.Append(ctx, b...); err != nil {
			t.Fatalf("Append in a transaction: %v", err)
		}
	}
	var inTx int
	if err := tx.GetContext(ctx, &inTx, "SELECT count(*) FROM "+tbl+" WHERE resource_type <> 'account'"); err != nil || inTx != 6 {
		t.Errorf("inside the transaction: %d records, %v; want 6", inTx, err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := storetest.QueryAll(t, s, audit.Filter{}); len(got) != 7 {
		t.Errorf("after commit: %d records, want 7", len(got))
	}

	// a record the database refuses fails the transaction
	refuseInDatabase(t, s)
	tx, err = s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad := storetest.Record(100)
	bad.UserID = refusedUser
	err = s.Tx(tx).Append(ctx, bad)
	tx.Rollback()
	if !storekit.IsPermanent(err) || pqCode(err) != "22023" {
		t.Errorf("Append of a record PostgreSQL refuses: got %v, want a permanent 22023", err)
	}
}

// partitionOf returns the partition that holds the record with id.
func partitionOf(t *testing.T, s *postgres.Store, tbl string, r audit.Record) string {
	t.Helper()
	var p string
	err := s.DB().GetContext(testCtx(t), &p, `SELECT tableoid::regclass::text FROM `+tbl+` WHERE id = $1 AND "timestamp" = $2`, r.ID.String(), r.OccurredAt)
	if err != nil {
		t.Fatalf("partition of %s: %v", r.ID, err)
	}
	return p[strings.LastIndexByte(p, '.')+1:]
}

func TestPartitions(t *testing.T) {
	dsn(t)
	t.Parallel()
	now := time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newStore(t, &postgres.Options{PartitionsPast: 2, PartitionsAhead: 1, Now: clock})
	ctx := testCtx(t)
	tbl := schemaOf(t, s) + ".audit_logs"
	rs := storetest.Records(0, 7)
	times := []time.Time{
		time.Date(2026, 6, 20, 0, 0, 0, 0, time.UTC),             // current month
		time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC),              // two months back: created on demand
		time.Date(2026, 3, 31, 23, 59, 59, 999999000, time.UTC),  // three back: default
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),                 // far past
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), // far future
		time.Date(2028, 1, 10, 0, 0, 0, 0, time.UTC),             // later: default until its month comes
		time.Date(2028, 1, 31, 0, 0, 0, 0, time.UTC),
	}
	for i := range rs {
		rs[i].OccurredAt = times[i]
	}
	if err := s.Append(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	want := []string{"audit_logs_p202606", "audit_logs_p202604", "audit_logs_default", "audit_logs_default",
		"audit_logs_default", "audit_logs_default", "audit_logs_default"}
	for i, r := range rs {
		if got := partitionOf(t, s, tbl, r); got != want[i] {
			t.Errorf("record at %v: in %s, want %s", r.OccurredAt, got, want[i])
		}
	}
	// Time goes by: January 2028 becomes a coming month, and its records
	// move from the default partition into their own.
	mu.Lock()
	now = time.Date(2027, 12, 15, 0, 0, 0, 0, time.UTC)
	mu.Unlock()
	next := storetest.Record(7)
	next.OccurredAt = now
	if err := s.Append(ctx, next); err != nil {
		t.Fatal(err)
	}
	for i, r := range rs {
		if i >= 5 {
			want[i] = "audit_logs_p202801"
		}
		if got := partitionOf(t, s, tbl, r); got != want[i] {
			t.Errorf("after the move: record at %v: in %s, want %s", r.OccurredAt, got, want[i])
		}
	}
	got := storetest.QueryAll(t, s, audit.Filter{})
	if len(got) != len(rs)+1 {
		t.Errorf("after the move: %d records, want %d", len(got), len(rs)+1)
	}
	// the rebuilt default partition and the new ones are guarded too
	for _, p := range []string{"_default", "_p202801", "_p202712"} {
		if _, err := s.DB().ExecContext(ctx, "TRUNCATE "+tbl+p); pqCode(err) != "42501" {
			t.Errorf("TRUNCATE %s%s: got %v, want the guard's refusal", tbl, p, err)
		}
	}
	if err := s.EnsurePartitions(ctx); err != nil {
		t.Errorf("EnsurePartitions: %v", err)
	}
}

func TestPurgeDropsPartitions(t *testing.T) {
	dsn(t)
	t.Parallel()
	s := newStore(t, &postgres.Options{PurgeBatch: 7})
	ctx := testCtx(t)
	schema := schemaOf(t, s)
	tbl := schema + ".audit_logs"
	rs := storetest.Records(0, 90)
	for i := range rs {
		rs[i].OccurredAt = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 24 * time.Hour) // Jan … Mar
	}
	rs[0].OccurredAt = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) // default partition
	if err := s.Append(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	partitions := func() int {
		var n int
		if err := s.DB().GetContext(ctx, &n, `SELECT count(*) FROM pg_inherits WHERE inhparent = $1::regclass`, schema+".audit_logs"); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := partitions()
	cutoff := time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC) // January whole, February in part
	want := 0
	for _, r := range rs {
		if r.OccurredAt.Before(cutoff) {
			want++
		}
	}
	n, err := s.Purge(ctx, cutoff)
	if err != nil || n != int64(want) {
		t.Fatalf("Purge: got %d, %v; want %d", n, err, want)
	}
	if after := partitions(); after != before-1 {
		t.Errorf("partitions: %d before, %d after, want one dropped", before, after)
	}
	var left int
	s.DB().GetContext(ctx, &left, `SELECT count(*) FROM `+tbl+` WHERE "timestamp" < $1`, cutoff)
	if left != 0 {
		t.Errorf("%d records before the cutoff left", left)
	}
}

// TestExplainUsesIndexes checks the plan of each filter: every partition
// that holds records is read through an index, never scanned whole; with
// fresh statistics, and on a table never analyzed (autovacuum off), where
// the plan must not depend on statistics. Without statistics it also
// checks the one query of ScanRecords for the filters of an export.
func TestExplainUsesIndexes(t *testing.T) {
	dsn(t)
	t.Parallel()
	for _, analyze := range []bool{true, false} {
		t.Run(fmt.Sprintf("analyzed=%v", analyze), func(t *testing.T) {
			t.Parallel()
			s := newStore(t, nil)
			ctx := testCtx(t)
			schema := schemaOf(t, s)
			start := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
			if err := generate(ctx, s.DB(), schema, 30000, start, 6*time.Minute, analyze); err != nil {
				t.Fatal(err)
			}
			for _, tt := range explainFilters(start, 6*time.Minute, 30000) {
				if !analyze && tt.needsStats {
					continue
				}
				q, args := postgres.QueryText(s, tt.f)
				indexes := explainIndexes(t, s.DB(), tt.name, q, args)
				if !analyze && tt.index == "" {
					continue // the planner's choice
				}
				found := false
				for ix := range indexes {
					found = found || strings.Contains(ix, tt.index)
				}
				if !found {
					t.Errorf("%s: indexes %v, want one on %s", tt.name, indexes, tt.index)
				}
			}
			if analyze {
				return
			}
			for _, f := range []audit.Filter{{ActionPrefix: "user."}, {UserID: "user-42"}, {ActionPrefix: "api_key.", ResourceID: "res-42"}} {
				q, args := postgres.ScanText(s, f)
				explainIndexes(t, s.DB(), "scan "+q, q, args)
			}
		})
	}
}

// explainIndexes runs EXPLAIN ANALYZE of q, fails t on a sequential scan
// that reads rows, and returns the indexes the plan uses.
func explainIndexes(t *testing.T, db *sqlx.DB, name, q string, args []any) map[string]bool {
	t.Helper()
	var plan []byte
	if err := db.QueryRowContext(testCtx(t), "EXPLAIN (ANALYZE, FORMAT JSON) "+q, args...).Scan(&plan); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var doc []struct{ Plan planNode }
	if err := json.Unmarshal(plan, &doc); err != nil {
		t.Fatal(err)
	}
	indexes := map[string]bool{}
	var walk func(n *planNode)
	walk = func(n *planNode) {
		if n.NodeType == "Seq Scan" && (n.ActualRows > 0 || n.RowsRemovedByFilter > 0) {
			t.Errorf("%s: sequential scan of %s (%d rows read)", name, n.RelationName, n.ActualRows+n.RowsRemovedByFilter)
		}
		if n.IndexName != "" {
			indexes[n.IndexName] = true
		}
		for i := range n.Plans {
			walk(&n.Plans[i])
		}
	}
	walk(&doc[0].Plan)
	t.Logf("%s: %v", name, slices.Sorted(maps.Keys(indexes)))
	return indexes
}

type planNode struct {
	NodeType            string     `json:"Node Type"`
	RelationName        string     `json:"Relation Name"`
	IndexName           string     `json:"Index Name"`
	ActualRows          int        `json:"Actual Rows"`
	RowsRemovedByFilter int        `json:"Rows Removed by Filter"`
	Plans               []planNode `json:"Plans"`
}

// explainFilter is a filter of the query benchmark and of
// TestExplainUsesIndexes, and the index it should use.
type explainFilter struct {
	name  string
	f     audit.Filter
	index string // a part of the index's name
	// Without statistics the planner takes an equality on a column of
	// few values for selective and scans: the primary key serves these
	// only once the table is analyzed.
	needsStats bool
}

// explainFilters returns a filter for each field, on data made by
// generate(n, start, step).
func explainFilters(start time.Time, step time.Duration, n int) []explainFilter {
	mid := start.Add(-time.Duration(n/2) * step)
	return []explainFilter{
		{"none", audit.Filter{}, "pkey", false},
		{"user_id", audit.Filter{UserID: "user-42"}, "user_id", false},
		{"action", audit.Filter{Action: audit.ActionAPIKeyRevoke}, "", false},
		{"action_prefix", audit.Filter{ActionPrefix: "api_key."}, "", false},
		{"action_prefix_half", audit.Filter{ActionPrefix: "user."}, "", false},
		{"resource", audit.Filter{ResourceType: "document", ResourceID: "res-42"}, "resource_id", false},
		{"resource_id", audit.Filter{ResourceID: "res-42"}, "resource_id", false},
		{"resource_type", audit.Filter{ResourceType: "folder"}, "", true},
		{"request_id", audit.Filter{RequestID: "req-4242"}, "request_id", false},
		{"status", audit.Filter{Status: audit.StatusError}, "", true},
		{"since_until", audit.Filter{Since: mid.Add(-24 * time.Hour), Until: mid}, "pkey", false},
		{"user_id_page_2", audit.Filter{UserID: "user-42", Cursor: storekit.CursorAfter(&audit.Record{OccurredAt: mid}).String()}, "user_id", false},
		{"tenant_id", audit.Filter{TenantID: "tenant-7"}, "tenant_id_timestamp", false},
		{"tenant_id_user_id", audit.Filter{TenantID: "tenant-7", UserID: "user-7"}, "tenant_id_user_id", false},
		{"tenant_id_since", audit.Filter{TenantID: "tenant-7", Since: mid.Add(-24 * time.Hour), Until: mid}, "tenant_id_timestamp", false},
		{"tenant_id_page_2", audit.Filter{TenantID: "tenant-7", Cursor: storekit.CursorAfter(&audit.Record{OccurredAt: mid}).String()}, "tenant_id_timestamp", false},
		{"trace_id", audit.Filter{TraceID: fmt.Sprintf("%032x", 4242)}, "trace_id", false},
		{"trace_id_tenant_id", audit.Filter{TraceID: fmt.Sprintf("%032x", 4242), TenantID: "tenant-2"}, "", false},
	}
}

// generate inserts n records into schema.audit_logs, one every step back
// from start, with the distributions of the query benchmark: 1000 users,
// 12 actions, 5 resource types, 20000 resource ids, 3 records per request
// and per trace, 50 tenants,
// 10% failures and 2% errors. It creates their partitions, and analyzes
// the table if analyze is set; if not, it turns autovacuum off on the
// partitions, so that the table stays without statistics.
func generate(ctx context.Context, db *sqlx.DB, schema string, n int, start time.Time, step time.Duration, analyze bool) error {
	first := start.Add(-time.Duration(n) * step)
	if _, err := db.ExecContext(ctx, `SELECT `+schema+`.audit_logs_ensure_partitions(ARRAY(
		SELECT generate_series(date_trunc('month', $1::timestamptz AT TIME ZONE 'UTC'), $2::timestamptz AT TIME ZONE 'UTC', interval '1 month')::date))`,
		first, start); err != nil {
		return err
	}
	if !analyze {
		var parts []string
		if err := db.SelectContext(ctx, &parts, "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = $1::regclass", schema+".audit_logs"); err != nil {
			return err
		}
		for _, p := range parts {
			if _, err := db.ExecContext(ctx, "ALTER TABLE "+p+" SET (autovacuum_enabled = false)"); err != nil {
				return err
			}
		}
	}
	_, err := db.ExecContext(ctx, `INSERT INTO `+schema+`.audit_logs (id, "timestamp", user_id, user_email, ip_address, user_agent,
	action, resource_type, resource_id, details, request_id, session_id, status, error_message, tenant_id, trace_id, span_id)
SELECT gen_random_uuid(), $1::timestamptz - i * $2::interval,
	'user-' || (i % 1000), 'user' || (i % 1000) || '@example.com', '192.0.2.1'::inet, 'bench/1.0',
	(ARRAY['user.login','user.logout','user.register','user.password_change','user.profile_update','user.delete_account',
	       'resource.create','resource.read','resource.update','resource.delete','api_key.create','api_key.revoke'])[1 + i % 12],
	(ARRAY['document','user','api_key','folder','report'])[1 + i % 5], 'res-' || (i % 20000),
	jsonb_build_object('i', i, 'title', 'Quarterly report'), 'req-' || (i / 3), 'sess-' || (i % 5000),
	CASE WHEN i % 10 = 0 THEN 'failure' WHEN i % 50 = 1 THEN 'error' ELSE 'success' END,
	CASE WHEN i % 10 = 0 THEN 'denied' END,
	'tenant-' || (i % 50), lpad(to_hex(i / 3), 32, '0'), lpad(to_hex(i), 16, '0')
FROM generate_series(1, $3::int) AS i`, start, fmt.Sprintf("%d microseconds", step.Microseconds()), n)
	if err != nil || !analyze {
		return err
	}
	_, err = db.ExecContext(ctx, "ANALYZE "+schema+".audit_logs")
	return err
}

// TestTxDatabaseSQL checks that Store.Tx takes a plain *sql.Tx as well as
// a *sqlx.Tx: one record (INSERT) and a batch (COPY through staging)
// commit and roll back with the application's transaction.
func TestTxDatabaseSQL(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	ctx := testCtx(t)
	rs := storetest.Records(0, 5)
	for _, commit := range []bool{false, true} {
		var tx *sql.Tx
		tx, err := s.DB().DB.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		ts := s.Tx(tx)
		if err := ts.Append(ctx, rs[0]); err != nil {
			t.Fatalf("Append of one record in a *sql.Tx: %v", err)
		}
		if err := ts.Append(ctx, rs[1:]...); err != nil {
			t.Fatalf("Append of a batch in a *sql.Tx: %v", err)
		}
		want := 0
		if commit {
			want = len(rs)
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			t.Fatal(err)
		}
		if got := storetest.QueryAll(t, s, audit.Filter{}); len(got) != want {
			t.Errorf("commit %v: got %d records, want %d", commit, len(got), want)
		}
	}
}
