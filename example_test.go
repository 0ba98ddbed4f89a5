package audit_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
)

func ExampleNew() {
	store := memory.New(nil)
	logger, err := audit.New(store, &audit.Options{
		Policy: audit.Policy{
			// login, permission and key changes are Sync already;
			// make every billing action Sync too
			Actions: map[audit.Action]audit.Delivery{"billing.": audit.Sync},
		},
		Async:   audit.AsyncOptions{QueueSize: 10000, FlushInterval: 50 * time.Millisecond},
		OnError: func(err error) { fmt.Println("ALERT:", err) },
	})
	if err != nil {
		panic(err)
	}
	defer logger.Close(context.Background()) // drains the queue

	fmt.Println(logger.DeliveryFor(audit.ActionUserLogin), logger.DeliveryFor("billing.refund"), logger.DeliveryFor(audit.ActionResourceRead))
	// Output: sync sync async
}

func ExampleLogger_Log() {
	store := memory.New(nil)
	logger, _ := audit.New(store, &audit.Options{NoLifecycleEvents: true})
	defer logger.Close(context.Background())

	// middleware usually puts these in the request context
	ctx := audit.WithActor(context.Background(), audit.Actor{UserID: "u-42", UserEmail: "ada@example.com"})
	ctx = audit.WithRequestInfo(ctx, audit.RequestInfo{RequestID: "req-1", IPAddress: netip.MustParseAddr("192.0.2.10")})

	err := logger.Log(ctx, audit.Event{
		Action:       audit.ActionUserLogin, // Sync: written before Log returns
		ResourceType: "user",
		ResourceID:   "u-42",
		Status:       audit.StatusSuccess,
		Details:      map[string]any{"method": "password", "password": "hunter2"},
	})
	if err != nil {
		fmt.Println("login not recorded, refusing it:", err)
		return
	}
	page, _ := store.Query(ctx, audit.Filter{UserID: "u-42"})
	r := page.Records[0]
	fmt.Println(r.Action, r.Status, r.IPAddress, r.RequestID, string(r.Details))
	// Output: user.login success 192.0.2.10 req-1 {"method":"password","password":"[REDACTED]"}
}

func ExampleWrap() {
	store := memory.New(nil)
	logger, _ := audit.New(store, &audit.Options{NoLifecycleEvents: true})
	defer logger.Close(context.Background())

	type Key struct{ ID, Owner string }
	createKey, err := audit.Wrap(logger, audit.Operation[string, Key]{
		Action:       audit.ActionAPIKeyCreate,
		ResourceType: "api_key",
		ResourceID:   func(_ string, k Key) string { return k.ID },
	}, func(ctx context.Context, owner string) (Key, error) {
		if owner == "" {
			return Key{}, errors.New("owner required")
		}
		return Key{ID: "key-1", Owner: owner}, nil
	})
	if err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	createKey(ctx, "u-42")
	createKey(ctx, "")
	for _, st := range []audit.Status{audit.StatusSuccess, audit.StatusFailure} {
		page, _ := store.Query(ctx, audit.Filter{Action: audit.ActionAPIKeyCreate, Status: st})
		r := page.Records[0]
		fmt.Printf("%s %q %s %q\n", r.Action, r.ResourceID, r.Status, r.ErrorMessage)
	}
	// Output:
	// api_key.create "key-1" success ""
	// api_key.create "" failure "owner required"
}

func ExampleDiff() {
	type Profile struct {
		Name  string `json:"name"`
		Email string `json:"email"`
	}
	changes, _ := audit.Diff(Profile{"Ada", "ada@old.example"}, Profile{"Ada", "ada@new.example"})
	fmt.Println(changes["email"].Before, "->", changes["email"].After, len(changes))
	// Output: ada@old.example -> ada@new.example 1
}

// A function without an argument takes struct{}.
func ExampleWrap_noArgument() {
	store := memory.New(nil)
	logger, _ := audit.New(store, &audit.Options{NoLifecycleEvents: true})
	defer logger.Close(context.Background())

	rotate, err := audit.Wrap(logger, audit.Operation[struct{}, string]{
		Action:       "secrets.rotate",
		ResourceType: "signing_key",
		ResourceID:   func(_ struct{}, id string) string { return id },
	}, func(ctx context.Context, _ struct{}) (string, error) { return "sk-2", nil })
	if err != nil {
		log.Fatal(err)
	}

	ctx := audit.WithActor(context.Background(), audit.Actor{UserID: "ops-bot"})
	id, err := rotate(ctx, struct{}{})
	fmt.Println(id, err)
	logger.Flush(ctx) // secrets.rotate is Async by default
	page, _ := store.Query(ctx, audit.Filter{Action: "secrets.rotate"})
	r := page.Records[0]
	fmt.Println(r.UserID, r.ResourceType, r.ResourceID, r.Status)
	// Output:
	// sk-2 <nil>
	// ops-bot signing_key sk-2 success
}

// The shutdown order: close the Logger, which writes what is queued and
// its own stop record, then the Sealer, which seals them and writes a
// final checkpoint. Nothing is left unsealed.
func ExampleSealer_Close() {
	store := memory.New(nil)
	logger, err := audit.New(store, nil) // records its start and stop
	if err != nil {
		panic(err)
	}
	key := chain.HMACKey{ID: "k1", Secret: []byte("an example key of 32 bytes or more")} // keep real keys out of code
	sealer, err := chain.NewSealer(store, key, nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()
	go sealer.Run(ctx)

	logger.Log(ctx, audit.Event{Action: audit.ActionResourceRead, ResourceType: "document", ResourceID: "d1", Status: audit.StatusSuccess})

	// on shutdown
	if err := logger.Close(ctx); err != nil {
		fmt.Println("logger:", err)
	}
	if err := sealer.Close(ctx); err != nil {
		fmt.Println("sealer:", err)
	}
	rep, _ := chain.Verify(ctx, store, &chain.VerifyOptions{Keys: map[string][]byte{key.ID: key.Secret}, SealWindow: time.Nanosecond})
	fmt.Printf("ok=%v sealed=%d unsealed=%d\n", rep.OK(), sealer.Stats().Sealed, rep.Unsealed)
	// Output: ok=true sealed=3 unsealed=0
}
