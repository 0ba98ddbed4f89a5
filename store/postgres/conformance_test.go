package postgres_test

import (
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storetest"
)

func TestConformance(t *testing.T) {
	dsn(t)
	t.Parallel()
	storetest.Run(t, func(t *testing.T) audit.Store { return newStore(t, nil) })
}
