package api

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// TestEvidenceEndpoint: GET /evidence over real HTTP: a tenant gets its
// own evidence and no other's, an admin any tenant's; each checks with
// the public key alone and holds no other tenant's record; the read is
// recorded as an export.
func TestEvidenceEndpoint(t *testing.T) {
	t.Parallel()
	recs := storetest.Records(0, 20) // tenants a, b, a, none, …
	e := newEnv(t, recs)
	if r := e.get("admin", "/audit-logs/evidence?tenant_id=tenant-a"); r.StatusCode != http.StatusNotFound || !bytes.Contains(r.body, []byte("no signed checkpoint yet")) {
		t.Fatalf("before any checkpoint: %d %s", r.StatusCode, r.body)
	}
	// HEAD answers as GET would (it answered 200: found by an outside review)
	if r := e.do(http.MethodHead, "admin", "/audit-logs/evidence?tenant_id=tenant-a"); r.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD evidence before any checkpoint: %d, want 404", r.StatusCode)
	}
	e.sealTree()
	v, err := chain.LogVerifier(chain.DefaultOrigin, proofSigner.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	count := func(tenant string, since time.Time) int64 {
		n := int64(0)
		for _, r := range recs {
			if r.TenantID == tenant && !r.OccurredAt.Before(since) {
				n++
			}
		}
		return n
	}
	since := recs[10].OccurredAt
	for _, tt := range []struct {
		name, token, query, tenant string
		want                       int
		records                    int64
	}{
		{"admin", "admin", "?tenant_id=tenant-a", "tenant-a", http.StatusOK, count("tenant-a", time.Time{})},
		{"admin, another tenant", "admin", "?tenant_id=tenant-b", "tenant-b", http.StatusOK, count("tenant-b", time.Time{})},
		{"admin, a range", "admin", "?tenant_id=tenant-b&since=" + url.QueryEscape(since.Format(time.RFC3339Nano)), "tenant-b", http.StatusOK, count("tenant-b", since)},
		{"own tenant", "tenant tenant-a", "", "tenant-a", http.StatusOK, count("tenant-a", time.Time{})},
		{"own tenant named", "tenant tenant-a", "?tenant_id=tenant-a", "tenant-a", http.StatusOK, count("tenant-a", time.Time{})},
		{"another tenant", "tenant tenant-a", "?tenant_id=tenant-b", "", http.StatusForbidden, 0},
		{"a tenant that does not exist", "tenant tenant-a", "?tenant_id=tenant-zz", "", http.StatusForbidden, 0},
		{"scoped to a user", "scoped " + recs[5].UserID + " - -", "?tenant_id=tenant-a", "", http.StatusForbidden, 0},
		{"may read, not export", "reader", "?tenant_id=tenant-a", "", http.StatusForbidden, 0},
		{"unauthenticated", "", "?tenant_id=tenant-a", "", http.StatusUnauthorized, 0},
		{"admin without a tenant", "admin", "", "", http.StatusBadRequest, 0},
		{"a cursor", "admin", "?tenant_id=tenant-a&cursor=x", "", http.StatusBadRequest, 0},
		{"a bad tenant id", "admin", "?tenant_id=%00", "", http.StatusBadRequest, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := e.get(tt.token, "/audit-logs/evidence"+tt.query)
			if r.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", r.StatusCode, tt.want, r.body)
			}
			if tt.want != http.StatusOK {
				return
			}
			if ct := r.Header.Get("Content-Type"); ct != "application/x-ndjson" {
				t.Errorf("Content-Type %q", ct)
			}
			rep, err := chain.VerifyTenantEvidence(bytes.NewReader(r.body), tt.tenant, v)
			if err != nil || rep.Records != tt.records {
				t.Fatalf("VerifyTenantEvidence: %d records, %v; want %d", rep.Records, err, tt.records)
			}
			for _, rec := range recs {
				var d struct{ Name string }
				json.Unmarshal(rec.Details, &d) // unique to each record
				if rec.TenantID != tt.tenant && (bytes.Contains(r.body, []byte(rec.ID.String())) || bytes.Contains(r.body, []byte(`"`+d.Name+`"`))) {
					t.Errorf("%s's evidence holds record %s of %q", tt.tenant, rec.ID, rec.TenantID)
				}
			}
		})
	}
	// another tenant's, and one that does not exist, are refused alike
	a := e.get("tenant tenant-a", "/audit-logs/evidence?tenant_id=tenant-b")
	b := e.get("tenant tenant-a", "/audit-logs/evidence?tenant_id=tenant-zz")
	if !bytes.Equal(withoutRequestID(a.body), withoutRequestID(b.body)) {
		t.Errorf("another tenant %s; none %s", a.body, b.body)
	}
	// recorded as exports: a start and an end, in the tenant's own log for
	// a tenant's caller
	evs := e.events(audit.Filter{Action: audit.ActionAuditLogExport, TenantID: "tenant-a"})
	phases := map[string]int{}
	for _, ev := range evs {
		var d struct {
			Phase, Format string
			Rows          int64
		}
		json.Unmarshal(ev.Details, &d)
		if d.Format == "evidence" {
			phases[d.Phase+" "+string(ev.Status)]++
		}
	}
	if phases["start success"] != 2 || phases["end success"] != 2 || phases["end failure"] != 0 {
		t.Errorf("tenant-a's log records %v", phases)
	}
	refused := e.events(audit.Filter{Action: audit.ActionAuditLogExport, TenantID: "tenant-a", Status: audit.StatusFailure})
	if len(refused) != 4 {
		t.Errorf("tenant-a's log records %d refused evidence requests, want 4", len(refused))
	}
	// HEAD: recorded, no body
	if r := e.do(http.MethodHead, "admin", "/audit-logs/evidence?tenant_id=tenant-a"); r.StatusCode != http.StatusOK || len(r.body) != 0 {
		t.Errorf("HEAD: %d, %d bytes", r.StatusCode, len(r.body))
	}
}

// TestTenantEvidenceIsolation: on every store (memory, SQLite, and
// PostgreSQL when AUDIT_TEST_DATABASE_URL is set), alpha's evidence from
// the API verifies with the public key alone and holds nothing of
// bravo's records; alpha cannot have bravo's; an admin can.
func TestTenantEvidenceIsolation(t *testing.T) {
	t.Parallel()
	eachTenantStore(t, testTenantEvidenceIsolation)
}

func testTenantEvidenceIsolation(t *testing.T, st audit.Store) {
	ctx := context.Background()
	alpha, bravo := tenantRecords()
	if err := st.Append(ctx, append(append([]audit.Record(nil), alpha...), bravo...)...); err != nil {
		t.Fatal(err)
	}
	ss := st.(storekit.SealStore)
	sl, err := chain.NewSealer(ss, chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, &chain.SealerOptions{SigningKey: &proofSigner, BatchSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	// PostgreSQL holds records back while older transactions (of other
	// tests) are running: seal until the tree has them all
	ts := st.(storekit.TreeReader)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if _, err := sl.SealOnce(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := ts.TreeSize(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == int64(len(alpha)+len(bravo)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tree has %d leaves after a minute, want %d", n, len(alpha)+len(bravo))
		}
	}
	e := tailEnv(t, st)
	v, err := chain.LogVerifier(chain.DefaultOrigin, proofSigner.Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}

	r := e.get("tenant tenant-alpha", "/audit-logs/evidence")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("alpha's evidence: %d %s", r.StatusCode, r.body)
	}
	rep, err := chain.VerifyTenantEvidence(bytes.NewReader(r.body), "tenant-alpha", v)
	if err != nil || rep.Records != int64(len(alpha)) {
		t.Fatalf("alpha's evidence: %d records, %v; want %d", rep.Records, err, len(alpha))
	}
	leaks := []string{"bravo-secret", "tenant-bravo"}
	for _, b := range bravo {
		leaks = append(leaks, b.ID.String(), b.UserEmail)
	}
	for _, l := range leaks {
		if bytes.Contains(r.body, []byte(l)) {
			t.Errorf("alpha's evidence holds %q of bravo", l)
		}
	}
	if r := e.get("tenant tenant-alpha", "/audit-logs/evidence?tenant_id=tenant-bravo"); r.StatusCode != http.StatusForbidden {
		t.Errorf("alpha asking for bravo's evidence: %d %s", r.StatusCode, r.body)
	}
	r = e.get("admin", "/audit-logs/evidence?tenant_id=tenant-bravo")
	if rep, err := chain.VerifyTenantEvidence(bytes.NewReader(r.body), "tenant-bravo", v); err != nil || rep.Records != int64(len(bravo)) {
		t.Fatalf("bravo's evidence for the admin: %d %s: %d records, %v", r.StatusCode, r.body, rep.Records, err)
	}
	// bravo's evidence does not pass as alpha's
	if _, err := chain.VerifyTenantEvidence(bytes.NewReader(r.body), "tenant-alpha", v); !errors.Is(err, chain.ErrProof) {
		t.Errorf("bravo's evidence checked as alpha's: %v", err)
	}
}
