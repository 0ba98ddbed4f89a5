package main

import (
	"net/url"
	"strings"

	"github.com/lib/pq"
)

// secrets are the passwords auditctl has seen (in $DATABASE_URL and --db),
// masked in every error it prints: a driver may echo a malformed URL.
type secrets struct {
	values []string
}

// addDSN notes the password of a PostgreSQL URL or key=value DSN, as
// given and unescaped.
func (s *secrets) addDSN(dsn string) {
	for _, p := range append(dsnPasswords(dsn), driverPasswords(dsn)...) {
		if len(p) >= 1 && !contains(s.values, p) {
			s.values = append(s.values, p)
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// mask returns msg with every noted password replaced by "xxxxx".
func (s *secrets) mask(msg string) string {
	for _, v := range s.values {
		msg = strings.ReplaceAll(msg, v, "xxxxx")
	}
	return msg
}

// dsnPasswords returns the password of dsn in the forms it may be
// printed: as written, unescaped, and escaped as url.URL writes it. It
// does not need the URL to parse: a malformed one is what gets echoed.
func dsnPasswords(dsn string) []string {
	var raw string
	if i := strings.Index(dsn, "://"); i >= 0 {
		rest := dsn[i+3:]
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			rest = rest[:j]
		}
		at := strings.LastIndex(rest, "@")
		if at < 0 {
			return nil
		}
		_, pw, ok := strings.Cut(rest[:at], ":")
		if !ok {
			return nil
		}
		raw = pw
	} else {
		raw = keywordPassword(dsn)
	}
	if raw == "" {
		return nil
	}
	out := []string{raw}
	if u, err := url.PathUnescape(raw); err == nil && u != raw {
		out = append(out, u)
	}
	if e := url.UserPassword("u", raw).String(); strings.HasPrefix(e, "u:") && e[2:] != raw {
		out = append(out, e[2:])
	}
	return out
}

// driverPasswords returns the password lib/pq reads in dsn, in the forms
// dsn holds it: the driver knows more places for one than dsnPasswords
// (a URL's ?password=, "password = p"). A password it takes from
// $PGPASSWORD, not from dsn, is not returned.
func driverPasswords(dsn string) []string {
	cfg, err := pq.NewConfig(dsn)
	if err != nil || cfg.Password == "" {
		return nil
	}
	var out []string
	for _, f := range []string{cfg.Password, url.QueryEscape(cfg.Password), url.PathEscape(cfg.Password)} {
		if strings.Contains(dsn, f) && !contains(out, f) {
			out = append(out, f)
		}
	}
	if len(out) > 0 && !contains(out, cfg.Password) {
		out = append(out, cfg.Password) // unescaped, as a driver may echo it
	}
	return out
}

// keywordPassword returns the value of password= in a key=value DSN
// ("host=h password='p w' dbname=d").
func keywordPassword(dsn string) string {
	i := strings.Index(dsn, "password=")
	if i < 0 {
		return ""
	}
	v := dsn[i+len("password="):]
	if strings.HasPrefix(v, "'") {
		var b strings.Builder
		for j := 1; j < len(v); j++ {
			switch {
			case v[j] == '\\' && j+1 < len(v):
				j++
				b.WriteByte(v[j])
			case v[j] == '\'':
				return b.String()
			default:
				b.WriteByte(v[j])
			}
		}
		return b.String()
	}
	if j := strings.IndexAny(v, " \t\n"); j >= 0 {
		v = v[:j]
	}
	return v
}

// redactDSN returns dsn with its password masked, for messages.
func redactDSN(dsn string) string {
	var s secrets
	s.addDSN(dsn)
	return s.mask(dsn)
}
