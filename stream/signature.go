package stream

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
// idempotency key.
const IdempotencyHeader = "Idempotency-Key"

// DefaultTolerance is how far the signed timestamp may be from the
// receiver's clock, either way, for VerifySignature to accept it.
const DefaultTolerance = 5 * time.Minute

// Errors VerifySignature returns, checked with errors.Is.
var (
	// ErrNoSignature: the header is empty or has no t= or v1= part.
	ErrNoSignature = errors.New("audit: stream: no signature")
	// ErrBadSignature: no v1 signature matches the body and the secret.
	ErrBadSignature = errors.New("audit: stream: signature does not match")
	// ErrStaleSignature: the signed timestamp is outside the tolerance.
	ErrStaleSignature = errors.New("audit: stream: signature timestamp outside tolerance")
)

// Sign returns the Trailmark-Signature header value for body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>." + body)>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// VerifySignature checks a Trailmark-Signature header against the raw
// request body (the bytes as received, before any Content-Encoding is
// undone): one of its v1 signatures must equal HMAC-SHA256(secret,
// "<t>." + body), compared in constant time, and t must be within
// tolerance of now (0 means DefaultTolerance). Several v1 parts are
// allowed, so that a sender can sign with an old and a new secret while
// rotating. A receiver that also remembers the idempotency keys it has
// seen within the tolerance rejects replays.
func VerifySignature(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
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
		case "v1":
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
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return ErrBadSignature
}
