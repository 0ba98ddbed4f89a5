package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trailmark/audit/internal/canonical"
)

var jsonSeeds = []string{
	`{}`, `[]`, `{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, `{"b":1,"a":2}`, ` { "a" : 1.50e1 } `,
	`{"s":"q\"b\\n\nt\tc\u0001 é 🙂"}`, `{"n":-0}`, `{"n":0.000001,"m":12345678901234567890}`,
	`{"x":"\u00e9"}`, `{"a":"\u0000"}`, `{"b": {"y": [1, 2.50]}, "a": "x\/y"}`, `{"a": 1, "a": 2}`, `"\ud800"`, `{"a":1,"a":2}`, `[1e400]`, `{"k\n":1}`, `-0.0`, `1E2`,
}

// FuzzCanonicalJSON checks that canonical JSON is a fixed point, and that
// the fast check agrees with the encoder.
func FuzzCanonicalJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Add(bytes.Repeat([]byte("["), 1500))
	f.Add([]byte(strings.Repeat("[", 1001) + strings.Repeat("]", 1001)))
	f.Fuzz(func(t *testing.T, in []byte) {
		if canonical.Depth(in) > canonical.MaxDepth {
			if _, err := canonical.JSON(in); err == nil {
				t.Fatalf("canonical.JSON accepts input nested %d deep", canonical.Depth(in))
			}
			return
		}
		fast := canonical.IsCanonical(in)
		var v any
		if err := canonical.Unmarshal(in, &v); err != nil {
			if fast {
				t.Fatalf("IsCanonical accepts invalid JSON %q", in)
			}
			if _, err := canonical.JSON(in); err == nil && len(bytes.TrimSpace(in)) > 0 {
				t.Fatalf("canonical.JSON accepts invalid JSON %q", in)
			}
			return
		}
		c, err := canonicalValue(v)
		if err != nil {
			t.Fatal(err)
		}
		if fast && !bytes.Equal(c, in) {
			t.Fatalf("isCanonical(%q), but the encoder writes %q", in, c)
		}
		// the store's canonical form is the Logger's
		if f, err := canonical.JSON(in); err != nil || !bytes.Equal(f, c) {
			t.Fatalf("canonical.JSON(%q) = %q, %v; the Logger's encoder %q", in, f, err, c)
		}
		if !canonical.IsCanonical(c) && utf8.Valid(c) && len(c) < 250 {
			// the fast check may decline (escaped keys, long numbers), but
			// must accept plain output
			if !bytes.Contains(c, []byte(`\`)) {
				t.Errorf("encoder output %q not accepted by IsCanonical", c)
			}
		}
		c2, err := canonical.JSON(c)
		if err != nil || !bytes.Equal(c, c2) {
			t.Fatalf("not a fixed point: %q -> %q (%v)", c, c2, err)
		}
		if !json.Valid(c) {
			t.Fatalf("invalid output %q", c)
		}
	})
}

// FuzzCleanDetails feeds arbitrary JSON objects through the cleaner, with
// a value planted under secret keys: it must never come out.
func FuzzCleanDetails(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s), "password")
	}
	f.Add([]byte(`{"a":{"b":[{"c":1}]}}`), "userPin")
	f.Add([]byte(`{}`), strings.Repeat("x", 300)+"secret")
	f.Add([]byte(`{}`), "p\u0430ss\u200bword")
	const planted = "planted-7d1f0c"
	var cleaners []*cleaner
	for _, hashKey := range [][]byte{nil, []byte("k")} {
		cleaners = append(cleaners, newCleaner(Redaction{HashKey: hashKey}, Limits{MaxStringBytes: 64, MaxJSONBytes: 16 << 10}.withDefaults()))
	}
	f.Fuzz(func(t *testing.T, in []byte, key string) {
		for _, c := range cleaners {
			var m map[string]any
			if json.Unmarshal(in, &m) != nil || bytes.Contains(in, []byte(planted)) {
				return
			}
			e := c.pool.Get().(*encoder)
			isSecret := e.secret(key)
			e.release()
			if isSecret {
				m[key] = planted
			}
			m[key+"_password"] = planted
			m["nested"] = map[string]any{"api_key": planted, key + "Token": []any{planted}}
			ev := Event{Action: "a", ResourceType: "r", Status: StatusSuccess, Details: m, UserID: key,
				Changes: map[string]Change{key: {Before: m, After: nil}, "secret": {Before: planted}}}
			r, err := c.clean(&ev, nil)
			if idProblem(key) != "" { // not an identity: refused, never repaired
				var fe *FieldError
				if !errors.As(err, &fe) || fe.Field != "user_id" {
					t.Fatalf("clean with user id %q: %v, want a FieldError for user_id", key, err)
				}
				ev.UserID = ""
				r, err = c.clean(&ev, nil)
			}
			if err != nil {
				t.Fatalf("clean: %v", err)
			}
			for _, b := range [][]byte{r.Details, r.Changes} {
				if len(b) == 0 {
					continue
				}
				if !json.Valid(b) || bytes.Contains(b, []byte(`\u0000`)) {
					t.Fatalf("invalid output %q", b)
				}
				if b2, _ := canonical.JSON(b); !bytes.Equal(b, b2) {
					t.Fatalf("output not canonical: %q", b)
				}
				if bytes.Contains(b, []byte(planted)) {
					t.Fatalf("a secret planted under key %q came out: %q", key, b)
				}
			}
			if len(r.Details) > 16<<10 || !utf8.ValidString(r.UserID) {
				t.Fatalf("limits not applied: %d bytes", len(r.Details))
			}
		}
	})
}

// FuzzContractFastPaths checks that the fast paths of Validate and of the
// Logger's cleaning say what the full checks say: canonical JSON keeps
// the contract exactly when jsonProblem finds nothing wrong with it;
// plain strings always keep it, pass idProblem and are kept as they are
// by cleanString.
func FuzzContractFastPaths(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s), "user-42")
	}
	deep := func(n int) []byte {
		return []byte(strings.Repeat(`{"a":`, n-1) + "{}" + strings.Repeat("}", n-1))
	}
	for _, n := range []int{MaxRecordDepth - 1, MaxRecordDepth, MaxRecordDepth + 1} {
		f.Add(deep(n), "ctl\x7f")
	}
	f.Add([]byte(`{"a":"\xff"}`), "é")
	f.Add([]byte(`{"a":"x"}`), strings.Repeat("y", MaxIDBytes+1))
	f.Fuzz(func(t *testing.T, j []byte, s string) {
		if len(j) > 0 {
			fast, full := jsonContract(j), jsonProblem(j)
			if fast != full {
				t.Fatalf("jsonContract(%.80q) = %q, jsonProblem = %q", j, fast, full)
			}
		}
		r := Record{UserID: s, UserEmail: s, UserAgent: s, Action: Action(s), ResourceType: s, ResourceID: s,
			RequestID: s, SessionID: s, ErrorMessage: s, TenantID: s, TraceID: s, SpanID: s}
		if r.plainStrings() {
			if err := r.validateStrings(); err != nil {
				t.Fatalf("plain strings %.80q: %v", s, err)
			}
		}
		ev := Event{UserID: s, UserEmail: s, UserAgent: s, Action: Action(s), ResourceType: s, ResourceID: s,
			RequestID: s, SessionID: s, ErrorMessage: s, TenantID: s}
		for _, limit := range []int{len(s) - 1, len(s)} {
			if !plainEvent(&ev, limit) {
				continue
			}
			if p := idProblem(s); p != "" {
				t.Fatalf("plain event %.80q: idProblem says %s", s, p)
			}
			if c := cleanString(s, limit); c != s {
				t.Fatalf("plain event %.80q: cleanString(%d) = %.80q", s, limit, c)
			}
		}
	})
}
