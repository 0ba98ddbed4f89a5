// Package doccheck compiles every Go block of the README, docs/ and the
// packages' doc.go files, so that no example in the documentation rots.
package doccheck

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// A block is one Go example of the documentation.
type block struct {
	file  string // relative to the module root
	line  int    // of the block's first line
	code  string
	setup string // declarations the block assumes (from a <!-- doccheck: … --> comment)
}

// TestDocsCompile extracts every Go block and compiles it: a block that is
// a whole file (it starts with "package") as it is; otherwise beside the
// prelude below, as top-level declarations if it declares functions or
// types, else as the body of a function. "…" in a block stands for code
// left out. The only compiler complaint ignored is "declared and not
// used": an example need not use what it shows how to get.
func TestDocsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds every documented example")
	}
	root, err := filepath.Abs("../..") // the repository, with README.md and docs/
	if err != nil {
		t.Fatal(err)
	}
	blocks := markdownBlocks(t, root)
	blocks = append(blocks, docGoBlocks(t, root)...)
	if len(blocks) < 30 {
		t.Fatalf("found %d Go blocks; the extraction is broken", len(blocks))
	}
	// The examples are built in this module, which requires every package
	// they import (deps.go).
	here, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(here, "_doccheck")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var pkgs []string
	for i, b := range blocks {
		pkg := filepath.Join(dir, fmt.Sprintf("b%d", i))
		if err := os.Mkdir(pkg, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, src := range b.files() {
			if err := os.WriteFile(filepath.Join(pkg, name), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		pkgs = append(pkgs, "./"+filepath.ToSlash(mustRel(t, here, pkg)))
	}
	cmd := exec.Command("go", append([]string{"build", "-gcflags=-e"}, pkgs...)...)
	cmd.Dir = here
	out, _ := cmd.CombinedOutput()
	var bad []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "#"), strings.Contains(l, "declared and not used"):
		case strings.TrimSpace(l) == "":
		default:
			bad = append(bad, l)
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d documented Go lines do not compile:\n%s", len(bad), strings.Join(bad, "\n"))
	}
	t.Logf("compiled %d Go blocks", len(blocks))
}

func mustRel(t *testing.T, base, p string) string {
	r, err := filepath.Rel(base, p)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var setupComment = regexp.MustCompile(`^<!-- doccheck:(.*)-->$`)

// markdownBlocks returns the ```go blocks of README.md and docs/*.md. An
// HTML comment "<!-- doccheck: DECLARATIONS -->" right before a block
// gives what it assumes beyond the prelude; it may span lines.
func markdownBlocks(t *testing.T, root string) []block {
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append([]string{filepath.Join(root, "README.md")}, files...)
	var blocks []block
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(src), "\n")
		var setup string
		for i := 0; i < len(lines); i++ {
			l := lines[i]
			if strings.HasPrefix(l, "<!-- doccheck:") {
				c := l
				for !strings.HasSuffix(strings.TrimSpace(c), "-->") && i+1 < len(lines) {
					i++
					c += "\n" + lines[i]
				}
				m := setupComment.FindStringSubmatch(strings.ReplaceAll(strings.TrimSpace(c), "\n", "\x00"))
				if m == nil {
					t.Fatalf("%s:%d: a doccheck comment must end with -->", f, i+1)
				}
				setup = strings.ReplaceAll(m[1], "\x00", "\n")
				continue
			}
			if strings.TrimSpace(l) != "```go" {
				if strings.TrimSpace(l) != "" {
					setup = ""
				}
				continue
			}
			start := i + 1
			var code []string
			for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
				code = append(code, lines[i])
			}
			blocks = append(blocks, block{file: mustRel(t, root, f), line: start + 1, code: strings.Join(code, "\n"), setup: setup})
			setup = ""
		}
	}
	return blocks
}

// docGoBlocks returns the code blocks of every doc.go (lines "//\t…")
// that look like Go: they assign, declare or call a package.
func docGoBlocks(t *testing.T, root string) []block {
	var blocks []block
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), "_") || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && p != root {
			return filepath.SkipDir
		}
		if d.Name() != "doc.go" {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var code []string
		start := 0
		flush := func() {
			c := strings.Join(code, "\n")
			if looksLikeGo(c) {
				blocks = append(blocks, block{file: mustRel(t, root, p), line: start, code: c})
			}
			code = nil
		}
		for i, l := range strings.Split(string(src), "\n") {
			if rest, ok := strings.CutPrefix(l, "//\t"); ok {
				if code == nil {
					start = i + 1
				}
				code = append(code, rest)
				continue
			}
			if code != nil {
				flush()
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return blocks
}

var goLike = regexp.MustCompile(`:=|^func |\b[a-z]+\.[A-Z]\w*\(`)

func looksLikeGo(c string) bool {
	for _, l := range strings.Split(c, "\n") {
		if goLike.MatchString(strings.TrimSpace(l)) {
			return true
		}
	}
	return false
}

// imports maps a package name used in the examples to its import path.
var imports = map[string]string{
	"audit":      "github.com/trailmark/audit",
	"memory":     "github.com/trailmark/audit/store/memory",
	"postgres":   "github.com/trailmark/audit/store/postgres",
	"sqlite":     "github.com/trailmark/audit/store/sqlite",
	"jetstream":  "github.com/trailmark/audit/store/jetstream",
	"middleware": "github.com/trailmark/audit/middleware",
	"api":        "github.com/trailmark/audit/api",
	"viewer":     "github.com/trailmark/audit/viewer",
	"ocsf":       "github.com/trailmark/audit/ocsf",
	"siem":       "github.com/trailmark/audit/siem",
	"otelaudit":  "github.com/trailmark/audit/otelaudit",
	"auditslog":  "github.com/trailmark/audit/auditslog",
	"storetest":  "github.com/trailmark/audit/storetest",
	"storekit":   "github.com/trailmark/audit/storekit",
	"chain":      "github.com/trailmark/audit/chain",
	"note":       "golang.org/x/mod/sumdb/note",
	"trail":      "github.com/trailmark/audit/trail",
	"witness":    "github.com/trailmark/audit/chain/witness",
	"spool":      "github.com/trailmark/audit/spool",
	"nats":       "github.com/nats-io/nats.go",
	"sqlx":       "github.com/jmoiron/sqlx",
	"context":    "context",
	"errors":     "errors",
	"fmt":        "fmt",
	"http":       "net/http",
	"io":         "io",
	"log":        "log",
	"netip":      "net/netip",
	"os":         "os",
	"slog":       "log/slog",
	"sql":        "database/sql",
	"strings":    "strings",
	"testing":    "testing",
	"time":       "time",
	"ed25519":    "crypto/ed25519",
	"json":       "encoding/json",
	"signal":     "os/signal",
	"syscall":    "syscall",
	"gzip":       "compress/gzip",
	"metric":     "go.opentelemetry.io/otel/metric",
}

// prelude declares what the examples assume without showing: a context,
// the request being served, a store and a logger. A block's own
// declarations shadow these.
const prelude = `
var (
	ctx       = context.Background()
	r         *http.Request
	w         http.ResponseWriter
	mux       = http.NewServeMux()
	addr      = ":8080"
	dsn       = os.Getenv("DATABASE_URL")
	logger    *audit.Logger
	store     *postgres.Store
	primary   audit.Store
	sealer    *chain.Sealer
	keys      *chain.KeyFile
	retention *audit.Retention
	tee       *siem.Tee
	loader    *jetstream.Loader
	mp        metric.MeterProvider
	report    chain.Report
	ip        netip.Addr
	ua, sid   string
	secret    []byte
	viewerKey []byte
	event     audit.Event
	loginErr  error
	before    any
	after     any
	err       error
)

func alert(error) {}

func mayReadAuditLog(r *http.Request, a audit.Actor, action audit.Action) error { return nil }

func whoIs(r *http.Request) (audit.Actor, string) { return audit.Actor{}, "" }

var myAuthorize = api.AuthorizeFunc(func(r *http.Request) (api.Caller, error) { return api.Caller{}, nil })

var _ = []any{ctx, r, w, mux, addr, dsn, logger, store, primary, sealer, keys, retention, tee, loader, mp, report,
	ip, ua, sid, secret, viewerKey, event, loginErr, before, after, err, alert, mayReadAuditLog, whoIs, myAuthorize}
`

var selector = regexp.MustCompile(`\b([a-z][a-z0-9]*)\.[A-Za-z_]`)

// files returns the Go files of the block's package.
func (b block) files() map[string]string {
	code := strings.ReplaceAll(b.code, "…", `panic("left out")`)
	pos := fmt.Sprintf("//line %s:%d\n", b.file, b.line)
	if strings.HasPrefix(strings.TrimSpace(code), "package ") {
		return map[string]string{"main.go": pos + code + "\n"}
	}
	used := map[string]bool{}
	for _, src := range []string{code, b.setup, prelude} {
		for _, m := range selector.FindAllStringSubmatch(src, -1) {
			if _, ok := imports[m[1]]; ok {
				used[m[1]] = true
			}
		}
	}
	names := make([]string, 0, len(used))
	for n := range used {
		names = append(names, n)
	}
	slices.Sort(names)
	var head strings.Builder
	head.WriteString("package doc\n\nimport (\n")
	for _, n := range names {
		fmt.Fprintf(&head, "\t%s %q\n", n, imports[n])
	}
	head.WriteString(")\n")
	// Each import is used at least by a blank reference, so a block need
	// not use every package the prelude and the setup name.
	for _, n := range names {
		fmt.Fprintf(&head, "var _ = %s\n", blankRef(n))
	}
	body := code
	if !declares(code) {
		// A function that returns an error, as most examples' callers do.
		body = "func _() error {\n" + pos + code + "\nreturn nil\n}\n"
	} else {
		body = pos + code + "\n"
	}
	return map[string]string{
		"prelude.go": head.String() + prelude + "\n" + b.setup + "\n",
		"block.go":   "package doc\n\n" + importsOf(code, names) + body,
	}
}

// declares reports whether code is top-level declarations rather than
// statements.
func declares(code string) bool {
	for _, l := range strings.Split(code, "\n") {
		if strings.HasPrefix(l, "func ") || strings.HasPrefix(l, "type ") {
			return true
		}
	}
	return false
}

// importsOf imports in block.go the packages code uses, blank-referenced.
func importsOf(code string, names []string) string {
	var b strings.Builder
	var used []string
	for _, n := range names {
		if regexp.MustCompile(`\b` + n + `\.`).MatchString(code) {
			used = append(used, n)
		}
	}
	if len(used) == 0 {
		return ""
	}
	b.WriteString("import (\n")
	for _, n := range used {
		fmt.Fprintf(&b, "\t%s %q\n", n, imports[n])
	}
	b.WriteString(")\n")
	for _, n := range used {
		fmt.Fprintf(&b, "var _ = %s\n", blankRef(n))
	}
	return b.String()
}

// blankRef names one exported identifier of package n, to use an import.
func blankRef(n string) string {
	refs := map[string]string{
		"audit": "audit.New", "memory": "memory.New", "postgres": "postgres.Open", "sqlite": "sqlite.Open",
		"jetstream": "(*jetstream.Loader)(nil)", "middleware": "middleware.New", "api": "api.New", "viewer": "(*viewer.Handler)(nil)",
		"ocsf": "(*ocsf.Encoder)(nil)", "siem": "siem.NewTee", "otelaudit": "otelaudit.TraceFrom", "auditslog": "(*auditslog.Store)(nil)",
		"storetest": "storetest.Run", "storekit": "storekit.Match", "chain": "chain.Verify", "note": "note.NewVerifier", "spool": "spool.Open", "trail": "trail.New", "witness": "witness.New", "nats": "nats.Connect", "sqlx": "sqlx.Open",
		"context": "context.Background", "errors": "errors.New", "fmt": "fmt.Sprint", "http": "http.NewServeMux",
		"io": "io.EOF", "log": "log.Println", "netip": "netip.ParseAddr", "os": "os.Exit", "slog": "slog.Default",
		"sql": "sql.ErrNoRows", "strings": "strings.Cut", "testing": "testing.Short", "time": "time.Now",
		"ed25519": "ed25519.Sign", "json": "json.Marshal", "signal": "signal.Notify", "syscall": "syscall.SIGTERM",
		"gzip": "gzip.NewWriter", "metric": "metric.WithUnit",
	}
	return refs[n]
}
