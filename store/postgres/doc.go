// Package postgres is the production audit.Store: PostgreSQL (13 or
// later; tested on 15) through github.com/jmoiron/sqlx and
// github.com/lib/pq. A Store implements audit.Store, audit.Querier,
// audit.Getter and storekit.Purger, passes the storetest conformance suite,
// and writes inside an application's own transaction with Tx.
//
// A Store is safe for concurrent use by many goroutines, and many
// processes may share one database: migrations, partition maintenance and
// purges take turns on advisory locks. The Store returned by Tx is bound
// to one transaction and, like it, is not for concurrent use.
//
// # Setting up
//
// Open connects and owns its pool; New uses a pool you own. Migrate
// creates or upgrades the schema (idempotent, safe when several instances
// start at once). MigrationSQL prints the same SQL for your own migration
// tooling; Migrate then sees it as applied.
//
//	s, err := postgres.Open(ctx, "postgres://app@db/app", &postgres.Options{Schema: "audit"})
//	…
//	err = s.Migrate(ctx) // as the owner role, see below
//	logger, err := audit.New(s, nil)
//
// # The table
//
// The audit table (default public.audit_logs) has the columns of the
// reference design: id uuid, "timestamp" timestamptz (OccurredAt, at
// microsecond precision), user_id, user_email, ip_address inet,
// user_agent, action, resource_type, resource_id, details jsonb, changes
// jsonb, request_id, session_id, status, error_message, tenant_id,
// trace_id, span_id (migration 4; NULL in older records); and recorded_at
// (RecordedAt), set by the database to clock_timestamp() when the row is
// inserted, which is earlier than its commit. Empty strings and the zero
// netip.Addr are stored as NULL and read back as empty. Details and
// Changes are stored as jsonb, which reorders keys and adds white space;
// the Store returns them in canonical JSON (storekit.CanonicalJSON): the
// bytes the Logger wrote, the same every store returns. Times are
// returned in UTC.
//
// Indexes: the primary key ("timestamp", id), and (user_id, "timestamp",
// id), (action, "timestamp", id), (resource_id, resource_type,
// "timestamp", id), (request_id), (id), and, from migration 4, (tenant_id,
// "timestamp", id), (tenant_id, user_id, "timestamp", id) and (trace_id).
// A tenant-scoped page, or a tenant's records of one user, is one index
// range read in order. Migration 4 builds these indexes with CREATE INDEX
// IF NOT EXISTS, which blocks writes to the table while it runs: on a
// large table, build them first, without blocking, on each partition
// (CREATE INDEX CONCURRENTLY), then on the table itself with CREATE INDEX
// ON ONLY and ALTER INDEX … ATTACH PARTITION, under the names
// <table>_tenant_idx, <table>_tenant_user_idx and <table>_trace_idx. Each filter of audit.Filter is
// a bound parameter; pages are read newest first by keyset on
// ("timestamp", id), so a deep page costs what the first one does. A
// ResourceType, Status or ActionPrefix filter alone has few distinct
// values and is served by the primary key, in time order. The README has
// the plans and their latencies on 1M records.
//
// # Identity and idempotency
//
// A partitioned table can only enforce uniqueness on keys that hold its
// partition column, so a record is identified by ("timestamp", id):
// Append ignores a record whose OccurredAt (at microsecond precision) and
// ID are both already stored. The Logger assigns an event's ID and
// OccurredAt once and re-sends the identical record on every retry, so a
// retried batch, even after a lost connection during COMMIT, never stores
// a record twice. Appending an ID that is stored with another OccurredAt
// (only possible when calling Append directly with a reused ID) stores a
// second record: Query returns both, Get the one recorded first. Making
// IDs unique across time would cost a lookup in every partition for each
// record, or a second table.
//
// # Writes
//
// One record is one INSERT … ON CONFLICT DO NOTHING. A batch is first
// copied with COPY straight into the table, in ("timestamp", id) order,
// in one transaction: as fast as a plain COPY. If that meets a record
// already stored (a unique violation: what a retried batch does, or one
// that repeats a record) or a deadlock, the transaction is rolled back
// and the batch goes again through a staging table: COPY into a temporary
// table (one per session, emptied at each commit; it needs the TEMPORARY
// privilege, which PUBLIC has by default), then INSERT … SELECT … ORDER BY
// ("timestamp", id) ON CONFLICT DO NOTHING, which moves only the records
// not stored yet. Either way a batch is stored all or nothing, each record
// once. Only retried batches pay for the second path (about a third more
// work on the server), and each leaves a unique-violation error in the
// server's log. The order of both paths makes concurrent batches that
// share records take their locks in one order.
//
// Tx appends inside the caller's transaction, so that audit records commit
// or roll back with the business change: one record with INSERT … ON
// CONFLICT DO NOTHING, a batch through the staging table at once (a
// failed COPY could not be undone alone). Use it through
// audit.Logger.LogTo, so that validation, cleaning and redaction apply.
//
// # Errors
//
// Errors are wrapped with %w and start with "audit: postgres:". Errors
// that retrying cannot fix are marked with storekit.Permanent: a record the
// Store refuses before sending it (a *RecordError: NUL bytes or invalid
// UTF-8, malformed JSON, a year outside 1–9999, …; records cleaned by the
// Logger never fail these checks), and PostgreSQL errors of class 22
// (data exception), 23 (integrity constraint violation) and 54 (program
// limit exceeded, such as an index entry too large). A batch with such a
// record fails whole; where PostgreSQL says which line of the COPY it
// was, the error names the record. The Logger then isolates it by
// bisection and writes the others.
//
// All other errors are transient, and the Logger retries them: lost,
// reset or refused connections, serialization failures and deadlocks,
// administrator or crash shutdown, a server still starting, statement and
// lock timeouts, too many connections; and also configuration errors (a
// missing table or privilege, class 42), which an operator can fix while
// the Logger retries and for which no record is to blame.
//
// Open makes lib/pq honour the context's deadline during the connection
// handshake as well as while dialing, so that a Sync write to a server
// that accepts connections and does not answer fails within its deadline.
// lib/pq cannot interrupt a query on an established connection whose peer
// stops answering without closing it: it asks the server to cancel,
// which needs the server. Use TCP keepalives or a pooler's timeouts
// against that.
//
// # Partitions
//
// The table is range-partitioned by UTC month on "timestamp", one
// partition <table>_pYYYYMM per month, and a default partition
// <table>_default for the months without one, so that an event far in
// the past or future is stored like any other, never refused. Migrate
// and EnsurePartitions create the partitions of the current month and
// the coming ones (Options.PartitionsAhead: 3 by default); Append creates them as
// the months go by, and those of the past months (24 by default) whose
// events it meets. This is a best effort, under a 2-second lock timeout:
// when it fails, the events go to the default partition, the error goes
// to Options.OnError, and the Store waits a minute
// before it tries again. When a month gets its partition while some of
// its events wait in the default partition, they are moved into it in
// the same transaction. Tx never creates partitions; call
// EnsurePartitions from a monthly job if an application writes only
// through Tx.
//
// Purge drops the partitions that hold only records older than the cutoff
// (counting them first, under a brief ACCESS EXCLUSIVE lock on the table,
// waiting at most 5 seconds for it), then deletes the remaining older
// records, from the partition that holds the cutoff and from the default
// partition, in transactions of at most Options.PurgeBatch records.
//
// # The append-only guard
//
// Triggers refuse every UPDATE and TRUNCATE of the table and of each of
// its partitions, and every DELETE, but for the retention path: the
// function <table>_purge_rows, which runs as the table's owner and lets
// through only the deletion of records older than its cutoff. Whole
// partitions go through <table>_drop_partitions, which drops only months
// entirely older than the cutoff. Both, <table>_purge_seals and
// <table>_ensure_partitions are SECURITY DEFINER functions that PUBLIC may
// not execute. Every function of the schema, the triggers' too, runs with
// search_path pinned to pg_catalog, pg_temp and names the catalog
// explicitly, so that a role cannot make the guard take it for the owner
// with objects of its own (a temporary view named pg_class).
//
// The minimum retention: <table>_purge_rows, <table>_drop_partitions and
// <table>_purge_seals refuse a cutoff later than now minus the minimum
// retention, 90 days after Migrate. It is the one row of the table
// <table>_settings, which only the owner may change (SetMinRetention, or
// UPDATE <table>_settings SET min_retention = '30 days'). So a role that
// may purge cannot remove recent records, whatever cutoff it passes
// ('infinity' included). <table>_ensure_partitions refuses NULL, months
// before year 1, more than 100 years back or 10 years ahead, and more
// than 1332 months per call.
//
// Three roles. Run Migrate as a role that owns the schema. Let the
// application connect as a role that may only read, append the columns it
// writes (recorded_at and xid are the database's to set) and create
// partitions. Run the Sealer and Retention as a third role, which may
// write seals and checkpoints and call the purge functions. After
// Migrate, as the owner, for a schema audit, an application role app and
// a sealer role sealer:
//
//	REVOKE ALL ON audit.audit_logs, audit.audit_logs_seals, audit.audit_logs_checkpoints,
//	           audit.audit_logs_tree_leaves, audit.audit_logs_tree_checkpoints FROM app, sealer;
//	GRANT USAGE ON SCHEMA audit TO app, sealer;
//	GRANT SELECT ON audit.audit_logs, audit.audit_logs_seals, audit.audit_logs_checkpoints,
//	                audit.audit_logs_tree_leaves, audit.audit_logs_tree_checkpoints TO app, sealer;
//	GRANT INSERT (id, "timestamp", user_id, user_email, ip_address, user_agent, action, resource_type,
//	              resource_id, details, changes, request_id, session_id, status, error_message,
//	              tenant_id, trace_id, span_id)
//	      ON audit.audit_logs TO app;
//	GRANT EXECUTE ON FUNCTION audit.audit_logs_ensure_partitions(date[]) TO app;
//	GRANT SELECT, INSERT, UPDATE ON audit.audit_logs_stream_positions TO app;
//	GRANT INSERT ON audit.audit_logs_seals, audit.audit_logs_checkpoints,
//	                audit.audit_logs_tree_leaves, audit.audit_logs_tree_checkpoints TO sealer;
//	GRANT EXECUTE ON FUNCTION audit.audit_logs_drop_partitions(timestamptz),
//	                          audit.audit_logs_purge_rows(timestamptz, integer),
//	                          audit.audit_logs_purge_tenant_rows(timestamptz, text[], timestamptz[], integer),
//	                          audit.audit_logs_purge_seals(bigint) TO sealer;
//
// The application role keeps the positions of its SIEM streams in
// <table>_stream_positions (storekit.PositionStore, see package siem),
// one row per stream that it replaces: migration 7 grants them to every
// role that could append before it. That table is not part of the audit
// log; a role that changes it can make a stream send records again or
// skip them, never change one.
//
// Migration 3 turns every grant of INSERT on the whole audit table (the
// grants documented before it) into the column grant above. It does not
// revoke INSERT on checkpoints from an application role that had it:
// revoke it by hand once the Sealer runs as its own role. An application
// that seals in-process and so holds both roles can write checkpoint rows
// of its own; chain.Verify trusts only signed checkpoints, and signed
// checkpoints kept off the database (auditctl seal --checkpoints) catch the
// rest.
//
// A role that may call <table>_purge_rows can delete records older than
// any cutoff before the minimum retention; chain.Verify reports each such
// record, unless it is older than the cutoff of a signed retention
// checkpoint. <table>_purge_seals takes no checkpoint row at its word: the
// retention checkpoint at its seq must hold the hash of the seal there,
// its cutoff must respect the minimum retention, every seal it deletes
// must be of a record older than that cutoff, and no such record may still
// be stored (retention removes the records first). A forged checkpoint
// row can so remove at most the seals of records retention already
// removed. Partitions belong to the owner too, also those the
// application's calls create, so the application cannot reach them
// directly.
//
// What the guard protects against: the application and sealer roles
// changing or deleting records and seals (they lack the privileges, and
// the triggers refuse anyway, also to a role granted DELETE), the
// application writing checkpoints, a purge of recent records, mistakes of
// anyone who works on the table by hand (an UPDATE or DELETE without
// WHERE, a TRUNCATE of a partition), and a purge that would remove records
// newer than its cutoff. What it does not: the owner or a superuser can
// change the minimum retention, disable triggers, drop partitions, replace
// the functions or rewrite rows. Detecting that is the job of the hash
// chain (below) and of signed checkpoints kept off the database.
//
// # The hash chain
//
// Store implements storekit.SealStore: chain.Sealer seals its records into
// the table <table>_seals, and writes signed checkpoints into
// <table>_checkpoints; chain.Verify checks them (see the audit package).
// Both tables are append-only like the records: the guard lets a seal be
// deleted only inside <table>_purge_seals, below a checkpoint, which
// retention calls.
//
// Records are sealed in the order of the transaction that inserted them
// (the column xid, pg_current_xact_id() at insert), then of their ID, and
// only once no older transaction is still running (pg_snapshot_xmin of
// the sealer's snapshot). So a record committed late is never overtaken
// by one committed earlier but sealed first, and a rolled-back record
// leaves no gap, without serializing the application's writes. The price:
// an open writing transaction holds back the sealing of records committed
// after it began, until it ends. A record is therefore unsealed for at
// most the sealer's interval plus the longest writing transaction open
// when it committed; read-only transactions hold nothing back. Sealers in
// many processes take turns on an advisory lock.
//
// The horizon is cluster-wide: pg_snapshot_xmin is the oldest transaction
// open in any database of the PostgreSQL cluster, so a long transaction
// of another application on the same server (or a forgotten prepared
// transaction) holds back sealing here too, and a sealing step then seals
// nothing. SealLag reports how many committed records wait and the oldest
// open transaction (its pid always; its age and database when this role
// may see them, as the owner of the session or with pg_read_all_stats);
// auditctl seal prints it. Keep writing transactions short, and watch
// idle-in-transaction sessions (idle_in_transaction_session_timeout).
//
// # Migrations
//
// Migrations are SQL files embedded in the binary, applied in the order
// of their version (migrations/NNNN_name.sql) and recorded in the table
// <table>_migrations. A new version is a new file; released files do not
// change.
package postgres
