package memory_test

import (
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) audit.Store { return memory.New(nil) })
}

func TestChain(t *testing.T) {
	storetest.RunChain(t, func(t *testing.T) (storekit.SealStore, storetest.Tamperer) {
		s := memory.New(nil)
		return s, memory.Tamper{S: s}
	}, 1000)
}
