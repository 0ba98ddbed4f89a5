// Package cursor encodes the query cursors of Filter.Cursor, for the root
// package (which validates them) and storekit (which stores use).
package cursor

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The versions of the encoding: a position alone (cursors made before
// walks had a horizon, still accepted), and a position with the store's
// horizon of the walk.
const (
	version        = 1
	versionHorizon = 2
)

// MaxHorizon is the longest horizon a cursor carries, in bytes.
const MaxHorizon = 2048

// The range of times a cursor may hold: the years 1 to 9999.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ErrInvalid is returned by Decode for a token Encode did not make.
var ErrInvalid = errors.New("not a cursor returned by a query")

// Encode returns the opaque, URL-safe token for the position t, id
// (t at microsecond precision) and the horizon of the walk (none if
// empty; at most MaxHorizon bytes, or Encode panics).
func Encode(t time.Time, id uuid.UUID, horizon []byte) string {
	if len(horizon) > MaxHorizon {
		panic("audit: cursor horizon too long")
	}
	b := make([]byte, 25, 25+len(horizon))
	b[0] = version
	if len(horizon) > 0 {
		b[0] = versionHorizon
	}
	binary.BigEndian.PutUint64(b[1:9], uint64(t.UnixMicro()))
	copy(b[9:], id[:])
	return base64.RawURLEncoding.EncodeToString(append(b, horizon...))
}

// Decode parses a token made by Encode, and nothing else (one token, one
// encoding: no padding, no line breaks). horizon is nil for a cursor
// without one.
func Decode(s string) (t time.Time, id uuid.UUID, horizon []byte, err error) {
	if len(s) > base64.RawURLEncoding.EncodedLen(25+MaxHorizon) || strings.ContainsAny(s, "\r\n") {
		return time.Time{}, uuid.UUID{}, nil, ErrInvalid
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) < 25 || !(b[0] == version && len(b) == 25 || b[0] == versionHorizon && len(b) > 25) {
		return time.Time{}, uuid.UUID{}, nil, ErrInvalid
	}
	t = time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9]))).UTC()
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, uuid.UUID{}, nil, ErrInvalid
	}
	copy(id[:], b[9:25])
	if len(b) > 25 {
		horizon = b[25:]
	}
	return t, id, horizon, nil
}

// versionTail marks a tail token: a horizon alone, without a position.
const versionTail = 3

// EncodeTail returns the opaque, URL-safe tail token for horizon (at
// most MaxHorizon bytes, or EncodeTail panics).
func EncodeTail(horizon []byte) string {
	if len(horizon) > MaxHorizon {
		panic("audit: cursor horizon too long")
	}
	return base64.RawURLEncoding.EncodeToString(append([]byte{versionTail}, horizon...))
}

// DecodeTail parses a token made by EncodeTail.
func DecodeTail(s string) ([]byte, error) {
	if len(s) > base64.RawURLEncoding.EncodedLen(1+MaxHorizon) || strings.ContainsAny(s, "\r\n") {
		return nil, ErrInvalid
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != versionTail {
		return nil, ErrInvalid
	}
	return b[1:], nil
}
