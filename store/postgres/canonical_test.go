package postgres_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// TestJSONReadBackCanonical appends Details and Changes in canonical JSON
// with keys jsonb orders otherwise (it sorts shorter keys first) and
// numbers it rewrites, and reads the same bytes back through Query, Get
// and ScanChain.
func TestJSONReadBackCanonical(t *testing.T) {
	dsn(t)
	t.Parallel()
	ctx := testCtx(t)
	s, _ := newChainStore(t)
	r := storetest.Record(0)
	r.Details = json.RawMessage(`{"aa":{"y":null,"zz":[1.5,12345678901234567890,"é"]},"b":true,"c":{}}`)
	r.Changes = json.RawMessage(`{"name":{"after":"x","before":"y"},"z":1}`)
	want := storetest.Record(0)
	want.Details, want.Changes = bytes.Clone(r.Details), bytes.Clone(r.Changes)
	if err := s.Append(ctx, r); err != nil {
		t.Fatal(err)
	}
	check := func(how string, got audit.Record) {
		t.Helper()
		if !bytes.Equal(got.Details, want.Details) || !bytes.Equal(got.Changes, want.Changes) {
			t.Errorf("%s: got details %s changes %s, want %s and %s", how, got.Details, got.Changes, want.Details, want.Changes)
		}
	}
	got := storetest.QueryAll(t, s, audit.Filter{})
	if len(got) != 1 {
		t.Fatalf("Query: %d records, want 1", len(got))
	}
	check("Query", got[0])
	g, err := s.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	check("Get", g)
	sealAllOf(t, s, 1)
	err = s.ScanChain(ctx, 0, func(_ storekit.Seal, rec *audit.Record) error {
		check("ScanChain", *rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
