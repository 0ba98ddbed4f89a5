package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// The schema and table of a Store when Options leaves them empty.
const (
	DefaultSchema = "public"
	DefaultTable  = "audit_logs"
)

// Defaults of the other options.
const (
	defaultPast      = 24 // months before the current one with partitions on demand
	defaultAhead     = 3  // months after the current one created ahead
	defaultPurgeRows = 10000
	// DefaultMaxConns bounds the connection pool that Open makes: the
	// Logger's Sync writes share transactions (group commit) and its Async
	// writes go in batches, so a few connections carry any load of callers,
	// and no burst of them can exhaust the server's connections.
	DefaultMaxConns = 10
)

var (
	_ audit.Store     = (*Store)(nil)
	_ audit.Querier   = (*Store)(nil)
	_ audit.Getter    = (*Store)(nil)
	_ storekit.Purger = (*Store)(nil)
)

// Store is an audit.Store in PostgreSQL. It is safe for concurrent use.
type Store struct {
	db    *sqlx.DB
	owned bool // Close closes db
	sql   statements
	cfg   config
	parts *partitions

	prepared prepared

	// reads admits MaxReads reads at once, the others in arrival order
	// (see Options.MaxReads); nil for no limit
	reads chan struct{}

	ahead readAhead // the next sealing step's records

	closeOnce sync.Once
	closeErr  error
}

// config is what the options set.
type config struct {
	schema, table string
	past, ahead   int
	purgeRows     int
	now           func() time.Time
	onError       func(error)
	unprepared    bool
	maxReads      int
}

// NoPartitions, as Options.PartitionsPast or PartitionsAhead, means no
// months on that side get a partition of their own.
const NoPartitions = -1

// Options configures a Store. The zero value (and nil) means the defaults;
// New, Open and MigrationSQL copy it.
type Options struct {
	// Schema is the schema of the audit table. Default "public". The name
	// must be a lower-case SQL identifier: letters, digits and '_', not
	// starting with a digit, at most 63 bytes.
	Schema string
	// Table is the name of the audit table. Default "audit_logs". The
	// name must be a lower-case SQL identifier of at most 40 bytes; the
	// partitions, indexes and functions of the table are named after it.
	Table string
	// PartitionsPast and PartitionsAhead say which months get a partition
	// of their own: the current month and the PartitionsAhead months
	// after it are created by Migrate, EnsurePartitions and Append; months
	// from PartitionsPast months before the current one are created when
	// Append first meets an event of theirs. Events of other months go to
	// the default partition. Zero means the default, 24 and 3;
	// NoPartitions means none; other negative values are errors.
	PartitionsPast, PartitionsAhead int
	// PurgeBatch is how many records Purge deletes per transaction where
	// it cannot drop whole partitions. Default 10000.
	PurgeBatch int
	// Now is the clock that decides which month is current, for partition
	// management. Default time.Now. RecordedAt is stamped by the
	// database's clock, not by this one.
	Now func() time.Time
	// OnError is told of errors that do not fail a call: creating
	// partitions ahead is best effort, and an event without its partition
	// is stored in the default partition. Default: print to standard
	// error. It must be safe for concurrent use.
	OnError func(error)
	// Unprepared, when true, has the Store send every query as a plain
	// one. By default it prepares, once per connection, the queries whose
	// best plan does not depend on their values (Get, and the pages of
	// Query that look up a user, a tenant, a request, a trace or a
	// resource, or no value): PostgreSQL then plans them once rather than
	// at every call, which on the partitioned table is most of a page's
	// cost. It also prepares the insert of a lone record (Append of one),
	// one round trip instead of two. A statement the server has lost (a
	// DISCARD ALL by other code on the pool) is run plain once and
	// prepared again. Set Unprepared behind a connection pooler that does
	// not keep prepared statements across transactions (PgBouncer in
	// transaction mode before version 1.21): there every prepared call
	// would fail once and run again.
	Unprepared bool
	// MaxReads is how many reads (Query's pages, Get) run at once; the
	// others wait their turn in the order they came. database/sql hands
	// a freed connection to one of its waiting callers at random, so when
	// more reads wait than the pool has connections, some wait turn after
	// turn: with 100 clients of the admin API on a pool of 10, p95 went
	// from 73 to 37–45 ms with the default (docs/benchmarks.md). Default:
	// the pool's MaxOpenConnections when the Store is made, less 2 for the
	// Logger's group-commit writers (at least 1); no limit for a pool
	// without one. NoReadLimit means none. Set it when you change the
	// pool's size after Open.
	MaxReads int
}

// NoReadLimit, as Options.MaxReads, lets every read go to the pool at
// once.
const NoReadLimit = -1

// readSlots returns the reads a Store admits at once, 0 for no limit:
// maxReads as Options.MaxReads, for a pool of maxOpen connections (0 for
// no limit).
func readSlots(maxReads, maxOpen int) int {
	switch {
	case maxReads > 0:
		return maxReads
	case maxReads == NoReadLimit || maxOpen <= 0:
		return 0
	}
	return max(maxOpen-2, 1)
}

// admit waits for a read's turn (see Options.MaxReads) and returns the
// function that ends it, or ctx's error.
func (s *Store) admit(ctx context.Context) (func(), error) {
	if s.reads == nil {
		return func() {}, nil
	}
	select {
	case s.reads <- struct{}{}:
		return func() { <-s.reads }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func newConfig(opts *Options) (config, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	c := config{
		schema: o.Schema, table: o.Table, past: o.PartitionsPast, ahead: o.PartitionsAhead,
		purgeRows: o.PurgeBatch, now: o.Now, onError: o.OnError, unprepared: o.Unprepared, maxReads: o.MaxReads,
	}
	if c.schema == "" {
		c.schema = DefaultSchema
	}
	if c.table == "" {
		c.table = DefaultTable
	}
	months := func(v *int, def int) {
		switch *v {
		case 0:
			*v = def
		case NoPartitions:
			*v = 0
		}
	}
	months(&c.past, defaultPast)
	months(&c.ahead, defaultAhead)
	if c.purgeRows == 0 {
		c.purgeRows = defaultPurgeRows
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.onError == nil {
		c.onError = func(err error) { fmt.Fprintln(os.Stderr, err) }
	}
	switch {
	case !identRE.MatchString(c.schema) || len(c.schema) > 63:
		return c, fmt.Errorf("audit: postgres: schema %q: want a lower-case SQL identifier of at most 63 bytes", c.schema)
	case !identRE.MatchString(c.table) || len(c.table) > 40:
		return c, fmt.Errorf("audit: postgres: table %q: want a lower-case SQL identifier of at most 40 bytes", c.table)
	case c.past < 0 || c.ahead < 0:
		return c, fmt.Errorf("audit: postgres: Options.PartitionsPast %d, PartitionsAhead %d: want a count of months, 0 for the default or NoPartitions", o.PartitionsPast, o.PartitionsAhead)
	case c.purgeRows < 1:
		return c, fmt.Errorf("audit: postgres: Options.PurgeBatch %d: must be positive", c.purgeRows)
	case c.maxReads < NoReadLimit:
		return c, fmt.Errorf("audit: postgres: Options.MaxReads %d: want a count of reads, 0 for the default or NoReadLimit", c.maxReads)
	}
	return c, nil
}

// New returns a Store that uses db, which must be a lib/pq connection pool
// to a database migrated with Migrate (or with the SQL of MigrationSQL).
// The Store does not own db: Close leaves it open.
func New(db *sqlx.DB, opts *Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("audit: postgres: New called with a nil *sqlx.DB")
	}
	c, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	s := &Store{db: db, cfg: c, sql: buildStatements(c), parts: newPartitions(c)}
	if n := readSlots(c.maxReads, db.Stats().MaxOpenConnections); n > 0 {
		s.reads = make(chan struct{}, n)
	}
	return s, nil
}

// Open connects to the database at dsn (a lib/pq connection string or URL)
// and returns a Store that owns its connection pool; Close closes it. Open
// checks the connection within ctx. It does not migrate: call Migrate.
//
// Connections are established within the context of the call that needs
// them, including the start-up handshake; unless dsn sets
// connect_timeout, establishing one takes at most 30 seconds. The pool
// holds at most DefaultMaxConns connections, open or idle; change it with
// DB().SetMaxOpenConns and SetMaxIdleConns (and Options.MaxReads).
func Open(ctx context.Context, dsn string, opts *Options) (*Store, error) {
	cfg, err := pq.NewConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("audit: postgres: open: %w", err)
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 30 * time.Second
	}
	conn, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("audit: postgres: open: %w", err)
	}
	conn.Dialer(handshakeDialer{})
	db := sqlx.NewDb(sql.OpenDB(conn), "postgres")
	db.SetMaxOpenConns(DefaultMaxConns)
	db.SetMaxIdleConns(DefaultMaxConns)
	s, err := New(db, opts)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.owned = true
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("audit: postgres: open: %w", err)
	}
	return s, nil
}

// DB returns the connection pool the Store uses, to begin transactions for
// Tx or to tune the pool.
func (s *Store) DB() *sqlx.DB { return s.db }

// Close stops a read of records ahead for sealing (see SealNext), closes
// the Store's prepared statements, and the connection pool if Open made
// it: a pool given to New stays open. Closing waits for the queries in
// progress to end, or for ctx to end (the pool goes on closing; a read
// ahead still setting up its connection, which lib/pq cannot interrupt,
// ends when the server answers or the connection drops). It is safe to
// call more than once.
func (s *Store) Close(ctx context.Context) error {
	s.closeOnce.Do(func() {
		ahead := s.closeReadAhead(ctx)
		s.prepared.close()
		if s.owned {
			s.closeErr = closeWithin(ctx, s.db.Close)
		}
		if s.closeErr == nil {
			s.closeErr = ahead
		}
	})
	return s.closeErr
}

// closeWithin runs closeFn, and returns its error or, when ctx ends first,
// ctx's.
func closeWithin(ctx context.Context, closeFn func() error) error {
	done := make(chan error, 1)
	go func() { done <- closeFn() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("audit: postgres: close: %w", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: postgres: close: %w", ctx.Err())
	}
}

// Tx returns a Store that appends inside tx, the application's own
// transaction: the records commit or roll back with it. Use it with
// audit.Logger.LogTo, so that validation, cleaning and redaction apply:
//
//	err := logger.LogTo(ctx, store.Tx(tx), event)
//
// Appends are idempotent within the transaction too. An error from Append
// leaves tx failed, as any statement error does in PostgreSQL: roll it
// back. Like tx, the returned Store is not for concurrent use, and it is
// valid only until tx ends. tx must be a lib/pq transaction on the
// database of s: a *sql.Tx or a *sqlx.Tx.
func (s *Store) Tx(tx Transaction) audit.Store { return &txStore{s: s, tx: tx} }

// Transaction is what Store.Tx needs of the application's transaction;
// *sql.Tx and *sqlx.Tx both have it.
type Transaction interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

var (
	_ Transaction = (*sql.Tx)(nil)
	_ Transaction = (*sqlx.Tx)(nil)
)

// txStore appends within an application transaction.
type txStore struct {
	s  *Store
	tx Transaction
}

// Append appends records inside the transaction.
func (t *txStore) Append(ctx context.Context, records ...audit.Record) error {
	return t.s.append(ctx, t.tx, records)
}
