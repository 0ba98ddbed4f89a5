package safetext

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestAppendJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"a":"plain é 🙂"}`, `{"a":"plain é 🙂"}`},
		{"{\"a\":\"x\u009b31mred\"}", `{"a":"x\u009b31mred"}`},
		{"{\"a\":\"\u0085\u0080\u009f\"}", `{"a":"\u0085\u0080\u009f"}`},
		{"{\"a\u202e\":\"evil\u202agood\u2066\u2069\"}", `{"a\u202e":"evil\u202agood\u2066\u2069"}`},
		{"[\"\u00a0\u202f\u2065\u206a\"]", "[\"\u00a0\u202f\u2065\u206a\"]"}, // neighbours stay
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
	}
	for _, tt := range tests {
		if got := Line(tt.in); got != tt.want {
			t.Errorf("Line(%q): got %s, want %s", tt.in, got, tt.want)
		}
		if strings.ContainsAny(Line(tt.in), "\n\r\x1b\u009b\u202e") {
			t.Errorf("Line(%q) keeps a control character", tt.in)
		}
	}
}
