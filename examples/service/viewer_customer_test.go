package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
	"github.com/trailmark/audit/viewer"
)

// What a customer meets in the viewer (issue 21 item 7). These are
// subtests of TestViewerBrowser, which sets up the service and the
// browser once.

// damagedLink is what the page says of a link whose token cannot be read.
const damagedLink = "This viewer link is damaged (it may have been cut when it was copied). Ask whoever sent you this link for a new one."

// malformedLink: a fragment that holds no usable token leaves the
// address bar at once, the page says what to do and keeps working.
// Before, "#token=%E0%A4%A" threw in decodeURIComponent: the page was
// dead and the token stayed in the address bar.
func (e *browserEnv) malformedLink(t *testing.T) {
	e.t = t
	for _, frag := range []string{
		"#token=%E0%A4%A",                   // not percent-encoded UTF-8
		"#token=",                           // empty
		"#token=tmv1.abc%0Adef",             // a line break: no header can carry it
		"#token=tmv1.%E2%82%AC",             // € : no header can carry it
		"#tokn=" + url.QueryEscape(e.admin), // not the token parameter
	} {
		ctx, pe := e.open(frag)
		if loc := eval[string](t, ctx, `location.href`); strings.Contains(loc, "#") || strings.Contains(loc, "tok") {
			t.Errorf("%s: the address bar still holds the fragment: %s", frag, loc)
		}
		if msg := e.text(ctx, "#message"); eval[bool](t, ctx, `document.getElementById("message").hidden`) || msg != damagedLink {
			t.Errorf("%s: message %q, want %q", frag, msg, damagedLink)
		}
		if eval[bool](t, ctx, `document.getElementById("access").hidden`) {
			t.Errorf("%s: the access form is not offered", frag)
		}
		// The page is alive: a pasted token works.
		err := chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS("#token"), e.admin),
			chromedp.Click(chromedp.CSS("#access-form button")))
		if err != nil {
			t.Fatal(err)
		}
		e.settle(ctx)
		if n := len(e.rowIDs(ctx)); n != 50 {
			t.Errorf("%s, then a pasted token: %d rows, want 50", frag, n)
		}
		e.noErrors(pe)
	}
	// A link opened in a tab that shows the page already changes only
	// the fragment: it is taken and removed the same way.
	bob := e.mint(`{"user_id":"u-bob"}`)
	ctx, pe := e.open("#token=" + url.QueryEscape(e.admin))
	for _, frag := range []string{"#token=%E0%A4%A", "#token=" + bob} {
		_, err := chromedp.Run(ctx, chromedp.Steps(
			chromedp.Evaluate[chromedp.Void](`location.hash = `+jsString(frag)),
			chromedp.Poll[chromedp.Void](`location.hash === ""`, chromedp.WithPollingTimeout(10*time.Second))))
		if err != nil {
			t.Fatalf("a new fragment %s: %v (the address bar holds %s)", frag, err, eval[string](t, ctx, `location.href`))
		}
		e.settle(ctx)
	}
	if msg := e.text(ctx, "#message"); !eval[bool](t, ctx, `document.getElementById("message").hidden`) {
		t.Errorf("after bob's link: message %q", msg)
	}
	// The API records the page's read, which bob's token may read: what
	// the page shows is within what the token reads after it.
	got, want := e.rowIDs(ctx), e.apiIDs(bob, "", 100)
	if len(got) == 0 || slices.ContainsFunc(got, func(id string) bool { return !slices.Contains(want, id) }) {
		t.Errorf("after bob's link in the same tab: the page shows %v, bob's token reads %v", got, want)
	}
	e.noErrors(pe)
}

// afterRefusal: a refused token empties the list and its count, and the
// page tells the customer what to do. Before, the count still said "1
// event shown" and the message spoke of a 401.
func (e *browserEnv) afterRefusal(t *testing.T) {
	e.t = t
	token := e.mint(`{"user_id":"u-bob"}`)
	ctx, pe := e.open("#token=" + token)
	e.filter(ctx, "#f-action", "user.profile_update")
	if got, want := e.text(ctx, "#count"), "1 event shown; that is all."; got != want {
		t.Fatalf("count: got %q, want %q", got, want)
	}
	e.noErrors(pe)
	later := e.clock.Load().Add(viewer.DefaultTTL)
	e.clock.Store(&later)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#apply"))); err != nil {
		t.Fatal(err)
	}
	e.settle(ctx)
	if n := len(e.rowIDs(ctx)); n != 0 {
		t.Errorf("after a 401: %d rows, want 0", n)
	}
	if got := e.text(ctx, "#count"); strings.Contains(got, "shown") {
		t.Errorf("after a 401 the count says %q", got)
	}
	if msg := e.text(ctx, "#message"); !strings.HasPrefix(msg, refusedLink) {
		t.Errorf("after a 401: message %q, want %q", msg, refusedLink)
	}
	if eval[bool](t, ctx, `document.getElementById("access").hidden`) {
		t.Error("after a 401 the access form is not offered")
	}
}

// scopedChainStatus: with Options.Status set, an administrator sees the
// chain's state; a tenant's token is told it is not shown, without a
// refused request (a 403 the browser logged on every load, before);
// Options.Contact names whom a refused customer asks.
func (e *browserEnv) scopedChainStatus(t *testing.T) {
	e.t = t
	// Viewer tokens, and alice's session (which the service's
	// middleware, not in front of this page, would read).
	auth := e.app.tokens.Authorizer(api.AuthorizeFunc(func(r *http.Request) (api.Caller, error) {
		if r.Header.Get("Authorization") == "Bearer "+e.admin {
			return api.Caller{Actor: audit.Actor{UserID: "u-alice"}}, nil
		}
		return api.Caller{}, api.ErrUnauthenticated
	}))
	page, err := viewer.New(auth, &viewer.Options{
		Title:   "Acme: audit log",
		Contact: "Acme support",
		Status: func(context.Context) (viewer.ChainStatus, error) {
			return viewer.ChainStatus{LastSeal: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Sealed: 3}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/viewer", page)
	mux.Handle("/viewer/", page)
	mux.Handle("/", e.app.handler)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	chain := func(ctx context.Context) string {
		t.Helper()
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`!document.getElementById("chain").textContent.includes("loading")`,
			chromedp.WithPollingTimeout(20*time.Second)))
		if err != nil {
			t.Fatalf("waiting for the chain status: %v", err)
		}
		return e.text(ctx, "#chain")
	}

	ctx, pe := e.openAt(srv.URL + "/viewer/#token=" + url.QueryEscape(e.admin))
	if got, want := chain(ctx), "last seal 2026-01-02 03:04:05Z, 3 sealed"; !strings.Contains(got, want) {
		t.Errorf("admin: chain status %q, want it to say %q", got, want)
	}
	e.noErrors(pe)

	token := e.mint(`{"tenant_id":"t-acme","subject":"acme-admin"}`)
	ctx, pe = e.openAt(srv.URL + "/viewer/#token=" + token)
	if got, want := chain(ctx), "Chain status: not shown to this link"; !strings.HasPrefix(got, want) {
		t.Errorf("tenant's token: chain status %q, want %q…", got, want)
	}
	e.noErrors(pe)

	later := e.clock.Load().Add(viewer.DefaultTTL)
	e.clock.Store(&later)
	ctx, _ = e.openAt(srv.URL + "/viewer/#token=" + token)
	if msg, want := e.text(ctx, "#message"), "Ask Acme support for a new one."; !strings.Contains(msg, want) {
		t.Errorf("expired token with Contact: message %q, want it to say %q", msg, want)
	}
}

// customerLayout: a customer's events with long values. Before, an S3
// ARN squeezed every row's Status and View to a letter a line; the
// detail showed no tenant, trace or span id, a Changes heading over
// nothing, a 100 KB value whole, and a long action's heading filled the
// screen with Close in its middle. It also takes the screenshots of
// docs/img, and checks the layout they show at 1280 and 390 px.
func (e *browserEnv) customerLayout(t *testing.T) {
	e.t = t
	const (
		arn     = "arn:aws:s3:::acme-corp-production-audit-exports-eu-west-1/exports/2026/11/30/tenant-t-acme/region-eu-west-1/audit-logs-2026-11-30T00-00-00Z-0001-of-0001.ndjson.gz"
		traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		spanID  = "00f067aa0ba902b7"
	)
	// An action as long as an identity may be (audit.MaxIDBytes).
	longAction := ("report.export." + strings.Repeat("quarterly-revenue-by-region.", 40))[:1000]
	big := strings.Repeat("0123456789", 10_000) // 100,000 bytes
	events := []audit.Event{
		{UserID: "u-carol", Action: "document.import", ResourceType: "document", ResourceID: "doc-big", Status: audit.StatusSuccess,
			Details: map[string]any{"content": big}},
		{UserID: "u-carol", Action: audit.Action(longAction), ResourceType: "report", ResourceID: "r-1", Status: audit.StatusFailure,
			ErrorMessage: "the export timed out"},
		{UserID: "u-carol", Action: "object.upload", ResourceType: "s3_object", ResourceID: arn, Status: audit.StatusSuccess},
		{UserID: "u-carol", UserEmail: "carol@acme.example", Action: "document.update", ResourceType: "document", ResourceID: "doc-7",
			Status: audit.StatusSuccess, TraceID: traceID, SpanID: spanID, Details: map[string]any{"source": "web"},
			Changes: map[string]audit.Change{"title": {Before: "Q3 plan", After: "Q4 plan"}}},
	}
	for _, ev := range events {
		if err := e.app.logger.Log(audit.WithTenant(context.Background(), "t-acme"), ev); err != nil {
			t.Fatal(err)
		}
	}
	// The events are delivered Async: wait for them. ids maps action to id.
	ids := map[string]string{}
	for deadline := time.Now().Add(10 * time.Second); len(ids) < len(events) && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		for _, r := range e.c.auditLog(e.admin, "user_id=u-carol") {
			ids[string(r.Action)] = r.ID.String()
		}
	}
	if len(ids) != len(events) {
		t.Fatalf("the log holds %d of carol's %d events: %v", len(ids), len(events), ids)
	}

	ctx, pe := e.open("#token=" + url.QueryEscape(e.admin))
	e.filter(ctx, "#f-user", "u-carol")
	if n := len(e.rowIDs(ctx)); n != len(events) {
		t.Fatalf("carol's events: %d rows, want %d", n, len(events))
	}
	// openDetail opens the event of action and returns the detail's
	// fields (label → value) and its visible headings.
	openDetail := func(action string) (map[string]string, []string) {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`#rows tr[data-id="`+ids[action]+`"] button`)),
			chromedp.WaitVisible(chromedp.CSS("#detail")))
		if err != nil {
			t.Fatal(err)
		}
		fields := eval[map[string]string](t, ctx, `Object.fromEntries(Array.from(document.querySelectorAll("#detail-fields dt")).map(dt => [dt.textContent, dt.nextElementSibling.textContent]))`)
		heads := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#detail h3")).filter(h => h.getClientRects().length > 0).map(h => h.textContent)`)
		return fields, heads
	}

	for _, width := range []int64{1280, 390} {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
			t.Fatal(err)
		}
		e.checkLayout(ctx, width)
		// The longest action: its heading stays short, Close stays in
		// view wherever the detail is scrolled, the action wraps.
		openDetail(longAction)
		for _, at := range []string{"opened", "scrolled to the end"} {
			if at != "opened" {
				eval[bool](t, ctx, `(window.scrollTo(0, document.documentElement.scrollHeight), true)`)
			}
			head := eval[map[string]float64](t, ctx, `(() => {
				const h = document.querySelector("#detail .detail-head").getBoundingClientRect(), c = document.getElementById("close-detail").getBoundingClientRect();
				return {head: h.height, top: c.top, bottom: c.bottom, left: c.left, right: c.right, vh: innerHeight, vw: document.documentElement.clientWidth};
			})()`)
			if head["head"] > 160 || head["top"] < 0 || head["bottom"] > head["vh"] || head["left"] < 0 || head["right"] > head["vw"] {
				t.Errorf("%d px, long action, %s: the detail's heading is %.0f px high, Close at %.0f–%.0f × %.0f–%.0f in a %.0f × %.0f window",
					width, at, head["head"], head["left"], head["right"], head["top"], head["bottom"], head["vw"], head["vh"])
			}
		}
		e.checkLayout(ctx, width)
		if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#close-detail"))); err != nil {
			t.Fatal(err)
		}
		if !eval[bool](t, ctx, `document.getElementById("detail").hidden`) {
			t.Errorf("%d px: Close did not close the detail", width)
		}
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatal(err)
	}
	row := eval[string](t, ctx, `document.querySelector('#rows tr[data-id="`+ids[longAction]+`"] .c-action').innerText`)
	if len(row) > 300 || !strings.Contains(row, "more bytes)") {
		t.Errorf("the list shows %d bytes of the long action, want at most 300 and a note of the rest: %q", len(row), row)
	}

	// No details and no changes: no heading over nothing.
	if _, heads := openDetail("object.upload"); len(heads) != 0 {
		t.Errorf("an event with no details or changes: headings %q, want none", heads)
	}
	// Tenant, trace and span ids are shown.
	fields, heads := openDetail("document.update")
	for label, want := range map[string]string{"Tenant": "t-acme", "Trace id": traceID, "Span id": spanID, "Resource id": "doc-7"} {
		if fields[label] != want {
			t.Errorf("detail: %s = %q, want %q (fields %q)", label, fields[label], want, fields)
		}
	}
	if want := []string{"Details", "Changes"}; strings.Join(heads, ",") != strings.Join(want, ",") {
		t.Errorf("detail headings: got %q, want %q", heads, want)
	}
	// A 100 KB value: a part of it, how much is left, and the whole on
	// request.
	openDetail("document.import")
	shown := eval[string](t, ctx, `document.getElementById("detail").innerText`)
	if len(shown) > 5000 || !strings.Contains(shown, "… (99,000 more bytes)") {
		t.Errorf("a 100 KB value: the detail shows %d bytes, want a part and \"… (99,000 more bytes)\":\n%.300s", len(shown), shown)
	}
	if !eval[bool](t, ctx, `document.querySelector("#detail-tree button.download") !== null`) {
		t.Error("a 100 KB value: no Download button")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#detail-tree button.show-all"))); err != nil {
		t.Fatal(err)
	}
	if got := eval[string](t, ctx, `document.getElementById("detail-tree").textContent`); !strings.Contains(got, big) || strings.Contains(got, "more bytes") {
		t.Errorf("after Show all: the tree shows %d bytes, want the whole value", len(got))
	}
	e.noErrors(pe)

	// The screenshots of docs/img: carol's events and an event's changes.
	openDetail("document.update")
	for _, width := range []int64{1280, 390} {
		e.screenshot(ctx, width)
	}
}

// filter types value into the filter sel, applies the filters and waits
// for the list.
func (e *browserEnv) filter(ctx context.Context, sel, value string) {
	e.t.Helper()
	err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(sel), value),
		chromedp.Click(chromedp.CSS("#apply")))
	if err != nil {
		e.t.Fatal(err)
	}
	e.settle(ctx)
}

// checkLayout reports what a customer could not read at width: a page
// wider than the window, a row's status or View button wrapped (a letter
// a line) or outside the window.
func (e *browserEnv) checkLayout(ctx context.Context, width int64) {
	e.t.Helper()
	bad := eval[[]string](e.t, ctx, `(() => {
		const bad = [], vw = document.documentElement.clientWidth;
		if (document.documentElement.scrollWidth > vw) bad.push("the page is " + document.documentElement.scrollWidth + " px wide in a " + vw + " px window");
		for (const tr of document.querySelectorAll("#rows tr")) {
			for (const [sel, high] of [[".badge", 32], ["button.open", 50]]) {
				const r = tr.querySelector(sel).getBoundingClientRect();
				if (r.height > high) bad.push(sel + " of " + tr.dataset.id + " is " + r.height + " px high");
				if (r.left < 0 || r.right > vw) bad.push(sel + " of " + tr.dataset.id + " is outside the window: " + r.left + "–" + r.right);
			}
		}
		return bad;
	})()`)
	for _, b := range bad {
		e.t.Errorf("%d px: %s", width, b)
	}
}

// screenshot takes the whole page at width into the test's directory
// and, when AUDIT_VIEWER_SCREENSHOTS names a directory (docs/img), into
// it as viewer-<width>.png. The image must be the page at that width.
func (e *browserEnv) screenshot(ctx context.Context, width int64) {
	e.t.Helper()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, 900)); err != nil {
		e.t.Fatal(err)
	}
	height := min(eval[int64](e.t, ctx, `(window.scrollTo(0, 0), document.documentElement.scrollHeight)`), 4000)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height), chromedp.Sleep(200*time.Millisecond)); err != nil {
		e.t.Fatal(err)
	}
	img, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		e.t.Fatal(err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(img))
	if err != nil || int64(cfg.Width) != width || int64(cfg.Height) != height {
		e.t.Errorf("screenshot at %d px: got %d × %d (%v), want %d × %d", width, cfg.Width, cfg.Height, err, width, height)
	}
	name := fmt.Sprintf("viewer-%d.png", width)
	dirs := []string{e.t.TempDir()}
	if out := os.Getenv("AUDIT_VIEWER_SCREENSHOTS"); out != "" {
		dirs = append(dirs, out)
	}
	for _, dir := range dirs {
		if err := os.WriteFile(filepath.Join(dir, name), img, 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
}
