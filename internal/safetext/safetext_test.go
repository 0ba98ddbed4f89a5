package safetext

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":"plain é 🙂"}`, `{"a":"plain é 🙂"}`},
		{"{\"a\":\"x\u009b31mred\"}", `{"a":"x\u009b31mred"}`},
		{"{\"a\":\"\u0085\u0080\u009f\"}", `{"a":"\u0085\u0080\u009f"}`},
		{"{\"a\u202e\":\"evil\u202agood\u2066\u2069\"}", `{"a\u202e":"evil\u202agood\u2066\u2069"}`},
		{"[\"\u00a0\u202f\u2065\u206a\"]", "[\"\u00a0\u202f\u2065\u206a\"]"}, // neighbours stay
		{"[\"a\u200eb\u200fc\u061cd\"]", `["a\u200eb\u200fc\u061cd"]`},       // bidi marks
		{"[\"a\x7fb\u2028c\u2029d\"]", `["a\u007fb\u2028c\u2029d"]`},         // DEL, line and paragraph separators
		{"[\"\u200d\u2027\u202a\u202f\u061b\u061d\"]", "[\"\u200d\u2027\\u202a\u202f\u061b\u061d\"]"},
	}
	for _, tt := range tests {
		got := AppendJSON(nil, []byte(tt.in))
		if string(got) != tt.want {
			t.Errorf("AppendJSON(%q): got %q, want %q", tt.in, got, tt.want)
		}
		var a, b any
		if err := json.Unmarshal([]byte(tt.in), &a); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(got, &b); err != nil {
			t.Fatalf("output %q does not decode: %v", got, err)
		}
		if ja, _ := json.Marshal(a); !bytes.Equal(ja, mustMarshal(t, b)) {
			t.Errorf("AppendJSON(%q) decodes to %v, want %v", tt.in, b, a)
		}
	}
}

func mustMarshal(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJSONWriter(t *testing.T) {
	var buf bytes.Buffer
	enc := json.NewEncoder(NewJSONWriter(&buf))
	if err := enc.Encode(map[string]string{"u": "a\u009b2Jb\u202ec"}); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.String(), `{"u":"a\u009b2Jb\u202ec"}`+"\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/users/42", "/users/42"},
		{"/x\naudit: all good", `"/x\naudit: all good"`},
		{"/x\raudit", `"/x\raudit"`},
		{"/x\u009b2J", `"/x\u009b2J"`},
		{"/x\u202egood", `"/x\u202egood"`},
		{"/x\u2028y", `"/x\u2028y"`},
		{"/x\x1b[2J", `"/x\x1b[2J"`},
		{"/é", "/é"},
		{"/x\u200fy", `"/x\u200fy"`},
		{"/x\u200ey", `"/x\u200ey"`},
		{"/x\u061cy", `"/x\u061cy"`},
		{"/x\x7fy", `"/x\x7fy"`},
	}
	for _, tt := range tests {
		if got := Line(tt.in); got != tt.want {
			t.Errorf("Line(%q): got %s, want %s", tt.in, got, tt.want)
		}
		if strings.ContainsAny(Line(tt.in), "\n\r\x1b\x7f\u009b\u202e\u200e\u200f\u061c") {
			t.Errorf("Line(%q) keeps a control character", tt.in)
		}
	}
}

// appendJSONBytewise is AppendJSON as it was before plainPrefix.
func appendJSONBytewise(dst, src []byte) []byte {
	start := 0
	for i := 0; i < len(src); {
		if src[i] < utf8.RuneSelf && src[i] != 0x7F {
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if escapedInJSON(r) {
			dst = append(dst, src[start:i]...)
			dst = append(dst, '\\', 'u')
			dst = append(dst, hex[r>>12&0xF], hex[r>>8&0xF], hex[r>>4&0xF], hex[r&0xF])
			start = i + size
		}
		i += size
	}
	return append(dst, src[start:]...)
}

// TestAppendJSONEveryByte tries every byte value, and every character
// AppendJSON escapes, at every position of texts up to 17 bytes long,
// across plainPrefix's steps of eight, against the byte-by-byte version;
// and JSON returns its argument itself when it is ASCII without DEL.
func TestAppendJSONEveryByte(t *testing.T) {
	var fills [][]byte
	for c := range 256 {
		fills = append(fills, []byte{byte(c)})
	}
	for _, r := range []rune{0x7F, 0x85, 0x9B, 0x9F, 0xA0, 0x61C, 0x200E, 0x2028, 0x2029, 0x202E, 0x2066, 0x2069, 0x206A} {
		fills = append(fills, utf8.AppendRune(nil, r))
	}
	for _, fill := range fills {
		for n := 1; n <= 17; n++ {
			for at := 0; at+len(fill) <= n; at++ {
				src := bytes.Repeat([]byte{'a'}, n)
				copy(src[at:], fill)
				want := appendJSONBytewise([]byte("x"), src)
				if got := AppendJSON([]byte("x"), src); !bytes.Equal(got, want) {
					t.Fatalf("AppendJSON(%q) = %q, want %q", src, got, want)
				}
				got := JSON(src)
				if !bytes.Equal(got, want[1:]) {
					t.Fatalf("JSON(%q) = %q, want %q", src, got, want[1:])
				}
				ascii := !bytes.ContainsFunc(src, func(r rune) bool { return r >= 0x7F })
				if same := &got[0] == &src[0]; same != ascii {
					t.Fatalf("JSON(%q) returned its argument: %v, want %v", src, same, ascii)
				}
			}
		}
	}
}
