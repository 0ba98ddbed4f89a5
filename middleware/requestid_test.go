package middleware

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// requestIDCases are client request ids and whether they are kept.
var requestIDCases = []struct {
	id   string
	keep bool
}{
	{"abc-123", true},
	{"0190b3d2-7c1a-7d6e-9f00-1a2b3c4d5e6f", true},
	{"trace:a/b+c=d@e~f_g.h", true},
	{strings.Repeat("a", MaxRequestIDLen), true},
	{strings.Repeat("a", MaxRequestIDLen+1), false},
	{"", false},
	{"has space", false},
	{"tab\there", false},
	{"new\nline", false},
	{"cr\rhere", false},
	{"nul\x00", false},
	{"quote\"", false},
	{"<script>", false},
	{"semi;colon", false},
	{"comma,separated", false},
	{"ünïcode", false},
	{"\xff\xfe", false},
	{"=HYPERLINK(\"x\")", false},
	{"%41", false},
}

func TestValidRequestID(t *testing.T) {
	t.Parallel()
	for _, tt := range requestIDCases {
		if got := ValidRequestID(tt.id); got != tt.keep {
			t.Errorf("ValidRequestID(%q) = %v, want %v", tt.id, got, tt.keep)
		}
	}
}

func TestNewRequestID(t *testing.T) {
	t.Parallel()
	now := time.Now()
	seen := map[string]bool{}
	var ids idSource
	var prev string
	for range 1000 {
		id, hdr := ids.next()
		if len(hdr) != 1 || hdr[0] != id {
			t.Fatalf("header value %q for id %q", hdr, id)
		}
		if u := uuid.MustParse(id); u.String() != id {
			t.Fatalf("id %q is not in the canonical form %q", id, u)
		}
		if id <= prev && id[:14] != prev[:14] { // ids of one millisecond need not increase
			t.Fatalf("id %q after %q: ids of later milliseconds must sort later", id, prev)
		}
		prev = id
		if !ValidRequestID(id) {
			t.Fatalf("generated id %q is not valid", id)
		}
		u, err := uuid.Parse(id)
		if err != nil {
			t.Fatal(err)
		}
		if u.Version() != 7 || u.Variant() != uuid.RFC4122 {
			t.Fatalf("id %q: version %d variant %v, want 7 RFC4122", id, u.Version(), u.Variant())
		}
		if sec, nsec := u.Time().UnixTime(); time.Unix(sec, nsec).Sub(now).Abs() > time.Minute {
			t.Fatalf("id %q: time %v, want about %v", id, time.Unix(sec, nsec).UTC(), now)
		}
		if seen[id] {
			t.Fatalf("id %q generated twice", id)
		}
		seen[id] = true
	}
}

// FuzzRequestID checks that the id the middleware settles on is always
// valid, and is the client's exactly when the client's is valid.
func FuzzRequestID(f *testing.F) {
	for _, tt := range requestIDCases {
		f.Add(tt.id)
	}
	m := &mw{Options: Options{RequestIDHeader: "X-Request-Id"}}
	f.Fuzz(func(t *testing.T, in string) {
		r := httptestRequest()
		r.Header["X-Request-Id"] = []string{in}
		got, _ := m.requestID(r)
		if !ValidRequestID(got) {
			t.Fatalf("request id %q from %q is not valid", got, in)
		}
		if (got == in) != ValidRequestID(in) {
			t.Fatalf("input %q (valid %v) gave %q", in, ValidRequestID(in), got)
		}
	})
}
