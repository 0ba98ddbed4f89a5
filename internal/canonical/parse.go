package canonical

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// IsCanonical reports whether b is JSON in exactly the form the canonical
// encoder writes, so that re-encoding it would give b back. It accepts a
// subset of that form (no escapes in object keys, numbers of at most 300
// characters); what it rejects takes the slow path, never a different
// result.
func IsCanonical(b []byte) bool {
	i, ok := canonValue(b, 0, 0)
	return ok && i == len(b)
}

// MaxDepth is how deeply JSON lets arrays and objects nest: deeper input
// is refused with an error rather than recursed into. The Logger never
// writes more than 34 levels (its Limits cap Details at 32).
const MaxDepth = 1000

// canonValue checks the value at i, which is inside depth containers.
func canonValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth >= MaxDepth {
		return i, false
	}
	switch c := b[i]; {
	case c == '{':
		return canonObject(b, i+1, depth+1)
	case c == '[':
		return canonArray(b, i+1, depth+1)
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

func canonObject(b []byte, i, depth int) (int, bool) {
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
		if i, ok = canonValue(b, j+1, depth); !ok {
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

func canonArray(b []byte, i, depth int) (int, bool) {
	if i < len(b) && b[i] == ']' {
		return i + 1, true
	}
	for {
		var ok bool
		if i, ok = canonValue(b, i, depth); !ok || i >= len(b) {
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

// canonicalize re-encodes JSON text canonically without decoding it into
// Go values, for the common case: it reports false for input it leaves to the general path (duplicate
// keys, invalid UTF-8, NUL or surrogate escapes, very deep nesting).
func canonicalize(src []byte) ([]byte, bool) {
	p := canonParser{src: src, e: &writer{}}
	i, ok := p.value(skipWS(src, 0), 0)
	return p.e.buf, ok && skipWS(src, i) == len(src)
}

type canonParser struct {
	e   *writer
	src []byte
}

// writer holds the output of canonicalize and its scratch space.
type writer struct {
	buf     []byte
	spans   []member
	scratch []byte
}

type member struct {
	key        string
	start, end int // the value's span
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func (p *canonParser) value(i, depth int) (int, bool) {
	b := p.src
	if i >= len(b) || depth >= MaxDepth {
		return i, false
	}
	switch c := b[i]; {
	case c == '{':
		return p.object(i+1, depth)
	case c == '[':
		p.e.buf = append(p.e.buf, '[')
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == ']' {
			p.e.buf = append(p.e.buf, ']')
			return i + 1, true
		}
		for {
			var ok bool
			if i, ok = p.value(i, depth+1); !ok {
				return i, false
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case ',':
				p.e.buf = append(p.e.buf, ',')
				i = skipWS(b, i+1)
			case ']':
				p.e.buf = append(p.e.buf, ']')
				return i + 1, true
			default:
				return i, false
			}
		}
	case c == '"':
		s, j, ok := p.str(i + 1)
		if ok {
			p.e.buf, _ = AppendString(p.e.buf, s)
		}
		return j, ok
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range [...]string{"true", "false", "null"} {
			if bytes.HasPrefix(b[i:], []byte(lit)) {
				p.e.buf = append(p.e.buf, lit...)
				return i + len(lit), true
			}
		}
		return i, false
	case c == '-' || '0' <= c && c <= '9':
		j := i
		for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || '0' <= b[j] && b[j] <= '9') {
			j++
		}
		num := string(b[i:j])
		if !IsNumber(num) {
			return i, false
		}
		var reason string
		if p.e.buf, reason = AppendNumber(p.e.buf, num, &p.e.scratch); reason != "" {
			return i, false // the general path writes it as a string
		}
		return j, true
	}
	return i, false
}

func (p *canonParser) object(i, depth int) (int, bool) {
	b := p.src
	base := len(p.e.spans)
	defer func() { p.e.spans = p.e.spans[:base] }()
	i = skipWS(b, i)
	if i < len(b) && b[i] == '}' {
		p.e.buf = append(p.e.buf, "{}"...)
		return i + 1, true
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return i, false
		}
		k, j, ok := p.str(i + 1)
		if !ok {
			return j, false
		}
		j = skipWS(b, j)
		if j >= len(b) || b[j] != ':' {
			return j, false
		}
		start := skipWS(b, j+1)
		end, ok := skipValue(b, start, depth+1)
		if !ok {
			return end, false
		}
		p.e.spans = append(p.e.spans, member{k, start, end})
		i = skipWS(b, end)
		if i >= len(b) {
			return i, false
		}
		if b[i] == '}' {
			i++
			break
		}
		if b[i] != ',' {
			return i, false
		}
		i = skipWS(b, i+1)
	}
	ms := p.e.spans[base:]
	slices.SortFunc(ms, func(x, y member) int { return strings.Compare(x.key, y.key) })
	p.e.buf = append(p.e.buf, '{')
	for n, m := range ms {
		if n > 0 {
			if m.key == ms[n-1].key {
				return i, false // duplicate keys: the general path keeps the last
			}
			p.e.buf = append(p.e.buf, ',')
		}
		p.e.buf, _ = AppendString(p.e.buf, m.key)
		p.e.buf = append(p.e.buf, ':')
		if _, ok := p.value(m.start, depth+1); !ok {
			return i, false
		}
	}
	p.e.buf = append(p.e.buf, '}')
	return i, true
}

// str decodes the string from after its opening quote. It declines NUL,
// surrogate escapes and invalid UTF-8, which the general path repairs.
func (p *canonParser) str(i int) (string, int, bool) {
	b := p.src
	start := i
	for i < len(b) && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 && b[i] < utf8.RuneSelf {
		i++
	}
	if i < len(b) && b[i] == '"' {
		return string(b[start:i]), i + 1, true
	}
	out := append([]byte(nil), b[start:i]...)
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return string(out), i + 1, true
		case c < 0x20:
			return "", i, false
		case c == '\\':
			if i+1 >= len(b) {
				return "", i, false
			}
			switch b[i+1] {
			case '"', '\\', '/':
				out = append(out, b[i+1])
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				if i+6 > len(b) {
					return "", i, false
				}
				v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
				if err != nil || v == 0 || utf16.IsSurrogate(rune(v)) {
					return "", i, false
				}
				out = utf8.AppendRune(out, rune(v))
				i += 6
				continue
			default:
				return "", i, false
			}
			i += 2
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && size == 1 {
				return "", i, false
			}
			out = append(out, b[i:i+size]...)
			i += size
		}
	}
	return "", i, false
}

// skipValue returns the end of the value at i, checking its syntax.
func skipValue(b []byte, i, depth int) (int, bool) {
	if i >= len(b) || depth >= MaxDepth {
		return i, false
	}
	switch c := b[i]; {
	case c == '{' || c == '[':
		close := byte('}')
		if c == '[' {
			close = ']'
		}
		i = skipWS(b, i+1)
		if i < len(b) && b[i] == close {
			return i + 1, true
		}
		for {
			if c == '{' {
				if i >= len(b) || b[i] != '"' {
					return i, false
				}
				j, ok := skipString(b, i+1)
				if !ok {
					return j, false
				}
				i = skipWS(b, j)
				if i >= len(b) || b[i] != ':' {
					return i, false
				}
				i = skipWS(b, i+1)
			}
			var ok bool
			if i, ok = skipValue(b, i, depth+1); !ok {
				return i, false
			}
			i = skipWS(b, i)
			if i >= len(b) {
				return i, false
			}
			if b[i] == close {
				return i + 1, true
			}
			if b[i] != ',' {
				return i, false
			}
			i = skipWS(b, i+1)
		}
	case c == '"':
		return skipString(b, i+1)
	case c == 't' || c == 'n':
		return i + 4, i+4 <= len(b)
	case c == 'f':
		return i + 5, i+5 <= len(b)
	default:
		j := i
		for j < len(b) && (b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E' || '0' <= b[j] && b[j] <= '9') {
			j++
		}
		return j, j > i
	}
}

// Depth returns how deeply the arrays and objects of the JSON text b
// nest, without recursion. It does not check the syntax.
func Depth(b []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

func skipString(b []byte, i int) (int, bool) {
	for i < len(b) {
		switch b[i] {
		case '"':
			return i + 1, true
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return i, false
}
