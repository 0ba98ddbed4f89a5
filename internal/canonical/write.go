package canonical

import (
	"encoding/binary"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// MaxNumberText is the longest number, in characters of plain decimal
// notation, that is written as a number; longer ones are written as
// strings.
const MaxNumberText = 400

const hexDigit = "0123456789abcdef"

// plain8 reports whether the first eight bytes of s (it has as many) are
// written as they are: ASCII, none below 0x20, no '"' and no '\\'. A byte
// below 0x20 borrows when 0x20 is taken from each byte, and a byte equal
// to '"' or '\\' is zero in s XOR that byte and borrows when 1 is taken;
// the first borrow starts at such a byte, so the answer is exact.
func plain8(s string) bool {
	const (
		ones   = 0x0101010101010101
		tops   = 0x8080808080808080
		quote  = '"' * ones
		bslash = '\\' * ones
	)
	w := binary.LittleEndian.Uint64(unsafe.Slice(unsafe.StringData(s), 8))
	q, b := w^quote, w^bslash
	return ((w-0x20*ones)&^w|(q-ones)&^q|(b-ones)&^b|w)&tops == 0
}

// AppendString appends s as a JSON string, replacing invalid UTF-8 and NUL
// bytes with U+FFFD, and reports whether it replaced any.
func AppendString(buf []byte, s string) ([]byte, bool) {
	buf = append(buf, '"')
	repaired := false
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plain8(s[i:]) {
			i += 8
			continue
		}
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

// AppendNumber appends the JSON number text s in canonical form: plain
// decimal notation, no exponent, no leading zeros, no trailing zeros in
// the fraction, no negative zero. That is the form PostgreSQL's numeric
// type prints back, so jsonb keeps it exactly. scratch is reused between
// calls. When s cannot be written so (not a JSON number, or out of range)
// it appends nothing and returns why; the caller writes s as a string.
func AppendNumber(buf []byte, s string, scratch *[]byte) ([]byte, string) {
	if !IsNumber(s) {
		return buf, "not a valid JSON number; stored as a string"
	}
	const outOfRange = "number out of range; stored as a string"
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	mant, exp := s, 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		mant = s[:i]
		x, err := strconv.Atoi(s[i+1:])
		if err != nil || x > MaxNumberText || x < -MaxNumberText {
			return buf, outOfRange
		}
		exp = x
	}
	intPart, frac := mant, ""
	if i := strings.IndexByte(mant, '.'); i >= 0 {
		intPart, frac = mant[:i], mant[i+1:]
	}
	// digits d with the decimal point after position p (p may be outside d).
	*scratch = append(append((*scratch)[:0], intPart...), frac...)
	d := *scratch
	p := len(intPart) + exp
	for len(d) > 0 && d[0] == '0' {
		d = d[1:]
		p--
	}
	for len(d) > 0 && d[len(d)-1] == '0' && len(d) > p {
		d = d[:len(d)-1]
	}
	if len(d) == 0 {
		return append(buf, '0'), ""
	}
	if p > len(d)+MaxNumberText || -p > MaxNumberText {
		return buf, outOfRange
	}
	if neg {
		buf = append(buf, '-')
	}
	switch {
	case p <= 0:
		buf = append(buf, "0."...)
		for range -p {
			buf = append(buf, '0')
		}
		buf = append(buf, d...)
	case p >= len(d):
		buf = append(buf, d...)
		for range p - len(d) {
			buf = append(buf, '0')
		}
	default:
		buf = append(buf, d[:p]...)
		buf = append(buf, '.')
		buf = append(buf, d[p:]...)
	}
	return buf, ""
}

// IsNumber reports whether s is a number in JSON syntax.
func IsNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && '0' <= s[1] && s[1] <= '9' {
		s = s[2:]
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && '0' <= s[0] && s[0] <= '9' {
			s = s[1:]
		}
	}
	return s == ""
}

// Valid reports whether s is valid UTF-8 without NUL bytes. It reads an
// ASCII string eight bytes at a time, in one pass, and leaves the rest
// from the first byte that is not ASCII to package utf8.
func Valid(s string) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		w := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		if w&hi != 0 {
			break // not ASCII
		}
		if (w-lo)&^w&hi != 0 {
			return false // a NUL byte
		}
	}
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0:
			return false
		case c >= utf8.RuneSelf:
			return utf8.ValidString(s[i:]) && strings.IndexByte(s[i:], 0) < 0
		}
	}
	return true
}

// Repair replaces invalid UTF-8 and NUL bytes in s with U+FFFD. It
// returns s itself when there are none.
func Repair(s string) string {
	if Valid(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}
