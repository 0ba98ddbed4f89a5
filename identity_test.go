package audit_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
)

// badIDs are identities that must be refused, never cut or repaired: each
// of them was stored as another one before (cut to 1 KiB with a marker,
// or with U+FFFD in place of a byte), so that two tenants became one.
var badIDs = []struct {
	name, id, msg string // msg: in the error
}{
	{"one byte over", strings.Repeat("p", audit.MaxIDBytes) + "a", "longer than 1024 bytes"},
	{"far over", strings.Repeat("p", 4096), "longer than 1024 bytes"},
	{"a rune across the limit", strings.Repeat("p", audit.MaxIDBytes-1) + "é", "longer than 1024 bytes"},
	{"invalid UTF-8 ff", "inv\xff", "not valid UTF-8"},
	{"invalid UTF-8 fe", "inv\xfe", "not valid UTF-8"},
	{"a cut rune", strings.Repeat("p", 10) + "\xe2\x82", "not valid UTF-8"},
	{"a surrogate", "s\xed\xa0\x80", "not valid UTF-8"},
	{"NUL", "nul\x00", "control character U+0000"},
	{"newline", "a\nb", "control character U+000A"},
	{"tab", "a\tb", "control character U+0009"},
	{"DEL", "a\x7f", "control character U+007F"},
	{"C1", "a\u009b", "control character U+009B"},
}

// goodIDs are kept exactly as given.
var goodIDs = []string{
	"org-1",
	strings.Repeat("p", audit.MaxIDBytes), // the limit itself
	strings.Repeat("€", audit.MaxIDBytes/3), // 1,023 bytes of 3-byte runes
	strings.Repeat("𝄞", audit.MaxIDBytes/4), // 1,024 bytes of 4-byte runes
	"nul\uFFFD",                // U+FFFD is a character like any other
	"org=eu=1",                 // '=' is no separator in an id
	"a b\u00a0c\u200bd\u202ee", // spaces and format characters are not controls
	"Ünïcödé-テナント",             // any script
	"\U0010FFFD",               // the last private-use character
}

func TestCheckID(t *testing.T) {
	for _, id := range append(goodIDs, "") {
		if err := audit.CheckID(id); err != nil {
			t.Errorf("CheckID(%.40q…): %v, want nil", id, err)
		}
	}
	for _, tt := range badIDs {
		err := audit.CheckID(tt.id)
		if err == nil || !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "audit: ") {
			t.Errorf("%s: CheckID: %v, want an error saying %q", tt.name, err, tt.msg)
		}
		if err != nil && len(err.Error()) > 200 {
			t.Errorf("%s: the error echoes the id: %d bytes", tt.name, len(err.Error()))
		}
	}
}

// TestIdentitiesExactOrRefused checks every identity of an event, set on
// the event or taken from the context: a valid one is stored exactly as
// given, an invalid one refuses the event with a FieldError naming it.
// Before, ids were cut to Limits.MaxFieldBytes and invalid bytes
// replaced, so that two tenants, actors or resources became one.
func TestIdentitiesExactOrRefused(t *testing.T) {
	fields := []struct {
		name string
		set  func(*audit.Event, string)
		get  func(*audit.Record) string
	}{
		{"user_id", func(e *audit.Event, v string) { e.UserID = v }, func(r *audit.Record) string { return r.UserID }},
		{"action", func(e *audit.Event, v string) { e.Action = audit.Action("x." + v) }, func(r *audit.Record) string { return string(r.Action) }},
		{"resource_type", func(e *audit.Event, v string) { e.ResourceType = "x." + v }, func(r *audit.Record) string { return r.ResourceType }},
		{"resource_id", func(e *audit.Event, v string) { e.ResourceID = v }, func(r *audit.Record) string { return r.ResourceID }},
		{"request_id", func(e *audit.Event, v string) { e.RequestID = v }, func(r *audit.Record) string { return r.RequestID }},
		{"session_id", func(e *audit.Event, v string) { e.SessionID = v }, func(r *audit.Record) string { return r.SessionID }},
		{"tenant_id", func(e *audit.Event, v string) { e.TenantID = v }, func(r *audit.Record) string { return r.TenantID }},
	}
	// a small MaxFieldBytes cuts free text, never an identity
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{Default: audit.Sync}, Limits: audit.Limits{MaxFieldBytes: 64}})
	ctx := context.Background()
	for _, f := range fields {
		for _, id := range goodIDs {
			if f.name == "action" || f.name == "resource_type" {
				id = id[:min(len(id), audit.MaxIDBytes-2)] // room for "x."
				for len(id) > 0 && audit.CheckID(id) != nil {
					id = id[:len(id)-1]
				}
			}
			e := ev(audit.ActionResourceRead)
			f.set(&e, id)
			if err := l.Log(ctx, e); err != nil {
				t.Errorf("%s %.40q (%d bytes): %v, want it kept", f.name, id, len(id), err)
			}
		}
		for _, tt := range badIDs {
			e := ev(audit.ActionResourceRead)
			f.set(&e, tt.id)
			err := l.Log(ctx, e)
			var fe *audit.FieldError
			if !errors.Is(err, audit.ErrInvalidEvent) || !errors.As(err, &fe) || fe.Field != f.name || !strings.Contains(fe.Msg, tt.msg) {
				t.Errorf("%s %s: Log: %v, want a FieldError for %s saying %q", f.name, tt.name, err, f.name, tt.msg)
			}
		}
	}
	// what was stored is exactly what was given
	recs := storetestAll(t, s)
	want := map[string]int{}
	for _, f := range fields {
		for _, r := range recs {
			v := f.get(&r)
			v = strings.TrimPrefix(v, "x.")
			if audit.CheckID(v) != nil {
				t.Errorf("%s stored as %.40q (%d bytes): not a valid id", f.name, v, len(v))
			}
			if strings.Contains(v, "truncated") || strings.Contains(v, "\uFFFD") && v != "nul\uFFFD" {
				t.Errorf("%s stored as %.60q: cut or repaired", f.name, v)
			}
		}
		want[f.name] = len(goodIDs)
	}
	if len(recs) != len(fields)*len(goodIDs) {
		t.Errorf("stored %d records, want %d (each valid id once, no invalid one)", len(recs), len(fields)*len(goodIDs))
	}
	tenants := map[string]bool{}
	for _, r := range recs {
		if r.TenantID != "" {
			tenants[r.TenantID] = true
		}
	}
	for _, id := range goodIDs {
		if !tenants[id] {
			t.Errorf("tenant %.40q (%d bytes) not stored exactly", id, len(id))
		}
	}

	// from the context: the tenant and the request's ids
	for _, tt := range badIDs {
		for _, c := range []struct {
			field string
			ctx   context.Context
		}{
			{"tenant_id", audit.WithTenant(ctx, tt.id)},
			{"request_id", audit.WithRequestInfo(ctx, audit.RequestInfo{RequestID: tt.id})},
			{"session_id", audit.WithRequestInfo(ctx, audit.RequestInfo{SessionID: tt.id})},
			{"user_id", audit.WithActor(ctx, audit.Actor{UserID: tt.id})},
		} {
			var fe *audit.FieldError
			if err := l.Log(c.ctx, ev(audit.ActionResourceRead)); !errors.As(err, &fe) || fe.Field != c.field {
				t.Errorf("%s from the context, %s: Log: %v, want a FieldError for %s", c.field, tt.name, err, c.field)
			}
		}
	}
	if n := len(storetestAll(t, s)); n != len(recs) {
		t.Errorf("%d records after the refused ones, want %d", n, len(recs))
	}
}

// TestTenantsNotMerged is the case: two tenants that share a
// 1 KiB prefix, "inv\xff" and "inv\xfe", "nul\x00" and "nul\uFFFD". Each
// tenant's records are its own or were refused; no filter for one tenant
// returns another's records.
func TestTenantsNotMerged(t *testing.T) {
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Policy: audit.Policy{Default: audit.Sync}})
	prefix := strings.Repeat("p", audit.MaxIDBytes)
	tenants := []string{prefix + "-a", prefix + "-b", "inv\xff", "inv\xfe", "nul\x00", "nul\uFFFD", prefix}
	stored := map[string]bool{}
	for i, tn := range tenants {
		e := ev(audit.ActionResourceRead)
		e.TenantID = tn
		e.ResourceID = strconv.Itoa(i) // whose record it is
		err := l.Log(context.Background(), e)
		if err == nil {
			stored[tn] = true
		}
		if (err == nil) != (audit.CheckID(tn) == nil) {
			t.Errorf("tenant %.20q…(%d bytes): Log: %v; want it refused exactly when CheckID refuses it", tn, len(tn), err)
		}
	}
	for i, tn := range tenants {
		f := audit.Filter{TenantID: tn}
		if err := f.Validate(); err != nil {
			if audit.CheckID(tn) == nil {
				t.Errorf("filter for %.20q…: %v", tn, err)
			}
			continue
		}
		for _, r := range storetestAll(t, s, f) {
			if r.TenantID != tn || r.ResourceID != strconv.Itoa(i) {
				t.Errorf("filter for tenant %.20q… (%d bytes) returned a record logged for tenant %.20q…", tn, len(tn), tenants[atoi(r.ResourceID)])
			}
		}
	}
	if len(stored) != 2 {
		t.Errorf("stored the records of %d tenants, want 2 (nul\\uFFFD and the 1 KiB one)", len(stored))
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

func storetestAll(t *testing.T, s audit.Store, f ...audit.Filter) []audit.Record {
	t.Helper()
	var filter audit.Filter
	if len(f) > 0 {
		filter = f[0]
	}
	var out []audit.Record
	for {
		filter.Limit = audit.MaxLimit
		p, err := s.(audit.Querier).Query(context.Background(), filter)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Records...)
		if p.NextCursor == "" {
			return out
		}
		filter.Cursor = p.NextCursor
	}
}

// TestFilterIDs checks that a filter takes exactly the identities an
// event may hold: the same check, the same limit.
func TestFilterIDs(t *testing.T) {
	for _, id := range goodIDs {
		for _, f := range []audit.Filter{{TenantID: id}, {UserID: id}, {ResourceID: id}, {ResourceType: id}, {RequestID: id}, {Action: audit.Action(id)}, {ActionPrefix: id}} {
			if err := f.Validate(); err != nil {
				t.Errorf("filter %+.60v: %v", f, err)
			}
		}
	}
	for _, tt := range badIDs {
		for field, f := range map[string]audit.Filter{"tenant_id": {TenantID: tt.id}, "user_id": {UserID: tt.id}, "resource_id": {ResourceID: tt.id},
			"resource_type": {ResourceType: tt.id}, "request_id": {RequestID: tt.id}, "action": {Action: audit.Action(tt.id)}, "action_prefix": {ActionPrefix: tt.id}} {
			err := f.Validate()
			var fe *audit.FieldError
			if !errors.Is(err, audit.ErrInvalidFilter) || !errors.As(err, &fe) || fe.Field != field || !strings.Contains(fe.Msg, tt.msg) {
				t.Errorf("filter %s %s: %v, want a FieldError for %s saying %q", field, tt.name, err, field, tt.msg)
			}
		}
	}
}

// TestTenantIDsOfRetentionAndExport: the tenant ids an operator names
// (TenantMaxAge, ExportTenantChain) pass the same check as an event's.
func TestTenantIDsOfRetentionAndExport(t *testing.T) {
	s := memory.New(nil)
	key := chain.HMACKey{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}
	signer := chain.SigningKey{ID: "s1", Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))}
	sl, err := chain.NewSealer(s, key, &chain.SealerOptions{SigningKey: &signer})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range badIDs {
		_, err := audit.NewRetention(s, sl, &audit.RetentionOptions{TenantMaxAge: map[string]time.Duration{tt.id: time.Hour}})
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("TenantMaxAge %s: %v, want an error saying %q", tt.name, err, tt.msg)
		}
		_, err = chain.ExportTenantChain(context.Background(), s, tt.id, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("ExportTenantChain %s: %v, want an error saying %q", tt.name, err, tt.msg)
		}
	}
	for _, id := range goodIDs {
		if _, err := audit.NewRetention(s, sl, &audit.RetentionOptions{TenantMaxAge: map[string]time.Duration{id: time.Hour}}); err != nil {
			t.Errorf("TenantMaxAge %.40q: %v", id, err)
		}
	}
}
