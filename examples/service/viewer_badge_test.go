package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"
	_ "modernc.org/sqlite" // the tamperer's own connection to the store's file

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/chain/checkpoint"
	"github.com/trailmark/audit/store/sqlite"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
	"github.com/trailmark/audit/trail"
	"github.com/trailmark/audit/viewer"
)

// The proof badge tests: the viewer checks each record it shows in
// Chromium (viewer/assets/proof.js), against a trail.Trail on SQLite
// whose Sealer signs the Merkle tree's checkpoints. They run when
// AUDIT_TEST_CHROMIUM names the browser.

// badgeToken reads the whole log; scopedToken only the records of u-1,
// as a customer's viewer token does.
const (
	badgeToken  = "badge-test-token"
	scopedToken = "badge-scoped-token"
)

type badgeEnv struct {
	t       *testing.T
	path    string // the SQLite file
	trail   *trail.Trail
	srv     *httptest.Server
	browser context.Context
	ids     []uuid.UUID // the seeded records, oldest first
}

func badgeAuth() api.Authorizer {
	return api.AuthorizeFunc(func(r *http.Request) (api.Caller, error) {
		switch r.Header.Get("Authorization") {
		case "Bearer " + badgeToken:
			return api.Caller{Actor: audit.Actor{UserID: "auditor"}}, nil
		case "Bearer " + scopedToken:
			return api.Caller{Actor: audit.Actor{UserID: "customer"}, Scope: api.Scope{UserID: "u-1"}}, nil
		}
		return api.Caller{}, api.ErrUnauthenticated
	})
}

func newKeyFile(t *testing.T) *chain.KeyFile {
	t.Helper()
	var buf bytes.Buffer
	if err := chain.WriteNewKeyFile(&buf, "hmac-1", "sign-1"); err != nil {
		t.Fatal(err)
	}
	kf, err := chain.ReadKeyFile(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return kf
}

// newBadgeEnv serves sealed records: a trail.Trail on SQLite whose
// Sealer seals every 20 ms, seeded with badgeEvents, each in a signed
// checkpoint.
func newBadgeEnv(t *testing.T) *badgeEnv {
	t.Helper()
	e := newBadgeTrail(t, 20*time.Millisecond)
	e.seed(true)
	return e
}

// newBadgeTrail is newBadgeEnv without the records, its Sealer sealing
// every sealEvery.
func newBadgeTrail(t *testing.T, sealEvery time.Duration) *badgeEnv {
	t.Helper()
	chromium := os.Getenv("AUDIT_TEST_CHROMIUM")
	if chromium == "" {
		t.Skip("AUDIT_TEST_CHROMIUM is not set (e.g. /usr/bin/chromium)")
	}
	ctx := context.Background()
	e := &badgeEnv{t: t, path: filepath.Join(t.TempDir(), "audit.db")}
	st, err := sqlite.Open(ctx, e.path, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.trail, err = trail.New(st, &trail.Options{
		Keys:   newKeyFile(t),
		Sealer: &chain.SealerOptions{Interval: sealEvery, Origin: "example.com/audit"},
	})
	if err != nil {
		st.Close(ctx)
		t.Fatal(err)
	}
	h, err := e.trail.Handler("/audit-logs", badgeAuth(), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(h)
	t.Cleanup(func() {
		e.srv.Close()
		e.trail.Close(context.Background())
	})
	e.browser = newChromium(t, chromium)
	return e
}

// badgeEvents are the seeded events: numbers in every notation, keys
// that sort differently by UTF-16 and by UTF-8, nesting, hidden
// characters, an IPv4-mapped address, the tagged fields.
func badgeEvents() []audit.Event {
	evs := []audit.Event{
		{UserID: "u-1", UserEmail: "ada@example.com", IPAddress: netip.MustParseAddr("::ffff:192.0.2.7"), UserAgent: "Mozilla/5.0",
			Action: "document.update", ResourceType: "document", ResourceID: "doc-1",
			Details: map[string]any{"n": json.Number("1.50e1"), "big": json.Number("123456789012345678901234567890"), "neg": json.Number("-0.000"),
				"tiny": json.Number("1e-7"), "f": 0.1, "list": []any{1, "two", nil, true, map[string]any{"z": 1, "a": 2}}},
			Changes:   map[string]audit.Change{"title": {Before: "Draft", After: "Final"}},
			RequestID: "req-1", SessionID: "sess-1", Status: audit.StatusSuccess, TenantID: "acme",
			TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", SpanID: "00f067aa0ba902b7"},
		{UserID: "u-2", Action: "user.login", ResourceType: "session", Status: audit.StatusFailure, ErrorMessage: "bad password",
			IPAddress: netip.MustParseAddr("2001:db8::1")},
		{UserID: "ü-ñ 日本", Action: "document.share", ResourceType: "document", ResourceID: "\u202eevil\u2069",
			Details: map[string]any{"\U0001F600": "emoji key", "\uFFFD": "replacement", "\uE000": "private use", "Z": "<&>\u2028\t\"\\",
				"deep": map[string]any{"a": map[string]any{"b": map[string]any{"c": []any{[]any{[]any{"x"}}}}}}},
			Status: audit.StatusSuccess},
		{UserID: "u-3", Action: "api_key.create", ResourceType: "api_key", ResourceID: "k-1", Details: map[string]any{}, Status: audit.StatusSuccess},
		{UserID: "u-4", Action: "report.export", ResourceType: "report", ResourceID: "r-9", Status: audit.StatusError, ErrorMessage: "timeout",
			Details: map[string]any{"rows": 1200, "ratio": json.Number("0.25"), "ok": false}},
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range evs {
		evs[i].ID = uuid.New()
		evs[i].OccurredAt = base.Add(time.Duration(i)*time.Minute + 123456789*time.Nanosecond)
	}
	return evs
}

// seed logs the events and, when sealed, waits until each is in a
// signed checkpoint.
func (e *badgeEnv) seed(sealed bool) {
	t := e.t
	ctx := context.Background()
	for _, ev := range badgeEvents() {
		if err := e.trail.Logger().Log(ctx, ev); err != nil {
			t.Fatal(err)
		}
		e.ids = append(e.ids, ev.ID)
	}
	if !sealed {
		return
	}
	ts := e.trail.Store().(storekit.TreeReader)
	deadline := time.Now().Add(20 * time.Second)
	for _, id := range e.ids {
		for {
			if _, err := chain.Prove(ctx, ts, id); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("record %s not in a signed checkpoint: %v", id, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// badges opens the viewer at u, with a tall window so that every row is
// in view, waits until the badges of the seeded records are settled, and
// returns them by record id: state, and the reason the page gives.
func (e *badgeEnv) badges(u string) map[uuid.UUID][2]string {
	e.t.Helper()
	return e.badgesOf(u, badgeToken, e.ids)
}

// badgesOf is badges for the page opened with token, for the records ids.
func (e *badgeEnv) badgesOf(u, token string, ids []uuid.UUID) map[uuid.UUID][2]string {
	e.t.Helper()
	ctx, cancel := chromedp.NewContext(e.browser)
	defer cancel()
	ctx, cancelTime := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTime()
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 4000), chromedp.Navigate(u+"#token="+token)); err != nil {
		e.t.Fatal(err)
	}
	idsJSON, _ := json.Marshal(ids)
	js := `(() => {
		const out = {};
		for (const id of ` + string(idsJSON) + `) {
			const b = document.querySelector('tr[data-id="' + id + '"] .proof');
			if (!b || b.dataset.proof === "pending" || b.dataset.proof === "checking") return null;
			out[id] = [b.dataset.proof, (b.querySelector(".proof-reason") || {}).textContent || ""];
		}
		return out;
	})()`
	for {
		if got := eval[map[uuid.UUID][2]string](e.t, ctx, js); got != nil {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tamper changes stored records as someone with write access to the file
// would: the append-only trigger dropped, then an UPDATE.
func (e *badgeEnv) tamper(stmts ...string) {
	e.t.Helper()
	db, err := sql.Open("sqlite", e.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	for _, s := range append([]string{"DROP TRIGGER IF EXISTS audit_logs_no_update"}, stmts...) {
		if _, err := db.Exec(s); err != nil {
			e.t.Fatalf("%s: %v", s, err)
		}
	}
}

func idBlob(id uuid.UUID) string { return "x'" + hex.EncodeToString(id[:]) + "'" }

// TestViewerBadge: every record the page shows verifies in the browser;
// after records are changed in the store behind the API, theirs do not,
// and the others still do; a page given another key verifies none.
func TestViewerBadge(t *testing.T) {
	e := newBadgeEnv(t)
	page := e.srv.URL + "/audit-logs/viewer/"
	got := e.badges(page)
	for _, id := range e.ids {
		if got[id][0] != "verified" {
			t.Errorf("record %s: badge %q (%s), want verified", id, got[id][0], got[id][1])
		}
	}

	// The page names the key, with the fingerprint the operator publishes.
	ctx, cancel := chromedp.NewContext(e.browser)
	if err := chromedp.Do(ctx, chromedp.Navigate(page+"#token="+badgeToken)); err != nil {
		t.Fatal(err)
	}
	keyText := eval[string](t, ctx, `document.getElementById("log-key").textContent`)
	// The detail shows the digits it checked, and its badge.
	eval[any](t, ctx, `new Promise((done) => {
		const go = () => {
			const b = document.querySelector('tr[data-id="`+e.ids[0].String()+`"] .open');
			if (b) { b.click(); done(); } else setTimeout(go, 20);
		};
		go();
	})`)
	detail := eval[string](t, ctx, `new Promise((done) => {
		const go = () => {
			const p = document.querySelector("#detail-fields .proof");
			if (p && p.dataset.proof !== "checking") done(p.dataset.proof + " " + document.getElementById("detail-tree").innerText);
			else setTimeout(go, 20);
		};
		go();
	})`)
	for _, want := range []string{"verified ", "123456789012345678901234567890", "0.0000001", "0.1"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the detail of record 0 has no %q: %.500s", want, detail)
		}
	}
	cancel()
	if fp := viewer.KeyFingerprint(e.trail.LogKey()); !strings.Contains(keyText, fp) || !strings.Contains(keyText, "example.com/audit") {
		t.Errorf("the page says %q; want the origin example.com/audit and fingerprint %s", keyText, fp)
	}

	// Tampered: an actor renamed, a number in Details changed (in the
	// canonical form the store holds), a time moved by a microsecond.
	e.tamper(
		"UPDATE audit_logs SET user_id = 'mallory' WHERE id = "+idBlob(e.ids[1]),
		"UPDATE audit_logs SET details = replace(details, '\"ratio\":0.25', '\"ratio\":0.26') WHERE id = "+idBlob(e.ids[4]),
		"UPDATE audit_logs SET ts = ts + 1 WHERE id = "+idBlob(e.ids[3]),
	)
	tampered := map[uuid.UUID]bool{e.ids[1]: true, e.ids[3]: true, e.ids[4]: true}
	got = e.badges(page)
	for _, id := range e.ids {
		want := "verified"
		if tampered[id] {
			want = "failed"
		}
		if got[id][0] != want {
			t.Errorf("after tampering, record %s: badge %q (%s), want %s", id, got[id][0], got[id][1], want)
		}
	}
	if r := got[e.ids[1]][1]; !strings.Contains(r, "not the one the log sealed") {
		t.Errorf("the tampered record's badge says %q", r)
	}

	// A customer's scoped token reads only u-1's record, and checks it.
	got = e.badgesOf(page, scopedToken, e.ids[:1])
	if got[e.ids[0]][0] != "verified" {
		t.Errorf("with a scoped token, record %s: badge %q (%s), want verified", e.ids[0], got[e.ids[0]][0], got[e.ids[0]][1])
	}

	// A page with another log's key verifies nothing.
	other := newKeyFile(t)
	wrong, err := chain.VerifierKey("example.com/audit", other.SigningKey().Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	h, err := e.trail.Handler("/audit-logs", badgeAuth(), &trail.HandlerOptions{Viewer: &viewer.Options{LogKey: wrong}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	got = e.badges(srv.URL + "/audit-logs/viewer/")
	for _, id := range e.ids {
		if got[id][0] != "failed" || !strings.Contains(got[id][1], "not signed by the log key") {
			t.Errorf("with another key, record %s: badge %q (%s), want failed: not signed", id, got[id][0], got[id][1])
		}
	}
}

// TestViewerBadgeNotSealed: records logged after the Sealer's step show
// "Not sealed yet", not a failure.
func TestViewerBadgeNotSealed(t *testing.T) {
	e := newBadgeTrail(t, time.Hour)
	for deadline := time.Now().Add(10 * time.Second); e.trail.Sealer().Stats().LastRun.IsZero(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the Sealer did not run")
		}
	}
	e.seed(false) // sealed in an hour
	got := e.badges(e.srv.URL + "/audit-logs/viewer/")
	for _, id := range e.ids {
		if got[id][0] != "unsealed" {
			t.Errorf("record %s: badge %q (%s), want unsealed", id, got[id][0], got[id][1])
		}
	}
}

// TestViewerBadgeOtherRecord: a server that shows one record and sends
// the proof of another, even relabelled with the shown record's id, fails
// in the browser.
func TestViewerBadgeOtherRecord(t *testing.T) {
	e := newBadgeEnv(t)
	get := func(path string) []byte {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+badgeToken)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	a, b := e.ids[0], e.ids[2]
	// Raw values, so that the numbers in Details keep their text.
	var proofB map[string]json.RawMessage
	if err := json.Unmarshal(get("/audit-logs/"+b.String()+"/proof"), &proofB); err != nil {
		t.Fatal(err)
	}
	var pa map[string]json.RawMessage
	if err := json.Unmarshal(get("/audit-logs/"+a.String()+"/proof"), &pa); err != nil {
		t.Fatal(err)
	}
	recA := pa["record"]
	relabelled := map[string]json.RawMessage{}
	for k, v := range proofB {
		relabelled[k] = v
	}
	relabelled["record_id"], _ = json.Marshal(a.String())
	relabelled["record"] = recA

	ctx, cancel := chromedp.NewContext(e.browser)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(e.srv.URL+"/audit-logs/viewer/#token="+badgeToken)); err != nil {
		t.Fatal(err)
	}
	check := func(rec, proof any) string {
		r, _ := json.Marshal(rec)
		p, _ := json.Marshal(proof)
		k, _ := json.Marshal(e.trail.LogKey())
		js := fmt.Sprintf(`(async () => {
			const P = TrailmarkProof;
			const r = await P.verify(P.parseExact(%q), P.parseExact(%q), await P.parseKey(%s));
			return r.state + ": " + r.reason;
		})()`, r, p, k)
		return eval[string](t, ctx, js)
	}
	if got := check(recA, pa); !strings.HasPrefix(got, "verified") {
		t.Errorf("A with its own proof: %s", got)
	}
	if got := check(recA, proofB); !strings.Contains(got, "failed: the proof is of another record") {
		t.Errorf("A with B's proof: %s", got)
	}
	if got := check(recA, relabelled); !strings.HasPrefix(got, "failed: the record shown is not the one the log sealed") {
		t.Errorf("A with B's proof relabelled as A's: %s", got)
	}
}

// served is r as the API serves it: Details or Changes that are not JSON
// as a JSON string (api's readable), then encoding/json.
func served(r audit.Record) ([]byte, bool) {
	for _, j := range []*json.RawMessage{&r.Details, &r.Changes} {
		if len(*j) > 0 && !json.Valid(*j) {
			*j, _ = json.Marshal(string(*j))
		}
	}
	b, err := json.Marshal(r)
	return b, err == nil
}

// TestViewerDigestMatchesGo runs the page's digest (proof.js) over a
// corpus of records as the API serves them and compares it with
// storekit.Digest of the same served record, so that the two cannot
// drift: storetest.Records, the hostile corpus, and records made to find
// the corners (numbers, key order, escapes, times, addresses).
func TestViewerDigestMatchesGo(t *testing.T) {
	chromium := os.Getenv("AUDIT_TEST_CHROMIUM")
	if chromium == "" {
		t.Skip("AUDIT_TEST_CHROMIUM is not set (e.g. /usr/bin/chromium)")
	}
	kf := newKeyFile(t)
	vkey, err := chain.VerifierKey(chain.DefaultOrigin, kf.SigningKey().Key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	v, err := viewer.New(badgeAuth(), &viewer.Options{LogKey: vkey})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(v)
	defer srv.Close()

	var corpus []audit.Record
	corpus = append(corpus, storetest.Records(0, 40)...)
	for _, h := range storetest.HostileRecords(rand.New(rand.NewPCG(7, 22)), 60) {
		corpus = append(corpus, h.Record)
	}
	corpus = append(corpus, cornerRecords()...)

	var texts []string
	var want []string
	var roundTrips, names int
	for _, r := range corpus {
		b, ok := served(r)
		if !ok {
			continue // the API cannot serve it either (a year past 9999)
		}
		var r2 audit.Record
		if err := json.Unmarshal(b, &r2); err != nil {
			t.Fatalf("the served record does not decode: %v", err)
		}
		w := "cannot"
		if d, err := storekit.Digest(&r2); err == nil {
			w = hex.EncodeToString(d)
			if d0, _ := storekit.SealDigest(&r); bytes.Equal(d0, d) {
				roundTrips++
			}
		}
		texts = append(texts, string(b))
		want = append(want, w)
		names++
	}

	ctx, cancel := chromedp.NewContext(newChromium(t, chromium))
	defer cancel()
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelTime()
	all, _ := json.Marshal(texts)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/viewer/")); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Promise.all(`+string(all)+`.map((t) => TrailmarkProof.digestHex(t)))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("the digests in the browser: %.2000s", err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d digests from the browser, want %d", len(got), len(want))
	}
	for i := range want {
		g := got[i]
		if want[i] == "cannot" && strings.HasPrefix(g, "cannot: ") {
			continue
		}
		if g != want[i] {
			t.Errorf("record %d: browser %q, Go %q\n%.600s", i, g, want[i], texts[i])
		}
	}
	for i, r := range corpus[:40] { // storetest.Records: each is served as stored
		if d, _ := storekit.Digest(&r); hex.EncodeToString(d) != got[i] {
			t.Errorf("storetest.Record(%d): the browser's digest of the served record is not the stored record's", i)
		}
	}
	t.Logf("%d records compared; %d served with the digest their seal covers", names, roundTrips)
}

// cornerRecords are records whose digests exercise the corners of the
// canonical form.
func cornerRecords() []audit.Record {
	base := storetest.Record(0)
	var out []audit.Record
	add := func(f func(r *audit.Record)) {
		r := base
		r.ID = uuid.New()
		f(&r)
		out = append(out, r)
	}
	for _, d := range []string{
		`{"a":1.50,"b":1e2,"c":-0,"d":0.000,"e":1E+2,"f":-1.5e-3,"g":123456789012345678901234567890,"h":1e400,"i":1e-401,"j":0.1e1,"k":100e-2}`,
		`{"😀":1,"\ufffd":2,"\ue000":3,"a":4,"A":5,"é":6,"z":7}`,
		`{"s":"\u0000 \u0001 \u001f \u007f \u0080 \u2028 \u2029 \ud800 \udc00x \ud83d\ude00 <>& \" \\ \/ \b \f \n \r \t"}`,
		`{"\u0000":"nul key","\ud800":"lone"}`,
		`{"\ud800":"lone","\u0000":"nul key"}`,
		`{"a\ufffd":2,"a\u0000":1,"a\udfff":3,"b":4}`,
		`{"\ud800":1,"\udbff":2,"\u0000x":3,"\ufffdx":4}`,
		`{"a":1,"a":2}`,
		`{"nested":{"b":[{"y":1,"x":[]},{}],"a":null}}`,
		`{"x":` + strings.Repeat("[", 999) + strings.Repeat("]", 999) + `}`,
		`{"x":` + strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + `}`,
		`[1,2]`, `"just a string"`, `null`, `{}`,
	} {
		add(func(r *audit.Record) { r.Details = json.RawMessage(d) })
	}
	add(func(r *audit.Record) {
		r.Changes = json.RawMessage(`{"title":{"before":"a","after":1.0}}`)
		r.Details = nil
	})
	for _, at := range []time.Time{
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1600, 2, 29, 12, 0, 0, 1000, time.FixedZone("", -7*3600-30*60)),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("", 14*3600)),
		time.Date(2024, 2, 29, 1, 2, 3, 4567, time.UTC),
	} {
		add(func(r *audit.Record) { r.OccurredAt, r.RecordedAt = at, at.Add(time.Microsecond) })
	}
	for _, ip := range []string{"::ffff:10.0.0.1", "fe80::1%eth0", "::ffff:10.0.0.1%eth0", "2001:db8::", "0.0.0.0", "::"} {
		add(func(r *audit.Record) { r.IPAddress = netip.MustParseAddr(ip) })
	}
	add(func(r *audit.Record) { r.TenantID, r.TraceID, r.SpanID = "t", "", "s" })
	add(func(r *audit.Record) { r.UserID, r.UserEmail, r.ErrorMessage = "\u202e\u2066", "a\x00b", "\xff\xfe" })
	return out
}

// TestViewerInclusionPaths checks the page's inclusion check against
// golang.org/x/mod/sumdb/tlog at every leaf of every tree of 1 to 17
// leaves: each proof verifies in the browser (and with
// chain.VerifyInclusion); with one hash of its path changed, another
// index, or another tree size, none does.
func TestViewerInclusionPaths(t *testing.T) {
	chromium := os.Getenv("AUDIT_TEST_CHROMIUM")
	if chromium == "" {
		t.Skip("AUDIT_TEST_CHROMIUM is not set (e.g. /usr/bin/chromium)")
	}
	const origin, leaves = "example.com/paths", 17
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := checkpoint.NewSigner(origin, priv)
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := chain.VerifierKey(origin, pub)
	if err != nil {
		t.Fatal(err)
	}
	log, err := chain.LogVerifier(origin, pub)
	if err != nil {
		t.Fatal(err)
	}
	recs := storetest.Records(0, leaves)
	var stored []tlog.Hash
	hr := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	salts := make([][]byte, leaves)
	for i := range recs {
		salts[i] = bytes.Repeat([]byte{byte(i + 1)}, 32)
		d, _ := storekit.SealDigest(&recs[i])
		hs, err := tlog.StoredHashes(int64(i), chain.LeafCommitment(salts[i], d), hr)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	type check struct {
		Record, Proof string
		Want          string
	}
	var checks []check
	for n := int64(1); n <= leaves; n++ {
		root, err := tlog.TreeHash(n, hr)
		if err != nil {
			t.Fatal(err)
		}
		note, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: origin, Size: n, Hash: root}, signer)
		if err != nil {
			t.Fatal(err)
		}
		for i := int64(0); i < n; i++ {
			path, err := tlog.ProveRecord(n, i, hr)
			if err != nil {
				t.Fatal(err)
			}
			p := chain.InclusionProof{Format: chain.InclusionFormat, RecordID: recs[i].ID, Index: i, Salt: salts[i],
				TreeSize: n, Checkpoint: string(note)}
			for _, h := range path {
				p.Hashes = append(p.Hashes, bytes.Clone(h[:]))
			}
			if _, err := chain.VerifyInclusion(&recs[i], &p, log); err != nil {
				t.Fatalf("leaf %d of %d: the Go check: %v", i, n, err)
			}
			rec, _ := json.Marshal(recs[i])
			add := func(p chain.InclusionProof, want string) {
				b, _ := json.Marshal(p)
				checks = append(checks, check{string(rec), string(b), want})
			}
			add(p, "verified")
			if len(p.Hashes) > 0 {
				bad := p
				bad.Hashes = slices.Clone(p.Hashes)
				bad.Hashes[len(bad.Hashes)-1] = bytes.Repeat([]byte{0xee}, 32)
				add(bad, "failed")
			}
			if i+1 < n {
				other := p
				other.Index = i + 1
				add(other, "failed")
			}
			larger := p
			larger.TreeSize = n + 1
			add(larger, "failed")
		}
	}

	v, err := viewer.New(badgeAuth(), &viewer.Options{LogKey: vkey})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(v)
	defer srv.Close()
	ctx, cancel := chromedp.NewContext(newChromium(t, chromium))
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/viewer/")); err != nil {
		t.Fatal(err)
	}
	all, _ := json.Marshal(checks)
	k, _ := json.Marshal(vkey)
	got := eval[[]string](t, ctx, `(async () => {
		const P = TrailmarkProof;
		const key = await P.parseKey(`+string(k)+`);
		const out = [];
		for (const c of `+string(all)+`) {
			const r = await P.verify(P.parseExact(c.Record), P.parseExact(c.Proof), key);
			out.push(r.state);
		}
		return out;
	})()`)
	counts := map[string]int{}
	for i, c := range checks {
		if got[i] != c.Want {
			t.Errorf("check %d: %s, want %s: %.300s", i, got[i], c.Want, c.Proof)
		}
		counts[c.Want]++
	}
	t.Logf("%d proofs checked in the browser: %v", len(checks), counts)
}
