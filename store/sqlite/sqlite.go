package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	_ "modernc.org/sqlite" // the pure-Go driver, registered as "sqlite"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

var (
	_ audit.Store           = (*Store)(nil)
	_ audit.Querier         = (*Store)(nil)
	_ audit.Getter          = (*Store)(nil)
	_ storekit.Purger       = (*Store)(nil)
	_ storekit.TenantPurger = (*Store)(nil)
	_ storekit.SealStore    = (*Store)(nil)
	_ storekit.ChainPurger  = (*Store)(nil)
)

// ApplicationID is the SQLite application_id of a Trailmark audit file
// ("TrMk"). Open refuses a file with tables and another application_id.
const ApplicationID = 0x54724d6b

// Defaults of the options.
const (
	defaultBusyTimeout = 10 * time.Second
	defaultPurgeRows   = 10000
	defaultReaders     = 4
)

// ErrForeignFile is wrapped by the error Open returns for a file that is
// not a Trailmark audit log: not an SQLite database, another
// application's database, or a schema newer than this program knows.
var ErrForeignFile = errors.New("audit: sqlite: not a Trailmark audit file")

// Store is an audit.Store in one SQLite file. It is safe for concurrent
// use by many goroutines, and several processes may open the same file.
type Store struct {
	path   string
	writer *sqlx.DB // one connection: writes in this process take turns without SQLITE_BUSY
	reader *sqlx.DB // several read-only connections; WAL lets them read beside the writer
	cfg    config

	closeOnce sync.Once
	closeErr  error
}

type config struct {
	busyTimeout time.Duration
	purgeRows   int
	readOnly    bool
	now         func() time.Time
}

// Options configures a Store. The zero value (and nil) means the defaults;
// Open copies it.
type Options struct {
	// Now is the clock that stamps RecordedAt. Default time.Now.
	Now func() time.Time
	// BusyTimeout is how long a statement waits for another process's
	// write to finish before it fails with "database is locked". Default
	// 10s.
	BusyTimeout time.Duration
	// PurgeBatch is how many records Purge deletes per transaction.
	// Default 10000.
	PurgeBatch int
	// ReadOnly opens the file read-only, as SQLite does by itself when
	// the process may not write the file: Open neither creates nor
	// migrates it, and every write fails (Append with an error; a Sync
	// Logger returns it). For query, export and verify tools.
	ReadOnly bool
}

// Open opens the audit log in the SQLite file at path, creating the file
// if it does not exist — readable and writable by its owner only (0600),
// as are the -wal and -shm files SQLite creates beside it, which take the
// database file's mode (an existing file keeps its mode) — and brings its
// schema up to date: the migrations
// are embedded and applied in one transaction, recorded in the table
// schema_migrations. It is safe when several processes open the same file
// at once.
//
// Open never changes a file it does not recognise: a file that is not an
// SQLite database, a database of another application (tables, and an
// application_id other than ApplicationID), or one whose schema is newer
// than this program gives an error wrapping ErrForeignFile.
func Open(ctx context.Context, path string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	c := config{busyTimeout: o.BusyTimeout, purgeRows: o.PurgeBatch, readOnly: o.ReadOnly, now: o.Now}
	if c.busyTimeout == 0 {
		c.busyTimeout = defaultBusyTimeout
	}
	if c.purgeRows == 0 {
		c.purgeRows = defaultPurgeRows
	}
	if c.now == nil {
		c.now = time.Now
	}
	switch {
	case path == "" || strings.ContainsAny(path, "?#"):
		return nil, fmt.Errorf("audit: sqlite: open %q: want a file path without '?' or '#'", path)
	case c.busyTimeout < 0:
		return nil, fmt.Errorf("audit: sqlite: Options.BusyTimeout %v: must not be negative", c.busyTimeout)
	case c.purgeRows < 1:
		return nil, fmt.Errorf("audit: sqlite: Options.PurgeBatch %d: must be positive", c.purgeRows)
	}
	s := &Store{path: path, cfg: c}
	if !c.readOnly {
		if err := createPrivate(path); err != nil {
			return nil, err
		}
	}
	var err error
	if s.writer, err = s.pool(false); err != nil {
		return nil, err
	}
	s.writer.SetMaxOpenConns(1)
	s.writer.SetMaxIdleConns(1)
	s.writer.SetConnMaxIdleTime(0)
	if s.reader, err = s.pool(true); err != nil {
		s.writer.Close()
		return nil, err
	}
	s.reader.SetMaxOpenConns(defaultReaders)
	s.reader.SetMaxIdleConns(defaultReaders)
	if err := s.setUp(ctx); err != nil {
		s.Close(context.Background())
		return nil, err
	}
	return s, nil
}

// pool opens a connection pool on the file.
func (s *Store) pool(read bool) (*sqlx.DB, error) {
	q := url.Values{}
	q.Add("_pragma", busyPragma(s.cfg.busyTimeout))
	switch {
	case s.cfg.readOnly:
		q.Set("mode", "ro")
	case read:
		q.Add("_pragma", "query_only(1)")
	default:
		// a write transaction takes the write lock when it begins, so that
		// the busy timeout applies, rather than failing at once when a
		// reader would have to upgrade
		q.Set("_txlock", "immediate")
		// every commit is on disk before Append returns
		q.Add("_pragma", "synchronous(FULL)")
		q.Add("_pragma", "journal_size_limit(67108864)")
	}
	db, err := openDB(s.path, q)
	if err != nil {
		return nil, fmt.Errorf("audit: sqlite: open %s: %w", s.path, err)
	}
	return db, nil
}

// openDB opens a connection pool on the file at path with the driver's
// query parameters q.
func openDB(path string, q url.Values) (*sqlx.DB, error) {
	dsn := (&url.URL{Scheme: "file", Opaque: escapePath(path), RawQuery: q.Encode()}).String()
	return sqlx.Open("sqlite", dsn)
}

// busyPragma is the driver's _pragma value that sets the busy timeout.
func busyPragma(d time.Duration) string {
	return "busy_timeout(" + strconv.FormatInt(d.Milliseconds(), 10) + ")"
}

// createPrivate creates the file at path, empty and readable by its owner
// only (0600), if it does not exist; an existing file is left as it is.
// SQLite would create it with 0644 less the umask — world-readable under
// the usual 022 — and its unix VFS gives the -wal, -shm and -journal files
// the mode of the database file, so they are 0600 too.
func createPrivate(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE, 0o600) // no write access needed to an existing file
	if err != nil {
		return fmt.Errorf("audit: sqlite: open %s: %w", path, err)
	}
	return f.Close()
}

// escapePath escapes what a file: URI cannot hold literally.
func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// Path returns the file the Store uses.
func (s *Store) Path() string { return s.path }

// Close closes the file, waiting for the queries in progress to end, or
// for ctx to end. It is safe to call more than once.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		done := make(chan error, 1)
		go func() { done <- errors.Join(s.reader.Close(), s.writer.Close()) }()
		var err error
		select {
		case err = <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			s.closeErr = fmt.Errorf("audit: sqlite: close: %w", err)
		}
	})
	return s.closeErr
}

// The migrations, applied in order of their version: the number that
// starts the file name. A later version adds a file; a released file never
// changes.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	files, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, f := range files {
		base := strings.TrimSuffix(path.Base(f), ".sql")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != len(ms)+1 {
			return nil, fmt.Errorf("audit: sqlite: migration file %s: want NNNN_name.sql numbered from 1 without gaps", f)
		}
		text, err := migrationFiles.ReadFile(f)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(text)})
	}
	return ms, nil
}

// fileState is what setUp learns of a file before it changes anything.
type fileState struct {
	appID   int64
	tables  int
	version int // the newest migration applied; 0 for none
}

func (s *Store) inspect(ctx context.Context, q sqlx.QueryerContext) (fileState, error) {
	var st fileState
	foreign := func(err error) error {
		return fmt.Errorf("%w: %s: %w", ErrForeignFile, s.path, err)
	}
	if err := q.QueryRowxContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'table'").Scan(&st.tables); err != nil {
		if isNotADB(err) {
			return st, foreign(err)
		}
		return st, fmt.Errorf("audit: sqlite: open %s: %w", s.path, err)
	}
	if err := q.QueryRowxContext(ctx, "PRAGMA application_id").Scan(&st.appID); err != nil {
		return st, fmt.Errorf("audit: sqlite: open %s: %w", s.path, err)
	}
	if st.tables == 0 && st.appID == 0 {
		return st, nil // a new, empty file
	}
	if st.appID != ApplicationID {
		return st, foreign(fmt.Errorf("application_id %#x and %d tables: another application's database", st.appID, st.tables))
	}
	var v sql.NullInt64
	if err := q.QueryRowxContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return st, foreign(fmt.Errorf("no readable schema_migrations table: %w", err))
	}
	st.version = int(v.Int64)
	return st, nil
}

// setUp checks the file, then creates or migrates it.
func (s *Store) setUp(ctx context.Context) error {
	ms, err := migrations()
	if err != nil {
		return err
	}
	st, err := s.inspect(ctx, s.reader)
	if err != nil {
		return err
	}
	if st.version > len(ms) {
		return fmt.Errorf("%w: %s: the schema is at version %d, newer than this program (%d)", ErrForeignFile, s.path, st.version, len(ms))
	}
	if s.cfg.readOnly {
		if st.version < len(ms) {
			return fmt.Errorf("audit: sqlite: open %s read-only: the schema is at version %d, this program needs %d: open it writable once to migrate", s.path, st.version, len(ms))
		}
		return nil
	}
	if st.version == len(ms) {
		return nil
	}
	conn, err := s.writer.Connx(ctx)
	if err != nil {
		return fmt.Errorf("audit: sqlite: open %s: %w", s.path, err)
	}
	defer conn.Close()
	if st.tables == 0 {
		// Before the first table: these settings are fixed when the file
		// gets its first page. WAL is kept in the file.
		for _, p := range []string{"PRAGMA auto_vacuum = INCREMENTAL", "PRAGMA journal_mode = WAL"} {
			if _, err := conn.ExecContext(ctx, p); err != nil {
				return fmt.Errorf("audit: sqlite: create %s: %s: %w", s.path, p, err)
			}
		}
	}
	tx, err := conn.BeginTxx(ctx, nil) // immediate: one process migrates at a time
	if err != nil {
		return fmt.Errorf("audit: sqlite: migrate %s: %w", s.path, err)
	}
	defer tx.Rollback()
	// again, under the write lock: another process may have migrated
	if st, err = s.inspect(ctx, tx); err != nil {
		return err
	}
	if st.version > len(ms) {
		return fmt.Errorf("%w: %s: the schema is at version %d, newer than this program (%d)", ErrForeignFile, s.path, st.version, len(ms))
	}
	if st.tables == 0 {
		for _, q := range []string{
			"PRAGMA application_id = " + strconv.Itoa(ApplicationID),
			`CREATE TABLE schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT    NOT NULL,
	applied_at INTEGER NOT NULL
) STRICT`,
		} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("audit: sqlite: create %s: %w", s.path, err)
			}
		}
	}
	for _, m := range ms[st.version:] {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("audit: sqlite: migrate %s to version %d (%s): %w", s.path, m.version, m.name, err)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
			m.version, m.name, s.cfg.now().UnixMicro()); err != nil {
			return fmt.Errorf("audit: sqlite: migrate %s to version %d (%s): %w", s.path, m.version, m.name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("audit: sqlite: migrate %s: commit: %w", s.path, err)
	}
	return nil
}

// isNotADB reports whether err is SQLite's SQLITE_NOTADB: the file is not
// a database (or is encrypted).
func isNotADB(err error) bool {
	return errCode(err) == 26
}

// errCode returns the primary SQLite result code of err, or 0.
func errCode(err error) int {
	var ce interface{ Code() int }
	if errors.As(err, &ce) {
		return ce.Code() & 0xff
	}
	return 0
}

// MigrationSQL returns the SQL of every migration, in order, as Open
// applies them to a new file, for review. Open also sets the file's
// application_id, auto_vacuum and journal mode and records each version in
// schema_migrations, which this text leaves out.
func MigrationSQL() (string, error) {
	ms, err := migrations()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "-- migration %d: %s\n%s\n", m.version, m.name, strings.TrimSpace(m.sql))
		b.WriteString("\n")
	}
	return b.String(), nil
}
