package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/lib/pq"
)

// purgeLockWait bounds how long dropping partitions waits for the lock on
// the audit table, behind queries and writes in progress, so that a purge
// does not stall everyone queued behind it.
const purgeLockWait = 5 * time.Second

// Purge deletes the records that occurred before cutoff (at microsecond
// precision) and returns how many it deleted. It drops the monthly
// partitions that hold only such records, in one transaction that locks
// the table briefly; then it deletes the rest (in the partition that
// holds cutoff, and in the default partition) in transactions of at most
// Options.PurgeBatch records. Concurrent purges, from this process or others,
// take turns and never count a record twice.
//
// Purge goes through the functions <table>_drop_partitions and
// <table>_purge_rows, which run with the rights of the table's owner; the
// role of the Store needs EXECUTE on them (see the package
// documentation).
func (s *Store) Purge(ctx context.Context, cutoff time.Time) (int64, error) {
	cutoff = micro(cutoff)
	total, err := s.dropPartitions(ctx, cutoff)
	if err != nil {
		return total, fmt.Errorf("audit: postgres: purge before %v: dropping partitions: %w", cutoff, err)
	}
	for {
		var n int64
		if err := s.db.QueryRowContext(ctx, s.sql.purgeRows, cutoff, s.cfg.purgeRows).Scan(&n); err != nil {
			return total, fmt.Errorf("audit: postgres: purge before %v: deleting records: %w", cutoff, err)
		}
		total += n
		if n < int64(s.cfg.purgeRows) {
			return total, nil
		}
	}
}

// dropPartitions drops the monthly partitions that hold only records
// older than cutoff, in one transaction that locks the table briefly, and
// returns how many records they held.
func (s *Store) dropPartitions(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	err := func() error {
		tx, err := s.db.BeginTxx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", purgeLockWait.Milliseconds())); err != nil {
			return err
		}
		var n int64
		if err := tx.QueryRowContext(ctx, s.sql.drop, cutoff).Scan(&n); err != nil {
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		total += n
		return nil
	}()
	// Forget the partitions whether or not the drop committed: a
	// partition missing from memory costs one more call, a partition
	// remembered but dropped sends records to the default partition.
	s.parts.forget()
	return total, err
}

// PurgeTenants deletes the records that occurred before the cutoff of
// their tenant: tenants[TenantID] for the tenants listed, def for the
// others (those without a tenant too). It drops the monthly partitions
// that hold only records older than the earliest cutoff, as Purge does,
// then deletes the rest in transactions of at most Options.PurgeBatch
// records through the function <table>_purge_tenant_rows (migration 5),
// which refuses a cutoff later than the minimum retention allows. The
// role of the Store needs EXECUTE on it (Migrate grants it to the roles
// that hold EXECUTE on <table>_purge_rows).
func (s *Store) PurgeTenants(ctx context.Context, def time.Time, tenants map[string]time.Time) (int64, error) {
	def = micro(def)
	earliest := def
	names := make([]string, 0, len(tenants))
	for t := range tenants {
		if t != "" {
			names = append(names, t)
		}
	}
	slices.Sort(names)
	cutoffs := make([]string, len(names))
	for i, t := range names {
		at := micro(tenants[t])
		if at.Before(earliest) {
			earliest = at
		}
		cutoffs[i] = at.Format(time.RFC3339Nano)
	}
	// first the checks of every cutoff (max_rows 0 deletes nothing), so
	// that no partition goes when one cutoff is refused
	var n int64
	if err := s.db.QueryRowContext(ctx, s.sql.purgeTenants, def, pq.Array(names), pq.Array(cutoffs), 0).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit: postgres: purge per tenant: %w", err)
	}
	total, err := s.dropPartitions(ctx, earliest)
	if err != nil {
		return total, fmt.Errorf("audit: postgres: purge per tenant: dropping partitions before %v: %w", earliest, err)
	}
	for {
		var n int64
		if err := s.db.QueryRowContext(ctx, s.sql.purgeTenants, def, pq.Array(names), pq.Array(cutoffs), s.cfg.purgeRows).Scan(&n); err != nil {
			return total, fmt.Errorf("audit: postgres: purge per tenant: deleting records: %w", err)
		}
		total += n
		if n < int64(s.cfg.purgeRows) {
			return total, nil
		}
	}
}

// SetMinRetention sets the minimum retention of the table: Purge, and the
// functions <table>_purge_rows, <table>_drop_partitions and
// <table>_purge_seals behind it, refuse a cutoff later than now minus d.
// Migrate sets it to 90 days. Only the table's owner may change it (it is
// the row of <table>_settings, which no other role may write): a role that
// may only purge cannot shorten it. d is kept at microsecond precision and
// must not be negative.
func (s *Store) SetMinRetention(ctx context.Context, d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("audit: postgres: SetMinRetention(%v): must not be negative", d)
	}
	_, err := s.db.ExecContext(ctx, "UPDATE "+s.sql.Settings+" SET min_retention = $1::bigint * interval '1 microsecond'", d.Microseconds())
	if err != nil {
		return fmt.Errorf("audit: postgres: set minimum retention of %s: %w", s.sql.Name, err)
	}
	return nil
}
