package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/store/sqlite"
	"github.com/trailmark/audit/storekit"
)

// auditStore is what the commands use of a store; PostgreSQL and SQLite
// both have it.
type auditStore interface {
	storekit.SealStore
	storekit.ChainPurger
	audit.Querier
	storekit.Purger
	storekit.TreeReader
	audit.Getter
	Migrate(ctx context.Context) error
	Close(ctx context.Context) error
}

// sqlitePath reports whether the --db value names an SQLite file, and
// which: "sqlite:PATH", or a path ending in .db, .sqlite or .sqlite3.
func sqlitePath(db string) (string, bool) {
	if p, ok := strings.CutPrefix(db, "sqlite:"); ok {
		return strings.TrimPrefix(p, "//"), true
	}
	if strings.Contains(db, "://") {
		return "", false
	}
	for _, ext := range []string{".db", ".sqlite", ".sqlite3"} {
		if strings.HasSuffix(db, ext) {
			return db, true
		}
	}
	return "", false
}

// sqliteStore is an SQLite store as the commands use it.
type sqliteStore struct{ *sqlite.Store }

// Migrate does nothing more: sqlite.Open has created or migrated the file.
func (sqliteStore) Migrate(context.Context) error { return nil }

// openStore opens the store --db names. An SQLite file must exist unless
// create is set (auditctl migrate), so that a mistyped path is an error,
// not a new, empty log that verifies.
func openStore(ctx context.Context, d *dbFlags, create bool) (auditStore, error) {
	if d.url == "" {
		d.url = os.Getenv("DATABASE_URL")
	}
	if d.url == "" {
		return nil, errors.New("no database: pass --db or set DATABASE_URL")
	}
	d.secrets.addDSN(d.url)
	if path, ok := sqlitePath(d.url); ok {
		if _, err := os.Stat(path); err != nil && !create {
			return nil, fmt.Errorf("SQLite file %s: %w (auditctl migrate creates one)", path, err)
		}
		s, err := sqlite.Open(ctx, path, nil)
		if err != nil {
			return nil, err
		}
		return sqliteStore{s}, nil
	}
	s, err := postgres.Open(ctx, d.url, d.options())
	if err != nil {
		return nil, fmt.Errorf("opening the database %s: %w", redactDSN(d.url), err)
	}
	return s, nil
}
