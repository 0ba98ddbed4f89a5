package audit_test

import (
	"encoding/json"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

// TestRecordValidate: the record contract names the field a record
// breaks, and lets through a record at each limit (issue 20, item 1).
func TestRecordValidate(t *testing.T) {
	deep := func(n int) json.RawMessage {
		return json.RawMessage(strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n))
	}
	tests := []struct {
		name  string
		f     func(r *audit.Record)
		field string // "" for valid
	}{
		{"valid", func(*audit.Record) {}, ""},
		{"nested at the limit", func(r *audit.Record) { r.Details = deep(audit.MaxRecordDepth) }, ""},
		{"nested one past", func(r *audit.Record) { r.Details = deep(audit.MaxRecordDepth + 1) }, "details"},
		{"nested 5001 deep", func(r *audit.Record) { r.Changes = deep(5001) }, "changes"},
		{"not JSON", func(r *audit.Record) { r.Details = json.RawMessage(`{"a": tru`) }, "details"},
		{"trailing data", func(r *audit.Record) { r.Details = json.RawMessage(`{} {}`) }, "details"},
		{"an array", func(r *audit.Record) { r.Details = json.RawMessage(`[]`) }, "details"},
		{"invalid UTF-8 in JSON", func(r *audit.Record) { r.Details = json.RawMessage("{\"a\":\"\xff\"}") }, "details"},
		{"too large", func(r *audit.Record) {
			r.Details = json.RawMessage(`{"a":"` + strings.Repeat("x", audit.MaxRecordJSONBytes) + `"}`)
		}, "details"},
		{"bidi in JSON", func(r *audit.Record) { r.Details = json.RawMessage(`{"a":"\u202e"}`) }, ""},
		{"nil ID", func(r *audit.Record) { r.ID = uuid.Nil }, "id"},
		{"year 10000", func(r *audit.Record) { r.OccurredAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "timestamp"},
		{"no action", func(r *audit.Record) { r.Action = " " }, "action"},
		{"no resource type", func(r *audit.Record) { r.ResourceType = "" }, "resource_type"},
		{"bad status", func(r *audit.Record) { r.Status = "ok" }, "status"},
		{"IP zone", func(r *audit.Record) { r.IPAddress = netip.MustParseAddr("fe80::1%eth0") }, "ip_address"},
		{"invalid UTF-8", func(r *audit.Record) { r.TenantID = "inv\xff" }, "tenant_id"},
		{"NUL", func(r *audit.Record) { r.UserID = "nul\x00" }, "user_id"},
		{"field at the limit", func(r *audit.Record) { r.UserAgent = strings.Repeat("a", audit.MaxRecordFieldBytes) }, ""},
		{"field one byte past", func(r *audit.Record) { r.RequestID = strings.Repeat("a", audit.MaxRecordFieldBytes+1) }, "request_id"},
	}
	for _, tt := range tests {
		r := audit.Record{ID: uuid.New(), OccurredAt: time.Now(), Action: "doc.read", ResourceType: "doc", Status: audit.StatusSuccess,
			Details: json.RawMessage(`{"k":"v"}`)}
		tt.f(&r)
		err := r.Validate()
		var fe *audit.FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%s: got %v, want nil", tt.name, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field || !errors.Is(err, audit.ErrInvalidEvent)):
			t.Errorf("%s: got %v, want a FieldError for %s", tt.name, err, tt.field)
		}
		// storekit.CheckRecords: the same, permanent, naming the record
		err = storekit.CheckRecords([]audit.Record{r})
		if (err == nil) != (tt.field == "") || (err != nil && (!storekit.IsPermanent(err) || !strings.Contains(err.Error(), r.ID.String()))) {
			t.Errorf("%s: CheckRecords: got %v", tt.name, err)
		}
	}
}

// TestLimitsWithinContract: a Logger cannot be configured to write
// records the stores refuse.
func TestLimitsWithinContract(t *testing.T) {
	for _, l := range []audit.Limits{
		{MaxFieldBytes: audit.MaxRecordFieldBytes/4 + 1},
		{MaxJSONBytes: audit.MaxRecordJSONBytes/2 + 1},
	} {
		if _, err := audit.New(memory.New(nil), &audit.Options{Limits: l}); err == nil {
			t.Errorf("New with %+v: got nil error, want one", l)
		}
	}
	l, err := audit.New(memory.New(nil), &audit.Options{Limits: audit.Limits{MaxFieldBytes: audit.MaxRecordFieldBytes / 4, MaxJSONBytes: audit.MaxRecordJSONBytes / 2}})
	if err != nil {
		t.Fatalf("New at the limits: %v", err)
	}
	l.Close(t.Context())
}
