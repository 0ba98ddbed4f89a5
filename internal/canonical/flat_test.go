package canonical

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// FuzzFlat checks that Flat, the form an unsealable record's digest
// covers, is a fixed point and does not depend on how JSON text is spaced
// or escaped: PostgreSQL's jsonb output, the compact form of an export
// and the indented form all give the same bytes, however deep.
func FuzzFlat(f *testing.F) {
	for _, s := range []string{
		`{"a": 1, "b": [true, "x\u00e9\"\\"]}`, `{"a": tru`, `{"k":"<&>\u2028"}`, `"unterminated`, `{"a":"\u0000\ud800"}`,
		strings.Repeat(`{"a": `, 5001) + "1" + strings.Repeat("}", 5001),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		flat := Flat(in)
		if again := Flat(flat); !bytes.Equal(again, flat) {
			t.Fatalf("Flat(Flat(%q)) = %q, not %q", in, again, flat)
		}
		if !json.Valid(in) {
			return
		}
		var compact, indented bytes.Buffer
		if json.Compact(&compact, in) != nil || json.Indent(&indented, in, " ", "\t") != nil {
			return // deeper than encoding/json goes
		}
		var escaped bytes.Buffer
		json.HTMLEscape(&escaped, compact.Bytes())
		for _, form := range [][]byte{compact.Bytes(), indented.Bytes(), escaped.Bytes()} {
			if got := Flat(form); !bytes.Equal(got, flat) {
				t.Fatalf("Flat(%q) = %q; Flat(%q) = %q", form, got, in, flat)
			}
		}
	})
}
