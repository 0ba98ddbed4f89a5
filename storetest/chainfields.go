package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storekit"
)

// testTamperEachField changes each field of a sealed record in turn, and
// puts it back before the next: Verify reports each change as
// modified_event at the record's seal, online and in an export. A field
// left out of the digest was caught only by a golden value (issue 20).
func testTamperEachField(t *testing.T, newChain ChainFactory) {
	ctx := context.Background()
	s, tam, _, cp := sealedChain(t, newChain, 10)
	target := chainOf(t, s)[5]
	other := func(a, b audit.Status) audit.Status {
		if a == b {
			return audit.StatusFailure
		}
		return b
	}
	fields := []struct {
		name   string
		change func(r *audit.Record)
	}{
		{"UserID", func(r *audit.Record) { r.UserID = toggle(r.UserID, "mallory") }},
		{"UserEmail", func(r *audit.Record) { r.UserEmail = toggle(r.UserEmail, "mallory@example.com") }},
		{"IPAddress", func(r *audit.Record) {
			if ip := netip.MustParseAddr("198.51.100.1"); r.IPAddress != ip {
				r.IPAddress = ip
			} else {
				r.IPAddress = netip.Addr{}
			}
		}},
		{"UserAgent", func(r *audit.Record) { r.UserAgent = toggle(r.UserAgent, "curl/8.0") }},
		{"Action", func(r *audit.Record) {
			if r.Action == audit.ActionUserLogout {
				r.Action = audit.ActionUserLogin
			} else {
				r.Action = audit.ActionUserLogout
			}
		}},
		{"ResourceType", func(r *audit.Record) { r.ResourceType += "x" }}, // required: never empty
		{"ResourceID", func(r *audit.Record) { r.ResourceID = toggle(r.ResourceID, "res-x") }},
		{"Details", func(r *audit.Record) { r.Details = json.RawMessage(`{"tampered":true}`) }},
		{"Changes", func(r *audit.Record) {
			if r.Changes != nil {
				r.Changes = nil
			} else {
				r.Changes = json.RawMessage(`{"title":{"after":"x","before":"y"}}`)
			}
		}},
		{"RequestID", func(r *audit.Record) { r.RequestID = toggle(r.RequestID, "req-x") }},
		{"SessionID", func(r *audit.Record) { r.SessionID = toggle(r.SessionID, "sess-x") }},
		{"Status", func(r *audit.Record) { r.Status = other(r.Status, audit.StatusSuccess) }},
		{"ErrorMessage", func(r *audit.Record) { r.ErrorMessage = toggle(r.ErrorMessage, "denied") }},
		{"TenantID", func(r *audit.Record) { r.TenantID = toggle(r.TenantID, "tenant-z") }},
		{"TraceID", func(r *audit.Record) { r.TraceID = toggle(r.TraceID, "0af7651916cd43dd8448eb211c80319c") }},
		{"SpanID", func(r *audit.Record) { r.SpanID = toggle(r.SpanID, "b7ad6b7169203331") }},
		{"RecordedAt", func(r *audit.Record) { r.RecordedAt = r.RecordedAt.Add(time.Microsecond) }},
	}
	o := verifyOpts(cp)
	o.Now = time.Now
	for _, f := range fields {
		var orig audit.Record
		check(t, tam.UpdateRecord(ctx, target.EventID, func(r *audit.Record) { orig = r.Clone(); f.change(r) }))
		var buf bytes.Buffer
		_, err := chain.ExportChain(ctx, s, &buf)
		check(t, err)
		for name, src := range map[string]storekit.ChainSource{"online": s, "offline": exportSource(buf.Bytes())} {
			rep := mustVerify(t, src, o)
			if rep.ProblemCount != 1 || rep.Problems[0].Kind != chain.ProblemModifiedEvent || rep.Problems[0].Seq != target.Seq {
				t.Errorf("%s changed, %s: %v; want one %s at seal %d", f.name, name, rep.Problems, chain.ProblemModifiedEvent, target.Seq)
			}
		}
		check(t, tam.UpdateRecord(ctx, target.EventID, func(r *audit.Record) { *r = orig }))
	}
	wantOK(t, mustVerify(t, s, o), "every field put back")
}
