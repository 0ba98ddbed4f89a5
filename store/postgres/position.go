package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

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
// <table>_stream_positions: migration 6 grants them to each role that may
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
