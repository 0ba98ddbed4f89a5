// Package cursor encodes the query cursors of Filter.Cursor, for the root
// package (which validates them) and storekit (which stores use).
package cursor

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/google/uuid"
)

const version = 1

// The range of times a cursor may hold: the years 1 to 9999.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ErrInvalid is returned by Decode for a token Encode did not make.
var ErrInvalid = errors.New("not a cursor returned by a query")

// Encode returns the opaque, URL-safe token for the position t, id
// (t at microsecond precision).
func Encode(t time.Time, id uuid.UUID) string {
	var b [25]byte
	b[0] = version
	binary.BigEndian.PutUint64(b[1:9], uint64(t.UnixMicro()))
	copy(b[9:], id[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Decode parses a token made by Encode.
func Decode(s string) (time.Time, uuid.UUID, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 25 || b[0] != version {
		return time.Time{}, uuid.UUID{}, ErrInvalid
	}
	t := time.UnixMicro(int64(binary.BigEndian.Uint64(b[1:9]))).UTC()
	if t.Before(minTime) || !t.Before(maxTime) {
		return time.Time{}, uuid.UUID{}, ErrInvalid
	}
	var id uuid.UUID
	copy(id[:], b[9:])
	return t, id, nil
}
