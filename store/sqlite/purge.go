package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jmoiron/sqlx"
)

// Purge deletes the records that occurred before cutoff (at microsecond
// precision) and returns how many it deleted, in transactions of at most
// Options.PurgeBatch records, oldest first, so that writers wait for one
// batch at most. Each batch runs under the retention permit of the
// append-only guard. Concurrent purges, from this process or others, take
// turns and never count a record twice.
//
// Then it returns the freed pages to the file system (the file is created
// with auto_vacuum=INCREMENTAL) and checkpoints the write-ahead log, so
// that under steady load with retention the file does not grow without
// bound. That part is best effort: a reader holding the log open only
// delays it to the next purge.
func (s *Store) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	bound := cutoff.UnixMicro()
	var total int64
	for {
		var n int64
		err := s.writeTx(ctx, func(tx *sqlx.Tx) error {
			var err error
			n, err = permitted(ctx, tx, "records", bound,
				"DELETE FROM audit_logs WHERE row IN (SELECT row FROM audit_logs WHERE ts < ? ORDER BY ts LIMIT ?)", bound, s.cfg.purgeRows)
			return err
		})
		if err != nil {
			return total, fmt.Errorf("audit: sqlite: purge before %v: %w", cutoff, err)
		}
		total += n
		if n < int64(s.cfg.purgeRows) {
			break
		}
	}
	if total > 0 {
		s.compact(ctx)
	}
	return total, nil
}

// PurgeTenants deletes the records that occurred before the cutoff of
// their tenant: tenants[TenantID] for the tenants listed, def for the
// others (those without a tenant too), in transactions of at most
// Options.PurgeBatch records, as Purge does: first each listed tenant's
// records (through the tenant index), then the others'.
func (s *Store) PurgeTenants(ctx context.Context, def time.Time, tenants map[string]time.Time) (int64, error) {
	names := make([]string, 0, len(tenants))
	for t := range tenants {
		if t != "" {
			names = append(names, t)
		}
	}
	slices.Sort(names)
	listed, err := json.Marshal(names)
	if err != nil {
		return 0, fmt.Errorf("audit: sqlite: purge per tenant: %w", err)
	}
	var total int64
	batches := func(bound int64, query string, args ...any) error {
		for {
			var n int64
			err := s.writeTx(ctx, func(tx *sqlx.Tx) error {
				var err error
				n, err = permitted(ctx, tx, "records", bound, query, append(args, s.cfg.purgeRows)...)
				return err
			})
			if err != nil {
				return err
			}
			total += n
			if n < int64(s.cfg.purgeRows) {
				return nil
			}
		}
	}
	for _, t := range names {
		bound := tenants[t].UnixMicro()
		if err := batches(bound, "DELETE FROM audit_logs WHERE row IN (SELECT row FROM audit_logs WHERE tenant_id = ? AND ts < ? ORDER BY ts LIMIT ?)", t, bound); err != nil {
			return total, fmt.Errorf("audit: sqlite: purge the records of tenant %q before %v: %w", t, tenants[t], err)
		}
	}
	bound := def.UnixMicro()
	err = batches(bound, "DELETE FROM audit_logs WHERE row IN (SELECT row FROM audit_logs WHERE ts < ?"+
		" AND (tenant_id IS NULL OR tenant_id NOT IN (SELECT value FROM json_each(?))) ORDER BY ts LIMIT ?)", bound, string(listed))
	if err != nil {
		return total, fmt.Errorf("audit: sqlite: purge before %v: %w", def, err)
	}
	if total > 0 {
		s.compact(ctx)
	}
	return total, nil
}

// compact returns free pages to the file system and truncates the
// write-ahead log, best effort.
func (s *Store) compact(ctx context.Context) {
	conn, err := s.writer.Connx(ctx)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.ExecContext(ctx, "PRAGMA incremental_vacuum")
	conn.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
}
