package main

import (
	"context"
	"errors"
	"fmt"
	"os"
)

// backup writes an online, consistent copy of an SQLite audit file
// (sqlite.Store.Backup).
func (c cli) backup(ctx context.Context, args []string) error {
	fs := c.flags("backup")
	var db dbFlags
	db.register(fs, c.secrets)
	out := fs.String("o", "", "write the copy to this new file, created with mode 0600; refuses to overwrite (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-o FILE is required")
	}
	if db.url == "" {
		db.url = os.Getenv("DATABASE_URL")
	}
	if _, ok := sqlitePath(db.url); !ok && db.url != "" {
		return errors.New("backup copies an SQLite file; back up PostgreSQL with its own tools (pg_dump, or a base backup with WAL archiving)")
	}
	s, err := db.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	sq := s.(sqliteStore)
	if err := sq.Backup(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "wrote %s (mode 0600), a consistent copy of %s taken while it stayed in use\n", *out, sq.Path())
	return nil
}
