package doccheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestFootprint builds the module graph of a program that imports only the
// root package and store/postgres, as a user's service would: none of the
// heavy, optional dependencies that other packages of the repository use
// (NATS, OpenTelemetry, Prometheus, a browser driver) may be in it. They
// live in the nested modules store/jetstream, otelaudit, cmd/auditctl and
// examples.
func TestFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("resolves a module graph")
	}
	repo, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/svc\n\ngo 1.26.0\n\nrequire github.com/trailmark/audit v0.0.0-00010101000000-000000000000\n\nreplace github.com/trailmark/audit => " + repo + "\n",
		"main.go": `package main

import (
	"context"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/postgres"
)

func main() {
	s, err := postgres.Open(context.Background(), "", nil)
	if err != nil {
		panic(err)
	}
	_, _ = audit.New(s, nil)
}
`,
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	gocmd := func(args ...string) string {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	gocmd("mod", "tidy")
	all := gocmd("list", "-m", "all")
	for _, heavy := range []string{"github.com/chromedp/", "go.opentelemetry.io/", "github.com/prometheus/", "github.com/nats-io/"} {
		if strings.Contains(all, heavy) {
			t.Errorf("a program importing the root and store/postgres has %s* in its module graph:\n%s", heavy, all)
		}
	}
	t.Logf("go list -m all: %d modules", strings.Count(all, "\n"))
}
