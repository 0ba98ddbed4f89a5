package chain_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/chain/witness"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storetest"
)

// errorLog collects what a Sealer reports.
type errorLog struct {
	mu   sync.Mutex
	errs []error
}

func (e *errorLog) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

func (e *errorLog) has(target error) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, err := range e.errs {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// TestOperatorWithEveryKeyIsCaught: an operator who holds every key of
// the log (the chain's HMAC key, the signing key, the database) rewrites
// one record and seals the new history, validly signed. Proofs from it
// pass a check with the log's key alone; the witnesses, which cosigned
// the old history over real HTTP, refuse the new one, so a reader who
// requires their cosignatures rejects it, and a tenant who kept a
// checkpoint of the old history finds that no consistency proof
// reaches the new one.
func TestOperatorWithEveryKeyIsCaught(t *testing.T) {
	ctx := context.Background()
	const origin = "example.com/audit"
	logVerifier, err := chain.LogVerifier(origin, testSigner.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	// two witnesses run by other parties, over loopback HTTP
	var clients []*witness.Client
	var verifiers []note.Verifier
	for _, name := range []string{"w1.example.org", "w2.example.net"} {
		_, wkey, _ := ed25519.GenerateKey(nil)
		w, err := witness.New(name, wkey, []witness.Log{{Origin: origin, Verifier: logVerifier}},
			filepath.Join(t.TempDir(), "state"), &witness.Options{OnError: func(error) {}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(w)
		t.Cleanup(srv.Close)
		wv, err := witness.NewVerifier(w.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		c, err := witness.NewClient(srv.URL, wv, nil)
		if err != nil {
			t.Fatal(err)
		}
		clients, verifiers = append(clients, c), append(verifiers, wv)
	}
	newSealer := func(s *memory.Store, errs *errorLog) *chain.Sealer {
		t.Helper()
		sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{
			SigningKey: &testSigner, Origin: origin, Witnesses: clients, OnError: errs.add,
		})
		if err != nil {
			t.Fatal(err)
		}
		return sl
	}

	// The honest log: two steps, each cosigned by both witnesses.
	honest := memory.New(nil)
	recs := storetest.Records(0, 40)
	var honestErrs errorLog
	sl := newSealer(honest, &honestErrs)
	for _, part := range [][]audit.Record{recs[:25], recs[25:]} {
		if err := honest.Append(ctx, part...); err != nil {
			t.Fatal(err)
		}
		if _, err := sl.SealOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(honestErrs.errs) != 0 {
		t.Fatalf("the honest log was refused: %v", honestErrs.errs)
	}
	proof, err := chain.Prove(ctx, honest, recs[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := honest.Get(ctx, recs[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.VerifyInclusion(&stored, &proof, logVerifier); err != nil {
		t.Fatal(err)
	}
	if _, err := chain.VerifyWitnessed([]byte(proof.Checkpoint), logVerifier, verifiers, 2); err != nil {
		t.Fatalf("the honest checkpoint is not cosigned by both witnesses: %v\n%s", err, proof.Checkpoint)
	}
	kept := []byte(proof.Checkpoint) // a tenant keeps it

	// The operator rewrites record 3 and seals the new history, with
	// every key, at a larger size, in a database of its own making.
	rewritten := memory.New(nil)
	forged := slicesClone(recs)
	forged[3].Details = []byte(`{"note":"this never happened"}`)
	if err := rewritten.Append(ctx, append(forged, storetest.Records(40, 45)...)...); err != nil {
		t.Fatal(err)
	}
	var forgedErrs errorLog
	if _, err := newSealer(rewritten, &forgedErrs).SealOnce(ctx); err != nil {
		t.Fatal(err)
	}
	fproof, err := chain.Prove(ctx, rewritten, forged[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	// Signed by the log's own key: the log's key alone cannot tell.
	fstored, err := rewritten.Get(ctx, forged[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.VerifyInclusion(&fstored, &fproof, logVerifier); err != nil {
		t.Fatalf("the forged proof does not even pass the log's key: %v", err)
	}
	// The witnesses refused it, and the Sealer said so.
	if !forgedErrs.has(witness.ErrInconsistent) {
		t.Errorf("the witnesses' refusal was not reported: %v", forgedErrs.errs)
	}
	if _, err := chain.VerifyWitnessed([]byte(fproof.Checkpoint), logVerifier, verifiers, 1); !errors.Is(err, witness.ErrTooFewCosignatures) {
		t.Errorf("the rewritten history passed a reader requiring 1 of 2 witnesses: %v", err)
	}
	// The tenant who kept the old checkpoint: no proof reaches the new
	// tree from it.
	cproof, err := chain.ProveConsistency(ctx, rewritten, proof.TreeSize, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.VerifyConsistency(&cproof, kept, logVerifier); !errors.Is(err, chain.ErrProof) {
		t.Errorf("the tenant's kept checkpoint is consistent with the rewritten history: %v", err)
	}

	// The honest log goes on, cosigned.
	if err := honest.Append(ctx, storetest.Records(45, 50)...); err != nil {
		t.Fatal(err)
	}
	if _, err := sl.SealOnce(ctx); err != nil {
		t.Fatal(err)
	}
	p2, err := chain.Prove(ctx, honest, recs[3].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.VerifyWitnessed([]byte(p2.Checkpoint), logVerifier, verifiers, 2); err != nil || p2.TreeSize != 45 {
		t.Errorf("the honest log's next checkpoint (size %d): %v", p2.TreeSize, err)
	}
	cp2, err := chain.ProveConsistency(ctx, honest, proof.TreeSize, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.VerifyConsistency(&cp2, kept, logVerifier); err != nil {
		t.Errorf("the honest log is not consistent with the kept checkpoint: %v", err)
	}
}

// TestWitnessesNeedWhatTheyCosign: NewSealer refuses witnesses without a
// SigningKey, or over a store that cannot store a cosigned checkpoint.
func TestWitnessesNeedWhatTheyCosign(t *testing.T) {
	c, err := witness.NewClient("http://127.0.0.1:1", mustVerifier(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chain.NewSealer(memory.New(nil), testKey, &chain.SealerOptions{Witnesses: []*witness.Client{c}}); err == nil || !strings.Contains(err.Error(), "SigningKey") {
		t.Errorf("witnesses without a SigningKey: %v", err)
	}
	if _, err := chain.NewSealer(memory.New(nil), testKey, &chain.SealerOptions{SigningKey: &testSigner, Witnesses: []*witness.Client{nil}}); err == nil {
		t.Error("a nil witness Client: no error")
	}
}

func mustVerifier(t *testing.T) note.Verifier {
	t.Helper()
	pub, _, _ := ed25519.GenerateKey(nil)
	vkey, err := witness.VerifierKey("w.example.org", pub)
	if err != nil {
		t.Fatal(err)
	}
	v, err := witness.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func slicesClone(rs []audit.Record) []audit.Record {
	out := make([]audit.Record, len(rs))
	for i := range rs {
		out[i] = rs[i].Clone()
	}
	return out
}
