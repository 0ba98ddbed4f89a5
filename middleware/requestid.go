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

// newRequestID returns a UUIDv7 string (RFC 9562): 48 bits of Unix
// milliseconds, 12 bits of the fraction of the millisecond (its method 3),
// then 62 random bits from crypto/rand, so that ids sort by time and do
// not collide. It allocates the string only: uuid.NewV7 also puts its
// array on the heap (it reads through an io.Reader), and crypto/rand.Read
// does not.
func newRequestID() string {
	var u uuid.UUID
	now := time.Now()
	ms := uint64(now.UnixMilli())
	frac := uint64(now.Nanosecond()%1e6) << 12 / 1e6 // 12 bits
	binary.BigEndian.PutUint64(u[0:8], ms<<16|0x7000|frac)
	rand.Read(u[8:])
	u[8] = u[8]&0x3f | 0x80 // variant 10
	return u.String()
}
