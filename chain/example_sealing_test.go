package chain_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
)

// exampleKeys returns fixed keys for the examples; make real ones with
// auditctl keygen and keep them out of code (see ReadKeyFile).
func exampleKeys() (chain.HMACKey, *chain.SigningKey) {
	seed := make([]byte, ed25519.SeedSize)
	return chain.HMACKey{ID: "k1", Secret: []byte("an example key of 32 bytes or more")},
		&chain.SigningKey{ID: "s1", Key: ed25519.NewKeyFromSeed(seed)}
}

// logSome records n events, each written before Log returns.
func logSome(ctx context.Context, store audit.Store, n int, at time.Time) {
	logger, err := audit.New(store, &audit.Options{
		NoLifecycleEvents: true,
		Policy:            audit.Policy{Default: audit.Sync},
		Now:               func() time.Time { return at },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer logger.Close(ctx)
	for i := range n {
		err := logger.Log(ctx, audit.Event{Action: audit.ActionResourceRead, ResourceType: "document", ResourceID: fmt.Sprint(i), Status: audit.StatusSuccess})
		if err != nil {
			log.Fatal(err)
		}
	}
}

// A Sealer chains the records of a store with an HMAC key and signs
// checkpoints of the chain. Run it in the background; SealOnce seals what
// is waiting now.
func ExampleNewSealer() {
	ctx := context.Background()
	store := memory.New(nil)
	logSome(ctx, store, 3, time.Now())

	key, signer := exampleKeys()
	sealer, err := chain.NewSealer(store, key, &chain.SealerOptions{SigningKey: signer})
	if err != nil {
		log.Fatal(err)
	}
	n, err := sealer.SealOnce(ctx)
	if err != nil {
		log.Fatal(err)
	}
	cp, err := sealer.Checkpoint(ctx, time.Time{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("sealed %d records; checkpoint at seal %d signed by %s\n", n, cp.Seq, cp.SignerID)
	// Output: sealed 3 records; checkpoint at seal 3 signed by s1
}

// Verify reads a chain back and reports what does not match: here, a
// record changed after it was sealed.
func ExampleVerify() {
	ctx := context.Background()
	store := memory.New(nil)
	logSome(ctx, store, 2, time.Now())
	key, signer := exampleKeys()
	sealer, err := chain.NewSealer(store, key, &chain.SealerOptions{SigningKey: signer})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := sealer.SealOnce(ctx); err != nil {
		log.Fatal(err)
	}

	opts := &chain.VerifyOptions{
		Keys:       map[string][]byte{key.ID: key.Secret},
		PublicKeys: map[string]ed25519.PublicKey{signer.ID: signer.Key.Public().(ed25519.PublicKey)},
	}
	rep, err := chain.Verify(ctx, store, opts)
	if err != nil {
		log.Fatal(err) // the store could not be read
	}
	fmt.Printf("ok=%v seals=%d records=%d\n", rep.OK(), rep.Seals, rep.Records)
	// Output: ok=true seals=2 records=2
}

// Retention removes records older than MaxAge, after handing them to
// Archive. A store that keeps a hash chain needs the Sealer, with a
// Signer, so that the chain still verifies after the purge.
func ExampleNewRetention() {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	store := memory.New(nil)
	logSome(ctx, store, 2, now.AddDate(0, -4, 0)) // older than 90 days
	logSome(ctx, store, 1, now.AddDate(0, 0, -1))

	key, signer := exampleKeys()
	sealer, err := chain.NewSealer(store, key, &chain.SealerOptions{SigningKey: signer, Now: func() time.Time { return now }})
	if err != nil {
		log.Fatal(err)
	}
	ret, err := audit.NewRetention(store, sealer, &audit.RetentionOptions{
		MaxAge: 90 * 24 * time.Hour,
		Archive: func(ctx context.Context, recs []audit.Record, seals []json.RawMessage) error {
			fmt.Println("archiving", len(recs), "records") // write them somewhere durable first
			return nil
		},
		Now: func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := ret.RunOnce(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("purged", res.Purged)

	rep, err := chain.Verify(ctx, store, &chain.VerifyOptions{
		Keys:       map[string][]byte{key.ID: key.Secret},
		PublicKeys: map[string]ed25519.PublicKey{signer.ID: signer.Key.Public().(ed25519.PublicKey)},
		Now:        func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ok=%v purged=%d\n", rep.OK(), rep.Purged)
	// Output:
	// archiving 2 records
	// purged 2
	// ok=true purged=2
}

// A retention per tenant: the records of org-free go after 30 days, those
// of org-enterprise after a year, every other record after 90 days. The
// chain still verifies, and still tells a record its tenant's retention
// removed from a deleted one.
func ExampleNewRetention_tenantMaxAge() {
	ctx := context.Background()
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	store := memory.New(nil)
	for _, tenant := range []string{"org-free", "org-enterprise", ""} {
		logSome(audit.WithTenant(ctx, tenant), store, 1, now.AddDate(0, 0, -60)) // 60 days old
	}

	key, signer := exampleKeys()
	sealer, err := chain.NewSealer(store, key, &chain.SealerOptions{SigningKey: signer, Now: func() time.Time { return now }})
	if err != nil {
		log.Fatal(err)
	}
	ret, err := audit.NewRetention(store, sealer, &audit.RetentionOptions{
		MaxAge: 90 * 24 * time.Hour,
		TenantMaxAge: map[string]time.Duration{
			"org-free":       30 * 24 * time.Hour,
			"org-enterprise": 365 * 24 * time.Hour,
		},
		Now: func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := ret.RunOnce(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("purged", res.Purged, "of", res.Purged+int64(store.Len()))

	rep, err := chain.Verify(ctx, store, &chain.VerifyOptions{
		Keys:       map[string][]byte{key.ID: key.Secret},
		PublicKeys: map[string]ed25519.PublicKey{signer.ID: signer.Key.Public().(ed25519.PublicKey)},
		Now:        func() time.Time { return now },
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ok=%v purged=%d records=%d\n", rep.OK(), rep.Purged, rep.Records)
	// Output:
	// purged 1 of 3
	// ok=true purged=1 records=2
}
