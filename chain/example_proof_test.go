package chain_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
)

// A record's inclusion proof, checked with the log's public key only, and
// a consistency proof from a checkpoint kept earlier.
func ExampleProve() {
	ctx := context.Background()
	store := memory.New(nil)
	key, signer := exampleKeys()
	sealer, err := chain.NewSealer(store, key, &chain.SealerOptions{SigningKey: signer})
	if err != nil {
		log.Fatal(err)
	}
	logSome(ctx, store, 10, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	if _, err := sealer.SealOnce(ctx); err != nil {
		log.Fatal(err)
	}
	kept, err := store.TreeCheckpoint(ctx, -1) // a customer keeps it
	if err != nil {
		log.Fatal(err)
	}

	// The operator publishes the vkey; a verifier needs nothing else.
	vkey, _ := chain.VerifierKey(chain.DefaultOrigin, signer.Key.Public().(ed25519.PublicKey))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		log.Fatal(err)
	}
	page, err := store.Query(ctx, audit.Filter{Limit: 1})
	if err != nil {
		log.Fatal(err)
	}
	rec := page.Records[0]
	proof, err := chain.Prove(ctx, store, rec.ID)
	if err != nil {
		log.Fatal(err)
	}
	cp, err := chain.VerifyInclusion(&rec, &proof, verifier)
	fmt.Println("inclusion:", err, "in a tree of", cp.Size)
	rec.ResourceID = "changed"
	_, err = chain.VerifyInclusion(&rec, &proof, verifier)
	fmt.Println("changed record fails:", errors.Is(err, chain.ErrProof))

	logSome(ctx, store, 5, time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC))
	if _, err := sealer.SealOnce(ctx); err != nil {
		log.Fatal(err)
	}
	cons, err := chain.ProveConsistency(ctx, store, kept.Size, 0)
	if err != nil {
		log.Fatal(err)
	}
	cp, err = chain.VerifyConsistency(&cons, kept.Note, verifier)
	fmt.Println("consistency:", err, "from", kept.Size, "to", cp.Size)
	// Output:
	// inclusion: <nil> in a tree of 10
	// changed record fails: true
	// consistency: <nil> from 10 to 15
}

// A tenant's evidence: the operator writes it; the tenant checks it with
// the log's public key alone.
func ExampleWriteTenantEvidence() {
	ctx := context.Background()
	store := memory.New(nil)
	key, signer := exampleKeys()
	sealer, err := chain.NewSealer(store, key, &chain.SealerOptions{SigningKey: signer})
	if err != nil {
		log.Fatal(err)
	}
	logger, err := audit.New(store, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}})
	if err != nil {
		log.Fatal(err)
	}
	for _, tenant := range []string{"org-1", "org-2", "org-1"} {
		e := audit.Event{TenantID: tenant, UserID: "u-42", Action: audit.ActionUserLogin, ResourceType: "session", Status: audit.StatusSuccess}
		if err := logger.Log(ctx, e); err != nil {
			log.Fatal(err)
		}
	}
	logger.Close(ctx)
	if _, err := sealer.SealOnce(ctx); err != nil {
		log.Fatal(err)
	}

	// The operator, for org-1:
	var bundle bytes.Buffer
	st, err := chain.WriteTenantEvidence(ctx, store, "org-1", nil, &bundle)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("written:", st.Records, "records, against a tree of", st.TreeSize)

	// org-1, with the published vkey only:
	vkey, _ := chain.VerifierKey(chain.DefaultOrigin, signer.Key.Public().(ed25519.PublicKey))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		log.Fatal(err)
	}
	rep, err := chain.VerifyTenantEvidence(bytes.NewReader(bundle.Bytes()), "org-1", verifier)
	fmt.Println("verified:", rep.Records, "records;", err)
	_, err = chain.VerifyTenantEvidence(bytes.NewReader(bundle.Bytes()), "org-2", verifier)
	fmt.Println("as org-2's:", errors.Is(err, chain.ErrProof))
	// Output:
	// written: 2 records, against a tree of 3
	// verified: 2 records; <nil>
	// as org-2's: true
}
