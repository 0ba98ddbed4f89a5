package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/ocsf"
	"github.com/trailmark/audit/store/sqlite"
	"github.com/trailmark/audit/storetest"
)

// TestFormatOCSF checks query --format ocsf and export --format ocsf: one
// OCSF event per record, as the ocsf package maps it, every record once.
func TestFormatOCSF(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.db")
	st, err := sqlite.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(0, 1205) // more than one page
	recs[0].Action, recs[0].ResourceType = audit.ActionUserLogin, "only_one"
	if err := st.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	st.Close(context.Background())
	db := "sqlite:" + path

	check := func(name, out string, want int) {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != want {
			t.Fatalf("%s: got %d lines, want %d", name, len(lines), want)
		}
		seen := map[string]bool{}
		for _, l := range lines {
			var ev ocsf.Event
			if err := json.Unmarshal([]byte(l), &ev); err != nil {
				t.Fatalf("%s: %v in %.200s", name, err, l)
			}
			if ev.ClassUID == 0 || ev.Metadata.UID == "" {
				t.Fatalf("%s: not an OCSF event: %.200s", name, l)
			}
			if seen[ev.Metadata.UID] {
				t.Fatalf("%s: record %s twice", name, ev.Metadata.UID)
			}
			seen[ev.Metadata.UID] = true
		}
	}

	code, out, errOut := ctl(t, "query", "-db", db, "-format", "ocsf", "-limit", "0")
	if code != 0 {
		t.Fatalf("query --format ocsf: exit %d: %s", code, errOut)
	}
	check("query", out, len(recs))
	if code, out, errOut = ctl(t, "query", "-db", db, "-format", "ocsf", "-resource-type", "only_one"); code != 0 {
		t.Fatalf("query --format ocsf --resource-type: exit %d: %s", code, errOut)
	}
	check("query one login", out, 1)
	if !strings.Contains(out, `"class_uid":3002`) {
		t.Errorf("a login is not an Authentication event: %.300s", out)
	}

	file := filepath.Join(dir, "events.ndjson")
	if code, _, errOut = ctl(t, "export", "-db", db, "-format", "ocsf", "-o", file); code != 0 {
		t.Fatalf("export --format ocsf: exit %d: %s", code, errOut)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	check("export", string(b), len(recs))

	if code, _, _ = ctl(t, "query", "-db", db, "-format", "xml"); code != 2 {
		t.Errorf("query --format xml: exit %d, want 2", code)
	}
}
