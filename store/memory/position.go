package memory

import (
	"context"
	"fmt"

	"github.com/trailmark/audit/storekit"
)

var _ storekit.PositionStore = (*Store)(nil)

// LoadPosition returns the position last saved under name, or "".
func (s *Store) LoadPosition(ctx context.Context, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	s.posMu.Lock()
	defer s.posMu.Unlock()
	return s.positions[name], nil
}

// SavePosition keeps pos under name, for the life of the Store.
func (s *Store) SavePosition(ctx context.Context, name, pos string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := storekit.CheckPosition(name, pos); err != nil {
		return fmt.Errorf("audit: memory: save position: %w", err)
	}
	s.posMu.Lock()
	defer s.posMu.Unlock()
	if s.positions == nil {
		s.positions = map[string]string{}
	}
	s.positions[name] = pos
	return nil
}
