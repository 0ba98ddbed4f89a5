package middleware

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// hdr is one header line of a request.
type hdr struct{ k, v string }

type ipCase struct {
	name    string
	remote  string // RemoteAddr; "" means the loopback peer of a test server
	trusted string // ParseTrustedProxies syntax
	source  string // Options.ClientIPHeader
	headers []hdr
	want    string // "" means the zero Addr
}

const loopback = "127.0.0.1"

// ipCases is the spoofing table. Cases without remote run against a real
// loopback server too, where the peer is 127.0.0.1.
var ipCases = []ipCase{
	// no trusted proxies: every forwarding header is ignored
	{name: "no proxies, forged XFF", headers: []hdr{{"X-Forwarded-For", "203.0.113.7"}}, want: loopback},
	{name: "no proxies, forged X-Real-IP", headers: []hdr{{"X-Real-IP", "203.0.113.7"}}, want: loopback},
	{name: "no proxies, forged True-Client-IP", headers: []hdr{{"True-Client-IP", "203.0.113.7"}}, want: loopback},
	{name: "no proxies, forged Forwarded", headers: []hdr{{"Forwarded", "for=203.0.113.7"}}, want: loopback},
	{name: "no proxies, X-Real-IP configured", source: "X-Real-IP", headers: []hdr{{"X-Real-IP", "203.0.113.7"}}, want: loopback},

	// untrusted peer: headers are ignored however they look
	{name: "untrusted peer, forged XFF", trusted: "10.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "10.0.0.1"}}, want: loopback},
	{name: "untrusted peer, forged XFF list", trusted: "10.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "203.0.113.7, 10.0.0.1"}}, want: loopback},
	{name: "untrusted peer, X-Real-IP configured", trusted: "10.0.0.0/8", source: "X-Real-IP", headers: []hdr{{"X-Real-IP", "203.0.113.7"}}, want: loopback},

	// trusted peer
	{name: "trusted peer, no header", trusted: "127.0.0.0/8", want: loopback},
	{name: "trusted peer, one hop", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "203.0.113.7"}}, want: "203.0.113.7"},
	{name: "prepended forged entry", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "6.6.6.6, 203.0.113.7"}}, want: "203.0.113.7"},
	{name: "prepended forged trusted-looking entry", trusted: "127.0.0.0/8, 10.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "10.9.9.9, 203.0.113.7"}}, want: "203.0.113.7"},
	{name: "two proxies", trusted: "127.0.0.0/8, 10.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "6.6.6.6, 203.0.113.7, 10.0.0.2"}}, want: "203.0.113.7"},
	{name: "duplicate headers merged", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "6.6.6.6"}, {"X-Forwarded-For", "203.0.113.7"}}, want: "203.0.113.7"},
	{name: "duplicate headers, proxy in the last", trusted: "127.0.0.0/8, 10.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "6.6.6.6, 203.0.113.7"}, {"X-Forwarded-For", "10.0.0.3"}}, want: "203.0.113.7"},
	{name: "forged first line of duplicates", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "10.0.0.1, 6.6.6.6"}, {"X-Forwarded-For", "203.0.113.7"}}, want: "203.0.113.7"},
	{name: "every hop trusted", trusted: "127.0.0.0/8, 10.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "10.0.0.5, 10.0.0.6"}}, want: "10.0.0.5"},
	{name: "empty elements ignored", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", " , 203.0.113.7 ,, "}}, want: "203.0.113.7"},
	{name: "hop with port", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "203.0.113.7:4711"}}, want: "203.0.113.7"},
	{name: "IPv6 hop", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "2001:db8::1"}}, want: "2001:db8::1"},
	{name: "bracketed IPv6 hop", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "[2001:db8::1]"}}, want: "2001:db8::1"},
	{name: "bracketed IPv6 hop with port", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "[2001:db8::1]:4711"}}, want: "2001:db8::1"},
	{name: "IPv4-mapped client", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "::ffff:203.0.113.7"}}, want: "203.0.113.7"},
	{name: "IPv4-mapped proxy is trusted", trusted: "127.0.0.0/8, 10.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "203.0.113.7, ::ffff:10.0.0.2"}}, want: "203.0.113.7"},
	{name: "IPv4-mapped trusted prefix", trusted: "::ffff:127.0.0.0/104", headers: []hdr{{"X-Forwarded-For", "203.0.113.7"}}, want: "203.0.113.7"},
	{name: "zoned client", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "fe80::1%eth0"}}, want: "fe80::1"},
	{name: "zoned proxy is trusted", trusted: "127.0.0.0/8, fe80::/10", headers: []hdr{{"X-Forwarded-For", "203.0.113.7, fe80::2%eth0"}}, want: "203.0.113.7"},

	// garbage: the walk stops at the first hop it cannot read
	{name: "garbage only", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "garbage"}}, want: loopback},
	{name: "garbage right of client", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "203.0.113.7, garbage"}}, want: loopback},
	{name: "garbage left of client", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "garbage, 203.0.113.7"}}, want: "203.0.113.7"},
	{name: "garbage between proxies", trusted: "127.0.0.0/8, 10.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "203.0.113.7, unknown, 10.0.0.2"}}, want: "10.0.0.2"},
	{name: "bad port", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "203.0.113.7:99999"}}, want: loopback},
	{name: "unclosed bracket", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "[2001:db8::1"}}, want: loopback},
	{name: "bracketed IPv4", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "[203.0.113.7]"}}, want: loopback},
	{name: "space separated", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "6.6.6.6 203.0.113.7"}}, want: loopback},
	{name: "CIDR in header", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "203.0.113.0/24"}}, want: loopback},
	{name: "huge header", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", strings.Repeat("9", 4000)}}, want: loopback},
	{name: "many hops", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", strings.Repeat("6.6.6.6, ", 500) + "203.0.113.7"}}, want: "203.0.113.7"},
	{name: "empty header", trusted: "127.0.0.0/8", headers: []hdr{{"X-Forwarded-For", ""}}, want: loopback},

	// other headers are never read unless configured
	{name: "X-Real-IP not configured", trusted: "127.0.0.0/8", headers: []hdr{{"X-Real-IP", "203.0.113.7"}, {"True-Client-IP", "203.0.113.8"}}, want: loopback},
	{name: "X-Real-IP not configured, XFF used", trusted: "127.0.0.0/8", headers: []hdr{{"X-Real-IP", "6.6.6.6"}, {"X-Forwarded-For", "203.0.113.7"}}, want: "203.0.113.7"},
	{name: "X-Real-IP configured", trusted: "127.0.0.0/8", source: "X-Real-IP", headers: []hdr{{"X-Real-IP", "203.0.113.7"}, {"X-Forwarded-For", "6.6.6.6"}}, want: "203.0.113.7"},
	{name: "X-Real-IP repeated", trusted: "127.0.0.0/8", source: "X-Real-IP", headers: []hdr{{"X-Real-IP", "6.6.6.6"}, {"X-Real-IP", "203.0.113.7"}}, want: loopback},
	{name: "X-Real-IP garbage", trusted: "127.0.0.0/8", source: "X-Real-IP", headers: []hdr{{"X-Real-IP", "6.6.6.6, 203.0.113.7"}}, want: loopback},
	{name: "True-Client-IP configured", trusted: "127.0.0.0/8", source: "True-Client-IP", headers: []hdr{{"True-Client-IP", "::ffff:203.0.113.7"}}, want: "203.0.113.7"},

	// RFC 7239 Forwarded
	{name: "Forwarded", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"Forwarded", "for=203.0.113.7;proto=https"}}, want: "203.0.113.7"},
	{name: "Forwarded prepended", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"Forwarded", "for=6.6.6.6, For=203.0.113.7"}}, want: "203.0.113.7"},
	{name: "Forwarded duplicates", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"Forwarded", "for=6.6.6.6"}, {"Forwarded", "for=203.0.113.7"}}, want: "203.0.113.7"},
	{name: "Forwarded quoted IPv6 with port", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"Forwarded", `for="[2001:db8:cafe::17]:4711"`}}, want: "2001:db8:cafe::17"},
	{name: "Forwarded quoted comma", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"Forwarded", `for="6.6.6.6, x", for=203.0.113.7`}}, want: "203.0.113.7"},
	{name: "Forwarded unknown", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"Forwarded", "for=203.0.113.7, for=unknown"}}, want: loopback},
	{name: "Forwarded obfuscated", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"Forwarded", "for=_hidden"}}, want: loopback},
	{name: "Forwarded without for", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"Forwarded", "for=203.0.113.7, by=10.0.0.1"}}, want: loopback},
	{name: "Forwarded unterminated quote", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"Forwarded", `for=203.0.113.7, for="6.6.6.6`}}, want: loopback},
	{name: "Forwarded unquoted port", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"Forwarded", "for=203.0.113.7:80"}}, want: loopback},
	{name: "Forwarded repeated for", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"Forwarded", "for=6.6.6.6;for=203.0.113.7"}}, want: loopback},
	{name: "Forwarded mode ignores XFF", trusted: "127.0.0.0/8", source: "Forwarded", headers: []hdr{{"X-Forwarded-For", "6.6.6.6"}}, want: loopback},
	{name: "XFF mode ignores Forwarded", trusted: "127.0.0.0/8", headers: []hdr{{"Forwarded", "for=6.6.6.6"}}, want: loopback},

	// peers that only a unit test can fake
	{name: "IPv4-mapped peer", remote: "[::ffff:10.0.0.1]:443", trusted: "10.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "203.0.113.7"}}, want: "203.0.113.7"},
	{name: "IPv4-mapped peer untrusted", remote: "[::ffff:192.0.2.1]:443", trusted: "10.0.0.0/8", headers: []hdr{{"X-Forwarded-For", "203.0.113.7"}}, want: "192.0.2.1"},
	{name: "zoned peer", remote: "[fe80::1%eth0]:443", trusted: "fe80::/10", headers: []hdr{{"X-Forwarded-For", "203.0.113.7"}}, want: "203.0.113.7"},
	{name: "IPv6 peer", remote: "[2001:db8::5]:443", want: "2001:db8::5"},
	{name: "peer without port", remote: "192.0.2.1", want: "192.0.2.1"},
	{name: "unix socket peer", remote: "@", trusted: "0.0.0.0/0", headers: []hdr{{"X-Forwarded-For", "203.0.113.7"}}, want: ""},
	{name: "trust everything", remote: "192.0.2.1:1", trusted: "0.0.0.0/0, ::/0", headers: []hdr{{"X-Forwarded-For", "6.6.6.6, 203.0.113.7"}}, want: "6.6.6.6"},
}

func (tt *ipCase) resolver(t testing.TB) *ipResolver {
	t.Helper()
	ps, err := ParseTrustedProxies(tt.trusted)
	if err != nil {
		t.Fatal(err)
	}
	res, err := newIPResolver(ps, tt.source)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (tt *ipCase) header() http.Header {
	h := http.Header{}
	for _, kv := range tt.headers {
		h.Add(kv.k, kv.v)
	}
	return h
}

func wantAddr(s string) netip.Addr {
	if s == "" {
		return netip.Addr{}
	}
	return netip.MustParseAddr(s)
}

func TestResolveClientIP(t *testing.T) {
	t.Parallel()
	for _, tt := range ipCases {
		t.Run(tt.name, func(t *testing.T) {
			remote := tt.remote
			if remote == "" {
				remote = loopback + ":54321"
			}
			got := tt.resolver(t).resolve(remote, tt.header())
			if want := wantAddr(tt.want); got != want {
				t.Errorf("resolve(%q, %v) = %v, want %v", remote, tt.headers, got, want)
			}
		})
	}
}

func TestForwardedFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"for=192.0.2.43", []string{"192.0.2.43"}, true},
		{`for="_gazonk"`, []string{"_gazonk"}, true},
		{`For="[2001:db8:cafe::17]:4711"`, []string{"[2001:db8:cafe::17]:4711"}, true},
		{"for=192.0.2.60;proto=http;by=203.0.113.43", []string{"192.0.2.60"}, true},
		{"for=192.0.2.43, for=198.51.100.17", []string{"192.0.2.43", "198.51.100.17"}, true},
		{`for="a\"b"`, []string{`a"b`}, true},
		{"proto=https", []string{""}, true},
		{" , for=1.2.3.4 , ", []string{"1.2.3.4"}, true},
		{"", nil, true},
		{"for=", nil, false},
		{"for", nil, false},
		{`for="x`, nil, false},
		{"for=1.2.3.4 x", nil, false},
		{"=1.2.3.4", nil, false},
	}
	for _, tt := range tests {
		got, ok := forwardedFor(nil, tt.in)
		if ok != tt.ok || ok && strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("forwardedFor(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,, ::ffff:10.1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"),
		netip.MustParsePrefix("fd00::/8"), netip.MustParsePrefix("10.1.2.3/32"),
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("prefix %d: got %v, want %v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "nonsense", "10.0.0.1/8/8"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q): got no error", bad)
		}
	}
}

// FuzzClientIP checks the resolver's promises on any input: it does not
// panic; without trusted proxies, or from an untrusted peer, the answer is
// the peer; otherwise the answer is the peer or an address that appears in
// the header, normalised.
func FuzzClientIP(f *testing.F) {
	for _, tt := range ipCases {
		remote := tt.remote
		if remote == "" {
			remote = loopback + ":1"
		}
		var vals []string
		for _, h := range tt.headers {
			vals = append(vals, h.v)
		}
		for len(vals) < 2 {
			vals = append(vals, "")
		}
		f.Add(remote, tt.trusted, tt.source, vals[0], vals[1])
	}
	f.Fuzz(func(t *testing.T, remote, trusted, source, h1, h2 string) {
		ps, err := ParseTrustedProxies(trusted)
		if err != nil {
			return
		}
		res, err := newIPResolver(ps, source)
		if err != nil {
			return
		}
		h := http.Header{}
		h[res.header] = []string{h1, h2}
		got := res.resolve(remote, h)
		peer := parsePeer(remote)
		if got.Zone() != "" || got.Is4In6() {
			t.Fatalf("resolve gave %v, not normalised", got)
		}
		if !peer.IsValid() || len(ps) == 0 || !res.isTrusted(peer) {
			if got != peer {
				t.Fatalf("untrusted peer %v: resolve gave %v", peer, got)
			}
			return
		}
		if got == peer {
			return
		}
		if !got.IsValid() {
			t.Fatalf("trusted peer %v: resolve gave the zero Addr", peer)
		}
		// the answer must come from the header text
		if !strings.Contains(strings.ToLower(h1+","+h2), strings.ToLower(got.String())) && !containsAddr(h1+","+h2, got) {
			t.Fatalf("resolve gave %v, which is neither the peer nor in %q, %q", got, h1, h2)
		}
	})
}

// containsAddr reports whether some token of s parses as a.
func containsAddr(s string, a netip.Addr) bool {
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(" ,;=\"\t", r) }) {
		if b, ok := parseHop(f); ok && b == a {
			return true
		}
	}
	return false
}

// parsePeerStd is parsePeer as it was, with netip.ParseAddrPort:
// FuzzParsePeer holds parsePeer to it.
func parsePeerStd(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return normalizeAddr(ap.Addr())
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return normalizeAddr(a)
	}
	return netip.Addr{}
}

// FuzzParsePeer checks that parsePeer, which checks a port without
// parsing it, reads every RemoteAddr as netip.ParseAddrPort and
// netip.ParseAddr do.
func FuzzParsePeer(f *testing.F) {
	for _, s := range []string{
		"10.0.0.2:4000", "[2001:db8::1]:443", "[fe80::1%eth0]:80", "[::ffff:10.0.0.1]:1", "192.0.2.1", "2001:db8::1",
		"::1:80", "[1.2.3.4]:80", "1.2.3.4:", ":80", "1.2.3.4:65535", "1.2.3.4:65536", "1.2.3.4:000000080", "1.2.3.4:+80",
		"::ffff:1.2.3.4", "[::1]", "[::1]:", "@", "", "::1:abc", "1.2.3.4:80:90", "[::1]:80]", "[[::1]]:80",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := parsePeer(s), parsePeerStd(s); got != want {
			t.Fatalf("parsePeer(%q) = %v, want %v", s, got, want)
		}
	})
}
