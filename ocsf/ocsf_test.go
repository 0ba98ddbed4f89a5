package ocsf_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/ocsf"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json from the current mapping")

// TestGolden compares the Encoder's line for each default-mapping case,
// indented, with testdata/<case>.golden.json; run with -update to rewrite
// them.
func TestGolden(t *testing.T) {
	t.Parallel()
	m := mustNew(t, nil)
	for _, tt := range cases() {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var line, got bytes.Buffer
			if err := ocsf.NewEncoder(&line, m).Encode(&tt.rec); err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if err := json.Indent(&got, line.Bytes(), "", "  "); err != nil {
				t.Fatalf("indent: %v", err)
			}
			path := filepath.Join("testdata", tt.name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("%s: got\n%s\nwant\n%s", path, got.Bytes(), want)
			}
		})
	}
}

// TestDefaultMapping checks the class and activity of each default case.
func TestDefaultMapping(t *testing.T) {
	t.Parallel()
	m := mustNew(t, nil)
	for _, tt := range cases() {
		ev := m.Map(&tt.rec)
		if ev.ClassUID != tt.class || ev.ActivityID != tt.activity {
			t.Errorf("%s (%s): got class %d activity %d, want %d %d",
				tt.name, tt.rec.Action, ev.ClassUID, ev.ActivityID, tt.class, tt.activity)
		}
		if want := int64(tt.class)*100 + int64(tt.activity); ev.TypeUID != want {
			t.Errorf("%s: type_uid: got %d, want %d", tt.name, ev.TypeUID, want)
		}
	}
}

// TestRecordFields checks where the record's fields land.
func TestRecordFields(t *testing.T) {
	t.Parallel()
	m := mustNew(t, nil)
	byName := map[string]audit.Record{}
	for _, tt := range cases() {
		byName[tt.name] = tt.rec
	}
	tests := []struct {
		name string
		got  func(ev ocsf.Event) any
		want any
	}{
		{"login", func(ev ocsf.Event) any { return ev.Time }, int64(1773826215123)},
		{"login", func(ev ocsf.Event) any { return ev.Metadata.LoggedTime }, int64(1773826215200)},
		{"login", func(ev ocsf.Event) any { return ev.Metadata.OriginalTime }, "2026-03-18T09:30:15.123456Z"},
		{"login", func(ev ocsf.Event) any { return ev.Metadata.UID }, "01900000-0000-7000-8000-000000000001"},
		{"login", func(ev ocsf.Event) any { return ev.Metadata.CorrelationUID }, "req-1"},
		{"login", func(ev ocsf.Event) any { return *ev.Actor.User }, ocsf.User{UID: "u-42", EmailAddr: "ada@example.com"}},
		{"login", func(ev ocsf.Event) any { return *ev.User }, ocsf.User{UID: "u-42", EmailAddr: "ada@example.com"}},
		{"login", func(ev ocsf.Event) any { return ev.SrcEndpoint.IP }, "203.0.113.7"},
		{"login", func(ev ocsf.Event) any { return ev.HTTPRequest.UserAgent }, "Mozilla/5.0 (X11; Linux x86_64)"},
		{"login", func(ev ocsf.Event) any { return ev.Session.UID }, "sess-1"},
		{"login", func(ev ocsf.Event) any { return ev.Actor.Session.UID }, "sess-1"},
		{"login", func(ev ocsf.Event) any { return string(ev.Unmapped.Details) }, `{"method":"password","password":"[REDACTED]"}`},
		{"login_failure_email_only", func(ev ocsf.Event) any { return []any{ev.StatusID, ev.StatusCode, ev.StatusDetail} },
			[]any{2, "failure", "wrong password"}},
		{"login_failure_email_only", func(ev ocsf.Event) any { return *ev.User }, ocsf.User{Name: "ada@example.com", EmailAddr: "ada@example.com"}},
		{"logout_session_resource", func(ev ocsf.Event) any { return ev.Session.UID }, "sess-7"},
		{"logout_session_resource", func(ev ocsf.Event) any { return ev.Unmapped.Resource }, (*ocsf.Resource)(nil)},
		{"register", func(ev ocsf.Event) any { return *ev.User }, ocsf.User{UID: "u-43"}},
		{"delete_account", func(ev ocsf.Event) any { return []any{ev.StatusID, ev.Status, ev.StatusCode} }, []any{2, "Failure", "error"}},
		{"permission_grant", func(ev ocsf.Event) any { return ev.Privileges }, []string{"billing:write", "admin", "editor"}},
		{"permission_grant", func(ev ocsf.Event) any { return *ev.User }, ocsf.User{UID: "u-7"}},
		{"permission_revoke_role", func(ev ocsf.Event) any { return ev.Privileges }, []string{"editor"}},
		{"permission_revoke_role", func(ev ocsf.Event) any { return *ev.User }, ocsf.User{UID: "u-42", EmailAddr: "ada@example.com"}},
		{"permission_grant_no_privilege", func(ev ocsf.Event) any { return ev.Privileges }, []string{}},
		{"permission_grant_no_privilege", func(ev ocsf.Event) any { return *ev.User }, ocsf.User{Name: "unknown"}},
		{"permission_grant_no_privilege", func(ev ocsf.Event) any { return ev.Resources }, []ocsf.Resource{{Type: "document", UID: "doc-9"}}},
		{"resource_update", func(ev ocsf.Event) any { return ev.Resources }, []ocsf.Resource{{Type: "document", UID: "doc-9"}}},
		{"resource_update", func(ev ocsf.Event) any { return string(ev.Unmapped.Changes) }, `{"title":{"after":"Q4 plan","before":"Q3 plan"}}`},
		{"resource_update", func(ev ocsf.Event) any { return *ev.API.Request }, ocsf.Request{UID: "req-1"}},
		{"resource_update", func(ev ocsf.Event) any { return ev.Metadata.CorrelationUID }, "req-1"},
		{"resource_update", func(ev ocsf.Event) any { return ev.Metadata.TenantUID }, "org-7"},
		{"resource_update", func(ev ocsf.Event) any {
			return []any{*ev.Trace, ev.Metadata.Profiles, ev.Unmapped.TraceID, ev.Unmapped.SpanID}
		},
			[]any{ocsf.Trace{UID: "4bf92f3577b34da6a3ce929d0e0e4736"}, []string{"trace"}, "", "00f067aa0ba902b7"}},
		{"login", func(ev ocsf.Event) any {
			return []any{ev.Trace, ev.Metadata.TenantUID, ev.Unmapped.TraceID, ev.Unmapped.SpanID}
		},
			[]any{nil, "org-7", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"}},
		{"logger_start_no_request", func(ev ocsf.Event) any { return *ev.Actor }, ocsf.Actor{AppName: "Trailmark"}},
		{"logger_start_no_request", func(ev ocsf.Event) any { return *ev.SrcEndpoint }, ocsf.Endpoint{Name: "unknown"}},
		{"logger_start_no_request", func(ev ocsf.Event) any { return ev.Metadata.LoggedTime }, int64(0)},
		{"unknown_action", func(ev ocsf.Event) any { return ev.Unmapped.Action }, "billing.refund"},
		{"unknown_action", func(ev ocsf.Event) any { return ev.Message }, "billing.refund success"},
		{"resource_delete", func(ev ocsf.Event) any { return ev.Message }, "resource.delete failure: permission denied"},
		// activity_id 99 (Other) carries the source's verb
		{"api_key_revoke", func(ev ocsf.Event) any { return []any{ev.ActivityID, ev.ActivityName, ev.TypeName} },
			[]any{99, "revoke", "API Activity: Other"}},
		{"logger_start_no_request", func(ev ocsf.Event) any { return ev.ActivityName }, "logger_start"},
		// a resource with a type and no id is no entity: unmapped
		{"audit_log_export", func(ev ocsf.Event) any { return []any{ev.Resources, ev.Unmapped.Resource} },
			[]any{nil, ocsf.Resource{Type: "audit_log"}}},
		// email_addr holds an email address only; what was typed stays the name
		{"login_failure_typed_email", func(ev ocsf.Event) any { return []any{*ev.User, *ev.Actor.User} },
			[]any{ocsf.User{Name: "\u202emoc.elpmaxe@ecila"}, ocsf.User{Name: "\u202emoc.elpmaxe@ecila"}}},
		{"role_change", func(ev ocsf.Event) any { return []any{ev.ClassUID, ev.ActivityName, ev.Privileges, *ev.User} },
			[]any{3005, "Assign Privileges", []string{"admin"}, ocsf.User{UID: "u-7"}}},
		{"role_change", func(ev ocsf.Event) any { return string(ev.Unmapped.Changes) }, `{"role":{"after":"admin","before":"viewer"}}`},
	}
	for _, tt := range tests {
		r, ok := byName[tt.name]
		if !ok {
			t.Fatalf("no case %q", tt.name)
		}
		got, _ := json.Marshal(tt.got(m.Map(&r)))
		want, _ := json.Marshal(tt.want)
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got %s, want %s", tt.name, got, want)
		}
	}
}

// TestInvalidDetailsKept checks that bytes that are not JSON survive as a
// JSON string rather than failing the mapping or breaking the output.
func TestInvalidDetailsKept(t *testing.T) {
	t.Parallel()
	r := cases()[0].rec
	r.Details = json.RawMessage(`{"a":`)
	r.Changes = json.RawMessage(`null`)
	ev := mustNew(t, nil).Map(&r)
	if got, want := string(ev.Unmapped.Details), `"{\"a\":"`; got != want {
		t.Errorf("details: got %s, want %s", got, want)
	}
	if ev.Unmapped.Changes != nil {
		t.Errorf("changes: got %s, want none", ev.Unmapped.Changes)
	}
	if _, err := json.Marshal(ev); err != nil {
		t.Errorf("marshal: %v", err)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	m := mustNew(t, &ocsf.Options{
		Product: ocsf.Product{Name: "Billing", VendorName: "Example Inc", Version: "2.1.0"},
		Actions: map[audit.Action]ocsf.Activity{
			"user.mfa_enable":        {ClassUID: ocsf.ClassAccountChange, ID: 10},
			audit.ActionUserLogin:    {ClassUID: ocsf.ClassAuthentication, ID: ocsf.ActivityOther},
			audit.ActionAPIKeyRevoke: {ClassUID: ocsf.ClassAPIActivity, ID: ocsf.ActivityDelete},
		},
		Edit: func(rec *audit.Record, ev *ocsf.Event) {
			if rec.Status != audit.StatusSuccess {
				ev.SeverityID, ev.Severity = 3, "Medium"
			}
		},
	})
	tests := []struct {
		action   audit.Action
		class    int
		activity int
		name     string
	}{
		{"user.mfa_enable", 3001, 10, "Account Change: MFA Factor Enable"},
		{audit.ActionUserLogin, 3002, 99, "Authentication: Other"},
		{audit.ActionAPIKeyRevoke, 6003, 4, "API Activity: Delete"},
		{audit.ActionUserLogout, 3002, 2, "Authentication: Logoff"},
	}
	for _, tt := range tests {
		r := cases()[0].rec
		r.Action, r.Status = tt.action, audit.StatusFailure
		ev := m.Map(&r)
		if ev.ClassUID != tt.class || ev.ActivityID != tt.activity || ev.TypeName != tt.name {
			t.Errorf("%s: got %d %d %q, want %d %d %q", tt.action, ev.ClassUID, ev.ActivityID, ev.TypeName, tt.class, tt.activity, tt.name)
		}
		if ev.SeverityID != 3 {
			t.Errorf("%s: severity_id: got %d, want 3 (set by Edit)", tt.action, ev.SeverityID)
		}
		if ev.Metadata.Product.Name != "Billing" {
			t.Errorf("%s: product: got %+v, want Billing", tt.action, ev.Metadata.Product)
		}
		b, _ := json.Marshal(ev)
		for _, e := range validate(b) {
			t.Errorf("%s: %s", tt.action, e)
		}
	}
}

func TestNewRejectsUnknownActivity(t *testing.T) {
	t.Parallel()
	tests := []ocsf.Activity{
		{ClassUID: 4001, ID: 1},                 // Network Activity: not produced here
		{ClassUID: ocsf.ClassUserAccess, ID: 3}, // User Access Management has 1 and 2
		{ClassUID: ocsf.ClassAPIActivity, ID: 5},
	}
	for _, act := range tests {
		_, err := ocsf.New(&ocsf.Options{Actions: map[audit.Action]ocsf.Activity{"x.y": act}})
		if !errors.Is(err, ocsf.ErrActivity) {
			t.Errorf("%+v: got %v, want ErrActivity", act, err)
		}
	}
}

// TestEncoder checks the NDJSON stream: one valid event per line, in
// record order, and the same bytes for the same record.
func TestEncoder(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	enc := ocsf.NewEncoder(&buf, nil)
	tests := cases()
	for _, tt := range tests {
		if err := enc.Encode(&tt.rec); err != nil {
			t.Fatalf("Encode: %v", err)
		}
	}
	first := strings.SplitN(buf.String(), "\n", 2)[0]
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	n := 0
	for ; sc.Scan(); n++ {
		var ev struct {
			Metadata struct{ UID string } `json:"metadata"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if want := tests[n].rec.ID.String(); ev.Metadata.UID != want {
			t.Errorf("line %d: metadata.uid: got %s, want %s", n+1, ev.Metadata.UID, want)
		}
		if errs := validate(sc.Bytes()); len(errs) > 0 {
			t.Errorf("line %d: %v", n+1, errs)
		}
	}
	if n != len(tests) {
		t.Errorf("got %d lines, want %d", n, len(tests))
	}
	var again bytes.Buffer
	if err := ocsf.NewEncoder(&again, nil).Encode(&tests[0].rec); err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSuffix(again.String(), "\n"); got != first {
		t.Errorf("same record encoded twice: got\n%s\nthen\n%s", first, got)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestEncoderWriteError(t *testing.T) {
	t.Parallel()
	r := cases()[0].rec
	err := ocsf.NewEncoder(failWriter{}, nil).Encode(&r)
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.HasPrefix(err.Error(), "audit: ") {
		t.Errorf("got %v, want the writer's error wrapped with an audit: prefix", err)
	}
}
