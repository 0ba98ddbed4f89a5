package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/trailmark/audit/storekit"
)

var _ storekit.PositionStore = (*Store)(nil)

// LoadPosition returns the position last saved under name, in the table
// <table>_stream_positions, or "".
func (s *Store) LoadPosition(ctx context.Context, name string) (string, error) {
	var pos string
	err := s.db.QueryRowContext(ctx, "SELECT position FROM "+s.sql.StreamPositions+" WHERE name = $1", name).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("audit: postgres: load position: %w", err)
	}
	return pos, nil
}

// SavePosition replaces the position saved under name, committed when it
// returns nil. The role needs SELECT, INSERT and UPDATE on
// <table>_stream_positions: migration 7 grants them to each role that may
// append records.
func (s *Store) SavePosition(ctx context.Context, name, pos string) error {
	if err := storekit.CheckPosition(name, pos); err != nil {
		return fmt.Errorf("audit: postgres: save position: %w", err)
	}
	_, err := s.db.ExecContext(ctx, "INSERT INTO "+s.sql.StreamPositions+` (name, position) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET position = excluded.position, saved_at = now()`, name, pos)
	if err != nil {
		return fmt.Errorf("audit: postgres: save position: %w", err)
	}
	return nil
}

var _ storekit.PositionLocker = (*Store)(nil)

// TryLockPosition takes the session advisory lock of name, on a
// connection of the pool that it keeps until release (so each lock held
// takes one connection of DefaultMaxConns). The lock is free again when
// release is called or that connection ends, the process's too.
func (s *Store) TryLockPosition(ctx context.Context, name string) (func(), bool, error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("audit: postgres: lock position: %w", err)
	}
	key := lockKey(s.cfg.schema, s.cfg.table, "position:"+name)
	var ok bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil || !ok {
		conn.Close()
		if err != nil {
			return nil, false, fmt.Errorf("audit: postgres: lock position: %w", err)
		}
		return nil, false, nil
	}
	var once sync.Once
	release := func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
				// the session must end, or the pool would keep the lock
				conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			conn.Close()
		})
	}
	return release, true, nil
}
