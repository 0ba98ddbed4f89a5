package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
)

// testTenantExport exports the chain for one tenant (ExportTenantChain)
// and checks that it holds no value of another tenant's records, that it
// verifies offline with the other positions redacted, and that editing a
// record of the tenant, removing another tenant's position, dropping a
// record of the tenant or reordering positions is detected.
func testTenantExport(t *testing.T, newChain ChainFactory) {
	s, _ := newChain(t)
	ctx := context.Background()
	start := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
	var recs []audit.Record
	for i := range 15 {
		r := Record(i)
		r.ID = uuid.New()
		r.OccurredAt = start.Add(time.Duration(i) * time.Second)
		switch i % 3 {
		case 0, 1:
			r.TenantID = "org-a"
		case 2:
			r.TenantID = "org-b"
			r.UserID = fmt.Sprintf("user-of-b-%d", i)
			r.UserEmail = "secret-of-b@example.com"
			r.ResourceID = "resource-of-b"
			r.Details = json.RawMessage(`{"note":"secret-of-b"}`)
		}
		if i == 14 {
			r.TenantID = "" // a record of no tenant: redacted too
		}
		recs = append(recs, r)
	}
	if err := s.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	cp, err := sl.Checkpoint(ctx, time.Time{})
	check(t, err)
	// not sealed yet: one of each tenant
	late := []audit.Record{Record(20), Record(21)}
	for i, tenant := range []string{"org-a", "org-b"} {
		late[i].ID, late[i].TenantID, late[i].OccurredAt = uuid.New(), tenant, time.Now().UTC().Truncate(time.Microsecond)
	}
	late[1].Details = json.RawMessage(`{"note":"secret-of-b"}`)
	check(t, s.Append(ctx, late...))

	var buf bytes.Buffer
	st, err := audit.ExportTenantChain(ctx, s, "org-a", &buf)
	check(t, err)
	if want := (audit.ExportStats{Seals: 15, Records: 10, Redacted: 5, Unsealed: 1}); st != want {
		t.Errorf("export stats %+v, want %+v", st, want)
	}
	for _, leak := range []string{"org-b", "user-of-b", "secret-of-b", "resource-of-b", late[1].ID.String()} {
		if n := bytes.Count(buf.Bytes(), []byte(leak)); n > 0 {
			t.Errorf("the export of org-a holds %q of org-b %d times", leak, n)
		}
	}
	if n := bytes.Count(buf.Bytes(), []byte(`"redacted":true`)); n != 5 {
		t.Errorf("the export holds %d redacted positions, want 5", n)
	}
	o := verifyOpts(cp)
	o.Now = time.Now
	wantOK(t, mustVerify(t, s, o), "online")
	rep := mustVerify(t, exportSource(buf.Bytes()), o)
	wantOK(t, rep, "tenant export")
	if rep.Records != 10 || rep.Redacted != 5 || rep.Seals != 15 || rep.Unsealed != 1 || rep.TenantID != "org-a" || rep.Checkpoints == 0 {
		t.Errorf("report %+v: want 15 seals, 10 records, 5 redacted, 1 unsealed, tenant org-a, the checkpoint matched", rep)
	}

	lines := bytes.SplitAfter(buf.Bytes(), []byte("\n"))
	join := func(ls [][]byte) []byte { return bytes.Join(ls, nil) }
	seal := func(i int) audit.Seal {
		var l struct{ Seal audit.Seal }
		check(t, json.Unmarshal(lines[i], &l))
		return l.Seal
	}
	// a: the first line of an org-a record; b: the first redacted one
	// after line 1 (lines[0] is the header)
	a, b := -1, -1
	for i := 1; i <= 15; i++ {
		switch {
		case a < 0 && bytes.Contains(lines[i], []byte(`"tenant_id":"org-a"`)):
			a = i
		case b < 0 && i > 1 && bytes.Contains(lines[i], []byte(`"redacted":true`)):
			b = i
		}
	}
	if a < 0 || b < 0 {
		t.Fatalf("no org-a record (%d) or redacted position (%d) in the export:\n%s", a, b, buf.Bytes())
	}
	if !bytes.Contains(lines[b], []byte(`"redacted":true`)) || bytes.Contains(lines[a], []byte(`"redacted"`)) ||
		!bytes.Contains(lines[b], []byte(`"sealed_at":"0001-01-01T00:00:00Z"`)) {
		t.Fatalf("lines %d and %d: want org-a's record, then a redacted position:\n%s%s", a, b, lines[a], lines[b])
	}
	replace := func(i int, l []byte) []byte {
		ls := append([][]byte(nil), lines...)
		ls[i] = l
		return join(ls)
	}
	// an org-a record edited
	edited := bytes.Replace(lines[a], []byte(`"resource_type":"`), []byte(`"resource_type":"x`), 1)
	wantFirst(t, mustVerify(t, exportSource(replace(a, edited)), o), audit.ProblemModifiedEvent, seal(a).Seq, seal(a).EventID)
	// an org-b position removed
	removed := append(append([][]byte(nil), lines[:b]...), lines[b+1:]...)
	wantFirst(t, mustVerify(t, exportSource(join(removed)), o), audit.ProblemDeletedSeal, seal(b).Seq, uuid.UUID{})
	// an org-a record dropped from its seal
	var l map[string]json.RawMessage
	check(t, json.Unmarshal(lines[a], &l))
	delete(l, "record")
	dropped, _ := json.Marshal(l)
	wantFirst(t, mustVerify(t, exportSource(replace(a, append(dropped, '\n'))), o), audit.ProblemDeletedEvent, seal(a).Seq, seal(a).EventID)
	// two positions swapped, the redacted one with the one before
	swapped := append([][]byte(nil), lines...)
	swapped[b-1], swapped[b] = lines[b], lines[b-1]
	if rep := mustVerify(t, exportSource(join(swapped)), o); rep.OK() {
		t.Error("two positions swapped: no problem reported")
	}
	// a redacted position's seal changed: its link breaks
	changed := bytes.Replace(lines[b], []byte(`"event_time":"20`), []byte(`"event_time":"19`), 1)
	if rep := mustVerify(t, exportSource(replace(b, changed)), o); rep.OK() {
		t.Error("a redacted seal changed: no problem reported")
	}
	// a redacted line passed off in an export of the whole chain
	var whole bytes.Buffer
	_, err = audit.ExportChain(ctx, s, &whole)
	check(t, err)
	wl := bytes.SplitAfter(whole.Bytes(), []byte("\n"))
	wl[b] = lines[b]
	if _, err := audit.Verify(ctx, exportSource(bytes.Join(wl, nil)), &o); err == nil {
		t.Error("a redacted position in an export of the whole chain: Verify accepted it")
	}
}
