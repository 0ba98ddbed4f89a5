package postgres_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
)

// Connect, migrate, and log through an audit.Logger.
func ExampleOpen() {
	ctx := context.Background()
	s, err := postgres.Open(ctx, "postgres://app@localhost/app?sslmode=disable", postgres.WithSchema("audit"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	if err := s.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	logger, err := audit.New(s)
	if err != nil {
		log.Fatal(err)
	}
	defer logger.Close(ctx)
	err = logger.Log(ctx, audit.Event{
		Action: audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "42",
		Status: audit.StatusSuccess,
	})
	if err != nil {
		log.Print(err)
	}
}

// Record an event in the same transaction as the change it describes: both
// commit, or neither.
func ExampleStore_Tx() {
	ctx := context.Background()
	var s *postgres.Store    // from postgres.Open or postgres.New
	var logger *audit.Logger // from audit.New
	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE documents SET title = $1 WHERE id = $2", "New title", 42); err != nil {
		log.Fatal(err)
	}
	err = logger.LogTo(ctx, s.Tx(tx), audit.Event{
		Action: audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "42",
		Status: audit.StatusSuccess, Changes: map[string]audit.Change{"title": {Before: "Old title", After: "New title"}},
	})
	if err != nil {
		log.Fatal(err) // the deferred Rollback undoes the update too
	}
	if err := tx.Commit(); err != nil {
		log.Fatal(err)
	}
}

// Print the schema's SQL, to apply it with your own migration tooling.
func ExampleMigrationSQL() {
	sql, err := postgres.MigrationSQL(postgres.WithSchema("audit"))
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
}

// Remove the records older than a year, as a retention job would.
func ExampleStore_Purge() {
	ctx := context.Background()
	var s *postgres.Store // from postgres.Open, as a role granted the purge functions
	n, err := s.Purge(ctx, time.Now().AddDate(-1, 0, 0))
	if err != nil {
		log.Print(err)
	}
	fmt.Println(n, "records purged")
}
