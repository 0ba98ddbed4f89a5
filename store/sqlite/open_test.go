package sqlite

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit/storetest"
)

// TestOpenRefusesForeignFiles checks that Open names what is wrong with a
// file it does not recognise, and leaves the file as it was.
func TestOpenRefusesForeignFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	sqliteFile := func(t *testing.T, path string, stmts ...string) {
		db, err := sqlx.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		for _, q := range stmts {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	tests := []struct {
		name string
		make func(t *testing.T, path string)
		want string
	}{
		{"random bytes", func(t *testing.T, path string) {
			b := make([]byte, 8192)
			rand.Read(b)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a database"},
		{"another application's database with a table of the same name", func(t *testing.T, path string) {
			sqliteFile(t, path, "CREATE TABLE audit_logs (who TEXT, what TEXT)", "INSERT INTO audit_logs VALUES ('a', 'b')")
		}, "another application's database"},
		{"another application_id", func(t *testing.T, path string) {
			sqliteFile(t, path, "PRAGMA application_id = 42", "CREATE TABLE t (x)")
		}, "application_id 0x2a"},
		{"a newer schema", func(t *testing.T, path string) {
			s, err := Open(ctx, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.writer.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)"); err != nil {
				t.Fatal(err)
			}
			s.Close(context.Background())
		}, "version 99, newer than this program"},
		{"no migrations table", func(t *testing.T, path string) {
			sqliteFile(t, path, "PRAGMA application_id = "+strconv.Itoa(ApplicationID), "CREATE TABLE t (x)")
		}, "no readable schema_migrations table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "audit.db")
			tt.make(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, opts := range []*Options{nil, {ReadOnly: true}} {
				s, err := Open(ctx, path, opts)
				if err == nil {
					s.Close(context.Background())
					t.Fatalf("Open: no error")
				}
				if !errors.Is(err, ErrForeignFile) || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("Open: got %v, want ErrForeignFile saying %q", err, tt.want)
				}
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Errorf("Open changed the file it refused")
			}
		})
	}
}

// TestReopenKeepsRecords checks that a file opened again, by several
// Stores at once, keeps its records and is migrated once.
func TestReopenKeepsRecords(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(ctx, path, nil)
			if err == nil {
				err = errors.Join(s.Append(ctx, storetest.Records(i*10, i*10+10)...), s.Close(context.Background()))
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	var n, versions int
	var mode string
	var vacuum int
	check := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	check(s.reader.Get(&n, "SELECT count(*) FROM audit_logs"))
	check(s.reader.Get(&versions, "SELECT count(*) FROM schema_migrations"))
	check(s.reader.Get(&mode, "PRAGMA journal_mode"))
	check(s.reader.Get(&vacuum, "PRAGMA auto_vacuum"))
	ms, _ := migrations()
	if n != 40 || versions != len(ms) || mode != "wal" || vacuum != 2 {
		t.Errorf("got %d records, %d migrations, journal %s, auto_vacuum %d; want 40, %d, wal, 2", n, versions, mode, vacuum, len(ms))
	}
}
