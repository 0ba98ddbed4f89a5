package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
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
