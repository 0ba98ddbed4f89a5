package memory_test

import (
	"context"
	"fmt"
	"log"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
)

// A memory store holds the records of a test or a demo, with the
// semantics of the PostgreSQL store.
func ExampleNew() {
	ctx := context.Background()
	store := memory.New(nil)
	logger, err := audit.New(store, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		log.Fatal(err)
	}
	err = logger.Log(ctx, audit.Event{Action: audit.ActionUserLogin, ResourceType: "user", ResourceID: "u1", UserID: "u1", Status: audit.StatusSuccess})
	if err != nil {
		log.Fatal(err)
	}
	if err := logger.Close(ctx); err != nil {
		log.Fatal(err)
	}
	page, err := store.Query(ctx, audit.Filter{UserID: "u1"})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range page.Records {
		fmt.Println(r.Action, r.UserID, r.Status)
	}
	// Output: user.login u1 success
}

// Begin gives tests of code that logs inside a database transaction
// (Logger.LogTo, postgres.Store.Tx) a transaction without a database.
func ExampleStore_Begin() {
	ctx := context.Background()
	store := memory.New(nil)
	logger, err := audit.New(store, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		log.Fatal(err)
	}
	defer logger.Close(ctx)

	for _, commit := range []bool{false, true} {
		tx := store.Begin()
		err := logger.LogTo(ctx, tx, audit.Event{Action: audit.ActionResourceCreate, ResourceType: "account", ResourceID: fmt.Sprint(commit), Status: audit.StatusSuccess})
		if err != nil {
			log.Fatal(err)
		}
		if commit {
			err = tx.Commit()
		} else {
			err = tx.Rollback()
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	page, err := store.Query(ctx, audit.Filter{})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range page.Records {
		fmt.Println(r.Action, r.ResourceID)
	}
	// Output: resource.create true
}
