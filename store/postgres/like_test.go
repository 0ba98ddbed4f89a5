package postgres_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trailmark/audit/store/postgres"
)

// like reports whether s matches the LIKE pattern p, whose escape
// character is '\', as PostgreSQL's LIKE does for a C collation.
func like(p, s string) bool {
	switch {
	case p == "":
		return s == ""
	case p[0] == '%':
		for i := 0; i <= len(s); i++ {
			if like(p[1:], s[i:]) {
				return true
			}
		}
		return false
	case p[0] == '_':
		_, n := utf8.DecodeRuneInString(s)
		return s != "" && like(p[1:], s[n:])
	case p[0] == '\\' && len(p) > 1:
		return s != "" && s[0] == p[1] && like(p[2:], s[1:])
	default:
		return s != "" && s[0] == p[0] && like(p[1:], s[1:])
	}
}

func FuzzLikePrefix(f *testing.F) {
	for _, seed := range []struct{ prefix, s string }{
		{"user.", "user.login"}, {"api_", "apiXkey.create"}, {"a%", "a%b.c"}, {"a%", "aZZb.c"},
		{`a\`, `a\b.c`}, {"%", "anything"}, {"_", "x"}, {"", ""}, {`\%_`, `\%_x`}, {"ü", "ü\u2028"},
	} {
		f.Add(seed.prefix, seed.s)
	}
	f.Fuzz(func(t *testing.T, prefix, s string) {
		p := postgres.LikePrefix(prefix)
		if got, want := like(p, s), strings.HasPrefix(s, prefix); got != want {
			t.Errorf("%q LIKE %q (prefix %q): got %v, want %v", s, p, prefix, got, want)
		}
		if got := like(p, prefix); !got {
			t.Errorf("the prefix %q does not match its own pattern %q", prefix, p)
		}
	})
}
