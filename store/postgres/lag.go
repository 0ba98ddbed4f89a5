package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SealLag says which committed records the sealer cannot take yet, and
// why. The sealer takes only records of transactions older than every
// transaction still open on the whole PostgreSQL cluster (the xmin of a
// snapshot is cluster-wide: a transaction open in another database holds
// back sealing here too). See SealNext.
type SealLag struct {
	// Waiting counts the committed records inserted by transactions at or
	// after Horizon: the sealer takes them once every older transaction
	// has ended.
	Waiting int64
	// Horizon is the ID of the oldest transaction still open (with a
	// transaction ID) on the cluster, or "" when none is.
	Horizon string
	// Blocker is the oldest open transaction that pg_stat_activity
	// shows, or nil when none is open. Its Age and Database are zero for
	// another role's session unless this role may read all statistics
	// (pg_read_all_stats).
	Blocker *OpenTx
}

// OpenTx is a transaction still open, as pg_stat_activity shows it.
type OpenTx struct {
	PID      int           // process ID of its backend
	XID      string        // its transaction ID
	Database string        // its database, if visible
	Age      time.Duration // how long it has been open, if visible
}

// SealLag reports the records that wait behind an open transaction, and
// the oldest such transaction. It needs only SELECT on the audit table.
func (s *Store) SealLag(ctx context.Context) (SealLag, error) {
	var (
		lag     SealLag
		horizon sql.NullString
	)
	err := s.db.QueryRowContext(ctx, `SELECT CASE WHEN pg_snapshot_xmin(pg_current_snapshot()) < pg_snapshot_xmax(pg_current_snapshot())
		THEN pg_snapshot_xmin(pg_current_snapshot())::text END`).Scan(&horizon)
	if err != nil {
		return lag, fmt.Errorf("audit: postgres: seal lag: %w", err)
	}
	if !horizon.Valid {
		return lag, nil // nothing open: nothing waits
	}
	lag.Horizon = horizon.String
	if err := s.db.QueryRowContext(ctx, "SELECT count(*) FROM "+s.sql.Table+" WHERE xid >= $1::xid8", lag.Horizon).Scan(&lag.Waiting); err != nil {
		return lag, fmt.Errorf("audit: postgres: seal lag: %w", err)
	}
	var (
		tx  OpenTx
		db  sql.NullString
		age sql.NullFloat64
	)
	err = s.db.QueryRowContext(ctx, `SELECT pid, backend_xid::text, datname, extract(epoch FROM clock_timestamp() - xact_start)::float8
		FROM pg_catalog.pg_stat_activity WHERE backend_xid IS NOT NULL AND pid <> pg_backend_pid()
		ORDER BY age(backend_xid) DESC LIMIT 1`).Scan(&tx.PID, &tx.XID, &db, &age)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return lag, nil
	case err != nil:
		return lag, fmt.Errorf("audit: postgres: seal lag: %w", err)
	}
	tx.Database = db.String
	tx.Age = time.Duration(age.Float64 * float64(time.Second)).Round(time.Millisecond)
	lag.Blocker = &tx
	return lag, nil
}
