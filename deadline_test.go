package audit

import (
	"context"
	"errors"
	"testing"
	"time"
)

type deadlineKey struct{}

// TestLazyDeadline: the Sync write's context ends at its deadline, and
// only then, whether or not something waits on it; it keeps the caller's
// values, not the caller's cancellation; a child context ends with it.
func TestLazyDeadline(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), deadlineKey{}, "v"))
	cancelParent() // a cancelled request is still recorded

	never := withLazyDeadline(parent, 30*time.Millisecond) // nothing waits on it
	defer never.stop()
	if never.Err() != nil || never.Value(deadlineKey{}) != "v" {
		t.Fatalf("before the deadline: Err %v, value %v", never.Err(), never.Value(deadlineKey{}))
	}
	if d, ok := never.Deadline(); !ok || time.Until(d) > 30*time.Millisecond {
		t.Errorf("Deadline %v, %v", d, ok)
	}

	waited := withLazyDeadline(parent, 30*time.Millisecond)
	defer waited.stop()
	child, cancelChild := context.WithCancel(waited)
	defer cancelChild()
	select {
	case <-waited.Done():
		t.Fatal("done before its deadline")
	case <-time.After(5 * time.Millisecond):
	}
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the child did not end with its parent's deadline")
	}
	for name, c := range map[string]context.Context{"unwaited": never, "waited": waited, "child": child} {
		if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s after the deadline: Err %v, want DeadlineExceeded", name, err)
		}
	}

	stopped := withLazyDeadline(context.Background(), time.Hour)
	done := stopped.Done()
	stopped.stop()
	select {
	case <-done: // stop releases the timer; the context is done
	case <-time.After(5 * time.Second):
		t.Error("stop did not release the context")
	}
}
