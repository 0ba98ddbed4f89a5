package postgres_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
)

// The examples that need a server run against the test server
// ($AUDIT_TEST_DATABASE_URL), in a schema of their own that setupExamples
// makes and drops, and are skipped without one.
var (
	databaseURL string // the test server, its search_path set to schema
	schema      string // where the examples keep the audit log and their documents table
)

// dbExamples are the examples that need a server.
const dbExamples = "^Example(Open|Store_Tx|Store_Purge)$"

// setupExamples prepares the examples' schema, or has them skipped when
// there is no server; the function it returns drops the schema.
func setupExamples() (cleanup func()) {
	dsn := os.Getenv(envDSN)
	u, err := url.Parse(dsn)
	if dsn == "" || err != nil || u.Scheme == "" {
		skip := flag.Lookup("test.skip")
		if v := skip.Value.String(); v != "" {
			skip.Value.Set(v + "|" + dbExamples)
		} else {
			skip.Value.Set(dbExamples)
		}
		return func() {}
	}
	schema = randomName("trailmark_example_")
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	databaseURL = u.String()
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, stmt := range []string{
		"CREATE SCHEMA " + schema,
		"CREATE TABLE " + schema + ".documents (id integer PRIMARY KEY, title text NOT NULL)",
		"INSERT INTO " + schema + ".documents VALUES (7, 'Old title')",
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			log.Fatalf("setting up the examples: %v", err)
		}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			fmt.Fprintln(os.Stderr, "dropping the examples' schema:", err)
		}
		db.Close()
	}
}

// Connect, migrate, and log through an audit.Logger.
func ExampleOpen() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, databaseURL, &postgres.Options{Schema: schema})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(context.Background())
	if err := s.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	logger, err := audit.New(s, nil)
	if err != nil {
		log.Fatal(err)
	}
	err = logger.Log(ctx, audit.Event{
		Action: audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "42",
		Status: audit.StatusSuccess,
	})
	if err != nil {
		log.Print(err)
	}
	if err := logger.Close(ctx); err != nil { // writes what is queued
		log.Print(err)
	}
	page, err := s.Query(ctx, audit.Filter{ResourceID: "42"})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range page.Records {
		fmt.Println(r.Action, r.ResourceType, r.ResourceID, r.Status)
	}
	// Output: resource.update document 42 success
}

// Record an event in the same transaction as the change it describes: both
// commit, or neither.
func ExampleStore_Tx() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, databaseURL, &postgres.Options{Schema: schema})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(context.Background())
	logger, err := audit.New(s, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		log.Fatal(err)
	}
	defer logger.Close(ctx)

	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE documents SET title = $1 WHERE id = $2", "New title", 7); err != nil {
		log.Fatal(err)
	}
	err = logger.LogTo(ctx, s.Tx(tx), audit.Event{
		Action: audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "7",
		Status: audit.StatusSuccess, Changes: map[string]audit.Change{"title": {Before: "Old title", After: "New title"}},
	})
	if err != nil {
		log.Fatal(err) // the deferred Rollback undoes the update too
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}

	page, err := s.Query(ctx, audit.Filter{ResourceID: "7"})
	if err != nil {
		log.Fatal(err)
	}
	r := page.Records[0]
	var changes map[string]audit.Change
	if err := json.Unmarshal(r.Changes, &changes); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s %s %s: %q -> %q\n", r.Action, r.ResourceType, r.ResourceID, changes["title"].Before, changes["title"].After)
	// Output: resource.update document 7: "Old title" -> "New title"
}

// Print the schema's SQL, to apply it with your own migration tooling.
func ExampleMigrationSQL() {
	sql, err := postgres.MigrationSQL(&postgres.Options{Schema: "audit"})
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range strings.Split(sql, "\n") {
		if strings.HasPrefix(line, "-- trailmark audit migration") || strings.HasPrefix(line, "CREATE TABLE") || strings.HasPrefix(line, "CREATE FUNCTION") {
			fmt.Println(line)
		}
	}
	// Output:
	// CREATE TABLE IF NOT EXISTS "audit"."audit_logs_migrations" (
	// -- trailmark audit migration 1: audit_log
	// CREATE TABLE "audit"."audit_logs" (
	// CREATE TABLE "audit"."audit_logs_default" PARTITION OF "audit"."audit_logs" DEFAULT;
	// CREATE FUNCTION "audit"."audit_logs_guard"() RETURNS trigger
	// CREATE FUNCTION "audit"."audit_logs_ensure_partitions"(months date[]) RETURNS integer
	// CREATE FUNCTION "audit"."audit_logs_drop_partitions"(cutoff timestamptz) RETURNS bigint
	// CREATE FUNCTION "audit"."audit_logs_purge_rows"(cutoff timestamptz, max_rows integer) RETURNS bigint
	// -- trailmark audit migration 2: chain
	// CREATE TABLE "audit"."audit_logs_seals" (
	// CREATE TABLE "audit"."audit_logs_checkpoints" (
	// CREATE FUNCTION "audit"."audit_logs_chain_guard"() RETURNS trigger
	// CREATE FUNCTION "audit"."audit_logs_purge_seals"(through bigint) RETURNS bigint
	// -- trailmark audit migration 3: hardening
	// CREATE TABLE "audit"."audit_logs_settings" (
	// CREATE FUNCTION "audit"."audit_logs_retention_floor"() RETURNS timestamptz
	// -- trailmark audit migration 4: tenant_trace
	// -- trailmark audit migration 5: tenant_retention
	// CREATE FUNCTION "audit"."audit_logs_purge_tenant_rows"(def timestamptz, tenants text[], cutoffs timestamptz[], max_rows integer) RETURNS bigint
	// -- trailmark audit migration 6: tree
	// CREATE TABLE "audit"."audit_logs_tree_leaves" (
	// CREATE TABLE "audit"."audit_logs_tree_checkpoints" (
	// -- trailmark audit migration 7: stream_positions
	// CREATE TABLE "audit"."audit_logs_stream_positions" (
	// -- trailmark audit migration 8: leaf_runs
}

// Remove the records older than a year, as a retention job would.
func ExampleStore_Purge() {
	ctx := context.Background()
	// as a role granted the purge functions
	s, err := postgres.Open(ctx, databaseURL, &postgres.Options{Schema: schema})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close(context.Background())
	n, err := s.Purge(ctx, time.Now().AddDate(-1, 0, 0))
	if err != nil {
		log.Print(err)
	}
	fmt.Println(n, "records purged") // the examples' records are all recent
	// Output: 0 records purged
}
