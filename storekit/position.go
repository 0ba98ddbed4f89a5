package storekit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// PositionStore keeps named positions beside the records: where a
// reader of the store, such as a SIEM stream (package siem), got to, so
// that it resumes there after a restart. A position is an opaque string
// of at most MaxPositionLen bytes that the reader makes and only it
// reads; the store keeps the last one saved under each name. The memory,
// SQLite and PostgreSQL stores implement it. Its methods must be safe for
// concurrent use.
type PositionStore interface {
	// LoadPosition returns the position last saved under name, and ""
	// with a nil error if none was.
	LoadPosition(ctx context.Context, name string) (string, error)
	// SavePosition replaces the position saved under name, durably
	// (committed) when it returns nil. name is 1 to MaxPositionName
	// bytes.
	SavePosition(ctx context.Context, name, pos string) error
}

// Limits of a PositionStore.
const (
	MaxPositionName = 256
	MaxPositionLen  = 16 << 10
)

// CheckPosition returns an error if name or pos is out of a
// PositionStore's limits: name 1 to MaxPositionName bytes, pos at most
// MaxPositionLen, both valid UTF-8 without NUL.
func CheckPosition(name, pos string) error {
	switch {
	case name == "" || len(name) > MaxPositionName:
		return fmt.Errorf("audit: position name must be 1 to %d bytes, got %d", MaxPositionName, len(name))
	case len(pos) > MaxPositionLen:
		return fmt.Errorf("audit: position must be at most %d bytes, got %d", MaxPositionLen, len(pos))
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0) || !utf8.ValidString(pos) || strings.ContainsRune(pos, 0):
		return errors.New("audit: position name and value must be valid UTF-8 without NUL")
	}
	return nil
}

// PositionLocker is a PositionStore that lets one process at a time hold
// a name, so that of the processes that share a store, one reads it
// under that name (as a Sealer leads by an advisory lock): the
// PostgreSQL store does. A SIEM stream (package siem) holds its
// position's name while it runs, and waits while another process holds
// it.
type PositionLocker interface {
	// TryLockPosition takes the lock of name if no one holds it, and
	// reports whether it did; release gives it back. The lock of a
	// process that ends (its connection closes) is free again.
	TryLockPosition(ctx context.Context, name string) (release func(), ok bool, err error)
}
