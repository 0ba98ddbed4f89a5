package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/store/sqlite"
)

// openAuditStore opens PostgreSQL when dsn is set, else the SQLite file
// when file is set, else the memory store. It returns the store, words
// that say where the log is, and the function that closes it.
func openAuditStore(ctx context.Context, dsn, file string) (backend, string, func(context.Context) error, error) {
	switch {
	case dsn != "":
		b, closeFn, err := openPostgres(ctx, dsn)
		return b, "PostgreSQL", closeFn, err
	case file != "":
		s, err := sqlite.Open(ctx, file, nil)
		if err != nil {
			return nil, "", nil, fmt.Errorf("audit: example: %w", err)
		}
		where := file
		if abs, err := filepath.Abs(file); err == nil {
			where = abs
		}
		return s, "SQLite file " + where + " (set DATABASE_URL for PostgreSQL)", s.Close, nil // Close may be called twice
	}
	return memory.New(nil), "in memory", func(context.Context) error { return nil }, nil
}
