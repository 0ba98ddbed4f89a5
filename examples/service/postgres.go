//go:build !nopostgres

package main

import (
	"context"
	"fmt"

	"github.com/trailmark/audit/store/postgres"
)

// openPostgres opens the PostgreSQL store and applies its migrations.
// Build with -tags nopostgres to leave PostgreSQL (and lib/pq) out.
func openPostgres(ctx context.Context, dsn string) (backend, func(context.Context) error, error) {
	s, err := postgres.Open(ctx, dsn, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("audit: example: opening PostgreSQL: %w", err)
	}
	if err := s.Migrate(ctx); err != nil {
		s.Close(context.Background())
		return nil, nil, fmt.Errorf("audit: example: migrating PostgreSQL: %w", err)
	}
	b, ok := any(s).(backend)
	if !ok {
		s.Close(context.Background())
		return nil, nil, fmt.Errorf("audit: example: %T cannot answer queries", s)
	}
	return b, s.Close, nil
}
