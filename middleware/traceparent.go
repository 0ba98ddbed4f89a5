package middleware

import "net/http"

// ParseTraceParent reads a W3C Trace Context traceparent header value
// (https://www.w3.org/TR/trace-context/#traceparent-header) and returns
// its trace id and parent id (the caller's span id), or ok false when it
// is not valid. It is strict, as the specification asks of a receiver:
//
//   - the version is two lowercase hex digits, and not "ff";
//   - version "00" is exactly 55 characters: 00-<trace-id>-<parent-id>-<flags>;
//   - a later version is at least that, and what follows the flags must
//     start with "-" (fields added by that version, ignored);
//   - trace-id is 32 and parent-id 16 lowercase hex digits, neither all
//     zeros; flags are two lowercase hex digits.
//
// Uppercase hex makes the value invalid.
func ParseTraceParent(v string) (traceID, spanID string, ok bool) {
	const size = 55
	if len(v) < size || v[2] != '-' || v[35] != '-' || v[52] != '-' {
		return "", "", false
	}
	version := v[:2]
	if !lowerHex(version) || version == "ff" {
		return "", "", false
	}
	if version == "00" && len(v) != size {
		return "", "", false
	}
	if len(v) > size && v[size] != '-' {
		return "", "", false
	}
	traceID, spanID = v[3:35], v[36:52]
	if !lowerHex(traceID) || !lowerHex(spanID) || !lowerHex(v[53:55]) || allZero(traceID) || allZero(spanID) {
		return "", "", false
	}
	return traceID, spanID, true
}

// traceParent returns the ids of the request's traceparent header: none
// when it is absent, malformed, or repeated.
func traceParent(h http.Header) (traceID, spanID string) {
	v := h["Traceparent"]
	if len(v) != 1 {
		return "", ""
	}
	t, s, ok := ParseTraceParent(v[0])
	if !ok {
		return "", ""
	}
	return t, s
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
