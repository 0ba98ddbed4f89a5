package postgres_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trailmark/audit/store/postgres"
)

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		prefix, end string
		ok          bool
	}{
		{"user.", "user/", true},
		{"a", "b", true},
		{"a\x7f", "a\u0080", true},
		{"é", "ê", true},
		{"\ud7ff", "\ue000", true}, // past the surrogates
		{"x\U0010FFFF", "y", true},
		{"x\U0010FFFF\U0010FFFF", "y", true},
		{"\U0010FFFF", "", false},
		{"\uffff", "\U00010000", true},
	}
	for _, tt := range tests {
		end, ok := postgres.PrefixEnd(tt.prefix)
		if end != tt.end || ok != tt.ok {
			t.Errorf("PrefixEnd(%q): got %q, %v; want %q, %v", tt.prefix, end, ok, tt.end, tt.ok)
		}
	}
}

// FuzzPrefixEnd checks that the range [p, PrefixEnd(p)) holds exactly
// the strings that start with p, in byte order (PostgreSQL's C
// collation), for valid UTF-8 as PostgreSQL stores it.
func FuzzPrefixEnd(f *testing.F) {
	for _, seed := range []struct{ prefix, s string }{
		{"user.", "user.login"}, {"user.", "user/"}, {"user.", "users"}, {"a\x7f", "a\u0080"},
		{"\U0010FFFF", "\U0010FFFFx"}, {"x\U0010FFFF", "y"}, {"\ud7ff", "\ud7ff\ue000"}, {"ü", "ü\u2028"},
	} {
		f.Add(seed.prefix, seed.s)
	}
	f.Fuzz(func(t *testing.T, prefix, s string) {
		if prefix == "" || !utf8.ValidString(prefix) || !utf8.ValidString(s) {
			return
		}
		end, ok := postgres.PrefixEnd(prefix)
		if ok && !utf8.ValidString(end) {
			t.Fatalf("PrefixEnd(%q) = %q: invalid UTF-8", prefix, end)
		}
		in := s >= prefix && (!ok || s < end)
		if want := strings.HasPrefix(s, prefix); in != want {
			t.Errorf("%q in [%q, %q) (ok %v): got %v, want %v", s, prefix, end, ok, in, want)
		}
	})
}
