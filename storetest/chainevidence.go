package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storekit"
)

// evidenceStore returns a new store that keeps a tree, its Tamperer, and
// the store as WriteTenantEvidence reads it.
func evidenceStore(t *testing.T, newChain ChainFactory) (storekit.TreeStore, Tamperer, chain.EvidenceSource) {
	t.Helper()
	s, tam := treeStore(t, newChain)
	q, ok := s.(audit.Querier)
	if !ok {
		t.Skipf("%T is not an audit.Querier", s)
	}
	return s, tam, struct {
		audit.Querier
		storekit.TreeReader
	}{q, s}
}

// testTreeEvidence: a tenant's evidence, written from the store, verifies
// with the public key alone, holds no other tenant's record, and fails
// once one of the tenant's records is changed in the store or another
// tenant's record is relabelled as the tenant's; compared with it, the
// next evidence shows a record removed from the store.
func testTreeEvidence(t *testing.T, newChain ChainFactory) {
	s, tam, src := evidenceStore(t, newChain)
	ctx := context.Background()
	recs := appendRecords(t, s, recent(24)...) // tenants a, b, a, none, …
	sealAll(t, s, newSealer(t, s, key1))
	late := appendRecords(t, s, recent(2)...) // a's and b's, not sealed
	write := func() []byte {
		t.Helper()
		var b bytes.Buffer
		st, err := chain.WriteTenantEvidence(ctx, src, "tenant-a", nil, &b)
		check(t, err)
		if st.Records != 12 || st.Pending != 1 || st.TreeSize != 24 {
			t.Fatalf("WriteTenantEvidence: %+v; want 12 records, 1 pending, a tree of 24", st)
		}
		return b.Bytes()
	}
	b := write()
	rep, err := chain.VerifyTenantEvidence(bytes.NewReader(b), "tenant-a", logVerifier(t))
	if err != nil || rep.Records != 12 || rep.Pending != 1 {
		t.Fatalf("VerifyTenantEvidence: %+v, %v", rep, err)
	}
	if bytes.Contains(b, []byte("tenant-b")) {
		t.Error("tenant-a's evidence names tenant-b")
	}
	for _, r := range append(recs, late...) {
		if r.TenantID != "tenant-a" && bytes.Contains(b, []byte(r.ID.String())) {
			t.Errorf("tenant-a's evidence holds record %s of %q", r.ID, r.TenantID)
		}
	}
	fails := func(what string, want chain.EvidenceFindingKind) {
		t.Helper()
		rep, err := chain.VerifyTenantEvidence(bytes.NewReader(write()), "tenant-a", logVerifier(t))
		if !errors.Is(err, chain.ErrProof) || rep.FindingCount != 1 || rep.Findings[0].Kind != want {
			t.Fatalf("%s: %v, findings %v; want one %s", what, err, rep.Findings, want)
		}
	}
	// a record of the tenant removed from the store: the tenant that kept
	// the earlier evidence finds it missing from the next
	stored, err := s.(audit.Getter).Get(ctx, recs[2].ID)
	check(t, err)
	check(t, tam.DeleteRecord(ctx, recs[2].ID))
	var next bytes.Buffer
	_, err = chain.WriteTenantEvidence(ctx, src, "tenant-a", nil, &next)
	check(t, err)
	rep, err = chain.CompareTenantEvidence(bytes.NewReader(b), &next, "tenant-a", logVerifier(t))
	if !errors.Is(err, chain.ErrProof) || rep.FindingCount != 1 || rep.Findings[0].Kind != chain.EvidenceMissingRecord || rep.Findings[0].RecordID != recs[2].ID {
		t.Fatalf("a record removed: %v, findings %v; want one missing_record of %s", err, rep.Findings, recs[2].ID)
	}
	check(t, tam.InsertRecord(ctx, stored)) // put back exactly as it was
	rep, err = chain.CompareTenantEvidence(bytes.NewReader(b), bytes.NewReader(write()), "tenant-a", logVerifier(t))
	if err != nil {
		t.Fatalf("the record put back: %v, %v", err, rep.Findings)
	}

	check(t, tam.UpdateRecord(ctx, recs[4].ID, func(r *audit.Record) { r.ResourceID = "forged" }))
	fails("a record of the tenant changed in the store", chain.EvidenceBadProof)
	check(t, tam.UpdateRecord(ctx, recs[4].ID, func(r *audit.Record) { r.ResourceID = recs[4].ResourceID }))
	check(t, tam.UpdateRecord(ctx, recs[5].ID, func(r *audit.Record) { r.TenantID = "tenant-a" })) // b's
	var b2 bytes.Buffer
	_, err = chain.WriteTenantEvidence(ctx, src, "tenant-a", nil, &b2)
	check(t, err)
	rep, err = chain.VerifyTenantEvidence(&b2, "tenant-a", logVerifier(t))
	if !errors.Is(err, chain.ErrProof) || rep.FindingCount != 1 || rep.Findings[0].Kind != chain.EvidenceBadProof || rep.Findings[0].RecordID != recs[5].ID {
		t.Fatalf("another tenant's record relabelled: %v, findings %v; want one bad_proof at %s", err, rep.Findings, recs[5].ID)
	}
}

// testTreeEvidenceUnsealable: rows inserted around every door, whose
// Details the canonical form cannot encode (not JSON, nested too deep),
// travel in a tenant's evidence as stored and verify; a change to one is
// found.
func testTreeEvidenceUnsealable(t *testing.T, newChain ChainFactory) {
	s, tam, src := evidenceStore(t, newChain)
	ctx := context.Background()
	held := len(insertUnsealable(t, tam, "tenant-odd"))
	appendRecords(t, s, recent(3)...)
	sealAll(t, s, newSealer(t, s, key1))
	var b bytes.Buffer
	st, err := chain.WriteTenantEvidence(ctx, src, "tenant-odd", nil, &b)
	check(t, err)
	if st.Records != int64(held) || held == 0 {
		t.Fatalf("WriteTenantEvidence: %+v; want %d records", st, held)
	}
	rep, err := chain.VerifyTenantEvidence(bytes.NewReader(b.Bytes()), "tenant-odd", logVerifier(t))
	if err != nil || rep.Records != int64(held) {
		t.Fatalf("VerifyTenantEvidence of unsealable rows: %d records, %v", rep.Records, err)
	}
	changed := bytes.Replace(b.Bytes(), []byte(`\"a\": tru`), []byte(`\"a\": try`), 1)
	if bytes.Equal(changed, b.Bytes()) {
		changed = bytes.Replace(b.Bytes(), []byte(`{"a":{"a":1`), []byte(`{"a":{"a":2`), 1) // nested deep
	}
	if bytes.Equal(changed, b.Bytes()) {
		t.Fatal("no unsealable row to change in the evidence")
	}
	if _, err := chain.VerifyTenantEvidence(bytes.NewReader(changed), "tenant-odd", logVerifier(t)); !errors.Is(err, chain.ErrProof) {
		t.Fatalf("an unsealable row changed: %v", err)
	}
}
