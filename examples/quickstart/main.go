// Command quickstart records a few audit events in an in-memory store and
// prints what it recorded and a query of it. Run it with
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
)

type Profile struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	store := memory.New(nil)
	logger, err := audit.New(store, nil)
	if err != nil {
		return err
	}
	// The sealer links the records into a keyed hash chain. A real
	// service loads its key from a secret store; this demo makes one.
	key := chain.HMACKey{ID: "demo", Secret: make([]byte, 32)}
	if _, err := rand.Read(key.Secret); err != nil {
		return err
	}
	sealer, err := chain.NewSealer(store, key, nil)
	if err != nil {
		return err
	}
	go sealer.Run(ctx)

	// What HTTP middleware would put in each request's context.
	ctx = audit.WithRequestInfo(ctx, audit.RequestInfo{
		RequestID: "req-7f3a", IPAddress: netip.MustParseAddr("203.0.113.9"), UserAgent: "curl/8.5",
	})
	ctx = audit.WithActor(ctx, audit.Actor{UserID: "u-42", UserEmail: "ada@example.com"})

	// 1. A failed then a successful login: Sync, written before Log returns.
	login := audit.Event{Action: audit.ActionUserLogin, ResourceType: "user", ResourceID: "u-42",
		Details: map[string]any{"method": "password", "password": "hunter2"}}
	failed := login
	failed.Status, failed.ErrorMessage = audit.StatusFailure, "wrong password"
	login.Status = audit.StatusSuccess
	for _, e := range []audit.Event{failed, login} {
		if err := logger.Log(ctx, e); err != nil {
			return fmt.Errorf("login not recorded, so refused: %w", err)
		}
	}

	// 2. A profile update with its field-level changes: Async, batched.
	before := Profile{Name: "Ada", Email: "ada@old.example"}
	after := Profile{Name: "Ada", Email: "ada@example.com"}
	if err := logger.LogResourceChange(ctx, audit.ActionUserProfileUpdate, "user", "u-42", before, after); err != nil {
		return err
	}

	// 3. A function wrapped so that every call is recorded.
	grant, err := audit.Wrap(logger, audit.Operation[string, string]{
		Action: audit.ActionPermissionGrant, ResourceType: "permission",
		ResourceID: func(role, _ string) string { return role },
	}, func(ctx context.Context, role string) (string, error) {
		if role == "root" {
			return "", errors.New("root cannot be granted")
		}
		return role, nil
	})
	if err != nil {
		return err
	}
	grant(ctx, "editor")
	grant(ctx, "root")

	// Shutdown, in this order: the logger writes everything queued and
	// its own stop record, then the sealer seals them.
	if err := logger.Close(ctx); err != nil {
		return err
	}
	if err := sealer.Close(ctx); err != nil {
		return err
	}
	page, err := store.Query(ctx, audit.Filter{})
	if err != nil {
		return err
	}
	fmt.Printf("recorded %d events (newest first):\n", len(page.Records))
	for _, r := range page.Records {
		line := fmt.Sprintf("  %s  %-22s %-8s user=%-5s resource=%s/%s", r.OccurredAt.Format("15:04:05.000000"),
			r.Action, r.Status, r.UserID, r.ResourceType, r.ResourceID)
		if r.ErrorMessage != "" {
			line += fmt.Sprintf(" error=%q", r.ErrorMessage)
		}
		if len(r.Changes) > 0 {
			line += " changes=" + string(r.Changes)
		} else if len(r.Details) > 0 {
			line += " details=" + string(r.Details)
		}
		fmt.Println(line)
	}

	failures, err := store.Query(ctx, audit.Filter{ActionPrefix: "user.", Status: audit.StatusFailure})
	if err != nil {
		return err
	}
	fmt.Printf("\nquery {action: user.*, status: failure}: %d event(s)\n", len(failures.Records))
	for _, r := range failures.Records {
		fmt.Printf("  %s from %s (%s), request %s: %s\n", r.Action, r.IPAddress, r.UserAgent, r.RequestID, r.ErrorMessage)
	}
	s := logger.Stats()
	fmt.Printf("\nlogger stats: accepted=%d written=%d failed=%d dropped=%d\n",
		s.Accepted, s.Written, s.Failed, s.Dropped[audit.ReasonQueueFull]+s.Dropped[audit.ReasonShutdown])
	fmt.Println("(the password in the login details was redacted before it was stored)")

	rep, err := chain.Verify(ctx, store, &chain.VerifyOptions{Keys: map[string][]byte{key.ID: key.Secret}})
	if err != nil {
		return err
	}
	fmt.Printf("\nverify: ok=%v, %d sealed, %d unsealed\n", rep.OK(), rep.Seals, rep.Unsealed)
	return nil
}
