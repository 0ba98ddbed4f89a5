package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/viewer"
)

// The browser tests drive Debian's chromium against the service on
// loopback. They run when AUDIT_TEST_CHROMIUM names the browser (such as
// /usr/bin/chromium); AUDIT_VIEWER_SCREENSHOTS names a directory to copy
// the screenshots to (docs/img).

// browserEnv is the service, a planted server and a browser.
type browserEnv struct {
	t         *testing.T
	app       *app
	c         *client
	browser   context.Context
	clock     atomic.Pointer[time.Time]
	plantURL  string
	plantHits atomic.Int64
	admin     string // alice's session token
}

// pageEvents is what one tab reported.
type pageEvents struct {
	mu      sync.Mutex
	errors  []string // console errors, exceptions, browser log errors
	dialogs []string
}

func (p *pageEvents) add(list *[]string, s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	*list = append(*list, s)
}

func (p *pageEvents) snapshot() (errs, dialogs []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.errors), slices.Clone(p.dialogs)
}

func newBrowserEnv(t *testing.T) *browserEnv {
	t.Helper()
	chromium := os.Getenv("AUDIT_TEST_CHROMIUM")
	if chromium == "" {
		t.Skip("AUDIT_TEST_CHROMIUM is not set (e.g. /usr/bin/chromium)")
	}
	e := &browserEnv{t: t}
	now := time.Now()
	e.clock.Store(&now)
	plant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.plantHits.Add(1) }))
	t.Cleanup(plant.Close)
	e.plantURL = plant.URL

	a, err := newApp(appConfig{
		Store:         memory.New(nil),
		AdminPassword: "alice-demo-password",
		UserPassword:  "bob-demo-password",
		ViewerTokens:  &viewer.TokenOptions{Now: func() time.Time { return *e.clock.Load() }},
		// Values as long as a customer's service may store (a 100 KB
		// document), which the page must not show whole.
		LoggerOptions: &audit.Options{Limits: audit.Limits{MaxStringBytes: 128 << 10, MaxJSONBytes: 512 << 10}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.handler)
	t.Cleanup(func() {
		srv.Close()
		a.close(context.Background())
	})
	e.app, e.c = a, &client{t: t, url: srv.URL, hc: srv.Client()}

	e.browser = newChromium(t, chromium)
	e.seed()
	return e
}

// newChromium starts the browser at path, headless, stopped when the test
// ends.
func newChromium(t *testing.T, path string) context.Context {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1280, 900),
	)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	if _, err := chromedp.Run(browser, chromedp.Steps()); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return browser
}

// seed fills the log: the demo's operations through HTTP, many logins,
// and events whose every field holds a script injection aimed at the
// planted server.
func (e *browserEnv) seed() {
	c := e.c
	e.admin = c.login("alice@example.com", "alice-demo-password")
	bob := c.login("bob@example.com", "bob-demo-password")
	c.want(200, c.do("PATCH", "/me", bob, `{"name":"Robert","email":"robert@example.com"}`))
	c.want(200, c.do("POST", "/users/u-bob/permissions", e.admin, `{"permission":"audit:read"}`))
	c.want(201, c.do("POST", "/api-keys", e.admin, `{"name":"ci deploy"}`))
	c.want(401, c.do("POST", "/login", "", `{"email":"alice@example.com","password":"wrong"}`))
	for i := range 60 {
		c.login("robert@example.com", "bob-demo-password")
		if i%3 == 0 {
			c.login("alice@example.com", "alice-demo-password")
		}
	}
	for _, ev := range e.xssEvents() {
		if err := e.app.logger.Log(context.Background(), ev); err != nil {
			e.t.Fatal(err)
		}
	}
}

// payloads are planted in every field of the XSS events.
func (e *browserEnv) payloads() []string {
	p := e.plantURL
	return []string{
		`<script>fetch("` + p + `/script");alert("script")</script>`,
		`<img src="` + p + `/img" onerror="alert('img')">`,
		`javascript:fetch("` + p + `/js");alert("js")`,
		`x" onerror="alert('attr')" src="` + p + `/attr`,
		`<svg onload=alert('svg')><a href="` + p + `/a">a</a></svg>`,
	}
}

func (e *browserEnv) xssEvents() []audit.Event {
	var evs []audit.Event
	for i, p := range e.payloads() {
		evs = append(evs, audit.Event{
			UserID: "u-evil", UserEmail: p, UserAgent: p,
			Action: audit.Action("document.share"), ResourceType: "document", ResourceID: p,
			Details:   map[string]any{"note": p, p: []any{p, map[string]any{"href": p}}},
			Changes:   map[string]audit.Change{"title": {Before: p, After: "safe " + fmt.Sprint(i)}, p: {Before: nil, After: p}},
			RequestID: fmt.Sprintf("req-xss-%d", i), SessionID: p,
			Status: audit.StatusFailure, ErrorMessage: p,
		})
	}
	return evs
}

// open loads the viewer in a new tab at fragment and waits for the list
// to settle. The tab is closed when the test ends.
func (e *browserEnv) open(fragment string) (context.Context, *pageEvents) {
	e.t.Helper()
	return e.openAt(e.c.url + "/audit-logs/viewer/" + fragment)
}

// openAt is open for the page at address u.
func (e *browserEnv) openAt(u string) (context.Context, *pageEvents) {
	e.t.Helper()
	pe := &pageEvents{}
	ctx, cancel := chromedp.NewContext(e.browser, chromedp.WithListener(func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				pe.add(&pe.errors, "console."+string(ev.Type)+": "+strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			msg := ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
			pe.add(&pe.errors, "exception: "+msg)
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError || ev.Entry.Level == cdplog.EntryLevelWarning {
				pe.add(&pe.errors, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		case *page.EventJavascriptDialogOpening:
			pe.add(&pe.dialogs, ev.Message)
		}
	}))
	e.t.Cleanup(cancel)
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		e.t.Fatal(err)
	}
	// The tab is open: a deadline now bounds the actions, not the tab.
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	e.t.Cleanup(cancelTimeout)
	// Dismiss any dialog, so that a planted alert cannot hang the page.
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}
	}()
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(u),
	)
	if err != nil {
		e.t.Fatal(err)
	}
	e.settle(ctx)
	return ctx, pe
}

// settle waits until the page has answered its last request.
func (e *browserEnv) settle(ctx context.Context) {
	e.t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := chromedp.Run(tctx, chromedp.Poll[chromedp.Void](`document.body.dataset.busy !== "1" && (document.getElementById("count").textContent !== "" || !document.getElementById("message").hidden)`,
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		e.t.Fatalf("waiting for the page: %v", err)
	}
}

// rowIDs returns the ids of the rows shown.
func (e *browserEnv) rowIDs(ctx context.Context) []string {
	e.t.Helper()
	return eval[[]string](e.t, ctx, `Array.from(document.querySelectorAll("#rows tr")).map(r => r.dataset.id)`)
}

// apiIDs returns the ids of the first n records the API answers for query.
func (e *browserEnv) apiIDs(token, query string, n int) []string {
	e.t.Helper()
	var ids []string
	for _, r := range e.c.auditLog(token, query) {
		ids = append(ids, r.ID.String())
	}
	return ids[:min(n, len(ids))]
}

func (e *browserEnv) text(ctx context.Context, sel string) string {
	e.t.Helper()
	return eval[string](e.t, ctx, `document.querySelector(`+jsString(sel)+`).textContent`)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (e *browserEnv) noErrors(pe *pageEvents) {
	e.t.Helper()
	errs, dialogs := pe.snapshot()
	if len(errs) > 0 {
		e.t.Errorf("the page reported errors:\n%s", strings.Join(errs, "\n"))
	}
	if len(dialogs) > 0 {
		e.t.Errorf("the page opened dialogs: %q", dialogs)
	}
}

func (e *browserEnv) mint(body string) string {
	e.t.Helper()
	r := e.c.want(201, e.c.do("POST", "/admin/viewer-tokens", e.admin, body))
	var out struct{ Token, URL string }
	r.json(e.t, &out)
	if !strings.HasPrefix(out.URL, "/audit-logs/viewer/#token=") {
		e.t.Fatalf("url %q", out.URL)
	}
	return out.Token
}

func TestViewerBrowser(t *testing.T) {
	e := newBrowserEnv(t)

	t.Run("loads, pages and filters like the API", func(t *testing.T) {
		e.t = t
		ctx, pe := e.open("#token=" + url.QueryEscape(e.admin))
		loc := eval[string](t, ctx, `location.href`)
		if strings.Contains(loc, "token") {
			t.Errorf("the token is still in the address bar: %s", loc)
		}
		if got := len(e.rowIDs(ctx)); got != 50 {
			t.Errorf("first page: got %d rows, want 50", got)
		}
		// Filter on logins; page twice; compare with the API.
		err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#f-action"), "user.*"),
			chromedp.Click(chromedp.CSS("#apply")))
		if err != nil {
			t.Fatal(err)
		}
		e.settle(ctx)
		want := e.apiIDs(e.admin, "action=user.*", 150)
		if got := e.rowIDs(ctx); !slices.Equal(got, want[:50]) {
			t.Errorf("action=user.*: the page shows %d rows %v\nthe API answers %v", len(got), got, want[:50])
		}
		if len(want) <= 50 {
			t.Fatalf("the API answers %d logins, want more than a page", len(want))
		}
		for page := 2; !eval[bool](t, ctx, `document.getElementById("more").hidden`); page++ {
			if page > 3 {
				t.Fatal("load more is offered after the last page")
			}
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#more"))); err != nil {
				t.Fatal(err)
			}
			e.settle(ctx)
			if got, w := e.rowIDs(ctx), want[:min(50*page, len(want))]; !slices.Equal(got, w) {
				t.Errorf("after load more %d: the page shows %d rows, the API %d", page-1, len(got), len(w))
			}
		}
		if got := len(e.rowIDs(ctx)); got != len(want) {
			t.Errorf("after the last page: %d rows, the API has %d", got, len(want))
		}
		// Status and actor.
		err = chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS("#reset")),
			chromedp.SetValue(chromedp.CSS("#f-user"), "u-alice"),
			chromedp.SetValue(chromedp.CSS("#f-status"), "failure"),
			chromedp.Click(chromedp.CSS("#apply")))
		if err != nil {
			t.Fatal(err)
		}
		e.settle(ctx)
		if got, want := e.rowIDs(ctx), e.apiIDs(e.admin, "user_id=u-alice&status=failure", 50); len(want) == 0 || !slices.Equal(got, want) {
			t.Errorf("user_id=u-alice&status=failure: page %v, API %v", got, want)
		}
		e.noErrors(pe)
	})

	t.Run("detail shows the diff", func(t *testing.T) {
		e.t = t
		ctx, pe := e.open("#token=" + url.QueryEscape(e.admin))
		rec := e.c.auditLog(e.admin, "action=user.profile_update")
		if len(rec) != 1 {
			t.Fatalf("got %d profile updates, want 1", len(rec))
		}
		err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#f-action"), "user.profile_update"),
			chromedp.Click(chromedp.CSS("#apply")))
		if err != nil {
			t.Fatal(err)
		}
		e.settle(ctx)
		err = chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#rows tr[data-id="`+rec[0].ID.String()+`"] button`)),
			chromedp.WaitVisible(chromedp.CSS("#detail")))
		if err != nil {
			t.Fatal(err)
		}
		rows := eval[[][]string](t, ctx, `Array.from(document.querySelectorAll("#detail-changes tbody tr")).map(r => Array.from(r.cells).map(c => c.textContent))`)
		want := [][]string{{"email", "bob@example.com", "→", "robert@example.com"}, {"name", "Bob", "→", "Robert"}}
		if !slices.EqualFunc(rows, want, slices.Equal) {
			t.Errorf("changes: got %q, want %q", rows, want)
		}
		focused := eval[string](t, ctx, `document.activeElement.id`)
		if focused != "detail-title" {
			t.Errorf("focus after opening the detail: got #%s, want #detail-title", focused)
		}
		e.noErrors(pe)
	})

	t.Run("planted scripts run nowhere", func(t *testing.T) {
		e.t = t
		ctx, pe := e.open("#token=" + url.QueryEscape(e.admin))
		e.filter(ctx, "#f-user", "u-evil")
		ids := e.rowIDs(ctx)
		if len(ids) != len(e.payloads()) {
			t.Fatalf("got %d planted rows, want %d", len(ids), len(e.payloads()))
		}
		for _, id := range ids {
			err := chromedp.Do(ctx,
				chromedp.Click(chromedp.CSS(`#rows tr[data-id="`+id+`"] button`)),
				chromedp.WaitVisible(chromedp.CSS("#detail")),
				chromedp.Sleep(100*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			detail := e.text(ctx, "#detail")
			for _, p := range e.payloads() {
				if strings.Contains(detail, p) {
					continue
				}
				if !strings.Contains(e.text(ctx, "#rows"), p) {
					t.Errorf("payload %q is shown nowhere as text", p)
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
		counts := eval[map[string]int](t, ctx, `({
			scripts: document.scripts.length,
			imgs: document.images.length,
			svgs: document.querySelectorAll("svg").length,
			links: document.querySelectorAll("a[href]").length,
			handlers: Array.from(document.querySelectorAll("*")).filter(el => Array.from(el.attributes).some(a => a.name.startsWith("on"))).length,
		})`)
		if want := map[string]int{"scripts": 1, "imgs": 0, "svgs": 0, "links": 0, "handlers": 0}; !mapsEqual(counts, want) {
			t.Errorf("elements in the page: got %v, want %v", counts, want)
		}
		if n := e.plantHits.Load(); n != 0 {
			t.Errorf("the planted server was hit %d times, want 0", n)
		}
		e.noErrors(pe)
	})

	t.Run("hidden characters are shown as escapes", func(t *testing.T) {
		e.t = t
		// An anonymous failed login whose email, shown raw, reads as
		// alice@example.com; and an event with every kind of hidden
		// character in its fields, details and changes.
		const spoof = "\u202emoc.elpmaxe@ecila"
		e.c.want(401, e.c.do("POST", "/login", "", `{"email":`+jsString(spoof)+`,"password":"wrong"}`))
		hostile := "a\u200eb\u200fc\u061cd\u2066e\u2069f\u202ag\u202bh\u202ci\u202dj\u2028k\u2029l\u0085m\u009bn\x7fo\x1bp\tq"
		// an identity holds no control character (audit.CheckID), the rest it may
		hostileID := "a\u200eb\u200fc\u061cd\u2066e\u2069f\u202ag\u202bh\u202ci\u202dj\u2028k\u2029l"
		err := e.app.logger.Log(context.Background(), audit.Event{
			UserID: "u-hidden", UserEmail: hostile, UserAgent: hostile, Action: "document.share",
			ResourceType: "document", ResourceID: hostileID, RequestID: "req-hidden", SessionID: hostileID,
			Details: map[string]any{"note": hostile, hostile: []any{hostile}},
			Changes: map[string]audit.Change{"title": {Before: hostile, After: spoof}},
			Status:  audit.StatusFailure, ErrorMessage: hostile,
		})
		if err != nil {
			t.Fatal(err)
		}
		var loginID string
		for _, r := range e.c.auditLog(e.admin, "action=user.login&status=failure") {
			if r.UserEmail == spoof {
				loginID = r.ID.String()
			}
		}
		hidden := e.c.auditLog(e.admin, "user_id=u-hidden")
		for deadline := time.Now().Add(10 * time.Second); len(hidden) == 0 && time.Now().Before(deadline); { // delivered Async
			time.Sleep(50 * time.Millisecond)
			hidden = e.c.auditLog(e.admin, "user_id=u-hidden")
		}
		if loginID == "" || len(hidden) != 1 || hidden[0].UserEmail != hostile {
			t.Fatalf("the log holds login %q and %d hidden events (%+v), want the spoofed login and 1 event as written", loginID, len(hidden), hidden)
		}
		ctx, pe := e.open("#token=" + url.QueryEscape(e.admin))
		raw := "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c\u2028\u2029\u0085\u009b\x7f\x1b"
		// shownText is what the page displays in sel (innerText) and
		// whether it holds a hidden character raw.
		shownText := func(sel string) string {
			t.Helper()
			text := eval[string](t, ctx, `document.querySelector(`+jsString(sel)+`).innerText`)
			if i := strings.IndexAny(text, raw); i >= 0 {
				r, _ := utf8.DecodeRuneInString(text[i:])
				t.Errorf("%s displays %U raw: %q", sel, r, text)
			}
			return text
		}
		for _, f := range []struct{ sel, query, id string }{
			{"#f-action", "user.login", loginID},
			{"#f-user", "u-hidden", hidden[0].ID.String()},
		} {
			eval[bool](t, ctx, `(document.getElementById("f-user").value = "", document.getElementById("f-action").value = "", true)`)
			err := chromedp.Do(ctx,
				chromedp.SetValue(chromedp.CSS(f.sel), f.query),
				chromedp.Click(chromedp.CSS("#apply")))
			if err != nil {
				t.Fatal(err)
			}
			e.settle(ctx)
			row := `#rows tr[data-id="` + f.id + `"]`
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(row+" button")), chromedp.WaitVisible(chromedp.CSS("#detail"))); err != nil {
				t.Fatal(err)
			}
			rowText, detail := shownText(row), shownText("#detail")
			if f.id == loginID {
				// the override is visible where the email is shown
				if want := `\u202Emoc.elpmaxe@ecila`; !strings.Contains(eval[string](t, ctx, `document.querySelector(`+jsString(row+" .email")+`).innerText`), want) ||
					!strings.Contains(detail, want) {
					t.Errorf("the spoofed email is not shown as %s:\nrow %q\ndetail %q", want, rowText, detail)
				}
				if strings.Contains(rowText+detail, "alice@example.com") {
					t.Errorf("the page shows alice@example.com for the spoofed email")
				}
				continue
			}
			want := `a\u200Eb\u200Fc\u061Cd\u2066e\u2069f\u202Ag\u202Bh\u202Ci\u202Dj\u2028k\u2029l\u0085m\u009Bn\u007Fo\u001Bp\u0009q`
			for _, part := range []string{"#detail-fields", "#detail-tree", "#detail-changes"} {
				if got := shownText(part); !strings.Contains(got, want) {
					t.Errorf("%s: got %q, want it to show %s", part, got, want)
				}
			}
			if !strings.Contains(rowText, want) {
				t.Errorf("row: got %q, want it to show %s", rowText, want)
			}
		}
		// The escapes are styled apart from the text around them.
		style := eval[map[string]string](t, ctx, `(() => {
			const esc = document.querySelector("#detail-fields .esc"), dd = esc.parentElement;
			return {esc: getComputedStyle(esc).backgroundColor + " " + getComputedStyle(esc).color,
				text: getComputedStyle(dd).backgroundColor + " " + getComputedStyle(dd).color};
		})()`)
		if style["esc"] == style["text"] {
			t.Errorf("escapes look like the text around them: %v", style)
		}
		if label := eval[string](t, ctx, `document.querySelector("#rows tr button").getAttribute("aria-label")`); strings.ContainsAny(label, raw) {
			t.Errorf("aria-label holds a hidden character raw: %q", label)
		}
		e.noErrors(pe)
	})

	t.Run("a token scoped to bob shows only bob", func(t *testing.T) {
		e.t = t
		token := e.mint(`{"user_id":"u-bob"}`)
		ctx, pe := e.open("#token=" + token)
		ids := e.rowIDs(ctx)
		if len(ids) == 0 {
			t.Fatal("bob's token shows no rows")
		}
		for _, id := range ids {
			r := e.c.want(200, e.c.do("GET", "/audit-logs/"+id, e.admin, ""))
			var rec audit.Record
			r.json(t, &rec)
			if rec.UserID != "u-bob" {
				t.Errorf("bob's token shows %s of %q", id, rec.UserID)
			}
		}
		// Asking for alice answers nothing.
		err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#f-user"), "u-alice"),
			chromedp.Click(chromedp.CSS("#apply")))
		if err != nil {
			t.Fatal(err)
		}
		e.settle(ctx)
		if got := e.rowIDs(ctx); len(got) != 0 {
			t.Errorf("bob's token asking for alice: got %d rows, want 0", len(got))
		}
		if got := e.text(ctx, "#count"); got != "No events match." {
			t.Errorf("count: got %q", got)
		}
		if got := e.text(ctx, "#chain"); !strings.Contains(got, "not configured") {
			t.Errorf("chain status: got %q, want not configured", got)
		}
		e.noErrors(pe)
	})

	t.Run("a tenant's token shows its tenant only", func(t *testing.T) {
		e.t = t
		// Two customer organisations; both have a user u-shared and a
		// document doc-1. Everything of globex is marked globex-secret.
		var globexIDs []string
		for i := range 12 {
			tenant, ev := "t-acme", audit.Event{
				UserID: "u-shared", Action: "document.share", ResourceType: "document", ResourceID: "doc-1",
				Status: audit.StatusSuccess, Details: map[string]any{"n": i},
			}
			if i%2 == 1 {
				tenant = "t-globex"
				ev.UserEmail = fmt.Sprintf("globex-secret-%d@example.com", i)
				ev.Details = map[string]any{"note": "globex-secret"}
			}
			if err := e.app.logger.Log(audit.WithTenant(context.Background(), tenant), ev); err != nil {
				t.Fatal(err)
			}
		}
		for deadline := time.Now().Add(10 * time.Second); len(globexIDs) < 6 && time.Now().Before(deadline); { // delivered Async
			time.Sleep(50 * time.Millisecond)
			globexIDs = globexIDs[:0]
			for _, r := range e.c.auditLog(e.admin, "tenant_id=t-globex") {
				globexIDs = append(globexIDs, r.ID.String())
			}
		}
		if len(globexIDs) != 6 {
			t.Fatalf("the admin sees %d records of globex, want 6", len(globexIDs))
		}
		acme := e.c.auditLog(e.admin, "tenant_id=t-acme&action=document.share")
		token := e.mint(`{"tenant_id":"t-acme","subject":"acme-admin"}`)
		ctx, pe := e.open("#token=" + token)
		noGlobex := func(what string) {
			t.Helper()
			html := eval[string](t, ctx, `document.documentElement.outerHTML`)
			for _, id := range globexIDs {
				if strings.Contains(html, id) {
					t.Errorf("%s: the page holds globex's record %s", what, id)
				}
			}
			if strings.Contains(html, "globex-secret") {
				t.Errorf("%s: the page holds a value of globex", what)
			}
		}
		shown := e.rowIDs(ctx)
		if len(shown) < len(acme) {
			t.Errorf("acme's token shows %d rows, want at least acme's %d events", len(shown), len(acme))
		}
		noGlobex("first page")
		// Filters that match both tenants, typed in the page: the page
		// shows what the API answers acme, and nothing of globex.
		for _, f := range []struct{ user, action, rtype, query string }{
			{"u-shared", "", "", "user_id=u-shared"},
			{"", "document.*", "", "action=document.*"},
			{"u-shared", "", "document", "user_id=u-shared&resource_type=document"},
		} {
			eval[bool](t, ctx, `(document.getElementById("f-user").value = `+jsString(f.user)+`, document.getElementById("f-action").value = `+jsString(f.action)+
				`, document.getElementById("f-rtype").value = `+jsString(f.rtype)+`, true)`)
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#apply"))); err != nil {
				t.Fatal(err)
			}
			e.settle(ctx)
			got, want := e.rowIDs(ctx), e.apiIDs(token, f.query, 50)
			if !slices.Equal(got, want) {
				t.Errorf("%s with acme's token: the page shows %v, the API answers %v", f.query, got, want)
			}
			if f.user != "" && len(got) != len(acme) {
				t.Errorf("%s with acme's token: %d rows, want acme's %d", f.query, len(got), len(acme))
			}
			noGlobex(f.query)
		}
		e.noErrors(pe) // before the 404s asked for below, which the browser logs
		// A detail fetch of a globex id, from the page with its token:
		// answered as an id that does not exist.
		for _, id := range globexIDs[:2] {
			status := eval[float64](t, ctx, `(async () => (await fetch("/audit-logs/`+id+`", {headers: {Authorization: "Bearer `+token+`"}})).status)()`)
			if status != 404 {
				t.Errorf("GET globex's %s with acme's token: status %v, want 404", id, status)
			}
		}
		missing := eval[float64](t, ctx, `(async () => (await fetch("/audit-logs/00000000-0000-7000-8000-000000000000", {headers: {Authorization: "Bearer `+token+`"}})).status)()`)
		if missing != 404 {
			t.Errorf("GET a missing id with acme's token: status %v, want 404", missing)
		}
		// The export the page offers holds acme only.
		body := eval[string](t, ctx, `(async () => (await fetch("/audit-logs/export?format=ndjson&user_id=u-shared", {headers: {Authorization: "Bearer `+token+`"}})).text())()`)
		if n := strings.Count(body, `"tenant_id":"t-acme"`); n < len(acme) || strings.Contains(body, "t-globex") {
			t.Errorf("acme's export: %d rows of acme, want %d, and none of globex:\n%.400s", n, len(acme), body)
		}

		// The same token, expired, is refused.
		later := e.clock.Load().Add(viewer.DefaultTTL)
		e.clock.Store(&later)
		ctx, _ = e.open("#token=" + token)
		if got := e.rowIDs(ctx); len(got) != 0 {
			t.Errorf("expired tenant token: got %d rows, want 0", len(got))
		}
		if msg := e.text(ctx, "#message"); !strings.Contains(msg, refusedLink) {
			t.Errorf("expired tenant token: message %q, want %q", msg, refusedLink)
		}
	})

	t.Run("expired and forged tokens are refused", func(t *testing.T) {
		e.t = t
		token := e.mint(`{"user_id":"u-bob"}`)
		later := e.clock.Load().Add(viewer.DefaultTTL)
		e.clock.Store(&later)
		for name, tok := range map[string]string{"expired": token, "forged": strings.Replace(token, ".", ".x", 1)} {
			ctx, _ := e.open("#token=" + tok)
			if got := e.rowIDs(ctx); len(got) != 0 {
				t.Errorf("%s token: got %d rows, want 0", name, len(got))
			}
			if msg := e.text(ctx, "#message"); !strings.Contains(msg, refusedLink) {
				t.Errorf("%s token: message %q, want %q", name, msg, refusedLink)
			}
			accessShown := eval[bool](t, ctx, `!document.getElementById("access").hidden`)
			if !accessShown {
				t.Errorf("%s token: the access form is not offered", name)
			}
		}
	})

	// What a customer meets (issue 21 item 7); viewer_customer_test.go.
	t.Run("a malformed link", e.malformedLink)
	t.Run("after a 401", e.afterRefusal)
	t.Run("a scoped token and the chain status", e.scopedChainStatus)
	t.Run("long values, ids and the layout", e.customerLayout)
}

// refusedLink is what the page tells a customer whose link is refused.
const refusedLink = "Your viewer link has expired or is not valid. Ask whoever sent you this link for a new one."

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// eval evaluates expr in the page.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}
