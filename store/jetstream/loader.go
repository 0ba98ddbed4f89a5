package jetstream

import (
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	js "github.com/nats-io/nats.go/jetstream"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// Headers of a dead letter.
const (
	// HeaderReason says why the record was dead-lettered.
	HeaderReason = "Audit-Dead-Letter-Reason"
	// HeaderStreamSeq is the sequence of the message in the records stream.
	HeaderStreamSeq = "Audit-Stream-Seq"
	// HeaderSubject is the subject the record was published to.
	HeaderSubject = "Audit-Subject"
)

// LoaderOptions configures a Loader. The zero value (and nil) means the
// defaults.
type LoaderOptions struct {
	// Stream is the stream to load from. Default "AUDIT".
	Stream string
	// Consumer is the name of the durable pull consumer, shared by every
	// Loader of the stream. Default "audit-loader".
	Consumer string
	// DeadLetterSubject is where records the target refuses go, with the
	// reason in the HeaderReason header. The Loader creates a stream
	// named Stream+"_DLQ" for it if none captures it. It must not be a
	// subject of Stream. Default "audit.deadletter".
	DeadLetterSubject string
	// BatchSize is the most records written in one target Append.
	// Default 3000: a Loader moves a backlog, and larger batches cost
	// fewer fetches and commits (into PostgreSQL, 1000 loaded about 70 %
	// as fast as 3000).
	BatchSize int
	// Workers is the number of batches a Loader fetches and writes at
	// once. Default 2.
	Workers int
	// FetchWait is the longest a worker waits for its batch to fill.
	// Default 100ms.
	FetchWait time.Duration
	// AckWait is how long the server waits for the acknowledgement of a
	// delivered record before it redelivers it, to this or another
	// Loader: how long the records a dead Loader held wait. While a
	// Loader writes or retries a batch, it tells the server every
	// AckWait/3 that it is still working on it, so a slow write is not
	// redelivered. Default 10s; at least 1s.
	AckWait time.Duration
	// MaxAckPending bounds the records delivered to all Loaders of the
	// consumer and not yet acknowledged. Default 4 * Workers * BatchSize
	// (of the Loader that creates the consumer).
	MaxAckPending int
	// WriteTimeout bounds one target Append. Default 30s.
	WriteTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries of a batch
	// the target failed to take, which doubles from MinBackoff; each wait
	// is jittered down by up to half. Defaults 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// LagInterval is how often Run refreshes the lag in Stats. Default 5s.
	LagInterval time.Duration
	// OnError is told of every error the Loader survives: a failed
	// write (then retried), a record dead-lettered, a failed fetch. It
	// must be safe for concurrent use. Default: print to standard error.
	OnError func(error)
	// Now is the clock, for the age of the oldest pending record.
	// Default time.Now.
	Now func() time.Time
}

func (o *LoaderOptions) withDefaults() (LoaderOptions, error) {
	var c LoaderOptions
	if o != nil {
		c = *o
	}
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if c.Consumer == "" {
		c.Consumer = "audit-loader"
	}
	if c.DeadLetterSubject == "" {
		c.DeadLetterSubject = "audit.deadletter"
	}
	if c.BatchSize == 0 {
		c.BatchSize = 3000
	}
	if c.Workers == 0 {
		c.Workers = 2
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = 4 * c.Workers * c.BatchSize
	}
	def(&c.FetchWait, 100*time.Millisecond)
	def(&c.AckWait, 10*time.Second)
	def(&c.WriteTimeout, 30*time.Second)
	def(&c.MinBackoff, 100*time.Millisecond)
	def(&c.MaxBackoff, 5*time.Second)
	def(&c.LagInterval, 5*time.Second)
	if c.OnError == nil {
		c.OnError = func(err error) { fmt.Fprintln(os.Stderr, err) }
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	switch {
	case c.BatchSize < 1 || c.Workers < 1 || c.MaxAckPending < 1:
		return c, errors.New("audit: jetstream: LoaderOptions BatchSize, Workers and MaxAckPending must be positive")
	case c.FetchWait < 0 || c.AckWait < 0 || c.WriteTimeout < 0 || c.MinBackoff < 0 || c.LagInterval < 0:
		return c, errors.New("audit: jetstream: LoaderOptions durations must not be negative")
	case c.MaxBackoff < c.MinBackoff:
		return c, errors.New("audit: jetstream: LoaderOptions.MaxBackoff must be at least MinBackoff")
	case c.AckWait < time.Second:
		return c, fmt.Errorf("audit: jetstream: LoaderOptions.AckWait %v: want at least 1s", c.AckWait)
	}
	return c, nil
}

// LoaderStats counts what a Loader did since NewLoader, and the lag of its
// consumer as last seen (see LoaderOptions.LagInterval).
type LoaderStats struct {
	Loaded       uint64 // records the target committed and the Loader acknowledged
	DeadLettered uint64 // records sent to the dead-letter subject
	Retries      uint64 // target Appends repeated after a transient error
	Redelivered  uint64 // records delivered more than once (after a crash or a timeout)
	FetchErrors  uint64 // failed fetches from the consumer

	// The consumer's lag, shared by all its Loaders, as of LagAt.
	Pending          uint64        // records in the stream not yet delivered to any Loader
	AckPending       int           // records delivered and not yet acknowledged
	OldestPendingAge time.Duration // age of the oldest record not acknowledged; 0 if none
	LagAt            time.Time     // when the lag was read; zero before the first time
}

// Loader moves records from a JetStream stream into a target audit.Store
// (PostgreSQL in production) through a durable pull consumer, and
// acknowledges each record only after the target committed it. Several
// Loaders, in one process or many, share the consumer and so the work. A
// Loader is safe for concurrent use; run it once.
type Loader struct {
	js     js.JetStream
	target audit.Store
	opts   LoaderOptions

	loaded, dead, retries, redelivered, fetchErrs atomic.Uint64

	mu  sync.Mutex
	lag LoaderStats // only the lag fields
}

// NewLoader returns a Loader that reads through nc, which it does not own,
// and writes into target. Run starts it.
func NewLoader(nc *nats.Conn, target audit.Store, opts *LoaderOptions) (*Loader, error) {
	if nc == nil || target == nil {
		return nil, errors.New("audit: jetstream: NewLoader needs a connection and a target store")
	}
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	j, err := js.New(nc)
	if err != nil {
		return nil, fmt.Errorf("audit: jetstream: %w", err)
	}
	return &Loader{js: j, target: target, opts: o}, nil
}

// Stats returns the Loader's counters and the last lag it read.
func (l *Loader) Stats() LoaderStats {
	l.mu.Lock()
	s := l.lag
	l.mu.Unlock()
	s.Loaded = l.loaded.Load()
	s.DeadLettered = l.dead.Load()
	s.Retries = l.retries.Load()
	s.Redelivered = l.redelivered.Load()
	s.FetchErrors = l.fetchErrs.Load()
	return s
}

// Run creates or updates the consumer and the dead-letter stream, then
// loads records until ctx ends. On ctx's end it stops fetching, asks the
// server to redeliver the batches it has not written (at once, to another
// Loader), and returns nil once its workers have stopped. It returns an
// error only when it cannot set up the consumer.
func (l *Loader) Run(ctx context.Context) error {
	st, err := l.js.Stream(ctx, l.opts.Stream)
	if err != nil {
		return fmt.Errorf("audit: jetstream: loader: stream %s: %w", l.opts.Stream, err)
	}
	if captures(st.CachedInfo().Config.Subjects, l.opts.DeadLetterSubject) {
		return fmt.Errorf("audit: jetstream: loader: stream %s captures the dead-letter subject %s", l.opts.Stream, l.opts.DeadLetterSubject)
	}
	if err := l.ensureDeadLetters(ctx, st.CachedInfo().Config); err != nil {
		return err
	}
	cons, err := l.js.CreateOrUpdateConsumer(ctx, l.opts.Stream, js.ConsumerConfig{
		Durable:       l.opts.Consumer,
		Description:   "Trailmark audit loader",
		AckPolicy:     js.AckExplicitPolicy,
		AckWait:       l.opts.AckWait,
		MaxAckPending: l.opts.MaxAckPending,
		MaxDeliver:    -1, // never give up on a record: failures go to the dead letters
		DeliverPolicy: js.DeliverAllPolicy,
	})
	if err != nil {
		return fmt.Errorf("audit: jetstream: loader: consumer %s: %w", l.opts.Consumer, err)
	}
	var wg sync.WaitGroup
	for range l.opts.Workers {
		wg.Go(func() { l.work(ctx, cons) })
	}
	wg.Go(func() { l.watchLag(ctx, st, cons) })
	wg.Wait()
	return nil
}

// ensureDeadLetters creates a stream for the dead-letter subject unless
// one captures it.
func (l *Loader) ensureDeadLetters(ctx context.Context, main js.StreamConfig) error {
	if _, err := l.js.StreamNameBySubject(ctx, l.opts.DeadLetterSubject); err == nil {
		return nil
	} else if !errors.Is(err, js.ErrStreamNotFound) {
		return fmt.Errorf("audit: jetstream: loader: dead-letter stream: %w", err)
	}
	_, err := l.js.CreateStream(ctx, js.StreamConfig{
		Name:        l.opts.Stream + "_DLQ",
		Description: "Trailmark audit records the loader could not store",
		Subjects:    []string{l.opts.DeadLetterSubject},
		Storage:     js.FileStorage,
		Replicas:    main.Replicas,
		Duplicates:  main.Duplicates,
		Discard:     js.DiscardNew,
	})
	if err != nil && !errors.Is(err, js.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("audit: jetstream: loader: dead-letter stream: %w", err)
	}
	return nil
}

// work fetches and writes batches until ctx ends.
func (l *Loader) work(ctx context.Context, cons js.Consumer) {
	backoff := l.opts.MinBackoff
	for ctx.Err() == nil {
		batch, err := cons.Fetch(l.opts.BatchSize, js.FetchMaxWait(l.opts.FetchWait))
		if err != nil {
			l.fetchFailed(ctx, err, &backoff)
			continue
		}
		var msgs []js.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, js.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
			l.fetchFailed(ctx, err, &backoff)
		} else {
			backoff = l.opts.MinBackoff
		}
		if len(msgs) > 0 {
			l.load(ctx, msgs)
		}
	}
}

func (l *Loader) fetchFailed(ctx context.Context, err error, backoff *time.Duration) {
	l.fetchErrs.Add(1)
	l.opts.OnError(fmt.Errorf("audit: jetstream: loader: fetch from %s/%s: %w", l.opts.Stream, l.opts.Consumer, err))
	sleepCtx(ctx, l.jitter(*backoff))
	*backoff = min(2**backoff, l.opts.MaxBackoff)
}

// item is one delivered message and its record.
type item struct {
	msg js.Msg
	rec audit.Record
}

// load decodes msgs, dead-letters those that do not decode, and writes the
// rest.
func (l *Loader) load(ctx context.Context, msgs []js.Msg) {
	items := make([]item, 0, len(msgs))
	for _, m := range msgs {
		if md, err := m.Metadata(); err == nil && md.NumDelivered > 1 {
			l.redelivered.Add(1)
		}
		r, err := decode(m.Data())
		if err != nil {
			if !l.deadLetter(ctx, m, err) {
				l.release(msgs)
				return
			}
			continue
		}
		items = append(items, item{m, r})
	}
	l.write(ctx, items)
}

// write appends items to the target and acknowledges them, retrying
// transient errors until ctx ends and isolating the records the target
// refuses by halving the batch.
func (l *Loader) write(ctx context.Context, items []item) {
	if len(items) == 0 {
		return
	}
	recs := make([]audit.Record, len(items))
	for i := range items {
		recs[i] = items[i].rec
	}
	backoff := l.opts.MinBackoff
	for {
		if ctx.Err() != nil {
			l.release(msgsOf(items))
			return
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.WriteTimeout)
		working := l.keepAlive(items)
		err := l.target.Append(wctx, recs...)
		working()
		cancel()
		switch {
		case err == nil:
			for _, it := range items {
				it.msg.Ack() // a lost ack means a redelivery, which the target absorbs
			}
			l.loaded.Add(uint64(len(items)))
			return
		case storekit.IsPermanent(err) && len(items) == 1:
			if !l.deadLetter(ctx, items[0].msg, err) {
				l.release(msgsOf(items))
			}
			return
		case storekit.IsPermanent(err):
			half := len(items) / 2
			l.write(ctx, items[:half])
			l.write(ctx, items[half:])
			return
		}
		l.retries.Add(1)
		l.opts.OnError(fmt.Errorf("audit: jetstream: loader: writing %d record(s), will retry: %w", len(items), err))
		for _, it := range items {
			it.msg.InProgress() // keep the batch: reset its AckWait
		}
		sleepCtx(ctx, l.jitter(backoff))
		backoff = min(2*backoff, l.opts.MaxBackoff)
	}
}

// keepAlive tells the server every AckWait/3, until the returned func is
// called or for WriteTimeout at most, that the Loader is still working on
// items, so that a write slower than AckWait does not have them
// redelivered meanwhile (and a write stuck past its timeout does).
func (l *Loader) keepAlive(items []item) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(l.opts.AckWait / 3)
		defer t.Stop()
		end := time.After(l.opts.WriteTimeout)
		for {
			select {
			case <-done:
				return
			case <-end:
				<-done
				return
			case <-t.C:
				for _, it := range items {
					it.msg.InProgress()
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

func msgsOf(items []item) []js.Msg {
	ms := make([]js.Msg, len(items))
	for i := range items {
		ms[i] = items[i].msg
	}
	return ms
}

// release asks the server to redeliver msgs now.
func (l *Loader) release(msgs []js.Msg) {
	for _, m := range msgs {
		m.Nak()
	}
}

// deadLetter publishes m to the dead-letter subject with the reason and,
// once the dead-letter stream acknowledged it, terminates m. It reports
// whether m was dead-lettered; if not, the caller releases it.
func (l *Loader) deadLetter(ctx context.Context, m js.Msg, reason error) bool {
	dl := nats.NewMsg(l.opts.DeadLetterSubject)
	dl.Data = m.Data()
	dl.Header.Set(HeaderReason, reason.Error())
	dl.Header.Set(HeaderSubject, m.Subject())
	seq := ""
	if md, err := m.Metadata(); err == nil {
		seq = strconv.FormatUint(md.Sequence.Stream, 10)
		dl.Header.Set(HeaderStreamSeq, seq)
	}
	dl.Header.Set(nats.MsgIdHdr, l.opts.Stream+"-"+seq)
	if id := m.Headers().Get(nats.MsgIdHdr); id != "" {
		dl.Header.Set(nats.MsgIdHdr, id)
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.WriteTimeout)
	defer cancel()
	if _, err := l.js.PublishMsg(pctx, dl); err != nil {
		l.opts.OnError(fmt.Errorf("audit: jetstream: loader: dead-lettering record at %s seq %s: %w", l.opts.Stream, seq, err))
		return false
	}
	if err := m.Term(); err != nil {
		l.opts.OnError(fmt.Errorf("audit: jetstream: loader: terminating record at %s seq %s: %w", l.opts.Stream, seq, err))
	}
	l.dead.Add(1)
	l.opts.OnError(fmt.Errorf("audit: jetstream: loader: record at %s seq %s dead-lettered to %s: %w", l.opts.Stream, seq, l.opts.DeadLetterSubject, reason))
	return true
}

// watchLag refreshes the lag every LagInterval until ctx ends.
func (l *Loader) watchLag(ctx context.Context, st js.Stream, cons js.Consumer) {
	for {
		l.readLag(ctx, st, cons)
		if !sleepCtx(ctx, l.opts.LagInterval) {
			return
		}
	}
}

func (l *Loader) readLag(ctx context.Context, st js.Stream, cons js.Consumer) {
	info, err := cons.Info(ctx)
	if err != nil {
		if ctx.Err() == nil {
			l.opts.OnError(fmt.Errorf("audit: jetstream: loader: reading lag: %w", err))
		}
		return
	}
	var age time.Duration
	ageKnown := true
	if info.NumPending > 0 || info.NumAckPending > 0 {
		// The oldest record not acknowledged is the first one after the
		// ack floor. When it cannot be read, the age read last stands,
		// rather than an age of 0 with records waiting.
		m, err := st.GetMsg(ctx, info.AckFloor.Stream+1)
		switch {
		case err == nil:
			age = max(l.opts.Now().Sub(m.Time), 0)
		case ctx.Err() != nil:
			return // stopping: the lag read last stands
		default:
			l.opts.OnError(fmt.Errorf("audit: jetstream: loader: reading lag: the record at %s seq %d: %w", l.opts.Stream, info.AckFloor.Stream+1, err))
			ageKnown = false
		}
	}
	l.mu.Lock()
	l.lag.Pending = info.NumPending
	l.lag.AckPending = info.NumAckPending
	if ageKnown {
		l.lag.OldestPendingAge = age
	}
	l.lag.LagAt = l.opts.Now()
	l.mu.Unlock()
}

// jitter returns a random duration in [d/2, d].
func (l *Loader) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d/2 + time.Duration(mrand.Int64N(int64(d/2)+1))
}

// sleepCtx sleeps for d or until ctx ends; it reports whether it slept the
// whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
