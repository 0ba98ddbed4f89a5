package canonical

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzFastPath checks that the parser that re-encodes without decoding
// writes what the general path writes, whenever it accepts the input.
func FuzzFastPath(f *testing.F) {
	for _, s := range []string{`{}`, `{"b":1,"a":[true,null,"x"]}`, ` { "a" : 1.50e1 } `, `{"s":"q\"\\n\u00e9"}`, `[1e400]`, `-0.0`, `{"a":1,"a":2}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fast, ok := canonicalize(in)
		if !ok {
			return
		}
		var v any
		if err := Unmarshal(in, &v); err != nil {
			t.Fatalf("canonicalize accepts invalid JSON %q", in)
		}
		var scratch []byte
		if slow := appendValue(nil, v, &scratch); !bytes.Equal(fast, slow) {
			t.Fatalf("canonicalize(%q) = %q, the general path %q", in, fast, slow)
		}
		if !IsCanonical(fast) && !bytes.Contains(fast, []byte(`\`)) && len(fast) < 250 {
			t.Errorf("output %q not accepted by IsCanonical", fast)
		}
	})
}

func TestJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b": 2, "a": [1.50, -0, 1e2]}`, `{"a":[1.5,0,100],"b":2}`},
		{`"\u0000"`, `"` + "\uFFFD" + `"`},
		{`  `, ``},
		{`1e99999`, `"1e99999"`},
	}
	for _, tt := range tests {
		got, err := JSON([]byte(tt.in))
		if err != nil || string(got) != tt.want {
			t.Errorf("JSON(%q): got %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

// FuzzValid: Valid agrees with package utf8 and a search for NUL, at
// every length and position around its eight-byte steps.
func FuzzValid(f *testing.F) {
	for _, s := range []string{
		"", "a", "abcdefg", "abcdefgh", "abcdefghi", "abcdefgh\x00", "\x00bcdefgh", "abc\x00efghijklmnop",
		"abcdefgé", "abcdefghé", "é\x00", "abcdefgh\xff", "\xffabcdefgh", "abcdefghijklmno\x80", "日本語テキスト",
		"Mozilla/5.0 (X11; Linux x86_64)", "ada@example.com\x00",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want := utf8.ValidString(s) && !strings.Contains(s, "\x00")
		if got := Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	})
}

// TestJSONKeysSameOnceRepairedAreDeterministic: keys that differ as given
// but are the same once repaired (NUL, a lone surrogate, U+FFFD) keep one
// member, always the same, whatever the order of Go's map: a digest that
// changed between sealing and verifying would be a false alarm.
func TestJSONKeysSameOnceRepairedAreDeterministic(t *testing.T) {
	for _, in := range []string{
		`{"\u0000":"nul key","\ud800":"lone"}`,
		`{"\ud800":"lone","\u0000":"nul key"}`,
		`{"a\u0000":1,"a\ufffd":2,"a\udfff":3,"b":4}`,
	} {
		first, err := JSON([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		for range 200 {
			got, err := JSON([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, first) {
				t.Fatalf("%s: %s, then %s", in, first, got)
			}
		}
	}
	got, _ := JSON([]byte(`{"\ud800":"lone","\u0000":"nul key"}`))
	if want := "{\"\uFFFD\":\"nul key\"}"; string(got) != want {
		t.Errorf("got %s, want %s (the least key as given, NUL, is kept)", got, want)
	}
}
