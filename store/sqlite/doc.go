// Package sqlite is the embedded durable audit.Store: one SQLite file,
// no server, no cgo. It is the default of the example service, and fits
// small services, command-line tools, desktop and edge applications. A
// Store implements audit.Store, audit.Querier, audit.Getter,
// storekit.Purger, storekit.SealStore and storekit.ChainPurger, and passes the
// storetest conformance and chain suites unchanged.
//
//	s, err := sqlite.Open(ctx, "audit.db", nil)
//	…
//	defer s.Close(ctx)
//	logger, err := audit.New(s, nil)
//
// A Store is safe for concurrent use by many goroutines, and several
// processes may open the same file (not over a network file system:
// SQLite's locks need a local one).
//
// # The driver
//
// The package uses modernc.org/sqlite (SQLite translated to Go) through
// github.com/jmoiron/sqlx; CGO_ENABLED=0 builds work. The three
// maintained pure-Go drivers were compared on a program that creates a
// WAL file and inserts rows (2 cores shared with other work, so the
// figures are rough; best of four runs):
//
//	driver                               build (CPU s)  binary  batched rows/s  one row per tx/s
//	modernc.org/sqlite v1.62.0                    39 s   9.8 MB         231,000             1,550
//	github.com/ncruces/go-sqlite3 v0.37.0         50 s  13.1 MB         165,000             1,260
//	github.com/glebarez/go-sqlite v1.23.0         47 s   9.3 MB          41,000             1,490
//
// ncruces/go-sqlite3 (SQLite compiled to WebAssembly, then translated to
// Go; no cgo, no wasm runtime) writes as fast, but builds slower and
// makes the largest binary. glebarez/go-sqlite is a fork of an older
// modernc.org/sqlite (v1.55) and was the slowest. modernc.org/sqlite is
// the most used of the three, follows SQLite releases, builds fastest and
// wrote fastest here.
//
// # The file
//
// Open creates the file with auto_vacuum=INCREMENTAL, journal_mode=WAL
// and application_id ApplicationID, and applies the embedded migrations
// (recorded in schema_migrations) in one transaction. It refuses, with an
// error wrapping ErrForeignFile and without changing anything, a file
// that is not an SQLite database, the database of another application,
// or a schema newer than the program.
//
// Open creates a new file with mode 0600 (readable by its owner only),
// before SQLite opens it; SQLite gives the -wal and -shm files beside it
// the database file's mode, so they are 0600 too. A file that exists
// keeps its mode: chmod 600 it, with its -wal and -shm files, if it is
// readable by others.
//
// # Backups
//
// Store.Backup (auditctl backup) writes an online, consistent copy to a
// new 0600 file with VACUUM INTO, while the store stays in use. A plain
// copy of the file is not a backup: committed records may still be only
// in the -wal file, and a copy taken during a write may be torn.
//
// Writes go through one connection per Store (a process's writers take
// turns without SQLITE_BUSY), in transactions that take SQLite's write
// lock when they begin, waiting up to Options.BusyTimeout for other
// processes. Every commit is synced (synchronous=FULL): when Append
// returns nil, the records survive a crash of the process or the
// machine. Reads use a pool of read-only connections, which WAL lets run
// beside the writer, each on a consistent snapshot.
//
// Records are stored in audit_logs: id as the UUID's 16 bytes, times as
// Unix microseconds (UTC), empty strings as NULL, Details and Changes as
// canonical JSON text (storekit.CanonicalJSON) or NULL, returned as stored.
// Append is idempotent by ID: a retried batch stores each record once.
// Every filter of audit.Filter is served by an index that ends in
// (ts, id), and pages are read newest first by keyset, so that a deep
// page costs what the first one does.
//
// # The chain and the append-only guard
//
// SQLite has one writer at a time, so records commit in the order of
// their row number (AUTOINCREMENT, never reused), and the sealer seals
// in that order: a record committed later can never be sealed before one
// committed earlier. A sealing step is one write transaction, so sealers
// in several processes take turns.
//
// Triggers refuse UPDATE and DELETE on records, seals and checkpoints.
// Purge and PurgeSeals delete under a permit: a row in audit_retention
// that they insert and remove inside their own transaction, so that no
// committed state holds one. This guard stops mistakes and programs that
// change the table through SQL without knowing it. It does not stop
// anyone who can write the file: such a process can insert the permit
// itself, drop the triggers, or rewrite the file, and SQLite has no roles
// to prevent it. What such a person can do, and what catches it:
//
//   - change, insert, delete or reorder records or seals: Verify reports
//     it, as long as they do not hold the HMAC key (keep it out of the
//     file and off the machine where you can);
//   - delete the newest records with their seals, or replace the whole
//     file with an older copy: only the signed checkpoints kept off the
//     file (SealerOptions.Export, auditctl's exported checkpoints) catch
//     it, when Verify is given them as trusted;
//   - delete the file: nothing inside it can help; keep exports.
//
// # Retention
//
// Purge deletes old records in batches (Options.PurgeBatch) under the permit;
// audit.Retention writes the boundary checkpoint first, then purges, then
// removes the seals below the checkpoint, as with PostgreSQL. After a
// purge the freed pages are returned to the file system
// (incremental_vacuum) and the write-ahead log is checkpointed and
// truncated, so that the file does not grow without bound under steady
// load with retention. The README has the measurements.
package sqlite
