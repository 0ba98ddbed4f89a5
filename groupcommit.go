package audit

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit of Sync writes.
//
// A Sync caller does not call Store.Append itself: it hands its record to
// the committer and waits. A few writer goroutines take every record that
// is waiting when they become free and write them with one Store.Append,
// so one transaction and one commit serve many callers. Nothing waits for
// a batch to fill, and batches grow only while commits are in flight, as
// in a database's group commit. Each caller keeps its own deadline and its
// own result.
//
// A caller who finds a write slot free and nobody waiting writes its own
// record itself, in its own goroutine and within its own deadline: a lone
// Sync caller pays for no hand-off to a writer goroutine, no request and no
// second context. The slots bound the Store.Append calls in progress, the
// callers' and the writers' together, to SyncWriters.

// The states of a syncReq.
const (
	reqWaiting   int32 = iota // in the channel, not taken yet
	reqTaken                  // a writer is writing it
	reqAbandoned              // its caller stopped waiting before a writer took it
)

// syncReq is one Sync caller's record waiting for a group commit.
type syncReq struct {
	rec      Record // a copy: the caller's stays on its stack
	size     int
	deadline time.Time
	state    atomic.Int32
	done     chan error // capacity 1: the result of the write
}

// committer batches the Sync writes of concurrent callers.
type committer struct {
	store    Store
	obs      Observer // nil for none
	maxRecs  int
	maxBytes int

	reqs  chan *syncReq
	slots chan *slot // the free write slots: SyncWriters of them

	mu       sync.Mutex
	closed   bool
	wg       sync.WaitGroup // the writers
	inFlight sync.WaitGroup // the Sync writes between enter and leave

	batches atomic.Uint64 // Store.Append calls made for Sync writes
}

func newCommitter(store Store, obs Observer, writers, maxRecs, maxBytes int) *committer {
	c := &committer{
		store:    store,
		obs:      obs,
		maxRecs:  maxRecs,
		maxBytes: maxBytes,
		reqs:     make(chan *syncReq, 4*maxRecs),
		slots:    make(chan *slot, writers),
	}
	for range writers {
		c.slots <- &slot{batch: make([]*syncReq, 0, maxRecs), recs: make([]Record, 0, maxRecs)}
	}
	c.wg.Add(writers)
	for range writers {
		go c.writer()
	}
	return c
}

// write, called between enter and leave, writes rec. With a slot free and
// nobody waiting, it writes rec itself within ctx (writeOwn) and returns
// the store's answer. Otherwise it hands rec to a writer and waits for its
// result, until ctx ends. When ctx ends before a writer took the record,
// the record is not written and write returns ctx's error. When it ends
// during the write, write waits up to commitGrace more for the store's
// answer, then returns ctx's error, and the record may still be committed.
func (c *committer) write(ctx context.Context, rec *Record) error {
	if len(c.reqs) == 0 {
		select {
		case sl := <-c.slots:
			defer func() { c.slots <- sl }() // even if the store panics
			return c.writeOwn(ctx, sl, rec)
		default:
		}
	}
	r := &syncReq{rec: *rec, size: int(recordBytes(rec)), done: make(chan error, 1)}
	r.deadline, _ = ctx.Deadline()
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqWaiting, reqAbandoned) {
			return ctx.Err()
		}
	}
	// The deadline ended during the write. The write's own context ends
	// with the latest deadline of its batch, often this one: wait a little
	// for its result, which says what the store did.
	t := time.NewTimer(commitGrace)
	defer t.Stop()
	select {
	case err := <-r.done:
		return err
	case <-t.C:
		return &ambiguousError{err: ctx.Err()}
	}
}

// slot is the right to make one Store.Append of Sync records, with the
// scratch of a batch.
type slot struct {
	batch []*syncReq
	recs  []Record
}

// writeOwn writes rec alone, within ctx, holding sl. A waiting caller's
// request is in the channel, where a writer takes it: the writers wait for
// a slot in the order they asked, so callers writing their own records
// cannot starve them.
func (c *committer) writeOwn(ctx context.Context, sl *slot, rec *Record) error {
	var start time.Time
	if c.obs != nil {
		start = time.Now()
	}
	sl.recs = append(sl.recs[:0], *rec)
	err := c.store.Append(ctx, sl.recs...)
	clear(sl.recs)
	if c.obs != nil {
		c.obs.Write(Sync, 1, time.Since(start), err)
	}
	c.batches.Add(1)
	return err
}

// commitGrace is how long a caller whose deadline ended during its write
// waits for the store's answer.
const commitGrace = 50 * time.Millisecond

// ambiguousError is a deadline that ended while the record was being
// written: the write may have committed.
type ambiguousError struct{ err error }

func (e *ambiguousError) Error() string {
	return e.err.Error() + " (during the commit: the record may be stored)"
}

func (e *ambiguousError) Unwrap() error { return e.err }

// enter starts a Sync write, retries included, or reports false after
// close. Call leave when the write is done.
func (c *committer) enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.inFlight.Add(1)
	return true
}

func (c *committer) leave() { c.inFlight.Done() }

// close refuses new Sync writes, waits for those in progress to end (each
// within its own deadline), then stops the writers.
func (c *committer) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	c.inFlight.Wait()
	close(c.reqs)
	c.wg.Wait()
}

// writer takes the waiting requests and writes them, until close.
func (c *committer) writer() {
	defer c.wg.Done()
	for first := range c.reqs {
		sl := <-c.slots
		batch := sl.batch[:0]
		size := 0
		add := func(r *syncReq) {
			if r.state.CompareAndSwap(reqWaiting, reqTaken) {
				batch = append(batch, r)
				size += r.size
			}
		}
		add(first)
	fill:
		for len(batch) < c.maxRecs && size < c.maxBytes {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break fill
				}
				add(r)
			default:
				break fill
			}
		}
		if len(batch) > 0 {
			recs := sl.recs[:0]
			for _, r := range batch {
				recs = append(recs, r.rec)
			}
			c.commit(batch, recs)
			clear(recs)
			clear(batch)
		}
		c.slots <- sl
	}
}

// commit writes recs, the records of batch, and gives each request its
// result. A record the store refuses (a Permanent error) is isolated by
// halving the batch, so that it fails its own caller only.
func (c *committer) commit(batch []*syncReq, recs []Record) {
	ctx, cancel := c.context(batch)
	var start time.Time
	if c.obs != nil {
		start = time.Now()
	}
	err := c.store.Append(ctx, recs...)
	cancel()
	if c.obs != nil {
		c.obs.Write(Sync, len(recs), time.Since(start), err)
	}
	c.batches.Add(1)
	if err != nil && isPermanent(err) && len(batch) > 1 {
		half := len(batch) / 2
		c.commit(batch[:half], recs[:half])
		c.commit(batch[half:], recs[half:])
		return
	}
	for _, r := range batch {
		r.done <- err
	}
}

// context returns the context of one Store.Append for batch: it ends at the
// latest deadline among its callers, so that no caller's write is cut short
// by another's deadline, and the write outlives no caller.
func (c *committer) context(batch []*syncReq) (context.Context, context.CancelFunc) {
	var last time.Time
	for _, r := range batch {
		if r.deadline.IsZero() {
			return context.WithCancel(context.Background())
		}
		if r.deadline.After(last) {
			last = r.deadline
		}
	}
	return context.WithDeadline(context.Background(), last)
}
