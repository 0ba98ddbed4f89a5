package audit

import (
	"context"
	"sync"
	"testing"
	"time"
)

// unappendSpool records what the Logger forgets, and how.
type unappendSpool struct {
	mu                 sync.Mutex
	released, unappend []Record
}

func (s *unappendSpool) Append(Record, time.Duration) error { return nil }
func (s *unappendSpool) Release(recs []Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released = append(s.released, recs...)
}
func (s *unappendSpool) Unappend(rec Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unappend = append(s.unappend, rec)
}
func (s *unappendSpool) Replay(int, func([]Record) error) error { return nil }

// heldStore holds every Append until release is closed.
type heldStore struct{ release chan struct{} }

func (s heldStore) Append(ctx context.Context, _ ...Record) error {
	select {
	case <-s.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestQueueFullUnappends: a record the full queue refuses is forgotten
// by the spool with Unappend, the newest of its ID, not Release, which
// forgets the oldest: with an earlier record of the same ID still
// queued, Release let that one's storage go.
func TestQueueFullUnappends(t *testing.T) {
	st := heldStore{make(chan struct{})}
	sp := &unappendSpool{}
	l, err := New(st, &Options{NoLifecycleEvents: true, OnError: func(error) {},
		Async: AsyncOptions{QueueSize: 1, Spool: sp, Overflow: OverflowDrop}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		close(st.release)
		l.Close(context.Background())
	}()
	ev := Event{Action: ActionResourceRead, ResourceType: "doc", Status: StatusSuccess}
	var refused *Event
	for i := range 50 {
		e := ev
		e.ResourceID = string(rune('a' + i%26))
		if err := l.Log(context.Background(), e); err != nil {
			refused = &e
			break
		}
	}
	if refused == nil {
		t.Fatal("the queue of 1 never refused a record")
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if len(sp.unappend) != 1 || len(sp.released) != 0 {
		t.Errorf("the refused record: %d Unappend, %d Release; want 1 and 0", len(sp.unappend), len(sp.released))
	}
}
