// Package safetext makes text from audit records safe to show: JSON that
// a terminal or an editor cannot be steered by, and lines that a log
// cannot be forged with.
package safetext

import (
	"encoding/binary"
	"io"
	"strconv"
	"unicode/utf8"
)

// Unsafe reports whether r is a character that changes how the text
// around it is shown rather than showing itself: C1 controls
// (U+0080–U+009F; U+009B is a terminal's control sequence introducer) and
// the bidirectional controls, which reorder what a reader sees: the
// embeddings and overrides (U+202A–U+202E), the isolates (U+2066–U+2069)
// and the marks (U+200E LEFT-TO-RIGHT MARK, U+200F RIGHT-TO-LEFT MARK,
// U+061C ARABIC LETTER MARK).
func Unsafe(r rune) bool {
	return 0x80 <= r && r <= 0x9F || 0x202A <= r && r <= 0x202E || 0x2066 <= r && r <= 0x2069 ||
		r == 0x200E || r == 0x200F || r == 0x061C
}

// escapedInJSON reports whether AppendJSON escapes r: the Unsafe
// characters, and DEL and the line and paragraph separators (U+2028,
// U+2029), which valid JSON may also hold raw inside a string but which
// end or garble a line where the text is shown. (JSON cannot hold the
// other C0 controls raw.)
func escapedInJSON(r rune) bool {
	return r == 0x7F || r == 0x2028 || r == 0x2029 || Unsafe(r)
}

// AppendJSON appends the JSON text src to dst with every Unsafe character,
// DEL, U+2028 and U+2029 written as a \uXXXX escape. The result decodes to
// the same values: in valid JSON such characters can only appear inside
// strings, where the escape means the same character. Valid JSON written
// through AppendJSON therefore holds no raw control character at all.
func AppendJSON(dst, src []byte) []byte {
	i := plainPrefix(src)
	if i == len(src) {
		return append(dst, src...)
	}
	start := 0
	for i < len(src) {
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

// JSON returns the JSON text src as AppendJSON writes it: src itself when
// it holds nothing to escape, as nearly all JSON does, else a new slice.
func JSON(src []byte) []byte {
	if plainPrefix(src) == len(src) {
		return src
	}
	return AppendJSON(nil, src)
}

// plainPrefix returns the length of the longest prefix of src where every
// byte is ASCII other than DEL: none begins a character AppendJSON
// escapes. It reads eight bytes at a time: adding 1 to each byte sets the
// top bit of DEL's and of no other ASCII byte's, without a carry between
// bytes.
func plainPrefix(src []byte) int {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(src); i += 8 {
		if w := binary.LittleEndian.Uint64(src[i:]); (w|(w+ones))&tops != 0 {
			break
		}
	}
	for i < len(src) && src[i] < 0x7F {
		i++
	}
	return i
}

const hex = "0123456789abcdef"

// JSONWriter writes JSON to an underlying writer through AppendJSON. Each
// Write must hold whole UTF-8 sequences, as a json.Encoder's does (one
// whole value per call).
type JSONWriter struct {
	w   io.Writer
	buf []byte
}

// NewJSONWriter returns a JSONWriter writing to w.
func NewJSONWriter(w io.Writer) *JSONWriter { return &JSONWriter{w: w} }

// Write writes p, escaped, to the underlying writer. It returns len(p)
// when the whole escaped text was written.
func (j *JSONWriter) Write(p []byte) (int, error) {
	j.buf = AppendJSON(j.buf[:0], p)
	if _, err := j.w.Write(j.buf); err != nil {
		return 0, err
	}
	if cap(j.buf) > 1<<20 {
		j.buf = nil
	}
	return len(p), nil
}

// Line returns s quoted as a Go string when it holds anything that could
// end or rewrite a line of a log (control characters, line and paragraph
// separators, Unsafe characters, invalid UTF-8), and s itself otherwise.
func Line(s string) string {
	for _, r := range s {
		if r < 0x20 || r == utf8.RuneError || escapedInJSON(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
