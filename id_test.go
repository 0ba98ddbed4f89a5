package audit

import (
	"bytes"
	mrand "math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
)

// TestNewV7: the Logger's UUIDv7s are RFC 9562 version 7, carry the
// millisecond given, and increase in the order made, also past 4096 in
// one millisecond (the counter borrows from the next) and when the clock
// steps back.
func TestNewV7(t *testing.T) {
	l := &Logger{}
	l.rng.New = func() any { return mrand.NewChaCha8([32]byte{1}) }
	now := time.UnixMilli(1_780_000_000_000)
	first := l.newV7(now)
	if first.Version() != 7 || first.Variant() != uuid.RFC4122 {
		t.Fatalf("ID %v: version %d variant %v, want 7 and RFC 4122", first, first.Version(), first.Variant())
	}
	if sec, nsec := first.Time().UnixTime(); !time.Unix(sec, nsec).Equal(now) {
		t.Errorf("ID time %v, want %v", time.Unix(sec, nsec), now)
	}
	prev := first
	times := []time.Time{now, now.Add(-time.Second), now.Add(time.Millisecond)}
	for i := range 10000 {
		id := l.newV7(times[i%len(times)])
		if bytes.Compare(id[:], prev[:]) <= 0 {
			t.Fatalf("ID %d %v does not follow %v", i, id, prev)
		}
		if id.Version() != 7 || id.Variant() != uuid.RFC4122 {
			t.Fatalf("ID %v is not a UUIDv7", id)
		}
		prev = id
	}
}
