package chain_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/trailmark/audit/chain"
)

// withDecoy rewrites the member name of doc: the forged value under its
// own name, then the sealed one under decoy, a name encoding/json matches
// to the same field. jq, JavaScript and Python show the forged value;
// encoding/json alone would read the sealed one.
func withDecoy(t *testing.T, doc, name, forged, decoy string) string {
	t.Helper()
	i := strings.Index(doc, `"`+name+`":`)
	if i < 0 {
		t.Fatalf("no %q in %s", name, doc)
	}
	at := i + len(`"`+name+`":`)
	return doc[:i] + `"` + name + `":` + forged + `,"` + decoy + `":` + doc[at:]
}

// TestEvidenceRefusesAmbiguousRecords: a bundle whose record shows one
// user to jq and seals another is malformed, not verified (found by an
// outside review: encoding/json matches names regardless of case, the
// last one winning); so is one with a name twice in Details.
func TestEvidenceRefusesAmbiguousRecords(t *testing.T) {
	fx := newEvidenceFixture(t, 3)
	good, _ := fx.evidence(t, "org-a", nil)
	if rep, err := chain.VerifyTenantEvidence(bytes.NewReader(good), "org-a", fx.verifier); err != nil || !rep.OK() {
		t.Fatalf("the untouched bundle: %+v, %v", rep, err)
	}
	lines := bytes.Split(bytes.TrimSpace(good), []byte("\n"))
	for _, forge := range []func(string) string{
		func(l string) string { return withDecoy(t, l, "user_id", `"mallory"`, "User_Id") },
		func(l string) string { return withDecoy(t, l, "action", `"user.delete"`, "ACTION") },
		func(l string) string { // the first member of Details twice, the forged value first
			i := strings.Index(l, `"details":{"`) + len(`"details":{`)
			key := l[i : i+1+strings.Index(l[i+1:], `"`)+1]
			return l[:i] + key + `:"forged",` + l[i:]
		},
	} {
		bad := bytes.Clone(good)
		forged := forge(string(lines[1]))
		bad = bytes.Replace(bad, lines[1], []byte(forged), 1)
		rep, err := chain.VerifyTenantEvidence(bytes.NewReader(bad), "org-a", fx.verifier)
		if !errors.Is(err, chain.ErrProof) || rep.OK() || !hasFinding(rep, chain.EvidenceMalformed) {
			t.Errorf("a record line %.120s… verified: %+v, %v", forged, rep, err)
		}
	}
}

func hasFinding(rep chain.EvidenceReport, k chain.EvidenceFindingKind) bool {
	for _, f := range rep.Findings {
		if f.Kind == k {
			return true
		}
	}
	return false
}

// TestInclusionProofRefusesAmbiguousJSON: a proof whose record reads one
// way to encoding/json and another to every other reader does not decode.
func TestInclusionProofRefusesAmbiguousJSON(t *testing.T) {
	fx := newEvidenceFixture(t, 3)
	recs := fx.records(t, "org-a")
	rec := recs[len(recs)-1]
	p, err := chain.Prove(context.Background(), fx.store, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	p.Record = &rec
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var q chain.InclusionProof
	if err := json.Unmarshal(b, &q); err != nil {
		t.Fatalf("the untouched proof: %v", err)
	}
	if _, err := chain.VerifyInclusion(q.Record, &q, fx.verifier); err != nil {
		t.Fatalf("the untouched proof: %v", err)
	}
	for _, doc := range []string{
		withDecoy(t, string(b), "action", `"user.delete_everything"`, "ACTION"),
		withDecoy(t, string(b), "index", `0`, "Index"),
		withDecoy(t, string(b), "record_id", `"00000000-0000-0000-0000-000000000000"`, "record_id"),
	} {
		var q chain.InclusionProof
		if err := json.Unmarshal([]byte(doc), &q); err == nil {
			t.Errorf("decoded %.160s…", doc)
		}
	}
	var c chain.ConsistencyProof
	if err := json.Unmarshal([]byte(`{"format":"`+chain.ConsistencyFormat+`","from":1,"From":2,"to":3,"hashes":[]}`), &c); err == nil {
		t.Errorf("a consistency proof with from and From decoded")
	}
}

// TestExportRefusesAmbiguousLines: an export whose record line reads one
// way to encoding/json and another to jq fails Verify.
func TestExportRefusesAmbiguousLines(t *testing.T) {
	export := string(goodExport(t))
	forged := withDecoy(t, export, "user_id", `"mallory"`, "USER_ID")
	for _, doc := range []string{export, forged} {
		src := chain.NewExportSource(func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(doc)), nil })
		rep, err := chain.Verify(context.Background(), src, testVerifyOpts())
		switch {
		case doc == export && (err != nil || !rep.OK()):
			t.Fatalf("the untouched export: %+v, %v", rep, err)
		case doc == forged && err == nil && rep.OK():
			t.Errorf("an export with user_id and USER_ID verified")
		}
	}
}
