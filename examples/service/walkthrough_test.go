package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/sqlite"
)

// TestDocsWalkthrough follows docs/api.md's walkthrough of this service
// word for word: it starts the service as the doc says (SQLite, the demo
// passwords the doc exports), runs the doc's shell block with bash and
// curl against it, and checks that every step the doc lists is in the
// log.
func TestDocsWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed", tool)
		}
	}
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 2 {
		t.Fatalf("docs/api.md has %d shell blocks, want the start and the walkthrough", len(blocks))
	}
	start, walk := blocks[0][1], blocks[1][1]
	pw := func(name string) string {
		m := regexp.MustCompile(name + `=(\S+)`).FindStringSubmatch(start)
		if m == nil {
			t.Fatalf("the doc does not set %s", name)
		}
		return m[1]
	}
	file := filepath.Join(t.TempDir(), "audit.db")
	var out bytes.Buffer
	c, stop := startRun(t, runConfig{Out: &out, AuditFile: file,
		AdminPassword: pw("DEMO_ADMIN_PASSWORD"), UserPassword: pw("DEMO_USER_PASSWORD")})
	script := regexp.MustCompile(`(?m)^B=\S+`).ReplaceAllString(walk, "B="+c.url)
	if script == walk {
		t.Fatal("the walkthrough does not set B")
	}
	sh := exec.Command("bash", "-eu", "-c", script)
	sh.Dir = t.TempDir() // the exports it writes
	got, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("the walkthrough fails: %v\n%s", err, got)
	}
	for _, want := range []string{"401 Unauthorized", `"detail":"wrong email or password"`, `"permissions":["audit:read"]`,
		"204 No Content", `"parameter":"limit"`, `"detail":"not allowed to export the audit log"`} {
		if !bytes.Contains(got, []byte(want)) {
			t.Errorf("the walkthrough's output lacks %s:\n%s", want, got)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), file, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	page, err := s.Query(context.Background(), audit.Filter{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range page.Records {
		k := string(r.Action) + "/" + string(r.Status)
		if r.Action == audit.ActionUserLogin && r.UserEmail == "" {
			t.Errorf("login record %s has no user_email", r.ID)
		}
		if r.Action == "user.profile_update" && len(r.Changes) == 0 {
			t.Errorf("profile update without its changes")
		}
		seen[k] = true
	}
	for _, want := range []string{"user.login/failure", "user.login/success", "user.profile_update/success",
		"permission.grant/success", "permission.grant/failure", "api_key.create/success", "api_key.revoke/success",
		"http.request/success", "audit_log.read/success", "audit_log.export/success", "audit_log.export/failure", "user.logout/success"} {
		if !seen[want] {
			t.Errorf("the log has no %s record after the walkthrough; it has %v", want, strings.Join(keys(seen), " "))
		}
	}
}

func keys(m map[string]bool) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}
