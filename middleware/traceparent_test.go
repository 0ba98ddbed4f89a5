package middleware

import (
	"net/http"
	"strings"
	"testing"

	"github.com/trailmark/audit"
)

const (
	tpTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	tpSpan  = "00f067aa0ba902b7"
)

var traceParentTests = []struct {
	name   string
	header string
	ok     bool
}{
	{"valid", "00-" + tpTrace + "-" + tpSpan + "-01", true},
	{"valid, not sampled", "00-" + tpTrace + "-" + tpSpan + "-00", true},
	{"future version", "01-" + tpTrace + "-" + tpSpan + "-01", true},
	{"future version, extra fields", "cc-" + tpTrace + "-" + tpSpan + "-01-what-the-future-brings", true},
	{"future version, extra without dash", "cc-" + tpTrace + "-" + tpSpan + "-01x", false},
	{"version 00 with extra fields", "00-" + tpTrace + "-" + tpSpan + "-01-extra", false},
	{"version 00, one char more", "00-" + tpTrace + "-" + tpSpan + "-011", false},
	{"version ff", "ff-" + tpTrace + "-" + tpSpan + "-01", false},
	{"uppercase version", "0A-" + tpTrace + "-" + tpSpan + "-01", false},
	{"non-hex version", "0g-" + tpTrace + "-" + tpSpan + "-01", false},
	{"all-zero trace id", "00-" + strings.Repeat("0", 32) + "-" + tpSpan + "-01", false},
	{"all-zero parent id", "00-" + tpTrace + "-" + strings.Repeat("0", 16) + "-01", false},
	{"uppercase trace id", "00-" + strings.ToUpper(tpTrace) + "-" + tpSpan + "-01", false},
	{"uppercase parent id", "00-" + tpTrace + "-00F067AA0BA902B7-01", false},
	{"uppercase flags", "00-" + tpTrace + "-" + tpSpan + "-0A", false},
	{"short trace id", "00-" + tpTrace[:31] + "-" + tpSpan + "-01", false},
	{"long trace id", "00-" + tpTrace + "0-" + tpSpan + "-01", false},
	{"short parent id", "00-" + tpTrace + "-" + tpSpan[:15] + "-01", false},
	{"short flags", "00-" + tpTrace + "-" + tpSpan + "-1", false},
	{"non-hex trace id", "00-" + tpTrace[:31] + "g-" + tpSpan + "-01", false},
	{"non-hex parent id", "00-" + tpTrace + "-" + tpSpan[:15] + "z-01", false},
	{"non-hex flags", "00-" + tpTrace + "-" + tpSpan + "-0x", false},
	{"wrong separators", "00_" + tpTrace + "_" + tpSpan + "_01", false},
	{"spaces", " 00-" + tpTrace + "-" + tpSpan + "-01", false},
	{"empty", "", false},
}

func TestParseTraceParent(t *testing.T) {
	t.Parallel()
	for _, tt := range traceParentTests {
		t.Run(tt.name, func(t *testing.T) {
			tid, sid, ok := ParseTraceParent(tt.header)
			if ok != tt.ok {
				t.Fatalf("ParseTraceParent(%q): got ok %v, want %v", tt.header, ok, tt.ok)
			}
			if ok && (tid != tt.header[3:35] || sid != tt.header[36:52]) {
				t.Errorf("got %q %q, want %q %q", tid, sid, tt.header[3:35], tt.header[36:52])
			}
			if !ok && (tid != "" || sid != "") {
				t.Errorf("invalid: got ids %q %q, want none", tid, sid)
			}
		})
	}
}

func FuzzParseTraceParent(f *testing.F) {
	for _, tt := range traceParentTests {
		f.Add(tt.header)
	}
	f.Fuzz(func(t *testing.T, v string) {
		tid, sid, ok := ParseTraceParent(v)
		if !ok {
			return
		}
		if len(tid) != 32 || len(sid) != 16 || !lowerHex(tid) || !lowerHex(sid) || allZero(tid) || allZero(sid) {
			t.Fatalf("ParseTraceParent(%q) accepted ids %q %q", v, tid, sid)
		}
		if v[:2] == "00" && len(v) != 55 || v[:2] == "ff" || !strings.HasPrefix(v[3:], tid+"-"+sid+"-") {
			t.Fatalf("ParseTraceParent(%q) accepted it: %q %q", v, tid, sid)
		}
	})
}

// The middleware puts a valid traceparent's ids into the request info,
// and events take them; a malformed or repeated one is ignored.
func TestTraceParentFillsEvents(t *testing.T) {
	t.Parallel()
	l, s := newLogger(t)
	srv := serve(t, mustNew(t, nil, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := audit.RequestInfoFrom(r.Context())
		ev := audit.Event{Action: "doc.read", ResourceType: "doc", ResourceID: r.URL.Query().Get("case"), Status: audit.StatusSuccess}
		if err := l.Log(r.Context(), ev); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write([]byte(ri.TraceID + " " + ri.SpanID))
	})))
	for _, tt := range []struct {
		name      string
		headers   []string
		wantTrace string
		wantSpan  string
	}{
		{"valid", []string{"00-" + tpTrace + "-" + tpSpan + "-01"}, tpTrace, tpSpan},
		{"malformed", []string{"00-" + strings.ToUpper(tpTrace) + "-" + tpSpan + "-01"}, "", ""},
		{"repeated", []string{"00-" + tpTrace + "-" + tpSpan + "-01", "00-" + tpTrace + "-" + tpSpan + "-01"}, "", ""},
		{"none", nil, "", ""},
	} {
		req := newRequest(t, http.MethodGet, srv.URL+"?case="+strings.ReplaceAll(tt.name, " ", "_"))
		for _, h := range tt.headers {
			req.Header.Add("Traceparent", h)
		}
		resp, body := do(t, req)
		if resp.StatusCode != 200 || body != tt.wantTrace+" "+tt.wantSpan {
			t.Errorf("%s: got %d %q, want request info %q %q", tt.name, resp.StatusCode, body, tt.wantTrace, tt.wantSpan)
		}
		rs := records(t, s, audit.Filter{ResourceID: strings.ReplaceAll(tt.name, " ", "_")})
		if len(rs) != 1 || rs[0].TraceID != tt.wantTrace || rs[0].SpanID != tt.wantSpan {
			t.Errorf("%s: got records %+v, want trace %q span %q", tt.name, rs, tt.wantTrace, tt.wantSpan)
		}
	}
}
