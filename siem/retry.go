package siem

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// Retry says how a batch is retried. The zero value means the defaults.
type Retry struct {
	// MinBackoff is the wait after the first failure; it doubles after
	// each further one, up to MaxBackoff, and each wait is drawn uniformly
	// from [wait/2, wait] (jitter), so that many senders do not retry in
	// step. A Retry-After of the response lengthens the wait, never
	// shortens it. Defaults 200ms and 2s: a sink back from an outage is
	// tried again within 2s, and one request every 1 to 2s is little load
	// for a sink that is down.
	MinBackoff, MaxBackoff time.Duration
	// RetryFor is how long a batch is retried after its first failure
	// before it is dropped (audit.ReasonRetriesExhausted). A wait that
	// would end after it drops the batch at once. Default 5m.
	RetryFor time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.MinBackoff == 0 {
		r.MinBackoff = 200 * time.Millisecond
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = 2 * time.Second
	}
	if r.RetryFor == 0 {
		r.RetryFor = 5 * time.Minute
	}
	return r
}

func (r Retry) validate() error {
	if r.MinBackoff < 0 || r.MaxBackoff < 0 || r.RetryFor < 0 {
		return fmt.Errorf("audit: siem: Retry durations must not be negative")
	}
	if r.MaxBackoff < r.MinBackoff {
		return fmt.Errorf("audit: siem: Retry.MaxBackoff (%v) must be at least MinBackoff (%v)", r.MaxBackoff, r.MinBackoff)
	}
	return nil
}

// hooks are what deliver tells its caller, and what it listens to; nil
// fields are not used.
type hooks struct {
	// retried is called before each repeated attempt.
	retried func(error)
	// drops signals, while deliver waits out a backoff, that report must
	// be called (queue-full drops to report at once).
	drops  <-chan struct{}
	report func()
	// back returns a channel closed when another batch of the stream
	// reaches the sink: the sink is back, and a waiting batch is tried
	// again at once, its backoff from MinBackoff; sent is called on
	// success, to close it.
	back func() <-chan struct{}
	sent func()
}

// deliver sends records to sink until it succeeds, fails permanently,
// RetryFor runs out (never when it is 0: defaults are applied before) or
// ctx ends. It returns the reason of a drop ("" on success) with the
// last error.
func deliver(ctx context.Context, sink Sink, records []audit.Record, r Retry, now func() time.Time, h hooks) (audit.DropReason, error) {
	var deadline time.Time
	backoff := r.MinBackoff
	for {
		err := sink.Send(ctx, records)
		switch {
		case err == nil:
			if h.sent != nil {
				h.sent()
			}
			return "", nil
		case storekit.IsPermanent(err):
			return audit.ReasonRejected, err
		case ctx.Err() != nil:
			return audit.ReasonShutdown, err
		}
		t := now()
		if deadline.IsZero() {
			deadline = t.Add(r.RetryFor)
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		wait = max(wait, RetryAfter(err))
		if r.RetryFor > 0 && t.Add(wait).After(deadline) { // 0: until ctx ends
			return audit.ReasonRetriesExhausted, err
		}
		backoff = min(2*backoff, r.MaxBackoff)
		if h.retried != nil {
			h.retried(err)
		}
		var back <-chan struct{}
		if h.back != nil && RetryAfter(err) == 0 {
			back = h.back()
		}
		timer := time.NewTimer(wait)
	backoff:
		for {
			select {
			case <-timer.C:
				break backoff
			case <-back:
				timer.Stop()
				backoff = r.MinBackoff
				break backoff
			case <-h.drops:
				h.report()
			case <-ctx.Done():
				timer.Stop()
				return audit.ReasonShutdown, err
			}
		}
	}
}
