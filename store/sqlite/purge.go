package sqlite

import (
	"context"
	"fmt"
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
