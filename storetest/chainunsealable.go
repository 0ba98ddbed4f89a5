package storetest

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
)

// unsealableRows are Details a row may hold when it was inserted around
// every door (by psql, by the sqlite3 shell): JSON nested deeper than
// the canonical form accepts, which PostgreSQL's jsonb stores, and text
// that is not JSON, which a SQLite TEXT column stores. A store that
// cannot hold one skips it.
var unsealableRows = []struct {
	name    string
	details string
}{
	{"nested 5001 deep", strings.Repeat(`{"a":`, 5001) + "1" + strings.Repeat("}", 5001)},
	{"nested 1001 deep in arrays", `{"a":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + "}"},
	{"not JSON", `{"a": tru`},
}

// insertUnsealable inserts, around Append, a record of tenant for each
// of unsealableRows that the store holds, and returns their IDs.
func insertUnsealable(t *testing.T, tam Tamperer, tenant string) []uuid.UUID {
	t.Helper()
	var ids []uuid.UUID
	for i, row := range unsealableRows {
		r := Record(i)
		r.ID = uuid.New()
		r.TenantID = tenant
		r.OccurredAt = time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
		r.RecordedAt = r.OccurredAt
		r.Details = []byte(row.details)
		if err := tam.InsertRecord(context.Background(), r); err != nil {
			t.Logf("%s: the store does not hold it: %v", row.name, err)
			continue
		}
		ids = append(ids, r.ID)
	}
	return ids
}

// testUnsealableRow inserts, around the Logger and Append, rows the
// canonical form cannot encode, between genuine records (issue 20, item
// 1). The Sealer must not stall on them: it seals each with the digest of
// its stored bytes, counts it in Stats.Unsealable, and seals the genuine
// records after it; Verify reports each as unsealable_record, and still
// detects a change to one.
func testUnsealableRow(t *testing.T, newChain ChainFactory) {
	s, tam := newChain(t)
	ctx := context.Background()
	before := appendRecords(t, s, recent(3)...)
	bad := insertUnsealable(t, tam, "")
	if len(bad) == 0 {
		t.Fatal("the store held none of the unsealable rows")
	}
	after := appendRecords(t, s, recent(3)...)
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	if got := sl.Stats().Unsealable; got != uint64(len(bad)) {
		t.Errorf("Stats().Unsealable = %d, want %d", got, len(bad))
	}
	total := uint64(len(before) + len(bad) + len(after))
	cp, err := sl.Checkpoint(ctx, time.Time{})
	check(t, err)
	if cp.Seq != total {
		t.Errorf("checkpoint at %d, want %d: every record sealed", cp.Seq, total)
	}
	wantUnsealable := func(what string, rep chain.Report) {
		t.Helper()
		if rep.Records != total || rep.ProblemCount != uint64(len(bad)) {
			t.Errorf("%s: %d records, %d problems; want %d records, %d problems: %v", what, rep.Records, rep.ProblemCount, total, len(bad), rep.Problems)
		}
		for i, p := range rep.Problems {
			if p.Kind != chain.ProblemUnsealable || i >= len(bad) || p.EventID != bad[i] {
				t.Errorf("%s: %v; want %s of %s", what, p, chain.ProblemUnsealable, bad)
			}
		}
	}
	wantUnsealable("Verify", mustVerify(t, s, verifyOpts(cp)))
	// an offline export carries the same finding (Details that are not
	// JSON as a string)
	var buf bytes.Buffer
	_, err = chain.ExportChain(ctx, s, &buf)
	check(t, err)
	wantUnsealable("Verify of the export", mustVerify(t, exportSource(buf.Bytes()), verifyOpts(cp)))

	// the seal still protects it: a changed field is detected
	check(t, tam.UpdateRecord(ctx, bad[0], func(r *audit.Record) { r.UserID = "mallory" }))
	rep := mustVerify(t, s, verifyOpts(cp))
	if countKind(rep, chain.ProblemModifiedEvent) != 1 {
		t.Errorf("after changing an unsealable record: %v; want one modified_event", rep.Problems)
	}
}
