package ocsf_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/trailmark/audit"
	"github.com/trailmark/audit/ocsf"
)

func Example() {
	rec := audit.Record{
		ID:           uuid.MustParse("01900000-0000-7000-8000-000000000001"),
		OccurredAt:   time.Date(2026, 3, 18, 9, 30, 15, 123456000, time.UTC),
		UserID:       "u-42",
		IPAddress:    netip.MustParseAddr("203.0.113.7"),
		Action:       audit.ActionResourceUpdate,
		ResourceType: "document",
		ResourceID:   "doc-9",
		Changes:      json.RawMessage(`{"title":{"after":"Q4","before":"Q3"}}`),
		Status:       audit.StatusSuccess,
	}
	m, err := ocsf.New(&ocsf.Options{Product: ocsf.Product{Name: "Docs", VendorName: "Example Inc"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ev := m.Map(&rec)
	fmt.Println(ev.TypeUID, ev.TypeName)

	// One NDJSON line per record, for a SIEM or a security lake.
	if err := ocsf.NewEncoder(os.Stdout, m).Encode(&rec); err != nil {
		fmt.Println(err)
	}
	// Output:
	// 600303 API Activity: Update
	// {"activity_id":3,"activity_name":"Update","category_uid":6,"category_name":"Application Activity","class_uid":6003,"class_name":"API Activity","type_uid":600303,"type_name":"API Activity: Update","severity_id":1,"severity":"Informational","status_id":1,"status":"Success","status_code":"success","time":1773826215123,"message":"resource.update success","metadata":{"uid":"01900000-0000-7000-8000-000000000001","version":"1.8.0","product":{"name":"Docs","vendor_name":"Example Inc"},"original_time":"2026-03-18T09:30:15.123456Z"},"actor":{"user":{"uid":"u-42"}},"api":{"operation":"resource.update","service":{"name":"Docs"}},"resources":[{"type":"document","uid":"doc-9"}],"src_endpoint":{"ip":"203.0.113.7"},"unmapped":{"action":"resource.update","changes":{"title":{"after":"Q4","before":"Q3"}}}}
}
