package audit_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

func TestLogFillsTenantAndTrace(t *testing.T) {
	const (
		trace = "4bf92f3577b34da6a3ce929d0e0e4736"
		span  = "00f067aa0ba902b7"
	)
	ctx := audit.WithTenant(context.Background(), "org-1")
	ctx = audit.WithRequestInfo(ctx, audit.RequestInfo{RequestID: "req-1", TraceID: trace, SpanID: span})
	tests := []struct {
		name                     string
		ctx                      context.Context
		tenant, trace, span      string // set on the event
		wantTenant, wantT, wantS string
		wantNote                 string // in Details' _audit notes; "" for none
	}{
		{"from the context", ctx, "", "", "", "org-1", trace, span, ""},
		{"the event's own win", ctx, "org-2", "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", "org-2", "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331", ""},
		// a span belongs to its trace: an event with a trace of its own
		// takes no span from the context
		{"own trace only", ctx, "", "0af7651916cd43dd8448eb211c80319c", "", "org-1", "0af7651916cd43dd8448eb211c80319c", "", ""},
		{"no context", context.Background(), "", "", "", "", "", "", ""},
		{"uppercase is lowercased", context.Background(), "", strings.ToUpper(trace), strings.ToUpper(span), "", trace, span, ""},
		{"all-zero trace dropped", context.Background(), "", strings.Repeat("0", 32), span, "", "", span, "trace_id: not a W3C"},
		{"all-zero span dropped", context.Background(), "", trace, strings.Repeat("0", 16), "", trace, "", "span_id: not a W3C"},
		{"short trace dropped", context.Background(), "", trace[:31], "", "", "", "", "trace_id: not a W3C"},
		{"long span dropped", context.Background(), "", "", span + "0", "", "", "", "span_id: not a W3C"},
		{"non-hex trace dropped", context.Background(), "", "4bf92f3577b34da6a3ce929d0e0e473g", span, "", "", span, "trace_id: not a W3C"},
		{"traceparent is not an id", context.Background(), "", "00-" + trace + "-" + span + "-01", "", "", "", "", "trace_id: not a W3C"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memory.New(nil)
			l := newLogger(t, s, &audit.Options{Policy: audit.Policy{Default: audit.Sync}})
			e := ev(audit.ActionResourceRead)
			e.TenantID, e.TraceID, e.SpanID = tt.tenant, tt.trace, tt.span
			if err := l.Log(tt.ctx, e); err != nil {
				t.Fatalf("Log: %v (a bad id must never lose the event)", err)
			}
			rs := all(t, s)
			if len(rs) != 1 {
				t.Fatalf("got %d records, want 1", len(rs))
			}
			r := rs[0]
			if r.TenantID != tt.wantTenant || r.TraceID != tt.wantT || r.SpanID != tt.wantS {
				t.Errorf("got tenant %q trace %q span %q, want %q %q %q", r.TenantID, r.TraceID, r.SpanID, tt.wantTenant, tt.wantT, tt.wantS)
			}
			if got := string(r.Details); (tt.wantNote == "") != (got == "") || !strings.Contains(got, tt.wantNote) {
				t.Errorf("details %s, want a note containing %q", got, tt.wantNote)
			}
		})
	}
}

// TestTenantNotCapped: Limits.MaxFieldBytes cuts free text, never a
// tenant id, which is kept whole up to MaxIDBytes (see
// TestIdentitiesExactOrRefused).
func TestTenantNotCapped(t *testing.T) {
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{Default: audit.Sync}, Limits: audit.Limits{MaxFieldBytes: 64}})
	e := ev(audit.ActionResourceRead)
	e.TenantID = strings.Repeat("t", 1000)
	if err := l.Log(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if got := all(t, s)[0].TenantID; got != e.TenantID {
		t.Errorf("tenant of %d bytes kept as %d bytes %.80q, want it whole", len(e.TenantID), len(got), got)
	}
}

// oldRecord has every field a record had before tenants and traces.
func oldRecord() audit.Record {
	return audit.Record{
		ID:         uuid.MustParse("01890a5d-ac96-774b-bcce-b302099a8057"),
		OccurredAt: time.Date(2024, 3, 4, 5, 6, 7, 123456000, time.UTC),
		RecordedAt: time.Date(2024, 3, 4, 5, 6, 8, 654321000, time.UTC),
		UserID:     "u-1", UserEmail: "ann@example.com", IPAddress: netip.MustParseAddr("2001:db8::7"),
		UserAgent: "curl/8", Action: audit.ActionResourceUpdate, ResourceType: "document", ResourceID: "doc-1",
		Details:   json.RawMessage(`{"a":[1,2.5,"x"],"b":{"c":true}}`),
		Changes:   json.RawMessage(`{"title":{"after":"new","before":"old"}}`),
		RequestID: "req-1", SessionID: "sess-1", Status: audit.StatusFailure, ErrorMessage: "denied",
	}
}

// TestDigestOfOldRecordUnchanged pins the digests of a record without
// the fields added later: records sealed before them must keep
// verifying. The legacy (v1) golden value was computed by the code before
// TenantID existed; the v2 one when v2 was made.
func TestDigestOfOldRecordUnchanged(t *testing.T) {
	r := oldRecord()
	d1, unsealable := storekit.LegacySealDigest(&r)
	const golden1 = "070208ff12479431d9ac02b14e68c46416fd09289df8ccf1f34cc61285d02f32"
	if got := hex.EncodeToString(d1); got != golden1 || unsealable {
		t.Errorf("legacy digest of a record without tenant and trace: got %s, want %s", got, golden1)
	}
	d2, err := storekit.Digest(&r)
	if err != nil {
		t.Fatal(err)
	}
	const golden2 = "597ff047bdac732e7ede85fe25afa1fe293f4d687b5d59315355db4f21656c19"
	if got := hex.EncodeToString(d2); got != golden2 {
		t.Errorf("digest v2: got %s, want %s", got, golden2)
	}
}

// TestDigestCoversWholeTimes: digest v2 covers every bit of OccurredAt and
// RecordedAt. The legacy digest hashed the low 32 bits of their UnixMicro
// only (its buffer was shared with the length prefix), so a time moved
// by 2³² µs (71 min 34.967296 s) kept it.
func TestDigestCoversWholeTimes(t *testing.T) {
	r := oldRecord()
	d, _ := storekit.Digest(&r)
	legacy, _ := storekit.LegacySealDigest(&r)
	for _, shift := range []time.Duration{1 << 32 * time.Microsecond, 20 << 32 * time.Microsecond, time.Microsecond} {
		for name, move := range map[string]func(*audit.Record){
			"OccurredAt": func(r *audit.Record) { r.OccurredAt = r.OccurredAt.Add(shift) },
			"RecordedAt": func(r *audit.Record) { r.RecordedAt = r.RecordedAt.Add(shift) },
		} {
			m := oldRecord()
			move(&m)
			if got, _ := storekit.Digest(&m); bytes.Equal(got, d) {
				t.Errorf("%s moved by %v: the digest is unchanged", name, shift)
			}
			got, _ := storekit.LegacySealDigest(&m)
			if blind := shift%(1<<32*time.Microsecond) == 0; bytes.Equal(got, legacy) != blind {
				t.Errorf("%s moved by %v: legacy digest unchanged = %v, want %v", name, shift, !blind, blind)
			}
		}
	}
}

// TestDigestCoversNewFields checks that each new field changes the digest
// and that the tagged encoding tells the fields apart.
func TestDigestCoversNewFields(t *testing.T) {
	digest := func(r audit.Record) string {
		d, err := storekit.Digest(&r)
		if err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(d)
	}
	base := oldRecord()
	seen := map[string]string{digest(base): "none"}
	for _, tt := range []struct {
		name string
		edit func(*audit.Record)
	}{
		{"tenant", func(r *audit.Record) { r.TenantID = "org-1" }},
		{"other tenant", func(r *audit.Record) { r.TenantID = "org-2" }},
		{"trace", func(r *audit.Record) { r.TraceID = "4bf92f3577b34da6a3ce929d0e0e4736" }},
		{"span", func(r *audit.Record) { r.SpanID = "00f067aa0ba902b7" }},
		// the same value in another field is another record
		{"tenant as trace", func(r *audit.Record) { r.TraceID = "org-1" }},
		{"tenant as span", func(r *audit.Record) { r.SpanID = "org-1" }},
		{"all three", func(r *audit.Record) {
			r.TenantID, r.TraceID, r.SpanID = "org-1", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
		}},
		// a value that spells a tag of its own
		{"tenant spelling a tag", func(r *audit.Record) { r.TenantID = "trace_id" }},
		{"error message spelling the extension", func(r *audit.Record) { r.ErrorMessage = "denied\x00\x00\x00\ttenant_id\x00\x00\x00\x05org-1" }},
	} {
		r := base
		tt.edit(&r)
		d := digest(r)
		if prev, ok := seen[d]; ok {
			t.Errorf("%s: same digest as %s", tt.name, prev)
		}
		seen[d] = tt.name
	}
}
