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
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storekit"
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
	st, err := chain.ExportTenantChain(ctx, s, "org-a", &buf)
	check(t, err)
	if want := (chain.ExportStats{Seals: 15, Records: 10, Redacted: 5, Unsealed: 1}); st != want {
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
	seal := func(i int) storekit.Seal {
		var l struct{ Seal storekit.Seal }
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
	wantFirst(t, mustVerify(t, exportSource(replace(a, edited)), o), chain.ProblemModifiedEvent, seal(a).Seq, seal(a).EventID)
	// an org-b position removed
	removed := append(append([][]byte(nil), lines[:b]...), lines[b+1:]...)
	wantFirst(t, mustVerify(t, exportSource(join(removed)), o), chain.ProblemDeletedSeal, seal(b).Seq, uuid.UUID{})
	// an org-a record dropped from its seal
	var l map[string]json.RawMessage
	check(t, json.Unmarshal(lines[a], &l))
	delete(l, "record")
	dropped, _ := json.Marshal(l)
	wantFirst(t, mustVerify(t, exportSource(replace(a, append(dropped, '\n'))), o), chain.ProblemDeletedEvent, seal(a).Seq, seal(a).EventID)
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
	_, err = chain.ExportChain(ctx, s, &whole)
	check(t, err)
	wl := bytes.SplitAfter(whole.Bytes(), []byte("\n"))
	wl[b] = lines[b]
	if _, err := chain.Verify(ctx, exportSource(bytes.Join(wl, nil)), &o); err == nil {
		t.Error("a redacted position in an export of the whole chain: Verify accepted it")
	}
	testTenantExportBinding(t, buf.Bytes(), whole.Bytes(), b, o)
}

// testTenantExportBinding checks that every record a tenant's export
// holds in full is bound to the tenant its header names: another tenant's
// record put in full at its redacted position (b, a line of the whole
// chain's export), or unsealed, and the header relabelled to another
// tenant, with records or without, are each reported as
// ProblemForeignRecord (issue 20, item 4).
func testTenantExportBinding(t *testing.T, export, whole []byte, b int, o chain.VerifyOptions) {
	lines := bytes.SplitAfter(export, []byte("\n"))
	wl := bytes.SplitAfter(whole, []byte("\n"))
	var l struct{ Seal storekit.Seal }
	check(t, json.Unmarshal(lines[b], &l))
	relabel := func(ls [][]byte, from, to string) []byte {
		out := append([][]byte(nil), ls...)
		out[0] = bytes.Replace(ls[0], []byte(`"tenant_id":"`+from+`"`), []byte(`"tenant_id":"`+to+`"`), 1)
		if from == "" {
			out[0] = bytes.Replace(ls[0], []byte(`"type":"header",`), []byte(`"type":"header","tenant_id":"`+to+`",`), 1)
		}
		if bytes.Equal(out[0], ls[0]) {
			t.Fatalf("header %s: no tenant %q to relabel", ls[0], from)
		}
		return bytes.Join(out, nil)
	}
	var unsealed []byte // the whole export's unsealed line of org-b
	for _, x := range wl {
		if bytes.Contains(x, []byte(`"type":"unsealed"`)) && bytes.Contains(x, []byte(`"tenant_id":"org-b"`)) {
			unsealed = x
		}
	}
	if unsealed == nil {
		t.Fatal("no unsealed record of org-b in the whole export")
	}
	tests := []struct {
		name   string
		export []byte
		seq    uint64 // where the first problem is; 0: an unsealed record
	}{
		{"another tenant's record in full at its redacted position", func() []byte {
			ls := append([][]byte(nil), lines...)
			ls[b] = wl[b]
			return bytes.Join(ls, nil)
		}(), l.Seal.Seq},
		{"another tenant's unsealed record", append(bytes.Clone(export), unsealed...), 0},
		{"the header relabelled to a tenant without records", relabel(lines, "org-a", "acme"), 0},
		{"the whole chain's export labelled as a tenant's", relabel(wl, "", "org-a"), 0},
	}
	for _, tt := range tests {
		rep := mustVerify(t, exportSource(tt.export), o)
		if rep.OK() {
			t.Errorf("%s: verifies OK as the export of tenant %q (%d records); want %s", tt.name, rep.TenantID, rep.Records, chain.ProblemForeignRecord)
			continue
		}
		if p := rep.Problems[0]; p.Kind != chain.ProblemForeignRecord || tt.seq != 0 && p.Seq != tt.seq {
			t.Errorf("%s: first problem %v; want %s (at seq %d, 0: any)", tt.name, p, chain.ProblemForeignRecord, tt.seq)
		}
	}
}

// testTenantRetention runs retention with a cutoff per tenant (30 days
// for org-short, 365 for org-long, 90 for every other record) over a year
// and more of records, then checks what went and what stayed, that the
// chain verifies online, in an export and in org-long's export (which
// names no other tenant), and that deleting an org-long record retention
// keeps, changing a seal's tenant tag, or redacting a position of the
// tenant in its own export, are each reported.
func testTenantRetention(t *testing.T, newChain ChainFactory) {
	s, tam := newChain(t)
	if _, ok := s.(storekit.TenantPurger); !ok {
		t.Skipf("%T cannot purge per tenant", s)
	}
	ctx := context.Background()
	now := time.Now()
	tenants := []string{"org-short", "org-long", "org-other", ""}
	var recs []audit.Record
	// every 20 days from 400 days ago, one record of each tenant, one
	// append at a time so that every store seals them in time order
	for day := -400; day <= 0; day += 20 {
		for i, tenant := range tenants {
			r := Record(len(recs))
			r.ID = uuid.New()
			r.TenantID = tenant
			r.OccurredAt = now.AddDate(0, 0, day).Add(time.Duration(i) * time.Second).UTC().Truncate(time.Microsecond)
			check(t, s.Append(ctx, r))
			recs = append(recs, r)
		}
	}
	sl := newSealer(t, s, key1)
	sealAll(t, s, sl)
	ages := map[string]time.Duration{"org-short": 30 * 24 * time.Hour, "org-long": 365 * 24 * time.Hour}
	if _, err := audit.NewRetention(s, sl, &audit.RetentionOptions{TenantMaxAge: map[string]time.Duration{"org-x": -time.Hour}}); err == nil {
		t.Error("NewRetention with a negative TenantMaxAge: no error")
	}
	r, err := audit.NewRetention(s, sl, &audit.RetentionOptions{MaxAge: 90 * 24 * time.Hour, TenantMaxAge: ages, Now: func() time.Time { return now }})
	check(t, err)
	res, err := r.RunOnce(ctx)
	check(t, err)
	cutoff := func(tenant string) time.Time {
		if d, ok := ages[tenant]; ok {
			return now.Add(-d)
		}
		return now.Add(-90 * 24 * time.Hour)
	}
	kept := map[uuid.UUID]bool{}
	var gone int64
	var longOld audit.Record // an org-long record of about day -100, which retention keeps
	for _, x := range recs {
		if x.OccurredAt.Before(cutoff(x.TenantID)) {
			gone++
			continue
		}
		kept[x.ID] = true
		if x.TenantID == "org-long" && x.OccurredAt.Before(now.AddDate(0, 0, -90)) && longOld.OccurredAt.IsZero() {
			longOld = x
		}
	}
	if res.Purged != gone {
		t.Errorf("purged %d records, want %d", res.Purged, gone)
	}
	rest := QueryAll(t, s.(audit.Querier), audit.Filter{})
	if len(rest) != len(kept) {
		t.Errorf("%d records left, want %d", len(rest), len(kept))
	}
	for _, x := range rest {
		if !kept[x.ID] {
			t.Errorf("record of tenant %q of %v kept past its retention", x.TenantID, x.OccurredAt)
		}
	}
	if res.Boundary == 0 {
		t.Error("no seal purged: the oldest records were all past their retention")
	}
	cps, err := s.Checkpoints(ctx)
	check(t, err)
	o := verifyOpts()
	rep := mustVerify(t, s, o)
	wantOK(t, rep, "after retention per tenant")
	if rep.Purged != uint64(gone) {
		t.Errorf("Verify counts %d purged records, want %d", rep.Purged, gone)
	}
	// a routine checkpoint carries the tenants' cutoffs on
	cp, err := sl.Checkpoint(ctx, time.Time{})
	check(t, err)
	if len(cp.TenantCutoffs) != 2 {
		t.Errorf("a routine checkpoint after retention holds %d tenant cutoffs, want 2", len(cp.TenantCutoffs))
	}
	wantOK(t, mustVerify(t, s, verifyOpts(cp)), "with the routine checkpoint")

	// the whole chain, exported, verifies offline
	var whole bytes.Buffer
	_, err = chain.ExportChain(ctx, s, &whole)
	check(t, err)
	wantOK(t, mustVerify(t, exportSource(whole.Bytes()), verifyOpts(cps...)), "export after retention per tenant")
	// org-long's export verifies and does not name org-short
	var long bytes.Buffer
	_, err = chain.ExportTenantChain(ctx, s, "org-long", &long)
	check(t, err)
	if bytes.Contains(long.Bytes(), []byte("org-short")) || bytes.Contains(long.Bytes(), []byte("org-other")) {
		t.Error("org-long's export names another tenant")
	}
	trep := mustVerify(t, exportSource(long.Bytes()), verifyOpts())
	wantOK(t, trep, "org-long's export after retention per tenant")
	// one of org-long's positions passed off as another tenant's
	lines := bytes.SplitAfter(long.Bytes(), []byte("\n"))
	for i, l := range lines {
		if !bytes.Contains(l, []byte(`"tenant_id":"org-long"`)) || !bytes.Contains(l, []byte(`"type":"seal"`)) {
			continue
		}
		var line map[string]json.RawMessage
		check(t, json.Unmarshal(l, &line))
		var sealed storekit.Seal
		check(t, json.Unmarshal(line["seal"], &sealed))
		delete(line, "record")
		line["redacted"] = json.RawMessage("true")
		b, _ := json.Marshal(line)
		ls := append([][]byte(nil), lines...)
		ls[i] = append(b, '\n')
		wantFirst(t, mustVerify(t, exportSource(bytes.Join(ls, nil)), verifyOpts()), chain.ProblemDeletedEvent, sealed.Seq, sealed.EventID)
		break
	}

	// deleting an org-long record that its retention keeps is detected,
	// although it is older than the default cutoff
	var longSeal storekit.Seal
	check(t, s.ScanChain(ctx, 0, func(x storekit.Seal, _ *audit.Record) error {
		if x.EventID == longOld.ID {
			longSeal = x
		}
		return nil
	}))
	if longSeal.Seq == 0 || len(longSeal.TenantTag) == 0 {
		t.Fatalf("the org-long record of %v: seal %+v, want one with a tenant tag", longOld.OccurredAt, longSeal)
	}
	check(t, tam.DeleteRecord(ctx, longOld.ID))
	wantFirst(t, mustVerify(t, s, verifyOpts(cps...)), chain.ProblemDeletedEvent, longSeal.Seq, longOld.ID)

	// a seal's tenant tag changed (an org-long record passed off as
	// org-short's, whose retention is shorter): its link breaks
	var shortSeal storekit.Seal
	check(t, s.ScanChain(ctx, 0, func(x storekit.Seal, r *audit.Record) error {
		if r == nil && len(x.TenantTag) > 0 && shortSeal.Seq == 0 && x.Seq > longSeal.Seq {
			shortSeal = x
		}
		return nil
	}))
	check(t, tam.UpdateSeal(ctx, longSeal.Seq, func(x *storekit.Seal) { x.TenantTag = shortSeal.TenantTag }))
	rep = mustVerify(t, s, verifyOpts(cps...))
	if rep.OK() || rep.Problems[0].Seq != longSeal.Seq {
		t.Errorf("a seal's tenant tag changed: %v; want a problem at seal %d", rep.Problems, longSeal.Seq)
	}
}
