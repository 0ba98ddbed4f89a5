package audit

import (
	"context"
	"sync"
	"time"
)

// lazyDeadline is a context that ends at a deadline and never sooner
// (its parent does not cancel it), whose timer starts only when something
// waits on it (Done, or a child context): a store that never waits on
// its context, as the memory store, costs no timer and no lock. Err
// reports the deadline by the clock until then. stop releases the timer.
type lazyDeadline struct {
	parent   context.Context // for its values only
	deadline time.Time

	mu     sync.Mutex
	inner  context.Context // with the deadline, once something waits
	cancel context.CancelFunc
}

// withLazyDeadline returns ctx's values, without its cancellation, in a
// context that ends after d.
func withLazyDeadline(ctx context.Context, d time.Duration) *lazyDeadline {
	return &lazyDeadline{parent: ctx, deadline: time.Now().Add(d)}
}

// Value returns the parent's value for key.
func (c *lazyDeadline) Value(key any) any { return c.parent.Value(key) }

func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

// started returns the context with the deadline, starting its timer.
func (c *lazyDeadline) started() context.Context {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inner == nil {
		c.inner, c.cancel = context.WithDeadline(context.WithoutCancel(c.parent), c.deadline)
	}
	return c.inner
}

func (c *lazyDeadline) Done() <-chan struct{} { return c.started().Done() }

func (c *lazyDeadline) Err() error {
	c.mu.Lock()
	inner := c.inner
	c.mu.Unlock()
	switch {
	case inner != nil:
		return inner.Err()
	case !time.Now().Before(c.deadline):
		return context.DeadlineExceeded
	}
	return nil
}

// AfterFunc lets a child context (context.WithCancel and the like) wait
// on c without a goroutine of its own, as it would on a context of the
// standard library.
func (c *lazyDeadline) AfterFunc(f func()) func() bool { return context.AfterFunc(c.started(), f) }

// stop releases the timer, if one was started.
func (c *lazyDeadline) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
}
