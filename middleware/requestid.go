package middleware

import (
	"crypto/rand"
	"encoding/binary"
	"time"

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

// newRequestID returns a UUIDv7 string from now and crypto/rand: ids sort
// by time and do not collide.
func newRequestID(now time.Time) string {
	var u uuid.UUID
	rand.Read(u[6:]) // never fails (crypto/rand, Go 1.24+)
	ms := uint64(max(now.UnixMilli(), 0))
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ms)
	copy(u[0:6], ts[2:])
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // RFC 9562 variant
	return u.String()
}
