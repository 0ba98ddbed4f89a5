package siem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// Defaults of a Stream.
const (
	DefaultQueueSize     = 10000
	DefaultQueueBytes    = 32 << 20
	DefaultBatchSize     = 500
	DefaultBatchBytes    = 4 << 20
	DefaultFlushInterval = time.Second
	DefaultInFlight      = 4
)

// Stream is one secondary destination of a Tee. Zero sizes and durations
// mean the defaults.
type Stream struct {
	// Name identifies the stream in Stats and errors; required, unique
	// within a Tee.
	Name string
	// Sink receives the batches; required.
	Sink Sink
	// QueueSize and QueueBytes bound the records waiting for the sink, in
	// count and in approximate size (a record's strings, Details and
	// Changes plus 256 bytes). A record that would pass either bound is
	// dropped (audit.ReasonQueueFull). Defaults DefaultQueueSize and
	// DefaultQueueBytes.
	QueueSize, QueueBytes int
	// BatchSize and BatchBytes bound one Send (a single record larger
	// than BatchBytes is sent alone). Defaults DefaultBatchSize and
	// DefaultBatchBytes.
	BatchSize, BatchBytes int
	// FlushInterval is the longest a record waits for its batch to fill.
	// Default DefaultFlushInterval.
	FlushInterval time.Duration
	// Retry says how a failed batch is retried. A durable stream (see
	// TeeOptions.Positions) retries until the sink accepts: it ignores
	// Retry.RetryFor, as the store keeps what waits.
	Retry Retry
	// InFlight bounds the pages (of audit.MaxLimit records, sent in
	// batches) a durable stream sends at once, while it catches up with a
	// backlog; when a batch reaches the sink, those waiting out a backoff
	// are tried again at once. Default
	// DefaultInFlight. Ignored by a stream that is not durable (one batch
	// at a time).
	InFlight int
	// Since is where a durable stream without a saved position starts:
	// the records that occurred at or after it, and every record
	// committed after its first walk. Zero: when NewTee ran (by
	// TeeOptions.Now). Ignored once a position is saved, and by a stream
	// that is not durable.
	Since time.Time
}

// TeeOptions configures a Tee. The zero value (and nil) means the
// defaults.
type TeeOptions struct {
	// Now stamps RecordedAt on the records fed to the streams and the
	// times in Stats. Default time.Now.
	Now func() time.Time
	// OnError is told of every record a stream drops, as a *DropError
	// (one per batch or per run of queue-full drops). It is called from
	// the streams' goroutines (and from Append after Close), must be safe
	// for concurrent use, and should return quickly. A durable stream
	// (see Positions) also tells it when it cannot read the primary or
	// save its position (it tries again; nothing is dropped). Default:
	// print to standard error.
	OnError func(error)
	// Positions, when set, makes every stream durable: it reads the
	// records from the primary store (which must then be an
	// audit.Querier) instead of a queue in memory, and saves in Positions
	// how far it delivered them, under the name "siem/" + Stream.Name.
	// After an outage of the sink, a queue that would have overflowed, a
	// Close that gave up or a restart of the process, the stream resumes
	// there by itself: nothing the primary accepted is dropped, and some
	// records may be sent again (see the package documentation,
	// "Resuming"). A durable stream sends every record committed to the
	// primary, whoever wrote it; when Positions is a
	// storekit.PositionLocker (the PostgreSQL store), one process at a
	// time runs each stream, and the others wait to take over. The
	// memory, SQLite and PostgreSQL stores are PositionStores; package
	// trail passes the store. Nil: streams keep a bounded queue in memory.
	Positions storekit.PositionStore
}

// DropError reports records a stream dropped: they are in the primary
// store and did not reach the stream's sink.
type DropError struct {
	Stream string
	// Reason is audit.ReasonQueueFull, ReasonRejected (the sink refused
	// the batch: a permanent error), ReasonRetriesExhausted or
	// ReasonShutdown (still queued or in flight when Close gave up, or
	// appended after Close).
	Reason audit.DropReason
	Count  int
	// Oldest is the earliest OccurredAt among the records: Backfill from
	// it recovers them (and re-sends some that arrived).
	Oldest time.Time
	// Err is the last error of the sink, if any.
	Err error
}

// Error says which stream dropped how many records, and why.
func (e *DropError) Error() string {
	msg := fmt.Sprintf("audit: stream %q: %d record(s) not delivered: %s", e.Stream, e.Count, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the sink's error.
func (e *DropError) Unwrap() error { return e.Err }

// StreamStats counts what one stream did since NewTee.
type StreamStats struct {
	Name        string
	Queued      int    // records waiting, not yet in a Send
	QueuedBytes int    // their approximate size
	Sent        uint64 // records the sink accepted
	Batches     uint64 // batches the sink accepted
	Retried     uint64 // Send attempts repeated after an error
	// Dropped counts records by the reason they were dropped (see
	// DropError.Reason).
	Dropped     map[audit.DropReason]uint64
	LastError   error     // the sink's last error, nil if none yet
	LastErrorAt time.Time // when it happened
	LastSuccess time.Time // when the sink last accepted a batch
	// LastSaved is when a durable stream last saved its position.
	LastSaved time.Time
	// Standby: the durable stream waits while another process, holding
	// the lock of its position (storekit.PositionLocker), sends it.
	Standby bool
}

// TeeStats counts what a Tee's streams did, in the order they were given.
type TeeStats struct {
	Streams []StreamStats
}

// Tee is a Store that writes to a primary store and feeds the records the
// primary accepted to secondary streams (SIEMs, webhooks), each through
// its own bounded queue and goroutine.
//
// Append calls the primary's Append and returns its result unchanged:
// the Logger's guarantees (sync errors, retries, idempotency) are the
// primary's. After the primary succeeds, Append puts copies of the
// records on each stream's queue without waiting: a full queue drops
// them for that stream, counted and reported, and Append still succeeds.
// A slow, failing or unreachable stream never blocks or fails Append.
// The records fed to streams carry RecordedAt from the Tee's clock (the
// primary's own stamp is not returned by Append).
//
// Everything else a Tee passes through to the primary: queries, lookups,
// sealing, checkpoints and purges (see Unwrap), so that one handle serves
// the Logger, package api, chain.NewSealer and audit.NewRetention.
//
// A Tee is safe for concurrent use. It does not own the primary or the
// sinks: close them after the Tee (package trail does).
type Tee struct {
	primary audit.Store
	streams []*worker
	now     func() time.Time
	onError func(error)

	// positions and querier are set for durable streams.
	positions storekit.PositionStore
	querier   audit.Querier

	abort     context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ audit.Store = (*Tee)(nil)

// NewTee returns a Tee that writes to primary and streams to streams, and
// starts one goroutine per stream. Call Close when done. It returns an
// error for a nil primary or a bad Stream.
func NewTee(primary audit.Store, streams []Stream, opts *TeeOptions) (*Tee, error) {
	if primary == nil {
		return nil, errors.New("audit: siem: NewTee needs a primary store")
	}
	var o TeeOptions
	if opts != nil {
		o = *opts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.OnError == nil {
		o.OnError = func(err error) { fmt.Fprintln(os.Stderr, err) }
	}
	t := &Tee{primary: primary, now: o.Now, onError: o.OnError, positions: o.Positions}
	if o.Positions != nil {
		q, ok := primary.(audit.Querier)
		if !ok {
			return nil, fmt.Errorf("audit: siem: TeeOptions.Positions is set, but the primary %T cannot be queried (audit.Querier): a durable stream reads the records from it", primary)
		}
		t.querier = q
	}
	start := o.Now().UTC()
	names := map[string]bool{}
	for i, s := range streams {
		s, err := s.withDefaults()
		if err != nil {
			return nil, fmt.Errorf("audit: siem: streams[%d]: %w", i, err)
		}
		if names[s.Name] {
			return nil, fmt.Errorf("audit: siem: streams[%d]: duplicate Name %q", i, s.Name)
		}
		names[s.Name] = true
		if o.Positions != nil && len(positionName(s.Name)) > storekit.MaxPositionName {
			return nil, fmt.Errorf("audit: siem: streams[%d]: a durable stream's Name is at most %d bytes", i, storekit.MaxPositionName-len(positionName("")))
		}
		since := s.Since
		if since.IsZero() {
			since = start
		}
		t.streams = append(t.streams, &worker{
			cfg:     s,
			since:   since,
			wake:    make(chan struct{}, 1),
			drops:   make(chan struct{}, 1),
			stop:    make(chan struct{}),
			dropped: map[audit.DropReason]uint64{},
		})
	}
	t.abort, t.cancel = context.WithCancel(context.Background())
	for _, w := range t.streams {
		t.wg.Add(1)
		if t.positions != nil {
			go t.runDurable(w)
		} else {
			go t.run(w)
		}
	}
	return t, nil
}

func (s Stream) withDefaults() (Stream, error) {
	switch {
	case s.Name == "":
		return s, errors.New("Name is required")
	case s.Sink == nil:
		return s, fmt.Errorf("stream %q: Sink is required", s.Name)
	case s.QueueSize < 0, s.QueueBytes < 0, s.BatchSize < 0, s.BatchBytes < 0, s.FlushInterval < 0, s.InFlight < 0:
		return s, fmt.Errorf("stream %q: sizes and FlushInterval must not be negative", s.Name)
	}
	if err := s.Retry.validate(); err != nil {
		return s, fmt.Errorf("stream %q: %w", s.Name, err)
	}
	s.Retry = s.Retry.withDefaults()
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&s.QueueSize, DefaultQueueSize)
	def(&s.QueueBytes, DefaultQueueBytes)
	def(&s.BatchSize, DefaultBatchSize)
	def(&s.BatchBytes, DefaultBatchBytes)
	def(&s.InFlight, DefaultInFlight)
	if s.FlushInterval == 0 {
		s.FlushInterval = DefaultFlushInterval
	}
	return s, nil
}

// Append writes records to the primary and returns its error. Only when
// the primary succeeds are the records queued for the streams.
func (t *Tee) Append(ctx context.Context, records ...audit.Record) error {
	if err := t.primary.Append(ctx, records...); err != nil {
		return err
	}
	if len(t.streams) == 0 || len(records) == 0 {
		return nil
	}
	if t.positions != nil {
		for _, w := range t.streams {
			w.notify(len(records))
		}
		return nil
	}
	now := t.now().UTC().Truncate(time.Microsecond)
	feed := make([]audit.Record, len(records))
	for i := range records {
		feed[i] = records[i].Clone()
		feed[i].RecordedAt = now
	}
	for _, w := range t.streams {
		if dropped := w.offer(feed); dropped != nil {
			t.onError(dropped) // only after Close: the goroutine is gone
		}
	}
	return nil
}

// Close stops feeding the streams and waits until their queues are sent,
// retries included, or until ctx ends: then it abandons the batches in
// flight and what is still queued (reported as audit.ReasonShutdown) and
// returns an error. A durable stream (TeeOptions.Positions) walks the
// primary once more, to the end, and sends what it finds; if ctx ends
// first, it reports nothing dropped: its saved position resumes there. Records appended after Close go to the primary only
// (reported as ReasonShutdown). Close is safe to call more than once; it
// closes neither the primary nor the sinks.
func (t *Tee) Close(ctx context.Context) error {
	t.closeOnce.Do(func() {
		for _, w := range t.streams {
			w.mu.Lock()
			w.stopping = true
			w.mu.Unlock()
			close(w.stop)
		}
		done := make(chan struct{})
		go func() { t.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			t.cancel()
			<-done
			t.closeErr = fmt.Errorf("audit: siem: close: streams not drained: %w", ctx.Err())
		}
		t.cancel()
	})
	return t.closeErr
}

// Stats returns the counters of each stream.
func (t *Tee) Stats() TeeStats {
	st := TeeStats{Streams: make([]StreamStats, 0, len(t.streams))}
	for _, w := range t.streams {
		w.mu.Lock()
		s := StreamStats{
			Name:        w.cfg.Name,
			Queued:      len(w.q),
			QueuedBytes: w.qBytes,
			Sent:        w.sent.Load(),
			Batches:     w.batches.Load(),
			Retried:     w.retried.Load(),
			Dropped:     make(map[audit.DropReason]uint64, len(w.dropped)),
			LastError:   w.lastErr,
			LastErrorAt: w.lastErrAt,
			LastSuccess: w.lastSuccess,
			LastSaved:   w.lastSaved,
			Standby:     w.standby,
		}
		for k, v := range w.dropped {
			s.Dropped[k] = v
		}
		w.mu.Unlock()
		st.Streams = append(st.Streams, s)
	}
	return st
}

// worker is the queue and state of one stream.
type worker struct {
	cfg  Stream
	wake chan struct{} // capacity 1: something to look at
	// drops (capacity 1) says queue-full drops wait to be reported, so
	// that a stream waiting out a retry backoff reports them at once.
	drops chan struct{}
	stop  chan struct{} // closed by Close

	sent, batches, retried atomic.Uint64

	// durable streams: since is where one without a saved position
	// starts; appended counts the records appended through the Tee since
	// its last walk began.
	since    time.Time
	appended atomic.Int64

	mu       sync.Mutex
	q        []audit.Record
	qBytes   int
	stopping bool
	// pending is a run of queue-full drops not reported yet.
	pending     int
	pendingFrom time.Time
	dropped     map[audit.DropReason]uint64
	lastErr     error
	lastErrAt   time.Time
	lastSuccess time.Time
	lastSaved   time.Time
	// back is closed when a batch reaches the sink (durable streams).
	back chan struct{}
	// standby: another process holds the durable stream's position.
	standby bool
}

// notify tells a durable stream that n records were appended: a batch's
// worth wakes it before FlushInterval.
func (w *worker) notify(n int) {
	if w.appended.Add(int64(n)) >= int64(w.cfg.BatchSize) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// recordSize is the approximate size of a record in memory and on the
// wire.
func recordSize(r *audit.Record) int {
	return 256 + len(r.UserID) + len(r.UserEmail) + len(r.UserAgent) + len(r.Action) +
		len(r.ResourceType) + len(r.ResourceID) + len(r.Details) + len(r.Changes) +
		len(r.RequestID) + len(r.SessionID) + len(r.ErrorMessage)
}

// offer queues records without blocking. It returns a DropError to
// report at once when the stream is closed; queue-full drops are
// reported by the stream's goroutine.
func (w *worker) offer(records []audit.Record) *DropError {
	w.mu.Lock()
	if w.stopping {
		w.dropped[audit.ReasonShutdown] += uint64(len(records))
		w.mu.Unlock()
		return &DropError{Stream: w.cfg.Name, Reason: audit.ReasonShutdown, Count: len(records), Oldest: oldest(records)}
	}
	wasEmpty := len(w.q) == 0
	full := 0
	for i := range records {
		size := recordSize(&records[i])
		if len(w.q) >= w.cfg.QueueSize || w.qBytes+size > w.cfg.QueueBytes {
			if w.pending == 0 || records[i].OccurredAt.Before(w.pendingFrom) {
				w.pendingFrom = records[i].OccurredAt
			}
			w.pending++
			full++
			continue
		}
		w.q = append(w.q, records[i])
		w.qBytes += size
	}
	if full > 0 {
		w.dropped[audit.ReasonQueueFull] += uint64(full)
	}
	signal := full > 0 || (wasEmpty && len(w.q) > 0) || len(w.q) >= w.cfg.BatchSize
	w.mu.Unlock()
	if signal {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	if full > 0 {
		select {
		case w.drops <- struct{}{}:
		default:
		}
	}
	return nil
}

// reportDrops tells OnError of the queue-full drops not reported yet, as
// one DropError.
func (t *Tee) reportDrops(w *worker) {
	w.mu.Lock()
	var drop *DropError
	if w.pending > 0 {
		drop = &DropError{Stream: w.cfg.Name, Reason: audit.ReasonQueueFull, Count: w.pending, Oldest: w.pendingFrom}
		w.pending = 0
	}
	w.mu.Unlock()
	if drop != nil {
		t.onError(drop)
	}
}

func oldest(records []audit.Record) time.Time {
	var t time.Time
	for i := range records {
		if t.IsZero() || records[i].OccurredAt.Before(t) {
			t = records[i].OccurredAt
		}
	}
	return t
}

// next waits for a batch: a full one, or what is queued once
// FlushInterval has passed since the queue became non-empty, or anything
// queued once stopping. It returns nil when stopping with nothing
// queued.
func (t *Tee) next(w *worker) []audit.Record {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var timerC <-chan time.Time
	due := false
	for {
		t.reportDrops(w)
		w.mu.Lock()
		n, stopping := len(w.q), w.stopping
		var batch []audit.Record
		if n >= w.cfg.BatchSize || n > 0 && (due || stopping) {
			batch = w.take()
		}
		w.mu.Unlock()
		switch {
		case batch != nil:
			return batch
		case stopping:
			return nil
		}
		if n > 0 && timerC == nil {
			timer = time.NewTimer(w.cfg.FlushInterval)
			timerC = timer.C
		}
		select {
		case <-w.wake:
		case <-timerC:
			due = true
		case <-w.stop:
		}
	}
}

// take removes the first batch from the queue. w.mu is held.
func (w *worker) take() []audit.Record {
	n, size := 0, 0
	for n < len(w.q) && n < w.cfg.BatchSize {
		s := recordSize(&w.q[n])
		if n > 0 && size+s > w.cfg.BatchBytes {
			break
		}
		size += s
		n++
	}
	batch := w.q[:n:n]
	w.q = w.q[n:]
	if len(w.q) == 0 {
		w.q = nil
	}
	w.qBytes -= size
	return batch
}

// run is the goroutine of one stream: it sends batches until Close.
func (t *Tee) run(w *worker) {
	defer t.wg.Done()
	for {
		batch := t.next(w)
		if batch == nil {
			return
		}
		reason, err := deliver(t.abort, w.cfg.Sink, batch, w.cfg.Retry, t.now, hooks{
			retried: func(err error) {
				w.retried.Add(1)
				w.noteError(err, t.now())
			},
			drops:  w.drops,
			report: func() { t.reportDrops(w) },
		})
		if reason == "" {
			w.sent.Add(uint64(len(batch)))
			w.batches.Add(1)
			w.mu.Lock()
			w.lastSuccess = t.now()
			w.mu.Unlock()
			continue
		}
		w.noteError(err, t.now())
		t.drop(w, reason, batch, err)
		if t.abort.Err() != nil {
			// Close gave up: everything still queued is abandoned.
			w.mu.Lock()
			rest := w.q
			w.q, w.qBytes = nil, 0
			w.mu.Unlock()
			if len(rest) > 0 {
				t.drop(w, audit.ReasonShutdown, rest, nil)
			}
			return
		}
	}
}

func (w *worker) noteError(err error, at time.Time) {
	if err == nil {
		return
	}
	w.mu.Lock()
	w.lastErr, w.lastErrAt = err, at
	w.mu.Unlock()
}

func (t *Tee) drop(w *worker, reason audit.DropReason, records []audit.Record, err error) {
	w.mu.Lock()
	w.dropped[reason] += uint64(len(records))
	w.mu.Unlock()
	t.onError(&DropError{Stream: w.cfg.Name, Reason: reason, Count: len(records), Oldest: oldest(records), Err: err})
}
