package spool_test

import (
	"context"
	"fmt"
	"os"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/spool"
	"github.com/trailmark/audit/store/memory"
)

// A Logger whose Async events are kept in a spool until the store has
// them. Had the process died before Close, the next Logger on the same
// directory would have written them.
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "audit-spool")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	sp, err := spool.Open(dir, nil)
	if err != nil {
		panic(err)
	}
	defer sp.Close(context.Background()) // after the Logger
	store := memory.New(nil)
	logger, err := audit.New(store, &audit.Options{NoLifecycleEvents: true, Async: audit.AsyncOptions{Spool: sp}})
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	err = logger.Log(ctx, audit.Event{Action: audit.ActionResourceRead, ResourceType: "document", ResourceID: "d-7", Status: audit.StatusSuccess})
	if err != nil { // nil: the event is in the spool's file
		panic(err)
	}
	if err := logger.Close(ctx); err != nil { // writes it, and releases it from the spool
		panic(err)
	}
	fmt.Println(logger.Stats().Written, "written")
	// Output: 1 written
}
