package middleware

import (
	"github.com/google/uuid"
)

// MaxRequestIDLen is the longest request id accepted from a client.
const MaxRequestIDLen = 128

// ValidRequestID reports whether s is acceptable as a request id from a
// client: 1 to MaxRequestIDLen bytes, each an ASCII letter or digit or one
// of - _ . : / + = @ ~. Anything else — spaces, quotes, control
// characters, non-ASCII — is refused, so that an id is safe to echo in a
// header, to print in a log line and to search for.
func ValidRequestID(s string) bool {
	if len(s) == 0 || len(s) > MaxRequestIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !requestIDChar(s[i]) {
			return false
		}
	}
	return true
}

func requestIDChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', ':', '/', '+', '=', '@', '~':
		return true
	}
	return false
}

// newRequestID returns a UUIDv7 string (uuid.NewV7): ids sort by time
// and do not collide.
func newRequestID() string { return uuid.Must(uuid.NewV7()).String() }
