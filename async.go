package audit

import (
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// recordOverhead is the memory of a Record without what its fields point
// to.
const recordOverhead = int64(unsafe.Sizeof(Record{}))

// recordBytes is the memory r holds, as the queue's byte bound counts it.
func recordBytes(r *Record) int64 {
	return recordOverhead + int64(len(r.UserID)+len(r.UserEmail)+len(r.UserAgent)+len(r.Action)+
		len(r.ResourceType)+len(r.ResourceID)+len(r.Details)+len(r.Changes)+len(r.RequestID)+
		len(r.SessionID)+len(r.Status)+len(r.ErrorMessage))
}

// queue is the bounded buffer between Log and the batcher. Producers append
// under a mutex; the batcher takes everything queued at once, so that the
// two contend once per batch rather than once per record.
type queue struct {
	max, batch int
	maxBytes   int64
	wake       chan struct{} // capacity 1: the batcher has work

	mu       sync.Mutex
	buf      []Record
	halves   []bool        // for each record of buf, whether its ID is half made
	first    time.Time     // when the oldest record in buf was queued
	spare    []Record      // a taken buffer, given back for reuse
	spareH   []bool        // and its halves
	space    chan struct{} // closed when the batcher takes records or releases bytes
	closed   bool
	accepted uint64
	bytes    int64 // of the records queued and in flight

	inflight atomic.Int64 // records taken and not yet handled

	mem slabs // where Log puts the encoded JSON of Async records
}

func newQueue(max, batch int, maxBytes int64) *queue {
	return &queue{max: max, batch: batch, maxBytes: maxBytes, wake: make(chan struct{}, 1), space: make(chan struct{})}
}

// push appends r, whose ID is half made if half is set (see
// Logger.prepare). When the queue is full, by count or by bytes, it waits
// for room up to timeout if block is set, then returns ErrQueueFull. A
// record larger than the byte bound is let in when no other is held, so
// that it is not refused for ever.
func (q *queue) push(r *Record, half, block bool, timeout time.Duration) error {
	size := recordBytes(r)
	var timer *time.Timer
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return ErrClosed
		}
		if len(q.buf) < q.max && (q.bytes == 0 || q.bytes+size <= q.maxBytes) {
			if len(q.buf) == 0 {
				q.first = time.Now()
			}
			q.buf = append(q.buf, *r)
			q.halves = append(q.halves, half)
			q.accepted++
			q.bytes += size
			n := len(q.buf)
			q.mu.Unlock()
			if n == 1 || n == q.batch {
				select {
				case q.wake <- struct{}{}:
				default:
				}
			}
			if timer != nil {
				timer.Stop()
			}
			return nil
		}
		space := q.space
		q.mu.Unlock()
		if !block || timeout <= 0 {
			return ErrQueueFull
		}
		if timer == nil {
			// no defer: a deferred call would cost every push, not only
			// the ones that wait
			timer = time.NewTimer(timeout)
		}
		select {
		case <-space:
		case <-timer.C:
			return ErrQueueFull
		}
	}
}

// take returns everything queued and empties the queue: the records,
// and for each whether its ID is half made. Give the slices back with
// give once the records are handled.
func (q *queue) take() ([]Record, []bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	b, h := q.buf, q.halves
	q.buf, q.spare = q.spare[:0], nil
	q.halves, q.spareH = q.spareH[:0], nil
	q.inflight.Add(int64(len(b)))
	q.signal()
	return b, h
}

// signal wakes the producers waiting for room. q.mu must be held.
func (q *queue) signal() {
	close(q.space)
	q.space = make(chan struct{})
}

// give takes back a buffer whose records have all been handled (each
// batch's count was released with done).
func (q *queue) give(b []Record, h []bool) {
	clear(b)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.spare == nil {
		q.spare, q.spareH = b[:0], h[:0]
	}
}

// done releases records taken and now handled.
func (q *queue) done(rs []Record) {
	var size int64
	for i := range rs {
		size += recordBytes(&rs[i])
	}
	q.inflight.Add(-int64(len(rs)))
	q.mu.Lock()
	defer q.mu.Unlock()
	q.bytes -= size
	q.signal()
}

// wait returns how long the batcher may still wait for a batch to fill:
// the rest of interval since the oldest queued record was queued, or 0
// when a batch is full. ok is false when nothing is queued.
func (q *queue) wait(interval time.Duration) (d time.Duration, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.buf) == 0 {
		return 0, false
	}
	if len(q.buf) >= q.batch {
		return 0, true
	}
	return max(interval-time.Since(q.first), 0), true
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf)
}

func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
}

func (q *queue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// stats returns the records waiting or being written, their bytes, and
// the count of records ever accepted.
func (q *queue) stats() (depth int, bytes int64, accepted uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.buf) + int(q.inflight.Load()), q.bytes, q.accepted
}

// run is the batcher, the only writer of Async records. It sleeps until a
// first record is queued, waits for a batch to fill (producers wake it
// when one has) until the oldest queued record has waited FlushInterval,
// then writes everything queued. A record queued during a write waits
// for the rest of FlushInterval after it, not a whole FlushInterval. Under
// load it neither sleeps nor arms a timer.
func (l *Logger) run() {
	defer close(l.done)
	defer l.q.mem.cur.Store(nil) // a Log after Close allocates its own bytes
	if l.cfg.Spool != nil {
		l.replay()
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-l.q.wake:
		case req := <-l.flushReq:
			l.writeQueued()
			close(req)
			continue
		case <-l.stop:
			l.writeQueued() // the queue is closed: this is all
			return
		}
		wait, ok := l.q.wait(l.cfg.FlushInterval)
		if !ok {
			continue // taken by a Flush
		}
		if wait > 0 {
			timer.Reset(wait)
			select {
			case <-l.q.wake:
			case <-timer.C:
			case req := <-l.flushReq:
				l.writeQueued()
				close(req)
			case <-l.stop:
				timer.Stop()
				l.writeQueued()
				return
			}
			timer.Stop()
		}
		l.writeQueued()
	}
}

// writeQueued writes everything queued now, in batches.
func (l *Logger) writeQueued() {
	rs, halves := l.q.take()
	l.q.mem.refill()
	for i, half := range halves {
		if half {
			l.fillV7(&rs[i].ID)
		}
	}
	for i := 0; i < len(rs); i += l.cfg.BatchSize {
		b := rs[i:min(i+l.cfg.BatchSize, len(rs))]
		l.deliver(b)
		l.q.done(b)
	}
	l.q.give(rs, halves)
}

// Sizes of the slabs Log copies the encoded JSON of Async records into,
// and the largest encoding carved from one (a larger one is allocated
// alone).
const (
	slabMin = 32 << 10
	slabCap = 256 << 10
	slabMax = 2 << 10
)

// slabs is memory for the encoded Details and Changes of Async records,
// which the batcher allocates so that Log does not. A Log that allocated
// them would pay, on the caller's goroutine, the garbage collector's
// assist for their bytes and the kernel's first mapping of the memory.
//
// Log carves its bytes from the current slab with one atomic addition.
// Each time it takes the queue, the batcher puts in a new slab when three
// quarters of the current one were asked for, or when a Log found none
// (that Log, and any that finds no room, allocates its bytes itself). The
// new slab holds twice what was asked of the old one, between slabMin and
// slabCap, so that it lasts until the batcher's next turn. It drops the
// slab when it stops.
//
// A slab is never reused: what is carved from it is the record's for as
// long as a store holds it, and the collector frees the slab with the
// last such record (see Store, and Spool's Append, on keeping records).
// Records handed to an OnError are copies. A Logger whose events have no
// Details or Changes never gets a slab.
type slabs struct {
	cur  atomic.Pointer[slab]
	want atomic.Bool // a Log found no slab
}

type slab struct {
	buf []byte
	off atomic.Int64 // bytes asked for: carved, and those that did not fit
}

// alloc returns n bytes, of the current slab if it has room; s may be nil
// (then the bytes are allocated).
func (s *slabs) alloc(n int) []byte {
	if n == 0 {
		return nil
	}
	if s == nil || n > slabMax {
		return make([]byte, n)
	}
	if c := s.cur.Load(); c != nil {
		if end := c.off.Add(int64(n)); end <= int64(len(c.buf)) {
			return c.buf[end-int64(n) : end : end]
		}
	} else if !s.want.Load() {
		s.want.Store(true)
	}
	return make([]byte, n)
}

// refill puts in a new slab when three quarters of the current one were
// asked for or a Log found none. Only the batcher calls it.
func (s *slabs) refill() {
	c := s.cur.Load()
	var asked int64
	switch {
	case c != nil:
		if asked = c.off.Load(); asked < int64(len(c.buf))/4*3 {
			return
		}
	case !s.want.Load():
		return
	}
	size := min(max(2*asked, slabMin), slabCap)
	size = (size + 4<<10 - 1) &^ (4<<10 - 1)
	buf := make([]byte, size)
	// touch every page here, so that the kernel maps memory the runtime
	// may just have taken from it on the batcher's time, not on the first
	// Log that copies into it
	for i := 0; i < len(buf); i += 4 << 10 {
		buf[i] = 0
	}
	s.cur.Store(&slab{buf: buf})
	s.want.Store(false)
}
