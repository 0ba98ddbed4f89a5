package audit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/trailmark/audit"
)

// slowStore takes write time per Append and notes when each began and
// ended, by the first record's ResourceID.
type slowStore struct {
	write time.Duration

	mu         sync.Mutex
	start, end map[string]time.Time
}

func (s *slowStore) Append(_ context.Context, rs ...audit.Record) error {
	begin := time.Now()
	time.Sleep(s.write)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start[rs[0].ResourceID], s.end[rs[0].ResourceID] = begin, time.Now()
	return nil
}

// TestFlushIntervalFromOldestRecord: a record queued while a batch is
// being written is written FlushInterval after it was queued, or as soon
// as that write ends — not a whole FlushInterval after the write ends. So
// the records a killed process loses are at most FlushInterval plus the
// write in progress old (issue 23: with a slow store, 1.8× FlushInterval).
func TestFlushIntervalFromOldestRecord(t *testing.T) {
	t.Parallel()
	const interval, write = 50 * time.Millisecond, 100 * time.Millisecond
	s := &slowStore{write: write, start: map[string]time.Time{}, end: map[string]time.Time{}}
	l := newLogger(t, s, &audit.Options{NoLifecycleEvents: true, Async: audit.AsyncOptions{FlushInterval: interval}})
	ctx := context.Background()
	log := func(id string) time.Time {
		at := time.Now()
		if err := l.Log(ctx, audit.Event{Action: audit.ActionResourceRead, ResourceType: "document", ResourceID: id, Status: audit.StatusSuccess}); err != nil {
			t.Fatal(err)
		}
		return at
	}
	log("a")
	time.Sleep(interval + write/4) // a's write is in progress
	log("b")
	// not Flush, which would write b at once
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		s.mu.Lock()
		_, done := s.end["b"]
		if done || time.Now().After(deadline) {
			break
		}
		s.mu.Unlock()
	}
	defer s.mu.Unlock()
	if late := s.start["b"].Sub(s.end["a"]); late > interval/2 {
		t.Errorf("b's write began %v after a's ended, want at once (b had waited FlushInterval by then)", late)
	}
}
