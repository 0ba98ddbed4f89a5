package wallclock

import (
	"runtime"
	"testing"
	"time"
)

// TestNow checks Now against time.Now: the same wall
// clock, in UTC, and on linux/amd64 (gettimeofday) to the microsecond.
func TestNow(t *testing.T) {
	for range 1000 {
		before := time.Now().Truncate(time.Microsecond)
		got := Now()
		after := time.Now()
		if got.Before(before) || got.After(after) {
			t.Fatalf("Now() = %v, not between time.Now's %v and %v", got, before, after)
		}
		if got.Location() != time.UTC {
			t.Fatalf("Now() is in %v, want UTC", got.Location())
		}
		if runtime.GOOS == "linux" && runtime.GOARCH == "amd64" && got.Nanosecond()%1000 != 0 {
			t.Fatalf("Now() = %v: finer than the microsecond gettimeofday gives", got)
		}
	}
}
