package api

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// MinCursorKeySize is the shortest Options.CursorKey New accepts, in
// bytes.
const MinCursorKeySize = 32

// cursorDomain separates the MACs of cursors from any other use of the
// key.
const cursorDomain = "trailmark.api.cursor.v1\n"

// cursorMACSize is how much of the HMAC-SHA256 a cursor carries: 128 bits.
const cursorMACSize = 16

// cursors binds the cursors the API hands out to the scope of the caller
// they were minted for. A client sees a cursor as the store's cursor, a
// dot and a MAC over (scope, store cursor); a cursor presented with
// another scope, or altered, fails the MAC and is refused.
type cursors struct{ key []byte }

// newCursors returns cursors keyed with key, or with a random key if key
// is empty.
func newCursors(key []byte) (cursors, error) {
	if len(key) == 0 {
		key = make([]byte, MinCursorKeySize)
		if _, err := rand.Read(key); err != nil {
			return cursors{}, fmt.Errorf("audit: api: a cursor key: %w", err)
		}
		return cursors{key: key}, nil
	}
	if len(key) < MinCursorKeySize {
		return cursors{}, fmt.Errorf("audit: api: Options.CursorKey must be at least %d bytes, got %d", MinCursorKeySize, len(key))
	}
	return cursors{key: append([]byte(nil), key...)}, nil
}

func (c cursors) mac(s Scope, storeCursor string) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte(cursorDomain))
	var n [4]byte
	for _, f := range [...]string{s.TenantID, s.UserID, s.ResourceType, s.ResourceID, storeCursor} {
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		m.Write(n[:])
		m.Write([]byte(f))
	}
	return m.Sum(nil)[:cursorMACSize]
}

// seal returns the cursor a caller with scope s is given for the store's
// cursor storeCursor ("" stays "": no more pages).
func (c cursors) seal(s Scope, storeCursor string) string {
	if storeCursor == "" {
		return ""
	}
	return storeCursor + "." + base64.RawURLEncoding.EncodeToString(c.mac(s, storeCursor))
}

// open returns the store's cursor inside apiCursor if it was minted for
// scope s by these cursors, and false otherwise.
func (c cursors) open(s Scope, apiCursor string) (string, bool) {
	dot := strings.LastIndexByte(apiCursor, '.')
	if dot <= 0 {
		return "", false
	}
	storeCursor := apiCursor[:dot]
	got, err := base64.RawURLEncoding.Strict().DecodeString(apiCursor[dot+1:])
	if err != nil || !hmac.Equal(got, c.mac(s, storeCursor)) {
		return "", false
	}
	return storeCursor, true
}
