package middleware

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ipSource is how the client address is read from a trusted proxy's
// request.
type ipSource uint8

const (
	sourceXFF       ipSource = iota // X-Forwarded-For: a list, walked right to left
	sourceForwarded                 // RFC 7239 Forwarded: a list of for= parameters, walked right to left
	sourceSingle                    // one address the nearest proxy overwrites (X-Real-IP, …)
)

// ipResolver finds the client address of a request.
type ipResolver struct {
	trusted []netip.Prefix // normalised: unmapped, masked
	header  string         // canonical header name
	source  ipSource
}

func newIPResolver(trusted []netip.Prefix, header string) (*ipResolver, error) {
	res := &ipResolver{header: http.CanonicalHeaderKey(header)}
	if res.header == "" {
		res.header = "X-Forwarded-For"
	}
	if !validHeaderName(res.header) {
		return nil, fmt.Errorf("audit: middleware: ClientIPHeader %q is not a valid header name", header)
	}
	switch res.header {
	case "X-Forwarded-For":
		res.source = sourceXFF
	case "Forwarded":
		res.source = sourceForwarded
	default:
		res.source = sourceSingle
	}
	for _, p := range trusted {
		if !p.IsValid() {
			return nil, fmt.Errorf("audit: middleware: invalid trusted proxy prefix %v", p)
		}
		res.trusted = append(res.trusted, normalizePrefix(p))
	}
	return res, nil
}

// normalizePrefix turns an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104)
// into its IPv4 form (10.0.0.0/8), since addresses are unmapped before
// they are matched, and masks it.
func normalizePrefix(p netip.Prefix) netip.Prefix {
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return p.Masked()
}

// normalizeAddr unmaps IPv4-mapped IPv6 addresses and drops zones, so that
// ::ffff:10.0.0.1 matches 10.0.0.0/8 and fe80::1%eth0 matches fe80::/10.
func normalizeAddr(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

func (res *ipResolver) isTrusted(a netip.Addr) bool {
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// resolve returns the client address of a request from remoteAddr (the
// TCP peer, as in http.Request.RemoteAddr) and its header h.
//
// The peer is the answer unless it is a trusted proxy. Then the forwarding
// header is walked from its rightmost entry (written by the peer) to the
// left, across every header line in order, skipping trusted addresses: the
// first untrusted one is the client. An entry that is not an address (a
// garbled value, "unknown", an obfuscated RFC 7239 identifier) ends the
// walk, since nothing to its left can be vouched for: the answer is then
// the last trusted hop walked, which is also the answer when every entry
// is trusted. The result is never an address only an untrusted party
// wrote, unless it was written to the left of every trusted hop.
func (res *ipResolver) resolve(remoteAddr string, h http.Header) netip.Addr {
	peer := parsePeer(remoteAddr)
	if len(res.trusted) == 0 || !peer.IsValid() || !res.isTrusted(peer) {
		return peer
	}
	vals := h[res.header]
	switch res.source {
	case sourceSingle:
		if len(vals) != 1 {
			return peer
		}
		if a, ok := parseHop(vals[0]); ok {
			return a
		}
		return peer
	case sourceForwarded:
		return res.walkForwarded(peer, vals)
	}
	ip := peer
	for i := len(vals) - 1; i >= 0; i-- {
		v := vals[i]
		end := len(v)
		for {
			start := strings.LastIndexByte(v[:end], ',') + 1
			if hop := trimOWS(v[start:end]); hop != "" { // empty list elements are ignored (RFC 9110 5.6.1)
				a, ok := parseHop(hop)
				if !ok {
					return ip
				}
				if !res.isTrusted(a) {
					return a
				}
				ip = a
			}
			if start == 0 {
				break
			}
			end = start - 1
		}
	}
	return ip
}

func (res *ipResolver) walkForwarded(peer netip.Addr, vals []string) netip.Addr {
	ip := peer
	var fors []string
	for i := len(vals) - 1; i >= 0; i-- {
		var ok bool
		if fors, ok = forwardedFor(fors[:0], vals[i]); !ok {
			return ip
		}
		for j := len(fors) - 1; j >= 0; j-- {
			a, ok := parseHop(fors[j])
			if !ok {
				return ip
			}
			if !res.isTrusted(a) {
				return a
			}
			ip = a
		}
	}
	return ip
}

// forwardedFor appends to dst the for= value of each element of an RFC
// 7239 Forwarded header value, unquoted; an element without one appends "",
// which is not an address. It reports false if v does not parse: then none
// of it can be relied on.
func forwardedFor(dst []string, v string) ([]string, bool) {
	i := 0
	elem, hasFor := "", false
	for {
		// one pair, or an empty element
		for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
			i++
		}
		if i < len(v) && v[i] != ',' && v[i] != ';' {
			k := i
			for i < len(v) && isTokenChar(v[i]) {
				i++
			}
			name := v[k:i]
			if name == "" || i == len(v) || v[i] != '=' {
				return dst, false
			}
			i++
			var val string
			if i < len(v) && v[i] == '"' {
				var b strings.Builder
				i++
				for {
					if i == len(v) {
						return dst, false // unterminated
					}
					c := v[i]
					if c == '"' {
						i++
						break
					}
					if c == '\\' {
						i++
						if i == len(v) {
							return dst, false
						}
						c = v[i]
					}
					b.WriteByte(c)
					i++
				}
				val = b.String()
			} else {
				k := i
				for i < len(v) && isTokenChar(v[i]) {
					i++
				}
				val = v[k:i]
				if val == "" {
					return dst, false
				}
			}
			if strings.EqualFold(name, "for") {
				if hasFor {
					return dst, false // a parameter may occur once per element
				}
				elem, hasFor = val, true
			}
			for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
				i++
			}
		}
		if i < len(v) && v[i] == ';' {
			i++
			continue
		}
		if i < len(v) && v[i] != ',' {
			return dst, false
		}
		// end of an element
		if hasFor {
			dst = append(dst, elem)
		} else if !emptyElement(v, i) {
			dst = append(dst, "")
		}
		elem, hasFor = "", false
		if i == len(v) {
			return dst, true
		}
		i++
	}
}

// emptyElement reports whether the element of v ending at i is empty (only
// whitespace since the previous comma), which list syntax allows.
func emptyElement(v string, i int) bool {
	for j := i - 1; j >= 0 && v[j] != ','; j-- {
		if v[j] != ' ' && v[j] != '\t' {
			return false
		}
	}
	return true
}

// isTokenChar reports whether c may appear in an RFC 9110 token.
func isTokenChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return true
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// parsePeer parses http.Request.RemoteAddr: "ip:port", "[ip]:port", or a
// bare address. Anything else (a Unix socket) is the zero Addr.
//
// The port is checked, not parsed: netip.ParseAddrPort parses it with
// strconv.ParseUint, 20 to 50 ns of every request that nothing uses.
func parsePeer(s string) netip.Addr {
	host := s
	if i := strings.LastIndexByte(s, ':'); i >= 0 && validPort(s[i+1:]) {
		switch h := s[:i]; {
		case len(h) >= 2 && h[0] == '[' && h[len(h)-1] == ']':
			if a, err := netip.ParseAddr(h[1 : len(h)-1]); err == nil && a.Is6() {
				return normalizeAddr(a)
			}
		case strings.IndexByte(h, ':') < 0:
			host = h // IPv4 or a name, with a port
		}
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return normalizeAddr(a)
	}
	return netip.Addr{}
}

// validPort reports whether s is a port as netip.ParseAddrPort takes it:
// decimal digits (leading zeros allowed), 0 to 65535.
func validPort(s string) bool {
	if s == "" {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		if n = n*10 + int(s[i]-'0'); n > 65535 {
			return false
		}
	}
	return true
}

// parseHop parses one entry of a forwarding header: an address, with or
// without a port, IPv6 possibly in brackets.
func parseHop(s string) (netip.Addr, bool) {
	s = trimOWS(s)
	if s == "" {
		return netip.Addr{}, false
	}
	if s[0] == '[' {
		if s[len(s)-1] == ']' {
			a, err := netip.ParseAddr(s[1 : len(s)-1])
			if err != nil || !a.Is6() {
				return netip.Addr{}, false
			}
			return normalizeAddr(a), true
		}
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		return normalizeAddr(ap.Addr()), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return normalizeAddr(a), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Is4() {
		return normalizeAddr(ap.Addr()), true
	}
	return netip.Addr{}, false
}

// ParseTrustedProxies parses a comma-separated list of prefixes
// ("10.0.0.0/8, 192.168.1.7, fd00::/8"), such as one read from an
// environment variable, for Options.TrustedProxies. A bare address stands
// for itself alone (/32 or /128). An empty s gives no prefixes.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var ps []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.Contains(f, "/") {
			p, err := netip.ParsePrefix(f)
			if err != nil {
				return nil, fmt.Errorf("audit: trusted proxies: %w", err)
			}
			ps = append(ps, p)
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("audit: trusted proxies: %w", err)
		}
		a = normalizeAddr(a)
		ps = append(ps, netip.PrefixFrom(a, a.BitLen()))
	}
	return ps, nil
}
