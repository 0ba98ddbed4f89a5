package postgres_test

// The attacks of the security review (issue 9), each mounted by the role
// that could mount it.

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storetest"
)

// sealAllOf seals every record of s.
func sealAllOf(t *testing.T, s *postgres.Store, want int) {
	t.Helper()
	signer := chain.SigningKey{ID: "s", Key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	sl, err := chain.NewSealer(s, chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, &chain.SealerOptions{SigningKey: &signer})
	if err != nil {
		t.Fatal(err)
	}
	sealUntil(t, s, want, sl.SealOnce)
}

// sealUntil calls seal until it has sealed want records. The sealer takes
// only records of transactions older than every transaction open on the
// whole cluster, and other tests, of this package or another, hold
// transactions open for as long as they like (inserting a million rows,
// say): so sealUntil waits as long as one is open (SealLag), until the
// test binary's deadline, and fails only when sealing makes no progress
// for 30 s with none open. (With a fixed minute, TestRoles and
// TestJSONReadBackCanonical failed with "sealed 0" while another
// database's transaction held sealing back.)
func sealUntil(t *testing.T, s *postgres.Store, want int, seal func(context.Context) (int, error)) {
	t.Helper()
	ctx := longCtx(t)
	sealed, progress := 0, time.Now()
	for sealed < want {
		n, err := seal(ctx)
		if err != nil {
			t.Fatalf("sealing: %v (sealed %d of %d records)", err, sealed, want)
		}
		if n > 0 {
			sealed, progress = sealed+n, time.Now()
			continue
		}
		lag, err := s.SealLag(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lag.Horizon == "" && time.Since(progress) > 30*time.Second {
			t.Fatalf("sealed %d of %d records, and no open transaction holds sealing back", sealed, want)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("sealed %d of %d records by the test's deadline; held back by %+v", sealed, want, lag.Blocker)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestGuardSearchPathAttack mounts the attack of the review as a role
// that holds SELECT and DELETE, but does not own the tables: a temporary
// view named pg_class that says it owns them, first on its search_path,
// and the setting that lets the owner's purge through.
func TestGuardSearchPathAttack(t *testing.T) {
	admin := testDB(t)
	t.Parallel()
	ctx := testCtx(t)
	s, schema := newChainStore(t)
	if err := s.Append(ctx, storetest.Records(0, 5)...); err != nil {
		t.Fatal(err)
	}
	sealAllOf(t, s, 5)
	role := newRole(t, "trailmark_deleter_")
	tbl := schema + ".audit_logs"
	for _, q := range []string{
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT, DELETE ON " + tbl + ", " + tbl + "_seals TO " + role,
	} {
		if _, err := admin.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	db := asRole(t, role)
	tests := []struct {
		name, setting, table string
	}{
		{"records", "trailmark.purge_before = 'infinity'", tbl},
		{"seals", "trailmark.purge_seals_through = '9223372036854775807'", tbl + "_seals"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := db.BeginTxx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			for _, q := range []string{
				`CREATE OR REPLACE TEMP VIEW pg_class AS SELECT c.oid, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user) relowner FROM pg_catalog.pg_class c`,
				`SET LOCAL search_path = pg_temp, pg_catalog`,
				`SET LOCAL ` + tt.setting,
			} {
				if _, err := tx.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			res, err := tx.ExecContext(ctx, "DELETE FROM "+tt.table)
			if err == nil {
				n, _ := res.RowsAffected()
				tx.Commit()
				t.Fatalf("DELETE FROM %s as %s: %d rows deleted, want the guard's refusal", tt.table, role, n)
			}
			if pqCode(err) != "42501" || !strings.Contains(err.Error(), "append-only") {
				t.Errorf("DELETE FROM %s: got %v, want the guard's refusal (42501)", tt.table, err)
			}
		})
	}
	var n int
	if err := admin.GetContext(ctx, &n, "SELECT (SELECT count(*) FROM "+tbl+") + (SELECT count(*) FROM "+tbl+"_seals)"); err != nil || n != 10 {
		t.Errorf("after the attack: %d records and seals, %v; want 10", n, err)
	}
}

// TestFunctionsPinSearchPath checks every function of the schema: each
// sets search_path to pg_catalog, pg_temp.
func TestFunctionsPinSearchPath(t *testing.T) {
	dsn(t)
	t.Parallel()
	s, schema := newChainStore(t)
	var rows []struct {
		Name   string  `db:"proname"`
		Config *string `db:"config"`
	}
	err := s.DB().SelectContext(testCtx(t), &rows, `SELECT p.proname, array_to_string(p.proconfig, ',') AS config
		FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = $1 ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 7 {
		t.Errorf("%d functions, want at least 7", len(rows))
	}
	for _, r := range rows {
		if r.Config == nil || *r.Config != "search_path=pg_catalog, pg_temp" {
			t.Errorf("function %s: config %v, want search_path=pg_catalog, pg_temp", r.Name, r.Config)
		}
	}
}

// TestRetentionFloor calls the retention functions as the role the
// package documentation grants them to, with cutoffs younger than the
// minimum retention: each is refused and no record is removed.
func TestRetentionFloor(t *testing.T) {
	dsn(t)
	t.Parallel()
	ctx := testCtx(t)
	r := newRoleSetup(t, nil)
	app, err := postgres.New(r.appDB, &postgres.Options{Schema: r.schema})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rs := storetest.Records(0, 4)
	for i, age := range []time.Duration{0, 30, 89, 120} {
		rs[i].OccurredAt = now.Add(-age * 24 * time.Hour).Truncate(time.Microsecond)
	}
	if err := app.Append(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	tbl := r.schema + ".audit_logs"
	for _, q := range []string{
		"SELECT " + tbl + "_purge_rows('infinity', 1000)",
		"SELECT " + tbl + "_drop_partitions('infinity')",
		"SELECT " + tbl + "_purge_rows(now() - interval '89 days', 1000)",
		"SELECT " + tbl + "_drop_partitions(now() + interval '1 month')",
		"SELECT " + tbl + "_purge_rows(NULL, 1000)",
	} {
		_, err := r.sealerDB.ExecContext(ctx, q)
		if pqCode(err) != "22023" || !strings.Contains(err.Error(), "minimum retention") {
			t.Errorf("as the retention role: %s: got %v, want the minimum retention's refusal", q, err)
		}
	}
	sealerStore, err := postgres.New(r.sealerDB, &postgres.Options{Schema: r.schema})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sealerStore.Purge(ctx, now); err == nil || !strings.Contains(err.Error(), "minimum retention") {
		t.Errorf("Purge(now): got %v, want the minimum retention's refusal", err)
	}
	if got := storetest.QueryAll(t, app, audit.Filter{}); len(got) != 4 {
		t.Errorf("after refused purges: %d records, want 4", len(got))
	}
	// older than 90 days may go
	n, err := sealerStore.Purge(ctx, now.Add(-91*24*time.Hour))
	if err != nil || n != 1 {
		t.Errorf("Purge 91 days back: got %d, %v; want 1, nil", n, err)
	}
	// the owner may shorten it
	owner, err := postgres.New(r.ownerDB, &postgres.Options{Schema: r.schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.SetMinRetention(ctx, 7*24*time.Hour); err != nil {
		t.Fatalf("SetMinRetention as the owner: %v", err)
	}
	if n, err := sealerStore.Purge(ctx, now.Add(-8*24*time.Hour)); err != nil || n != 2 {
		t.Errorf("Purge 8 days back after SetMinRetention(7 days): got %d, %v; want 2, nil", n, err)
	}
	if err := owner.SetMinRetention(ctx, -time.Second); err == nil {
		t.Errorf("SetMinRetention(-1s): no error")
	}
}

// TestEnsurePartitionsValidates calls ensure_partitions as the
// application role with months no Store asks for.
func TestEnsurePartitionsValidates(t *testing.T) {
	dsn(t)
	t.Parallel()
	ctx := testCtx(t)
	r := newRoleSetup(t, nil)
	fn := r.schema + ".audit_logs_ensure_partitions"
	tests := []struct{ name, arg string }{
		{"BC date", "ARRAY['2026-01-01 BC']::date[]"},
		{"year 1 BC", "ARRAY['0001-06-01 BC']::date[]"},
		{"NULL month", "ARRAY[NULL]::date[]"},
		{"NULL array", "NULL::date[]"},
		{"11 years ahead", "ARRAY[(now() + interval '11 years')::date]"},
		{"101 years back", "ARRAY[(now() - interval '101 years')::date]"},
		{"too many months", "ARRAY(SELECT (now() - i * interval '1 day')::date FROM generate_series(1, 2000) i)"},
	}
	for _, tt := range tests {
		_, err := r.appDB.ExecContext(ctx, "SELECT "+fn+"("+tt.arg+")")
		if pqCode(err) != "22023" {
			t.Errorf("%s: got %v, want invalid_parameter_value (22023)", tt.name, err)
		}
	}
	var parts []string
	if err := r.appDB.SelectContext(ctx, &parts, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = $1::regclass AND c.relname ~ '_p2026'`, r.schema+".audit_logs"); err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if p == "audit_logs_p202601" {
			t.Errorf("partition %s made for a BC month", p)
		}
	}
	// what a Store asks for still works
	var n int
	if err := r.appDB.GetContext(ctx, &n, "SELECT "+fn+"(ARRAY[(now() + interval '9 years')::date, (now() - interval '99 years')::date])"); err != nil || n != 2 {
		t.Errorf("months 9 years ahead and 99 back: got %d, %v; want 2 created", n, err)
	}
}

// TestForgedBoundary inserts retention checkpoints that no retention
// wrote, as the role that may write checkpoints, and calls purge_seals on
// them: it deletes nothing.
func TestForgedBoundary(t *testing.T) {
	dsn(t)
	t.Parallel()
	ctx := testCtx(t)
	r := newRoleSetup(t, nil)
	app, err := postgres.New(r.appDB, &postgres.Options{Schema: r.schema})
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := postgres.New(r.sealerDB, &postgres.Options{Schema: r.schema})
	if err != nil {
		t.Fatal(err)
	}
	rs := storetest.Records(0, 6)
	for i := range rs {
		rs[i].OccurredAt = time.Now().AddDate(0, 0, -200+i).UTC().Truncate(time.Microsecond) // all older than 90 days
	}
	rs[5].OccurredAt = time.Now().UTC().Truncate(time.Microsecond)
	for i := range rs { // one transaction each: sealed in this order
		if err := app.Append(ctx, rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	sealAllOf(t, sealer, 6)
	tbl := r.schema + ".audit_logs"
	forge := func(seq int, purgedBefore string) {
		t.Helper()
		_, err := r.sealerDB.ExecContext(ctx, `INSERT INTO `+tbl+`_checkpoints (seq, hash, at, purged_before, boundary, signer_id, signature)
			SELECT seq, hash, clock_timestamp(), `+purgedBefore+`, true, 'forger', '\x00' FROM `+tbl+`_seals WHERE seq = $1`, seq)
		if err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name         string
		seq          int
		purgedBefore string
		want         string
	}{
		{"cutoff infinity", 6, "'infinity'", "minimum retention"},
		{"cutoff now", 6, "now()", "minimum retention"},
		{"records still stored", 5, "now() - interval '100 days'", "still stored"},
		{"no matching hash", 4, "NULL", "no retention checkpoint"},
	}
	for _, tt := range tests {
		if tt.purgedBefore != "NULL" {
			forge(tt.seq, tt.purgedBefore)
		} else if _, err := r.sealerDB.ExecContext(ctx, `INSERT INTO `+tbl+`_checkpoints (seq, hash, at, purged_before, boundary, signer_id, signature)
			VALUES ($1, '\x01', clock_timestamp(), now() - interval '100 days', true, 'forger', '\x00')`, tt.seq); err != nil {
			t.Fatal(err)
		}
		_, err := sealer.PurgeSeals(ctx, uint64(tt.seq))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: PurgeSeals(%d): got %v, want an error saying %q", tt.name, tt.seq, err, tt.want)
		}
	}
	var n int
	if err := r.appDB.GetContext(ctx, &n, "SELECT count(*) FROM "+tbl+"_seals"); err != nil || n != 6 {
		t.Errorf("after forged boundaries: %d seals, %v; want 6", n, err)
	}
}

// TestMigrationNarrowsInsertGrants applies the migrations before 3, grants
// INSERT on the table as the documentation said then, and applies
// migration 3: the role may then insert the application's columns only,
// not recorded_at or xid, which the database sets.
func TestMigrationNarrowsInsertGrants(t *testing.T) {
	db := testDB(t)
	t.Parallel()
	ctx := testCtx(t)
	schema := newSchema(t)
	role := newRole(t, "trailmark_app_")
	tbl := schema + ".audit_logs"
	upgradeWith(t, db, schema, 3,
		"GRANT USAGE ON SCHEMA "+schema+" TO "+role,
		"GRANT SELECT, INSERT ON "+tbl+" TO "+role,
		"SELECT "+tbl+"_ensure_partitions(ARRAY[now()::date])")
	app := asRole(t, role)
	insert := `INSERT INTO ` + tbl + ` (id, "timestamp", action, resource_type, status%s) VALUES (gen_random_uuid(), now(), 'a', 'b', 'success'%s)`
	tests := []struct {
		name, col, val string
		allowed        bool
	}{
		{"the application's columns", "", "", true},
		// migration 4 extends the narrowed grant to its columns
		{"tenant and trace", ", tenant_id, trace_id, span_id", ", 'org-1', '4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7'", true},
		{"recorded_at", ", recorded_at", ", '2000-01-01'", false},
		{"xid", ", xid", ", '1'", false},
	}
	for _, tt := range tests {
		_, err := app.ExecContext(ctx, fmt.Sprintf(insert, tt.col, tt.val))
		if tt.allowed && err != nil {
			t.Errorf("insert of %s: %v", tt.name, err)
		}
		if !tt.allowed && pqCode(err) != "42501" {
			t.Errorf("insert of %s: got %v, want permission denied", tt.name, err)
		}
	}
}

// TestTenantPurgeAsRetentionRole purges per tenant as the retention role
// granted as the package documentation says: each tenant's cutoff must
// respect the minimum retention, the application role may not call it,
// and only the records past their tenant's cutoff go.
func TestTenantPurgeAsRetentionRole(t *testing.T) {
	dsn(t)
	t.Parallel()
	ctx := testCtx(t)
	r := newRoleSetup(t, nil)
	app, err := postgres.New(r.appDB, &postgres.Options{Schema: r.schema})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	rs := storetest.Records(0, 6)
	for i, x := range []struct {
		tenant string
		age    int
	}{{"org-long", 200}, {"org-long", 400}, {"org-short", 100}, {"org-short", 10}, {"", 100}, {"org-other", 200}} {
		rs[i].TenantID = x.tenant
		rs[i].OccurredAt = now.Add(-time.Duration(x.age) * 24 * time.Hour).Truncate(time.Microsecond)
	}
	if err := app.Append(ctx, rs...); err != nil {
		t.Fatal(err)
	}
	sealer, err := postgres.New(r.sealerDB, &postgres.Options{Schema: r.schema})
	if err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	if _, err := app.PurgeTenants(ctx, now.Add(-90*day), map[string]time.Time{"org-long": now.Add(-365 * day)}); pqCode(err) != "42501" {
		t.Errorf("PurgeTenants as the application role: got %v, want permission denied", err)
	}
	if _, err := sealer.PurgeTenants(ctx, now.Add(-90*day), map[string]time.Time{"org-short": now.Add(-30 * day)}); err == nil || !strings.Contains(err.Error(), "minimum retention") {
		t.Errorf("a tenant cutoff of 30 days under a minimum retention of 90: got %v, want the minimum retention's refusal", err)
	}
	if got := storetest.QueryAll(t, app, audit.Filter{}); len(got) != 6 {
		t.Fatalf("after refused purges: %d records, want 6", len(got))
	}
	n, err := sealer.PurgeTenants(ctx, now.Add(-150*day), map[string]time.Time{"org-long": now.Add(-365 * day), "org-short": now.Add(-95 * day)})
	if err != nil || n != 3 {
		t.Fatalf("PurgeTenants: got %d, %v; want 3 (org-long of day -400, org-short of day -100, org-other of day -200)", n, err)
	}
	left := map[string]int{}
	for _, x := range storetest.QueryAll(t, app, audit.Filter{}) {
		left[fmt.Sprintf("%s/%d", x.TenantID, int(now.Sub(x.OccurredAt).Hours()/24+0.5))]++
	}
	want := map[string]int{"org-long/200": 1, "org-short/10": 1, "/100": 1}
	if fmt.Sprint(left) != fmt.Sprint(want) {
		t.Errorf("left %v, want %v", left, want)
	}
}

// TestMigration5GrantsTenantPurge upgrades a version-4 schema whose
// retention role was granted purge_rows: migration 5 grants it
// purge_tenant_rows too, and nobody else.
func TestMigration5GrantsTenantPurge(t *testing.T) {
	db := testDB(t)
	t.Parallel()
	ctx := testCtx(t)
	schema := newSchema(t)
	sealer := newRole(t, "trailmark_sealer_")
	app := newRole(t, "trailmark_app_")
	tbl := schema + ".audit_logs"
	upgradeWith(t, db, schema, 5,
		"GRANT USAGE ON SCHEMA "+schema+" TO "+sealer+", "+app,
		"GRANT EXECUTE ON FUNCTION "+tbl+"_purge_rows(timestamptz, integer) TO "+sealer)
	var granted []string
	err := db.SelectContext(ctx, &granted, `SELECT r.rolname FROM pg_roles r
		WHERE r.rolname IN ($1, $2) AND has_function_privilege(r.oid, $3::regprocedure, 'EXECUTE') ORDER BY 1`,
		sealer, app, tbl+"_purge_tenant_rows(timestamptz, text[], timestamptz[], integer)")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(granted) != fmt.Sprint([]string{sealer}) {
		t.Errorf("after migration 5, EXECUTE on purge_tenant_rows is held by %v; want only the retention role %s", granted, sealer)
	}
}

// upgradeWith migrates schema up to migration n (excluded), runs grants as
// an operator of that version would have, then applies migration n and
// the rest, as MigrationSQL writes them.
func upgradeWith(t *testing.T, db *sqlx.DB, schema string, n int, grants ...string) {
	t.Helper()
	text, err := postgres.MigrationSQL(&postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	head := fmt.Sprintf("-- trailmark audit migration %d:", n)
	before, after, ok := strings.Cut(text, head)
	if !ok {
		t.Fatalf("no migration %d in MigrationSQL", n)
	}
	ctx := testCtx(t)
	for _, q := range append(append([]string{before}, grants...), head+after) {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%.60s: %v", q, err)
		}
	}
}

// TestStreamPositionsAsApplication: the application role, granted as the
// package documentation says, saves and loads stream positions; the
// sealer role may not; and an application role of a schema migrated
// before migration 6 may, once migration 6 is applied.
func TestStreamPositionsAsApplication(t *testing.T) {
	dsn(t)
	t.Parallel()
	ctx := testCtx(t)
	r := newRoleSetup(t, nil)
	app, err := postgres.New(r.appDB, &postgres.Options{Schema: r.schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := app.SavePosition(ctx, "siem/a", "p1"); err != nil {
		t.Fatalf("SavePosition as the application: %v", err)
	}
	if err := app.SavePosition(ctx, "siem/a", "p2"); err != nil {
		t.Fatalf("SavePosition again as the application: %v", err)
	}
	if got, err := app.LoadPosition(ctx, "siem/a"); err != nil || got != "p2" {
		t.Errorf("LoadPosition as the application: %q, %v; want p2", got, err)
	}
	sealer, err := postgres.New(r.sealerDB, &postgres.Options{Schema: r.schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := sealer.SavePosition(ctx, "siem/a", "p3"); pqCode(err) != "42501" {
		t.Errorf("SavePosition as the sealer: got %v, want permission denied", err)
	}

	db := testDB(t)
	schema := newSchema(t)
	role := newRole(t, "trailmark_app_")
	upgradeWith(t, db, schema, 7,
		"GRANT USAGE ON SCHEMA "+schema+" TO "+role,
		"GRANT SELECT, INSERT ON "+schema+".audit_logs TO "+role)
	old, err := postgres.New(asRole(t, role), &postgres.Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	if err := old.SavePosition(ctx, "siem/b", "q"); err != nil {
		t.Errorf("SavePosition as an application role granted before migration 7: %v", err)
	}
}
