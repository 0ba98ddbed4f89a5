package canonical

import "encoding/json"

// Flat returns a normal form of text that JSON may not accept, for what
// the canonical form refuses (nesting deeper than MaxDepth, text that is
// not JSON): the white space between tokens removed, and each string
// re-encoded as AppendString writes it (escapes decoded, invalid UTF-8
// and NUL replaced by U+FFFD). Object keys keep their order. It reads b
// in one pass without recursion, however deeply it nests, and never
// fails: the same text, however encoded or spaced, gives the same result
// (PostgreSQL's jsonb output, and the compact form of an export).
func Flat(b []byte) []byte {
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r':
			i++
		case '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(b))
			var s string
			if json.Unmarshal(b[i:j], &s) == nil {
				out, _ = AppendString(out, s)
			} else {
				out = append(out, b[i:j]...)
			}
			i = j
		default:
			out = append(out, c)
			i++
		}
	}
	return out
}
