package trail_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"net/http"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/trail"
)

// A service's audit trail: records sealed into a hash chain, the audit
// log API and the viewer under /audit, and one Close that leaves nothing
// queued or unsealed.
func ExampleNew() {
	ctx := context.Background()
	var keyFile bytes.Buffer // in a service: the file auditctl keygen wrote
	if err := chain.WriteNewKeyFile(&keyFile, "k1", "s1"); err != nil {
		log.Fatal(err)
	}
	keys, err := chain.ReadKeyFile(&keyFile)
	if err != nil {
		log.Fatal(err)
	}
	store := memory.New(nil) // in a service: sqlite.Open or postgres.Open
	t, err := trail.New(store, &trail.Options{Keys: keys})
	if err != nil {
		log.Fatal(err)
	}

	mayRead := func(r *http.Request, a audit.Actor, action audit.Action) error { return nil } // your permission check
	h, err := t.Handler("/audit-logs", api.AllowActor(mayRead), nil)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/audit-logs", h)
	mux.Handle("/audit-logs/", h) // behind middleware.New(t.Logger(), …), which identifies the caller

	err = t.Logger().Log(ctx, audit.Event{
		Action: audit.ActionUserLogin, ResourceType: "user", ResourceID: "u-42", Status: audit.StatusSuccess,
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := t.Close(ctx); err != nil { // after http.Server.Shutdown
		log.Fatal(err)
	}

	report, err := chain.Verify(ctx, store, keys.VerifyOptions())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("verified: %v, %d records, %d unsealed\n", report.OK(), report.Records, report.Unsealed)
	// Output: verified: true, 3 records, 0 unsealed
}
