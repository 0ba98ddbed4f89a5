package chain_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
)

// FuzzVerifyProofs feeds VerifyInclusion and VerifyConsistency any JSON:
// they never panic, and nothing but the genuine proofs verifies.
func FuzzVerifyProofs(f *testing.F) {
	ctx := context.Background()
	store := memory.New(nil)
	key, signer := exampleKeys()
	sealer, err := chain.NewSealer(store, key, &chain.SealerOptions{SigningKey: signer, BatchSize: 3})
	if err != nil {
		f.Fatal(err)
	}
	logSome(ctx, store, 7, time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	if _, err := sealer.SealOnce(ctx); err != nil {
		f.Fatal(err)
	}
	page, err := store.Query(ctx, audit.Filter{Limit: 1})
	if err != nil {
		f.Fatal(err)
	}
	rec := page.Records[0]
	p, err := chain.Prove(ctx, store, rec.ID)
	if err != nil {
		f.Fatal(err)
	}
	c, err := chain.ProveConsistency(ctx, store, 3, 0)
	if err != nil {
		f.Fatal(err)
	}
	good := map[string]bool{}
	for _, v := range []any{p, c} {
		b, _ := json.Marshal(v)
		good[string(b)] = true
		f.Add(b)
	}
	f.Add([]byte(`{"format":"trailmark.inclusion-proof.v1","index":-1,"tree_size":9,"hashes":["AA=="]}`))
	f.Add([]byte(`{"format":"trailmark.consistency-proof.v1","from":9,"to":3}`))
	v, err := chain.LogVerifier(chain.DefaultOrigin, signer.Key.Public().(ed25519.PublicKey))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ip chain.InclusionProof
		if json.Unmarshal(b, &ip) == nil {
			if _, err := chain.VerifyInclusion(&rec, &ip, v); err == nil {
				canon, _ := json.Marshal(ip)
				if ip.RecordID != rec.ID || !good[string(canon)] && ip.Index != p.Index {
					t.Fatalf("a proof that is not the genuine one verified: %s", b)
				}
			}
		}
		var cp chain.ConsistencyProof
		if json.Unmarshal(b, &cp) == nil {
			chain.VerifyConsistency(&cp, nil, v) // must not panic
		}
	})
}
