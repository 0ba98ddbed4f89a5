package postgres

import (
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/lib/pq"
)

// names are the database objects of one audit table, quoted for SQL.
// Schema and table names are validated identifiers, so the raw forms are
// safe inside comments and string literals too.
type names struct {
	Name string // schema.table, unquoted, for comments and messages

	Table, Default, Migrations                  string // qualified, quoted
	Guard, EnsurePartitions, DropPartitions     string // qualified, quoted functions
	PurgeRows                                   string
	PKey, UserIndex, ActionIndex, ResourceIndex string // unqualified, quoted
	RequestIndex, IDIndex                       string

	// the hash chain (migration 2)
	Seals, Checkpoints, ChainGuard, PurgeSeals string // qualified, quoted
	XidIndex, SealEventIndex                   string // unqualified, quoted
	PurgeSealsName                             string // qualified, unquoted, for messages
	LockSeal                                   int64

	// hardening (migration 3)
	Settings, RetentionFloor string // qualified, quoted
	SettingsName             string // qualified, unquoted, for messages
	InsertColumnsLit         string // string literal of the columns Append wrote then

	// tenant and trace (migration 4)
	TenantIndex, TenantUserIndex, TraceIndex string // unqualified, quoted
	NewColumnsLit                            string // string literal of the columns it adds

	// retention per tenant (migration 5)
	PurgeTenantRows                    string // qualified, quoted
	PurgeRowsQLit, PurgeTenantRowsQLit string // string literals of the quoted, qualified names

	// the Merkle tree (migration 6)
	TreeLeaves, TreeCheckpoints string // qualified, quoted
	// leaf runs (migration 8)
	TreeLeavesQLit string // string literal of the quoted, qualified name
	// stream positions (migration 7)
	StreamPositions, StreamPositionsQLit string // qualified, quoted; its string literal

	SchemaLit, TableLit                    string // string literals of the raw names
	TableQLit, DefaultQLit, GuardQLit      string // string literals of the quoted, qualified names
	PurgeRowsName, DropPartitionsName      string // qualified, unquoted, for messages
	LockMigrate, LockPartitions, LockPurge int64  // advisory lock keys
}

func newNames(schema, table string) names {
	q := func(name string) string { return pq.QuoteIdentifier(schema) + "." + pq.QuoteIdentifier(name) }
	n := names{
		Name:               schema + "." + table,
		Table:              q(table),
		Default:            q(table + "_default"),
		Migrations:         q(table + "_migrations"),
		Guard:              q(table + "_guard"),
		EnsurePartitions:   q(table + "_ensure_partitions"),
		DropPartitions:     q(table + "_drop_partitions"),
		PurgeRows:          q(table + "_purge_rows"),
		PKey:               pq.QuoteIdentifier(table + "_pkey"),
		UserIndex:          pq.QuoteIdentifier(table + "_user_idx"),
		ActionIndex:        pq.QuoteIdentifier(table + "_action_idx"),
		ResourceIndex:      pq.QuoteIdentifier(table + "_resource_idx"),
		RequestIndex:       pq.QuoteIdentifier(table + "_request_idx"),
		IDIndex:            pq.QuoteIdentifier(table + "_id_idx"),
		SchemaLit:          pq.QuoteLiteral(schema),
		TableLit:           pq.QuoteLiteral(table),
		PurgeRowsName:      schema + "." + table + "_purge_rows",
		DropPartitionsName: schema + "." + table + "_drop_partitions",
		LockMigrate:        lockKey(schema, table, "migrate"),
		LockPartitions:     lockKey(schema, table, "partitions"),
		LockPurge:          lockKey(schema, table, "purge"),
		Seals:              q(table + "_seals"),
		Checkpoints:        q(table + "_checkpoints"),
		ChainGuard:         q(table + "_chain_guard"),
		PurgeSeals:         q(table + "_purge_seals"),
		XidIndex:           pq.QuoteIdentifier(table + "_xid_idx"),
		SealEventIndex:     pq.QuoteIdentifier(table + "_seals_event_idx"),
		PurgeSealsName:     schema + "." + table + "_purge_seals",
		LockSeal:           lockKey(schema, table, "seal"),
		Settings:           q(table + "_settings"),
		RetentionFloor:     q(table + "_retention_floor"),
		SettingsName:       schema + "." + table + "_settings",
		InsertColumnsLit:   pq.QuoteLiteral(strings.Join(columns[:len(columns)-len(columnsV4)], ", ")),
		TenantIndex:        pq.QuoteIdentifier(table + "_tenant_idx"),
		TenantUserIndex:    pq.QuoteIdentifier(table + "_tenant_user_idx"),
		TraceIndex:         pq.QuoteIdentifier(table + "_trace_idx"),
		NewColumnsLit:      pq.QuoteLiteral(strings.Join(columnsV4, ", ")),
		PurgeTenantRows:    q(table + "_purge_tenant_rows"),
		TreeLeaves:         q(table + "_tree_leaves"),
		TreeCheckpoints:    q(table + "_tree_checkpoints"),
		StreamPositions:    q(table + "_stream_positions"),
	}
	n.StreamPositionsQLit = pq.QuoteLiteral(n.StreamPositions)
	n.TreeLeavesQLit = pq.QuoteLiteral(n.TreeLeaves)
	n.PurgeRowsQLit = pq.QuoteLiteral(n.PurgeRows)
	n.PurgeTenantRowsQLit = pq.QuoteLiteral(n.PurgeTenantRows)
	n.TableQLit = pq.QuoteLiteral(n.Table)
	n.DefaultQLit = pq.QuoteLiteral(n.Default)
	n.GuardQLit = pq.QuoteLiteral(n.Guard)
	return n
}

// lockKey is the advisory lock key of one kind of maintenance on one
// table: a 64-bit FNV-1a hash, the same in every process.
func lockKey(schema, table, what string) int64 {
	h := fnv.New64a()
	h.Write([]byte("trailmark/audit:" + schema + "." + table + ":" + what))
	return int64(h.Sum64())
}

// columns are the columns Append writes, in order; recorded_at is set by
// the database.
var columns = []string{
	"id", `"timestamp"`, "user_id", "user_email", "ip_address", "user_agent",
	"action", "resource_type", "resource_id", "details", "changes",
	"request_id", "session_id", "status", "error_message",
	"tenant_id", "trace_id", "span_id", // columnsV4
}

// columnsV4 are the columns migration 4 added, at the end of columns.
var columnsV4 = []string{"tenant_id", "trace_id", "span_id"}

// selectList reads a Record's columns, empty strings for NULLs, in the
// order scanRecord expects.
const selectList = `id, "timestamp", recorded_at, COALESCE(user_id, ''), COALESCE(user_email, ''),
COALESCE(host(ip_address), ''), COALESCE(user_agent, ''), action, resource_type, COALESCE(resource_id, ''),
details, changes, COALESCE(request_id, ''), COALESCE(session_id, ''), status, COALESCE(error_message, ''),
COALESCE(tenant_id, ''), COALESCE(trace_id, ''), COALESCE(span_id, '')`

// stagingTable is the temporary table a batch is copied into. It lives as
// long as its session, is emptied at each commit, and is the same for
// every audit table (its columns do not depend on the table's name).
const stagingTable = "pg_temp.trailmark_audit_staging_v2"

// statements are the SQL texts of a Store, built once.
type statements struct {
	names
	insertOne     string
	createStaging string
	copyStaging   string
	copyTable     string
	fromStaging   string
	query         string // SELECT … FROM table, without WHERE
	queryAt       string // query, led by the statement's snapshot
	get           string
	ensure        string
	drop          string
	purgeRows     string
	purgeTenants  string
}

func buildStatements(c config) statements {
	n := newNames(c.schema, c.table)
	cols := strings.Join(columns, ", ")
	params := make([]string, len(columns))
	for i := range params {
		params[i] = "$" + strconv.Itoa(i+1)
	}
	return statements{
		names:     n,
		insertOne: "INSERT INTO " + n.Table + " (" + cols + ") VALUES (" + strings.Join(params, ", ") + ") ON CONFLICT DO NOTHING",
		createStaging: "CREATE TEMPORARY TABLE IF NOT EXISTS " + stagingTable + ` (
	id uuid, "timestamp" timestamptz, user_id text, user_email text, ip_address inet, user_agent text,
	action text, resource_type text, resource_id text, details jsonb, changes jsonb,
	request_id text, session_id text, status text, error_message text,
	tenant_id text, trace_id text, span_id text
) ON COMMIT DELETE ROWS`,
		copyStaging: "COPY " + stagingTable + " (" + cols + ") FROM STDIN",
		copyTable:   "COPY " + n.Table + " (" + cols + ") FROM STDIN",
		// The DELETE empties the staging table for the next batch of the
		// same transaction (Tx); the ORDER BY takes locks in one global
		// order, so that concurrent batches that share records cannot
		// deadlock.
		fromStaging: "WITH batch AS (DELETE FROM " + stagingTable + " RETURNING *) INSERT INTO " + n.Table +
			" (" + cols + ") SELECT " + cols + ` FROM batch ORDER BY "timestamp", id ON CONFLICT DO NOTHING`,
		query:        "SELECT " + selectList + " FROM " + n.Table,
		queryAt:      "SELECT (SELECT pg_current_snapshot())::text, " + selectList + " FROM " + n.Table,
		get:          "SELECT " + selectList + " FROM " + n.Table + ` WHERE id = $1 ORDER BY recorded_at, "timestamp" LIMIT 1`,
		ensure:       "SELECT " + n.EnsurePartitions + "($1::date[])",
		drop:         "SELECT " + n.DropPartitions + "($1)",
		purgeRows:    "SELECT " + n.PurgeRows + "($1, $2)",
		purgeTenants: "SELECT " + n.PurgeTenantRows + "($1, $2::text[], $3::timestamptz[], $4)",
	}
}
