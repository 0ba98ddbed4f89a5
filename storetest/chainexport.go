package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storekit"
)

// wantFirst checks the first problem of rep: its kind and position.
func wantFirst(t testing.TB, rep chain.Report, kind chain.ProblemKind, seq uint64, id uuid.UUID) {
	t.Helper()
	if rep.OK() {
		t.Errorf("no problem reported; want %s at seq %d (event %s)", kind, seq, id)
		return
	}
	p := rep.Problems[0]
	if p.Kind != kind || p.Seq != seq || p.EventID != id {
		t.Errorf("first problem %s at seq %d (event %s); want %s at seq %d (event %s); all: %v", p.Kind, p.Seq, p.EventID, kind, seq, id, rep.Problems)
	}
}

func exportSource(b []byte) storekit.ChainSource {
	return chain.NewExportSource(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
}

// testOfflineExport exports a chain of records the Logger made, and
// verifies the copy offline: untouched, then with one byte edited, one
// line removed and the tail cut.
func testOfflineExport(t *testing.T, newChain ChainFactory) {
	s, _ := newChain(t)
	ctx := context.Background()
	recs := LoggedRecords(t, s, time.Now().Add(-time.Hour))
	recs = append(recs, LoggedRecords(t, s, time.Now().Add(-time.Hour+time.Minute))...)
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	cp, err := sl.Checkpoint(ctx, time.Time{})
	check(t, err)
	// every store hands the chain out in canonical JSON
	check(t, s.ScanChain(ctx, 0, func(_ storekit.Seal, r *audit.Record) error {
		for _, w := range recs {
			if r != nil && w.ID == r.ID && (!sameJSON(r.Details, w.Details) || !sameJSON(r.Changes, w.Changes)) {
				t.Errorf("ScanChain: record %s: details %q changes %q; want %q and %q", r.ID, r.Details, r.Changes, canonicalOrNil(w.Details), canonicalOrNil(w.Changes))
			}
		}
		return nil
	}))
	appendRecords(t, s, recent(2)...) // unsealed, exported as such
	var buf bytes.Buffer
	st, err := chain.ExportChain(ctx, s, &buf)
	check(t, err)
	if st.Seals != uint64(len(recs)) || st.Records != uint64(len(recs)) || st.Unsealed != 2 {
		t.Errorf("export stats %+v; want %d seals and records, 2 unsealed", st, len(recs))
	}
	o := verifyOpts(cp)
	o.Now = time.Now
	online := mustVerify(t, s, o)
	wantOK(t, online, "online")
	rep := mustVerify(t, exportSource(buf.Bytes()), o)
	wantOK(t, rep, "offline export")
	if rep.Records != uint64(len(recs)) || rep.Unsealed != 2 || rep.Records != online.Records {
		t.Errorf("offline report %+v; want %d records, 2 unsealed", rep, len(recs))
	}

	// tenant and trace travel in the export, under the seal
	for _, field := range []string{`"tenant_id":"org-1"`, `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`, `"span_id":"00f067aa0ba902b7"`} {
		if bytes.Count(buf.Bytes(), []byte(field)) != 2 {
			t.Errorf("the export holds %s %d times, want 2", field, bytes.Count(buf.Bytes(), []byte(field)))
		}
		other := bytes.Replace(buf.Bytes(), []byte(field), []byte(field[:len(field)-2]+`0"`), 1)
		if r := mustVerify(t, exportSource(other), o); r.OK() || r.Problems[0].Kind != chain.ProblemModifiedEvent {
			t.Errorf("export with %s changed: %v, want %s first", field, r.Problems, chain.ProblemModifiedEvent)
		}
	}

	lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
	type sealLine struct {
		Seal storekit.Seal `json:"seal"`
	}
	sealOf := func(i int) storekit.Seal {
		var l sealLine
		check(t, json.Unmarshal(lines[i], &l))
		return l.Seal
	}
	join := func(ls [][]byte) []byte { return bytes.Join(ls, nil) }

	// one byte of a record edited: the first letter of its resource type
	k := 3
	edited := append([][]byte(nil), lines...)
	edited[k] = bytes.Clone(lines[k])
	i := bytes.Index(edited[k], []byte(`"resource_type":"`)) + len(`"resource_type":"`)
	edited[k][i] ^= 0x20 // the letter's case
	wantFirst(t, mustVerify(t, exportSource(join(edited)), o), chain.ProblemModifiedEvent, sealOf(k).Seq, sealOf(k).EventID)

	// one seal line removed
	removed := append(append([][]byte(nil), lines[:k]...), lines[k+1:]...)
	wantFirst(t, mustVerify(t, exportSource(join(removed)), o), chain.ProblemDeletedSeal, sealOf(k).Seq, uuid.UUID{})

	// the last seal line removed: the chain is one seal short
	n := len(recs) // the last seal line
	wantFirst(t, mustVerify(t, exportSource(join(append(append([][]byte(nil), lines[:n]...), lines[n+1:]...))), o), chain.ProblemTruncated, cp.Seq, uuid.UUID{})

	// the tail cut, in the middle of a line
	cut := append(join(lines[:n-2]), lines[n-2][:len(lines[n-2])/2]...)
	wantFirst(t, mustVerify(t, exportSource(cut), o), chain.ProblemTruncated, cp.Seq, uuid.UUID{})
}
