package audit

import (
	"runtime"
	"testing"
	"time"
)

// TestWallNow checks the default clock against time.Now: the same wall
// clock, in UTC, and on linux/amd64 (gettimeofday) to the microsecond.
func TestWallNow(t *testing.T) {
	for range 1000 {
		before := time.Now().Truncate(time.Microsecond)
		got := wallNow()
		after := time.Now()
		if got.Before(before) || got.After(after) {
			t.Fatalf("wallNow() = %v, not between time.Now's %v and %v", got, before, after)
		}
		if got.Location() != time.UTC {
			t.Fatalf("wallNow() is in %v, want UTC", got.Location())
		}
		if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" && got.Nanosecond()%1000 != 0 {
			t.Fatalf("wallNow() = %v: finer than the microsecond gettimeofday gives", got)
		}
	}
}
