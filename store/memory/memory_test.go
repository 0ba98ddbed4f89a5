package memory_test

import (
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) audit.Store { return memory.New() })
}
