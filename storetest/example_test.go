package storetest_test

import (
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storetest"
)

// A store's own tests run the suite with a factory that returns a new,
// empty store for each subtest, cleaned up with t.Cleanup. (This example
// is compiled, not run: Run needs the *testing.T of a test.)
func ExampleRun() {
	// in the store's package: mystore_test.go
	testConformance := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) audit.Store {
			s := memory.New(nil) // mystore.Open(…), on a schema or file of its own
			t.Cleanup(func() { /* s.Close() */ })
			return s
		})
	}
	_ = testConformance // func TestConformance(t *testing.T) { … }
}
