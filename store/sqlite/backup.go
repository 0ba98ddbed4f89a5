package sqlite

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/jmoiron/sqlx"
)

// Backup writes a copy of the audit log, consistent as of one moment, to
// a new file at path, while the store stays in use: appends, sealing and
// queries, in this process and others, go on during it. The copy holds
// every record, seal and checkpoint committed when the backup began, and
// opens with Open (it is in WAL mode, like the original) or with
// Options.ReadOnly; its chain verifies as the original's did then.
//
// It uses SQLite's VACUUM INTO, which reads the database in one read
// transaction, write-ahead log included. A plain copy of the file is not
// a backup: committed records may still be in the -wal file beside it,
// and a copy taken during a write or a checkpoint may be torn.
//
// The file is created with mode 0600 and must not exist: Backup never
// overwrites. On error the partial file is removed. path is a file path,
// not a "file:" URI.
func (s *Store) Backup(ctx context.Context, path string) (err error) {
	if path == "" || strings.HasPrefix(path, "file:") {
		return fmt.Errorf("audit: sqlite: backup to %q: want a file path", path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("audit: sqlite: backup: %w", err)
	}
	f.Close()
	defer func() {
		if err != nil {
			os.Remove(path)
			os.Remove(path + "-wal")
			os.Remove(path + "-shm")
			err = fmt.Errorf("audit: sqlite: backup %s to %s: %w", s.path, path, err)
		}
	}()
	// A connection of its own, neither the writer (appends would wait for
	// the whole copy) nor a reader (query_only refuses VACUUM INTO).
	src, err := s.backupDB(s.path)
	if err != nil {
		return err
	}
	defer src.Close()
	src.SetMaxOpenConns(1)
	if _, err := src.ExecContext(ctx, "VACUUM INTO ?", path); err != nil {
		return err
	}
	// VACUUM INTO writes a rollback-journal database; give the copy the
	// WAL mode of a file Open creates, so that it can replace the original.
	dst, err := s.backupDB(path)
	if err != nil {
		return err
	}
	var mode string
	err = dst.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil:
		return err
	case mode != "wal":
		return fmt.Errorf("journal mode %q, want wal", mode)
	}
	return syncFile(path)
}

// backupDB opens a pool on the file at path for Backup: the store's busy
// timeout, every commit synced.
func (s *Store) backupDB(path string) (*sqlx.DB, error) {
	q := url.Values{}
	q.Add("_pragma", busyPragma(s.cfg.busyTimeout))
	q.Add("_pragma", "synchronous(FULL)")
	return openDB(path, q)
}

// syncFile flushes the file at path and its directory entry to disk.
func syncFile(path string) error {
	var errs []error
	for _, p := range []string{path, filepath.Dir(path)} {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		errs = append(errs, f.Sync(), f.Close())
	}
	return errors.Join(errs...)
}
