package sqlite

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// TestQueryPlans checks that every filter is served by an index: no plan
// step reads the whole audit table.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	s := newStore(t, nil)
	ctx := context.Background()
	if err := s.Append(ctx, storetest.Records(0, 50)...); err != nil {
		t.Fatal(err)
	}
	cursor := storekit.Cursor{OccurredAt: time.Now(), ID: uuid.Must(uuid.NewV7())}.String()
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		f    audit.Filter
	}{
		{"none", audit.Filter{}},
		{"actor", audit.Filter{UserID: "user-1"}},
		{"action", audit.Filter{Action: audit.ActionUserLogin}},
		{"action prefix", audit.Filter{ActionPrefix: "user."}},
		{"resource", audit.Filter{ResourceType: "document", ResourceID: "doc-1"}},
		{"resource type", audit.Filter{ResourceType: "document"}},
		{"resource id", audit.Filter{ResourceID: "doc-1"}},
		{"status", audit.Filter{Status: audit.StatusFailure}},
		{"request", audit.Filter{RequestID: "req-1"}},
		{"tenant", audit.Filter{TenantID: "tenant-a"}},
		{"tenant and actor", audit.Filter{TenantID: "tenant-a", UserID: "user-1"}},
		{"tenant and time range", audit.Filter{TenantID: "tenant-a", Since: since, Until: since.Add(time.Hour)}},
		{"tenant and cursor", audit.Filter{TenantID: "tenant-a", Cursor: cursor}},
		{"tenant and action prefix", audit.Filter{TenantID: "tenant-a", ActionPrefix: "user."}},
		{"trace", audit.Filter{TraceID: "4bf92f3577b34da6a3ce929d00000003"}},
		{"trace and tenant", audit.Filter{TraceID: "4bf92f3577b34da6a3ce929d00000003", TenantID: "tenant-b"}},
		{"since", audit.Filter{Since: since}},
		{"until", audit.Filter{Until: since}},
		{"time range", audit.Filter{Since: since, Until: since.Add(time.Hour)}},
		{"cursor", audit.Filter{Cursor: cursor}},
		{"actor and cursor", audit.Filter{UserID: "user-1", Cursor: cursor}},
		{"action prefix and time range", audit.Filter{ActionPrefix: "user.", Since: since, Until: since.Add(time.Hour)}},
	}
	for _, analyzed := range []bool{false, true} {
		if analyzed { // as a long-lived file may be: plans must hold with statistics too
			if _, err := s.writer.ExecContext(ctx, "ANALYZE"); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range tests {
			q, args := buildQuery(&tt.f, storekit.PageSize(&tt.f)+1)
			rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q, args...)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, detail)
			}
			rows.Close()
			for _, step := range plan {
				// a filter must be a SEARCH of an index; no filter at all
				// reads the time index newest first, up to the limit
				if strings.HasPrefix(step, "SCAN ") && (tt.name != "none" || !strings.Contains(step, "USING INDEX audit_logs_time")) {
					t.Errorf("analyzed %v: filter %s: the plan scans the whole table or index: %q", analyzed, tt.name, plan)
				}
			}
			t.Logf("analyzed %v: %s: %q", analyzed, tt.name, plan)
		}
	}
}
