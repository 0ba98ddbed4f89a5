package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"text/template"

	"github.com/lib/pq"
)

// The migrations, applied in order of their version: the number that
// starts the file name. A later version adds a file; a released file never
// changes.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one step of the schema.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the migrations for the tables n names, in order.
func migrations(n names) ([]migration, error) {
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration // fs.Glob returns names sorted
	for _, f := range files {
		base := strings.TrimSuffix(path.Base(f), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != len(ms)+1 {
			return nil, fmt.Errorf("audit: postgres: migration file %s: want NNNN_name.sql numbered from 1 without gaps", f)
		}
		text, err := migrationFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		t, err := template.New(base).Option("missingkey=error").Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("audit: postgres: migration %s: %w", base, err)
		}
		var sb strings.Builder
		if err := t.Execute(&sb, n); err != nil {
			return nil, fmt.Errorf("audit: postgres: migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: sb.String()})
	}
	return ms, nil
}

// migrationsTable creates the table that records applied migrations.
func migrationsTable(n names) string {
	return "CREATE TABLE IF NOT EXISTS " + n.Migrations + ` (
	version    integer PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`
}

func recordMigration(n names, m migration) string {
	return fmt.Sprintf("INSERT INTO %s (version, name) VALUES (%d, %s) ON CONFLICT DO NOTHING",
		n.Migrations, m.version, pq.QuoteLiteral(m.name))
}

// MigrationSQL returns the SQL that creates the audit table of the options
// (Options.Schema, Options.Table) and everything it needs, for applying with your
// own migration tooling rather than Migrate. Each migration is a section
// headed "-- trailmark audit migration N: name" that ends by recording
// itself in the migrations table, so that Migrate knows it is applied and
// will apply only the later ones. Run each section in one transaction, as
// the role that is to own the table.
//
// Partitions for the coming months are not part of it: they depend on the
// date. The Store creates them as it appends, or call EnsurePartitions (or
// the ensure_partitions function) from a scheduled job.
func MigrationSQL(opts *Options) (string, error) {
	c, err := newConfig(opts)
	if err != nil {
		return "", err
	}
	n := newNames(c.schema, c.table)
	ms, err := migrations(n)
	if err != nil {
		return "", err
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "-- Trailmark audit log %s: schema migrations.\n\n", n.Name)
	fmt.Fprintf(&sb, "CREATE SCHEMA IF NOT EXISTS %s;\n\n%s;\n", pq.QuoteIdentifier(c.schema), migrationsTable(n))
	for _, m := range ms {
		fmt.Fprintf(&sb, "\n-- trailmark audit migration %d: %s\n\n%s\n%s;\n", m.version, m.name, strings.TrimSpace(m.sql), recordMigration(n, m))
	}
	return sb.String(), nil
}

// Migrate creates or upgrades the audit table and what it needs, then
// creates the partitions of the current and coming months. It is
// idempotent, and safe when several processes run it at once: they take
// turns on an advisory lock, and each applies only the migrations that no
// one has applied yet, recorded in the table <table>_migrations. Run it as
// the role that is to own the table (see the package documentation).
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := migrations(s.sql.names)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("audit: postgres: migrate: %w", err)
	}
	defer tx.Rollback()
	step := func(what, query string, args ...any) error {
		if _, err := tx.ExecContext(ctx, query, args...); err != nil {
			return fmt.Errorf("audit: postgres: migrate %s: %s: %w", s.sql.Name, what, err)
		}
		return nil
	}
	if err := step("lock", "SELECT pg_advisory_xact_lock($1)", s.sql.LockMigrate); err != nil {
		return err
	}
	if err := step("create schema", "CREATE SCHEMA IF NOT EXISTS "+pq.QuoteIdentifier(s.cfg.schema)); err != nil {
		return err
	}
	if err := step("create migrations table", migrationsTable(s.sql.names)); err != nil {
		return err
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM "+s.sql.Migrations)
	if err != nil {
		return fmt.Errorf("audit: postgres: migrate %s: %w", s.sql.Name, err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("audit: postgres: migrate %s: %w", s.sql.Name, err)
		}
		applied[v] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("audit: postgres: migrate %s: %w", s.sql.Name, err)
	}
	for v := range applied {
		if v > len(ms) {
			return fmt.Errorf("audit: postgres: migrate %s: the database is at version %d, newer than this program (%d)", s.sql.Name, v, len(ms))
		}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		what := fmt.Sprintf("version %d (%s)", m.version, m.name)
		if err := step(what, m.sql); err != nil {
			return err
		}
		if err := step(what, recordMigration(s.sql.names, m)); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit: postgres: migrate %s: commit: %w", s.sql.Name, err)
	}
	return s.EnsurePartitions(ctx)
}
