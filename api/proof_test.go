package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

var proofSigner = chain.SigningKey{ID: "s1", Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))}

// sealTree seals what e's store holds, keeping its tree.
func (e *env) sealTree() {
	e.t.Helper()
	sl, err := chain.NewSealer(e.store, chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, &chain.SealerOptions{SigningKey: &proofSigner, BatchSize: 8})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := sl.SealOnce(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func TestProofEndpoints(t *testing.T) {
	t.Parallel()
	recs := storetest.Records(0, 20) // tenants a, b, a, none, …
	e := newEnv(t, recs)
	e.sealTree()
	v, err := chain.LogVerifier(chain.DefaultOrigin, proofSigner.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	cp := e.get("admin", "/audit-logs/checkpoint")
	if cp.StatusCode != http.StatusOK || cp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("checkpoint: %d %s", cp.StatusCode, cp.body)
	}
	old := cp.body // of the tree before the API's own reads were sealed

	for _, tt := range []struct {
		name, token string
		rec         audit.Record
		want        int
	}{
		{"admin", "admin", recs[3], http.StatusOK},
		{"own tenant", "tenant tenant-a", recs[0], http.StatusOK},
		{"other tenant", "tenant tenant-a", recs[1], http.StatusNotFound},
		{"scope by user", "scoped " + recs[5].UserID + " - -", recs[5], http.StatusOK},
		{"unauthenticated", "", recs[0], http.StatusUnauthorized},
		{"forbidden", "nobody", recs[0], http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(tt.token, "/audit-logs/"+tt.rec.ID.String()+"/proof")
			if r.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.want, r.body)
			}
			if tt.want != http.StatusOK {
				return
			}
			var p chain.InclusionProof
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatal(err)
			}
			if p.Record == nil || p.Record.ID != tt.rec.ID {
				t.Fatalf("proof carries record %+v", p.Record)
			}
			// the record as the API returned it, and as it was written
			if _, err := chain.VerifyInclusion(p.Record, &p, v); err != nil {
				t.Fatalf("VerifyInclusion of the record the API returned: %v", err)
			}
			stored, err := e.store.Store.Get(context.Background(), tt.rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := chain.VerifyInclusion(&stored, &p, v); err != nil {
				t.Fatalf("VerifyInclusion of the record stored: %v", err)
			}
			forged := stored
			forged.ResourceID += "-forged"
			if _, err := chain.VerifyInclusion(&forged, &p, v); !errors.Is(err, chain.ErrProof) {
				t.Fatalf("a changed record verified: %v", err)
			}
		})
	}
	// out of scope is answered exactly as an unknown id
	other := e.get("tenant tenant-a", "/audit-logs/"+recs[1].ID.String()+"/proof")
	missing := e.get("tenant tenant-a", "/audit-logs/"+storetest.Record(999).ID.String()+"/proof")
	if other.StatusCode != missing.StatusCode || !bytes.Equal(withoutRequestID(other.body), withoutRequestID(missing.body)) {
		t.Errorf("out of scope %d %s; unknown %d %s", other.StatusCode, other.body, missing.StatusCode, missing.body)
	}
	// each read is recorded, as /{id}'s
	if evs := e.events(audit.Filter{Action: audit.ActionAuditLogRead, ResourceID: recs[3].ID.String()}); len(evs) != 1 || evs[0].Status != audit.StatusSuccess {
		t.Errorf("recorded %d reads of the proof of %s", len(evs), recs[3].ID)
	}
	// a record not sealed yet: 404, saying so
	late := storetest.Record(500)
	if err := e.store.Append(context.Background(), late); err != nil {
		t.Fatal(err)
	}
	if r := e.get("admin", "/audit-logs/"+late.ID.String()+"/proof"); r.StatusCode != http.StatusNotFound || !bytes.Contains(r.body, []byte("not in a signed checkpoint yet")) {
		t.Errorf("unsealed record: %d %s", r.StatusCode, r.body)
	}

	// consistency from the old checkpoint to the newest
	e.sealTree()
	oldSize := int64(len(recs))
	r := e.get("reader", "/audit-logs/consistency?from=20")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("consistency: %d %s", r.StatusCode, r.body)
	}
	var cons chain.ConsistencyProof
	if err := json.Unmarshal(r.body, &cons); err != nil {
		t.Fatal(err)
	}
	if cons.From != oldSize || cons.To <= oldSize {
		t.Fatalf("consistency from %d to %d", cons.From, cons.To)
	}
	if _, err := chain.VerifyConsistency(&cons, old, v); err != nil {
		t.Fatalf("VerifyConsistency: %v", err)
	}
	if r := e.get("tenant tenant-b", "/audit-logs/consistency?from=3&to="+itoa(cons.To)); r.StatusCode != http.StatusOK {
		t.Errorf("consistency for a scoped caller: %d %s", r.StatusCode, r.body)
	}
	for _, q := range []struct{ query, param string }{
		{"", "from"}, {"from=0", "from"}, {"from=01", "from"}, {"from=x", "from"}, {"from=5&to=4", "to"},
		{"from=100000", "from"}, {"from=1&cursor=x", "cursor"},
	} {
		r := e.get("admin", "/audit-logs/consistency?"+q.query)
		var pd struct{ Parameter string }
		json.Unmarshal(r.body, &pd)
		if r.StatusCode != http.StatusBadRequest || pd.Parameter != q.param {
			t.Errorf("consistency?%s: %d %s, want 400 naming %s", q.query, r.StatusCode, r.body, q.param)
		}
	}
	if r := e.get("admin", "/audit-logs/consistency?from=1&to=7"); r.StatusCode != http.StatusNotFound {
		t.Errorf("consistency to a size without a checkpoint: %d %s", r.StatusCode, r.body)
	}
	if r := e.get("admin", "/audit-logs/checkpoint?x=1"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("checkpoint with a parameter: %d", r.StatusCode)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func withoutRequestID(body []byte) []byte {
	var m map[string]any
	json.Unmarshal(body, &m)
	delete(m, "request_id")
	b, _ := json.Marshal(m)
	return b
}

// sharedIDStore answers LeafOf(victim) with the leaf of other, as
// PostgreSQL does when two records share an ID (it keys them by ID and
// time) and the other was sealed last; LeafOfRecord finds the victim's
// own leaf, or, with lost set, none.
type sharedIDStore struct {
	*testStore
	victim, other uuid.UUID
	lost          bool
}

func (s *sharedIDStore) LeafOf(ctx context.Context, id uuid.UUID) (storekit.Leaf, error) {
	if id == s.victim {
		l, err := s.testStore.LeafOf(ctx, s.other)
		l.EventID = id
		return l, err
	}
	return s.testStore.LeafOf(ctx, id)
}

func (s *sharedIDStore) LeafOfRecord(ctx context.Context, id uuid.UUID, _ time.Time) (storekit.Leaf, error) {
	if s.lost {
		return storekit.Leaf{}, audit.ErrNotFound
	}
	return s.testStore.LeafOf(ctx, id)
}

// TestProofNeverHandsOutAnotherRecordsSalt: when the leaf the store holds
// for a record's ID is another record's (two records of one ID, of two
// tenants), the proof endpoint proves the record's own leaf, of its ID
// and time, or, when the store has none, answers 409; never with the
// other's salt (suspected by an outside review; the store answers as
// PostgreSQL can).
func TestProofNeverHandsOutAnotherRecordsSalt(t *testing.T) {
	t.Parallel()
	v, err := chain.LogVerifier(chain.DefaultOrigin, proofSigner.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	for _, lost := range []bool{false, true} {
		recs := storetest.Records(0, 20) // tenants a, b, a, none, …
		victim, other := recs[0], recs[1]
		var shared *sharedIDStore
		e := newEnv(t, recs, func(s *setup) {
			shared = &sharedIDStore{testStore: s.Store.(*testStore), victim: victim.ID, other: other.ID, lost: lost}
			s.Store = shared
		})
		e.sealTree()
		leaf, err := shared.testStore.LeafOf(context.Background(), other.ID)
		if err != nil {
			t.Fatal(err)
		}
		r := e.get("tenant tenant-a", "/audit-logs/"+victim.ID.String()+"/proof")
		salt, _ := json.Marshal(leaf.Salt)
		if bytes.Contains(r.body, bytes.Trim(salt, `"`)) {
			t.Errorf("lost %v: the answer holds the other record's salt: %s", lost, r.body)
		}
		if lost {
			if r.StatusCode != http.StatusConflict {
				t.Errorf("proof of a record without a leaf of its own: %d %s, want 409", r.StatusCode, r.body)
			}
			continue
		}
		var p chain.InclusionProof
		if r.StatusCode != http.StatusOK || json.Unmarshal(r.body, &p) != nil {
			t.Fatalf("proof of a record with a leaf of its own: %d %s", r.StatusCode, r.body)
		}
		stored, err := shared.Get(context.Background(), victim.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chain.VerifyInclusion(&stored, &p, v); err != nil {
			t.Errorf("the proof of the record's own leaf: %v", err)
		}
	}
}

// TestProofSharedIDOnPostgres: PostgreSQL keys records by ID and time, so
// two tenants' records may share an ID; the proof of the first, asked by
// its tenant, must not carry the leaf and salt of the second, sealed
// after it.
func TestProofSharedIDOnPostgres(t *testing.T) {
	open, ok := tenantStores(t)["postgres"]
	if !ok {
		t.Skip("AUDIT_TEST_DATABASE_URL not set: no PostgreSQL to test against")
	}
	t.Parallel()
	st := open(t)
	ctx := context.Background()
	seal := func() { // everything: a transaction of another test may hold records back a while
		sl, err := chain.NewSealer(st.(storekit.SealStore), chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, &chain.SealerOptions{SigningKey: &proofSigner})
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
			if _, err := sl.SealOnce(ctx); err != nil {
				t.Fatal(err)
			}
			waiting := 0
			if err := st.(storekit.SealStore).ScanUnsealed(ctx, func(*audit.Record) error { waiting++; return nil }); err != nil {
				t.Fatal(err)
			}
			if waiting == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d records unsealed after a minute", waiting)
			}
		}
	}
	recs := storetest.Records(0, 2)
	alpha, bravo := recs[0], recs[1]
	alpha.TenantID, bravo.TenantID = "tenant-alpha", "tenant-bravo"
	bravo.ID = alpha.ID
	bravo.OccurredAt = alpha.OccurredAt.Add(time.Second)
	if err := st.Append(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	seal()
	if err := st.Append(ctx, bravo); err != nil {
		t.Fatal(err)
	}
	seal()
	leaf, err := st.(storekit.TreeReader).LeafOf(ctx, alpha.ID)
	if err != nil {
		t.Fatal(err)
	}
	e := serveStore(t, st, &Options{Now: func() time.Time { return testNow }})
	r := e.get("tenant tenant-alpha", "/audit-logs/"+alpha.ID.String()+"/proof")
	salt, _ := json.Marshal(leaf.Salt)
	if bytes.Contains(r.body, bytes.Trim(salt, `"`)) {
		t.Errorf("alpha's proof holds the salt of the leaf of ID %s, bravo's: %d %s", alpha.ID, r.StatusCode, r.body)
	}
	v, err := chain.LogVerifier(chain.DefaultOrigin, proofSigner.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	var p chain.InclusionProof
	if r.StatusCode != http.StatusOK || json.Unmarshal(r.body, &p) != nil {
		t.Fatalf("alpha's proof: %d %s", r.StatusCode, r.body)
	}
	got, err := st.(audit.Getter).Get(ctx, alpha.ID)
	if err != nil || got.TenantID != "tenant-alpha" {
		t.Fatalf("Get: %+v, %v", got, err)
	}
	if _, err := chain.VerifyInclusion(&got, &p, v); err != nil {
		t.Errorf("alpha's proof: %v", err)
	}
	// the tenant's evidence too: alpha's own leaf, not bravo's
	var bundle bytes.Buffer
	if _, err := chain.WriteTenantEvidence(ctx, st.(chain.EvidenceSource), "tenant-alpha", nil, &bundle); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bundle.Bytes(), bytes.Trim(salt, `"`)) {
		t.Errorf("alpha's evidence holds bravo's salt")
	}
	if rep, err := chain.VerifyTenantEvidence(&bundle, "tenant-alpha", v); err != nil || rep.Records != 1 {
		t.Errorf("alpha's evidence: %+v, %v", rep, err)
	}
}
