package audit

import (
	"bytes"
	"unicode/utf8"
)

// isCanonical reports whether b is JSON in exactly the form the canonical
// encoder writes, so that re-encoding it would give b back. It accepts a
// subset of that form (no escapes in object keys, numbers of at most 300
// characters); what it rejects takes the slow path, never a different
// result.
func isCanonical(b []byte) bool {
	i, ok := canonValue(b, 0)
	return ok && i == len(b)
}

func canonValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return i, false
	}
	switch c := b[i]; {
	case c == '{':
		return canonObject(b, i+1)
	case c == '[':
		return canonArray(b, i+1)
	case c == '"':
		j, _, ok := canonString(b, i+1)
		return j, ok
	case c == 't':
		return i + 4, bytes.HasPrefix(b[i:], []byte("true"))
	case c == 'f':
		return i + 5, bytes.HasPrefix(b[i:], []byte("false"))
	case c == 'n':
		return i + 4, bytes.HasPrefix(b[i:], []byte("null"))
	case c == '-' || '0' <= c && c <= '9':
		return canonNumber(b, i)
	}
	return i, false
}

func canonObject(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '}' {
		return i + 1, true
	}
	var prev []byte
	for first := true; ; first = false {
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		j, escaped, ok := canonString(b, i+1)
		if !ok || escaped {
			return i, false
		}
		key := b[i+1 : j-1]
		if !first && bytes.Compare(prev, key) >= 0 {
			return i, false // unsorted or duplicate
		}
		prev = key
		if j >= len(b) || b[j] != ':' {
			return j, false
		}
		if i, ok = canonValue(b, j+1); !ok {
			return i, false
		}
		if i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i++
		case '}':
			return i + 1, true
		default:
			return i, false
		}
	}
}

func canonArray(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = canonValue(b, i); !ok || i >= len(b) {
			return i, false
		}
		switch b[i] {
		case ',':
			i++
		case ']':
			return i + 1, true
		default:
			return i, false
		}
	}
}

// canonString checks a string from after its opening quote; it returns
// the index after the closing quote and whether it has escapes.
func canonString(b []byte, i int) (int, bool, bool) {
	escaped := false
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, escaped, true
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return i, escaped, false
			}
			switch b[i+1] {
			case '"', '\\', 'n', 'r', 't':
				i += 2
			case 'u':
				// \u00XX for the other control characters, lowercase hex
				if i+5 >= len(b) || b[i+2] != '0' || b[i+3] != '0' || (b[i+4] != '0' && b[i+4] != '1') || !isLowerHex(b[i+5]) {
					return i, escaped, false
				}
				switch v := (b[i+4]-'0')<<4 | hexVal(b[i+5]); v {
				case 0, '\n', '\r', '\t':
					return i, escaped, false
				}
				i += 6
			default:
				return i, escaped, false
			}
		case c < 0x20:
			return i, escaped, false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return i, escaped, false
			}
			i += size
		}
	}
	return i, escaped, false
}

func isLowerHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

func hexVal(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// canonNumber checks -?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?, not "-0".
func canonNumber(b []byte, i int) (int, bool) {
	start := i
	if b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, false
	}
	zero := b[i] == '0'
	switch {
	case zero:
		i++
	case '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return i, false
	}
	frac := false
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == d || b[i-1] == '0' {
			return i, false
		}
		frac = true
	}
	if b[start] == '-' && zero && !frac {
		return i, false // -0
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		return i, false
	}
	return i, i-start <= 300
}
