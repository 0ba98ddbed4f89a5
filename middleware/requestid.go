package middleware

import (
	"crypto/rand"
	"encoding/binary"
	mrand "math/rand/v2"
	"sync"
	"unsafe"

	"github.com/trailmark/audit/internal/wallclock"
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

// idSource makes the middleware's request ids: UUIDv7 strings (RFC
// 9562), 48 bits of Unix milliseconds, 12 bits of the fraction of the
// millisecond (its method 3), then 62 random bits from a ChaCha8 seeded
// from crypto/rand, so that ids sort by time, do not collide and cannot
// be guessed. The zero value is ready to use.
type idSource struct {
	rngs sync.Pool // *mrand.ChaCha8
}

// requestID is a request id and the header value that holds it, made
// with one allocation.
type requestID struct {
	hdr  [1]string
	text [36]byte
}

// next returns a new request id, and a header value of it alone. The
// clock is read once (wallclock), and the random bits are drawn from a
// pooled ChaCha8 rather than crypto/rand: 125 ns less a request on the
// machine of docs/benchmarks.md.
func (s *idSource) next() (string, []string) {
	now := wallclock.Now()
	ms := uint64(now.UnixMilli())
	frac := uint64(now.Nanosecond()%1e6) << 12 / 1e6 // 12 bits
	rng, _ := s.rngs.Get().(*mrand.ChaCha8)
	if rng == nil {
		var seed [32]byte
		rand.Read(seed[:])
		rng = mrand.NewChaCha8(seed)
	}
	lo := rng.Uint64()
	s.rngs.Put(rng)
	var u [16]byte
	binary.BigEndian.PutUint64(u[0:8], ms<<16|0x7000|frac)
	binary.BigEndian.PutUint64(u[8:16], lo&^(3<<62)|1<<63) // variant 10
	id := new(requestID)
	t := id.text[:0]
	for i, b := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			t = append(t, '-')
		}
		t = append(t, hexDigits[b>>4], hexDigits[b&0xf])
	}
	id.hdr[0] = unsafe.String(&id.text[0], len(id.text))
	return id.hdr[0], id.hdr[:]
}

const hexDigits = "0123456789abcdef"
