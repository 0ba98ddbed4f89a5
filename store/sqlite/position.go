package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit/storekit"
)

var _ storekit.PositionStore = (*Store)(nil)

// LoadPosition returns the position last saved under name (in the table
// audit_stream_positions), or "".
func (s *Store) LoadPosition(ctx context.Context, name string) (string, error) {
	var pos string
	err := s.reader.QueryRowContext(ctx, "SELECT position FROM audit_stream_positions WHERE name = ?", name).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("audit: sqlite: load position: %w", err)
	}
	return pos, nil
}

// SavePosition replaces the position saved under name, committed when it
// returns nil.
func (s *Store) SavePosition(ctx context.Context, name, pos string) error {
	if err := storekit.CheckPosition(name, pos); err != nil {
		return fmt.Errorf("audit: sqlite: save position: %w", err)
	}
	err := s.writeTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_stream_positions (name, position, saved_at) VALUES (?, ?, ?)
ON CONFLICT (name) DO UPDATE SET position = excluded.position, saved_at = excluded.saved_at`, name, pos, s.cfg.now().UnixMicro())
		return err
	})
	if err != nil {
		return fmt.Errorf("audit: sqlite: save position: %w", err)
	}
	return nil
}
