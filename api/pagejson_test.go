package api

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
)

// checkPage holds appendPage, and appendRecord for each record, to
// json.Marshal's bytes, or to its failing.
func checkPage(t *testing.T, p audit.Page) {
	t.Helper()
	want, wantErr := json.Marshal(p)
	got, err := appendPage([]byte("prefix"), &p)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("appendPage error %v, json.Marshal error %v", err, wantErr)
	}
	if err == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("appendPage wrote\n%s\njson.Marshal\n%s", got[len("prefix"):], want)
	}
	for i := range p.Records {
		want, wantErr := json.Marshal(p.Records[i])
		got, err := appendRecord(nil, &p.Records[i])
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("appendRecord error %v, json.Marshal error %v", err, wantErr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("appendRecord wrote\n%s\njson.Marshal\n%s", got, want)
		}
	}
}

func pageRecord() audit.Record {
	return audit.Record{
		ID:         uuid.MustParse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"),
		OccurredAt: time.Date(2026, 12, 7, 23, 59, 1, 123456000, time.UTC),
		RecordedAt: time.Date(2026, 12, 7, 23, 59, 1, 0, time.UTC),
		UserID:     "user-42", UserEmail: "ada@example.com", IPAddress: netip.MustParseAddr("192.0.2.7"),
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", Action: audit.ActionResourceUpdate,
		ResourceType: "document", ResourceID: "doc-7", Details: json.RawMessage(`{"a":1}`),
		RequestID: "req-1", Status: audit.StatusSuccess,
	}
}

func TestAppendPageMatchesMarshal(t *testing.T) {
	checkPage(t, audit.Page{})
	checkPage(t, audit.Page{Records: []audit.Record{}, NextCursor: "c<u>r&s", Tail: "t"})
	base := pageRecord()
	checkPage(t, audit.Page{Records: []audit.Record{base, base}, NextCursor: "next"})

	strs := []string{
		"", "plain", `q"uote`, `back\slash`, "<script>&amp;</script>", "tab\tnl\nret\rbs\bff\f",
		"nul\x00us\x1f del\x7f", "c1 \u0085 \u009b bidi \u202e\u2066 marks \u200e\u061c",
		"seps \u2028\u2029", "bad utf8 \xff\xfe \xc3 \xe2\x80", "émoji 🙂 ünïcode", strings.Repeat("long plain text ", 20),
		strings.Repeat("<", 17), "\xed\xa0\x80 surrogate",
	}
	for _, s := range strs {
		r := base
		r.UserID, r.UserEmail, r.UserAgent, r.Action, r.Status = s, s, s, audit.Action(s), audit.Status(s)
		r.ResourceType, r.ResourceID, r.RequestID, r.SessionID, r.ErrorMessage = s, s, s, s, s
		r.TenantID, r.TraceID, r.SpanID = s, s, s
		checkPage(t, audit.Page{Records: []audit.Record{r}, NextCursor: s, Tail: s})
	}
	// every byte value at every position of strings up to 17 bytes long,
	// across plain8's eight-byte steps
	for c := range 256 {
		for n := 1; n <= 17; n++ {
			for at := range n {
				b := bytes.Repeat([]byte{'a'}, n)
				b[at] = byte(c)
				r := base
				r.UserAgent = string(b)
				checkPage(t, audit.Page{Records: []audit.Record{r}})
			}
		}
	}

	for _, a := range []netip.Addr{{}, netip.MustParseAddr("::1"), netip.MustParseAddr("::ffff:192.0.2.1"),
		netip.MustParseAddr("fe80::1%eth0"), netip.MustParseAddr("fe80::1%<z\"o\\ne>"), netip.MustParseAddr("2001:db8::")} {
		r := base
		r.IPAddress = a
		checkPage(t, audit.Page{Records: []audit.Record{r}})
	}

	for _, tm := range []time.Time{{}, time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", -(9*3600+30*60))), time.Date(2026, 1, 2, 3, 4, 5, 600, time.FixedZone("X", 14*3600)),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), // json.Marshal fails
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 25*3600)), // json.Marshal fails
	} {
		r := base
		r.OccurredAt = tm
		checkPage(t, audit.Page{Records: []audit.Record{r}})
		r = base
		r.RecordedAt = tm
		checkPage(t, audit.Page{Records: []audit.Record{r}})
	}

	for _, raw := range []string{
		"", "null", "{}", `{"a":1}`, " { \"a\" :\t[1, 2 ,\n3] , \"b\":\r\"x y\" } ", `{"h":"<b>&</b>","s":"\u2028 ` + "\u2028\u2029" + `"}`,
		`{"q":"a\"<b\\"}`, `"<>"`, `[1,{"a":"\\\""}]`, `{"e":"\u00e9é"}`, "{", `{"a":}`, "{\"a\":\"\xff\"}", `{"a":1} x`,
	} {
		r := base
		r.Details = json.RawMessage(raw)
		r.Changes = json.RawMessage(raw)
		if raw == "" {
			r.Details = json.RawMessage{}
		}
		checkPage(t, audit.Page{Records: []audit.Record{r}})
	}
	r := base
	r.Details, r.Changes = nil, nil
	checkPage(t, audit.Page{Records: []audit.Record{r}})

	// an error names the record and the field, and says what is wrong
	r = base
	r.Changes = json.RawMessage(`{"secret":"s3cr`)
	_, err := appendRecord(nil, &r)
	if want := "record " + r.ID.String() + ": changes: invalid JSON: unexpected end of JSON input"; err == nil || err.Error() != want {
		t.Errorf("appendRecord error %v, want %q", err, want)
	}
}

// FuzzAppendPage holds appendPage to json.Marshal on any strings and any
// Details.
func FuzzAppendPage(f *testing.F) {
	f.Add("user-42", "Mozilla/5.0", `{"a":1}`, "fe80::1", int64(0))
	f.Add("<\u2028\xff\x7f\u0085", `q"\`, " [ \"<&>\" , 1 ] ", "", int64(-62135596800))
	f.Add("", "", "{", "192.0.2.1", int64(253402300800))
	f.Fuzz(func(t *testing.T, s, s2, raw, addr string, sec int64) {
		r := pageRecord()
		r.UserID, r.UserAgent, r.ErrorMessage, r.Action = s, s2, s+s2, audit.Action(s2)
		r.Details = json.RawMessage(raw)
		if a, err := netip.ParseAddr(addr); err == nil {
			r.IPAddress = a
		}
		r.OccurredAt = time.Unix(sec, int64(len(s))).UTC()
		checkPage(t, audit.Page{Records: []audit.Record{r}, NextCursor: s2, Tail: s})
	})
}

// gzipWriter compresses what the handler writes, and leaves the headers
// as they are: as naive a compressing middleware as is often written.
type gzipWriter struct {
	http.ResponseWriter
	zw *gzip.Writer
}

func (g gzipWriter) Write(p []byte) (int, error) { return g.zw.Write(p) }

// TestResponsesThroughRewritingMiddleware: the API's responses read whole
// through a middleware that rewrites their bodies: the handler declares no
// length the middleware would leave wrong.
func TestResponsesThroughRewritingMiddleware(t *testing.T) {
	records := seed(30)
	e := newEnv(t, records)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		defer zw.Close()
		e.h.ServeHTTP(gzipWriter{w, zw}, r)
	}))
	defer srv.Close()
	for _, path := range []string{"/audit-logs", "/audit-logs?limit=3", "/audit-logs/" + records[0].ID.String()} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer admin")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !json.Valid(b) {
			t.Errorf("GET %s: status %d, %d bytes, valid JSON %v, error %v", path, resp.StatusCode, len(b), json.Valid(b), err)
		}
	}
}
