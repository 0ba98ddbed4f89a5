package siem

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the request header that carries a batch's signature.
const SignatureHeader = "Trailmark-Signature"

// IdempotencyHeader is the request header that carries a batch's
// idempotency key. The signature covers it: a receiver dedupes on it only
// after VerifySignature accepted the request.
const IdempotencyHeader = "Idempotency-Key"

// DefaultTolerance is how far the signed timestamp may be from the
// receiver's clock, either way, for VerifySignature to accept it.
const DefaultTolerance = 5 * time.Minute

// MinSecretLen is the length, in bytes, of the shortest secret that signs
// or verifies a stream: 32 random bytes, as HMAC-SHA256's block size
// makes worthwhile. A shorter one is refused — an empty one on both sides
// would let anyone sign.
const MinSecretLen = 32

// MaxKeyLen is the length of the longest idempotency key VerifySignature
// accepts. IdempotencyKey makes keys of 32 bytes.
const MaxKeyLen = 128

// Errors VerifySignature returns, checked with errors.Is.
var (
	// ErrNoSignature: the header is empty or has no t= or v2= part, or
	// the idempotency key is empty or not a valid key (see
	// VerifySignature).
	ErrNoSignature = errors.New("audit: siem: no signature")
	// ErrBadSignature: no v2 signature matches the key, the body and the
	// secret.
	ErrBadSignature = errors.New("audit: siem: signature does not match")
	// ErrStaleSignature: the signed timestamp is outside the tolerance.
	ErrStaleSignature = errors.New("audit: siem: signature timestamp outside tolerance")
	// ErrShortSecret: the secret is shorter than MinSecretLen bytes.
	ErrShortSecret = errors.New("audit: siem: the secret must be at least 32 bytes")
)

// Sign returns the Trailmark-Signature header value for body sent at t
// with idempotency key key (the Idempotency-Key header):
//
//	t=<unix seconds>,v2=<hex HMAC-SHA256(secret, "<unix seconds>.<key>." + body)>
//
// It returns ErrShortSecret if secret is shorter than MinSecretLen, and an
// error if key is not a valid idempotency key (1 to MaxKeyLen ASCII
// letters, digits, '-' or '_'): a signature that anyone could make, or
// that could be read two ways, is never produced.
func Sign(secret []byte, t time.Time, key string, body []byte) (string, error) {
	if len(secret) < MinSecretLen {
		return "", ErrShortSecret
	}
	if !validKey(key) {
		return "", errors.New("audit: siem: Sign: not a valid idempotency key")
	}
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v2=" + hex.EncodeToString(mac(secret, ts, key, body)), nil
}

func mac(secret []byte, ts, key string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write([]byte(key))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// validKey reports whether key is a valid idempotency key: 1 to MaxKeyLen
// bytes, each an ASCII letter or digit, '-' or '_'. Without '.' in it, the
// signed material "<t>.<key>.<body>" has one reading only: no byte can be
// moved between the key and the body.
func validKey(key string) bool {
	if len(key) == 0 || len(key) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// VerifySignature checks a Trailmark-Signature header against the
// request's idempotency key (its Idempotency-Key header) and raw body
// (the bytes as received, before any Content-Encoding is undone): one of
// its v2 signatures must equal HMAC-SHA256(secret, "<t>.<key>." + body),
// compared in constant time, and t must be within tolerance of now (0
// means DefaultTolerance). Several v2 parts are allowed, so that a sender
// can sign with an old and a new secret while rotating. A secret shorter
// than MinSecretLen is refused (ErrShortSecret), and so is a key that is
// empty or not 1 to MaxKeyLen ASCII letters, digits, '-' or '_'
// (ErrNoSignature).
//
// When it returns nil, key is the sender's: a receiver that remembers the
// keys it accepted for at least twice the tolerance, and drops a request
// whose key it has seen, processes each batch once — a replay carries
// either a key already seen, or a key the signature does not cover, or a
// timestamp outside the tolerance.
func VerifySignature(secret []byte, header, key string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) < MinSecretLen {
		return ErrShortSecret
	}
	if !validKey(key) {
		return fmt.Errorf("%w: no valid %s", ErrNoSignature, IdempotencyHeader)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v2":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if ts == "" || len(sigs) == 0 {
		return ErrNoSignature
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad timestamp", ErrNoSignature)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStaleSignature
	}
	want := mac(secret, ts, key, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
