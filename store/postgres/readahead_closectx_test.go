package postgres_test

import (
	"context"
	"testing"

	"github.com/trailmark/audit/store/postgres"
)

// TestCloseEndedContextNoReadAhead: a Store on a pool given to New that
// never sealed has no read ahead to wait for, and Close with a context
// that has already ended (a shutdown path: the signal's context) returns
// nil, as it did before the read ahead. (A first version of the wait saw
// ctx.Done before its helper goroutine said that nothing ran.)
func TestCloseEndedContextNoReadAhead(t *testing.T) {
	dsn(t)
	t.Parallel()
	_, schema := newChainStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fails := 0
	var last error
	for range 20 {
		s, err := postgres.New(testDB(t), &postgres.Options{Schema: schema, OnError: func(error) {}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			fails, last = fails+1, err
		}
	}
	if fails > 0 {
		t.Errorf("Close(ended ctx) of a store with no read ahead failed %d of 20 times: %v", fails, last)
	}
}
