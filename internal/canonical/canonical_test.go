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

// appendStringBytewise is AppendString as it was before plain8: one byte
// at a time. TestAppendStringEveryByte holds AppendString to it.
func appendStringBytewise(buf []byte, s string) ([]byte, bool) {
	buf = append(buf, '"')
	repaired := false
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, s[start:i]...)
				buf = append(buf, "\uFFFD"...)
				repaired = true
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		if b >= 0x20 && b != '"' && b != '\\' {
			i++
			continue
		}
		buf = append(buf, s[start:i]...)
		switch b {
		case '"', '\\':
			buf = append(buf, '\\', b)
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\r':
			buf = append(buf, '\\', 'r')
		case '\t':
			buf = append(buf, '\\', 't')
		case 0:
			buf = append(buf, "\uFFFD"...)
			repaired = true
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigit[b>>4], hexDigit[b&0xF])
		}
		i++
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"'), repaired
}

// TestAppendStringEveryByte checks AppendString, which skips eight plain
// bytes at a time, against the byte-by-byte definition: every byte value
// and some UTF-8 sequences, valid and not, at every position of strings
// of 1 to 24 bytes.
func TestAppendStringEveryByte(t *testing.T) {
	var inserts []string
	for c := range 256 {
		inserts = append(inserts, string([]byte{byte(c)}))
	}
	inserts = append(inserts, "é", "€", "😀", "\xe2\x82", "\xf0\x9f\x98", "\xed\xa0\x80", `\"`, "\u2028")
	for _, fill := range []byte{' ', 'a', '~', '!', '#', '[', ']'} {
		for n := 1; n <= 24; n++ {
			for at := range n {
				for _, ins := range inserts {
					s := strings.Repeat(string(fill), at) + ins + strings.Repeat(string(fill), n-at)
					got, gotRep := AppendString([]byte("x"), s)
					want, wantRep := appendStringBytewise([]byte("x"), s)
					if !bytes.Equal(got, want) || gotRep != wantRep {
						t.Fatalf("AppendString(%q) = %q, %v; want %q, %v", s, got, gotRep, want, wantRep)
					}
				}
			}
		}
	}
}
