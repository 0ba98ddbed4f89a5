package audit

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit/internal/wallclock"
)

// Delivery is how the Logger writes an event: before Log returns, or later
// in a batch.
type Delivery uint8

const (
	// DefaultDelivery stands for the policy's default in Policy.Actions.
	DefaultDelivery Delivery = iota
	// Sync writes the event before Log returns and returns the store's
	// error: if the event cannot be recorded, the caller knows
	// (fail-closed).
	Sync
	// Async queues the event and returns at once; a background batcher
	// writes it with retries. Log fails only when the queue is full
	// (fail-open, but never silent: see Logger).
	Async
)

// String returns "sync", "async" or "default".
func (d Delivery) String() string {
	switch d {
	case Sync:
		return "sync"
	case Async:
		return "async"
	}
	return "default"
}

// SecurityActions are the actions delivered Sync unless a Policy says
// otherwise: logins, password changes, account deletion, permission, role
// and key changes, reads and exports of the audit log, and retention runs.
func SecurityActions() []Action {
	return []Action{
		ActionUserLogin, ActionUserPasswordChange, ActionUserDeleteAccount,
		ActionPermissionGrant, ActionPermissionRevoke, ActionUserRoleChange,
		ActionAPIKeyCreate, ActionAPIKeyRevoke,
		ActionAuditLogRead, ActionAuditLogExport, ActionAuditRetentionRun,
	}
}

// Policy chooses the delivery of each action. The zero value delivers
// SecurityActions Sync and everything else Async.
type Policy struct {
	// Default is the delivery of actions not named otherwise; zero means
	// Async.
	Default Delivery
	// Actions sets the delivery of single actions ("user.login") or, with
	// a key ending in ".", of every action with that prefix ("user.").
	// Exact names win over prefixes, longer prefixes over shorter ones,
	// and both over SecurityActions.
	Actions map[Action]Delivery
	// NoSecurityDefaults stops SecurityActions from defaulting to Sync.
	NoSecurityDefaults bool
	// SyncTimeout bounds a Sync write, retries included. Default 5s.
	SyncTimeout time.Duration
	// SyncWriters is the number of Sync writes in progress at once, each
	// one Store.Append of the records of every Sync caller waiting when it
	// starts (group commit). Default 2.
	SyncWriters int
	// SyncBatchSize and SyncBatchBytes bound the records of one Sync
	// write, in number and in bytes (estimated). Defaults 512 and 4 MiB.
	SyncBatchSize, SyncBatchBytes int
}

// Overflow is what Log does with an Async event when the queue is full.
type Overflow uint8

const (
	// OverflowBlock waits up to AsyncOptions.BlockTimeout for room, then
	// returns ErrQueueFull.
	OverflowBlock Overflow = iota
	// OverflowDrop returns ErrQueueFull at once.
	OverflowDrop
)

// AsyncOptions tunes Async delivery. The zero value is the default.
type AsyncOptions struct {
	// QueueSize bounds the events waiting to be written. Default 16384.
	QueueSize int
	// QueueBytes bounds the memory of the records accepted and not yet
	// written or failed: queued, or in a batch being written. When a
	// record would pass it, Log behaves as when the queue is full (see
	// Overflow). A record is counted as its fields' lengths plus the size
	// of a Record; one larger than QueueBytes is accepted when nothing
	// else is held. Default 64 MiB.
	QueueBytes int64
	// BatchSize is the most records written in one Store.Append.
	// Default 512.
	BatchSize int
	// FlushInterval is the longest a record waits for its batch to fill,
	// from the moment it is queued; one queued while a batch is being
	// written waits at least for that write to end. Default 100ms.
	FlushInterval time.Duration
	// Overflow is what happens when the queue is full, by QueueSize or
	// by QueueBytes. Default OverflowBlock.
	Overflow Overflow
	// BlockTimeout is how long Log waits for room with OverflowBlock.
	// Default 1s.
	BlockTimeout time.Duration
	// WriteTimeout bounds one Store.Append. Default 10s.
	WriteTimeout time.Duration
	// RetryFor is how long a batch is retried after transient errors
	// before its records are reported as failed. Default 2m. While a
	// batch is retried the queue fills: that is the back-pressure.
	//
	// Once a batch has failed for RetryFor, the store counts as down
	// (Stats.StoreDown) and the batches after it are not retried: each
	// gets one attempt, and fails at once with ReasonRetriesExhausted if
	// that attempt fails. The first batch the store accepts ends this.
	// So Close with the store down returns after one RetryFor and one
	// attempt per batch, not RetryFor per batch.
	RetryFor time.Duration
	// MinBackoff and MaxBackoff bound the wait between retries, which
	// doubles from MinBackoff; each wait is jittered down by up to half.
	// Defaults 50ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// Spool, when set, keeps each Async record on local storage from Log
	// until the store has it, so that a process killed with records
	// queued loses none: the next Logger on the same spool writes them
	// (see Spool and package spool). Its bound is a third one, besides
	// QueueSize and QueueBytes, with the same Overflow. Close the spool
	// after the Logger.
	Spool Spool
}

func (c AsyncOptions) withDefaults() AsyncOptions {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.QueueSize == 0 {
		c.QueueSize = 16384
	}
	if c.BatchSize == 0 {
		c.BatchSize = 512
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = 64 << 20
	}
	def(&c.FlushInterval, 100*time.Millisecond)
	def(&c.BlockTimeout, time.Second)
	def(&c.WriteTimeout, 10*time.Second)
	def(&c.RetryFor, 2*time.Minute)
	def(&c.MinBackoff, 50*time.Millisecond)
	def(&c.MaxBackoff, 5*time.Second)
	return c
}

func (c AsyncOptions) validate() error {
	switch {
	case c.QueueSize < 1:
		return fmt.Errorf("audit: AsyncOptions.QueueSize must be positive, got %d", c.QueueSize)
	case c.BatchSize < 1:
		return fmt.Errorf("audit: AsyncOptions.BatchSize must be positive, got %d", c.BatchSize)
	case c.QueueBytes < 1:
		return fmt.Errorf("audit: AsyncOptions.QueueBytes must be positive, got %d", c.QueueBytes)
	case c.FlushInterval < 0, c.BlockTimeout < 0, c.WriteTimeout < 0, c.RetryFor < 0, c.MinBackoff < 0:
		return errors.New("audit: AsyncOptions durations must not be negative")
	case c.MaxBackoff < c.MinBackoff:
		return errors.New("audit: AsyncOptions.MaxBackoff must be at least MinBackoff")
	case c.Overflow > OverflowDrop:
		return fmt.Errorf("audit: unknown AsyncOptions.Overflow %d", c.Overflow)
	}
	return nil
}

// DropReason says why records were not written.
type DropReason string

// The reasons a record is not written. QueueFull events were never
// accepted (Log returned ErrQueueFull); the others were accepted and then
// reported to OnError in a *DeliveryError.
const (
	ReasonQueueFull        DropReason = "queue_full"        // Log found the queue full
	ReasonShutdown         DropReason = "shutdown"          // still queued when Close's context ended
	ReasonRejected         DropReason = "rejected"          // the store refused it (Permanent error)
	ReasonRetriesExhausted DropReason = "retries_exhausted" // transient errors outlasted RetryFor
)

// Stats counts what a Logger did since New. Alert on Failed, Dropped and
// a growing QueueDepth: each means audit records are at risk.
//
// The counters are read one by one, not as one atomic snapshot: under
// load, Accepted may run a little ahead of Written + Failed +
// Dropped[ReasonShutdown] + QueueDepth + SyncInFlight, never behind it.
type Stats struct {
	Accepted uint64 // events Log accepted: validated, then written (Sync) or queued (Async); and records replayed from a Spool
	Written  uint64 // records the store confirmed
	Failed   uint64 // accepted records the store refused or retries could not deliver
	Retried  uint64 // Store.Append calls repeated after an error
	Invalid  uint64 // events Log refused as invalid
	// Dropped counts events by the reason they were not written:
	// ReasonQueueFull (never accepted) and ReasonShutdown. Records that
	// failed are counted in Failed.
	Dropped       map[DropReason]uint64
	QueueDepth    int   // Async records accepted and not yet written or failed
	QueueCapacity int   // AsyncOptions.QueueSize
	QueueBytes    int64 // the memory of the QueueDepth records, as AsyncOptions.QueueBytes counts it
	SyncInFlight  int   // Sync writes in progress
	// StoreDown is set while Async batches fail without retries: a batch
	// failed for RetryFor, and the store has accepted none since (see
	// AsyncOptions.RetryFor).
	StoreDown bool
}

// Options configures a Logger. The zero value (and nil) means the
// defaults; New copies it, so changing it afterwards has no effect.
type Options struct {
	// Policy sets the delivery of each action. The zero value delivers
	// SecurityActions Sync and everything else Async.
	Policy Policy
	// Async tunes Async delivery.
	Async AsyncOptions
	// Redaction sets how secrets in Details and Changes are redacted. A
	// Redaction.HashKey that is set (non-nil) must hold at least
	// MinHashKeyBytes: with a short key, a secret from a small set (a PIN)
	// is recovered from its hash by trying every candidate. New refuses a
	// shorter one.
	Redaction Redaction
	// Limits sets size limits on events.
	Limits Limits
	// Now is the clock that stamps OccurredAt. Default: the system's wall
	// clock, as time.Now reads it.
	Now func() time.Time
	// NewID is the source of event IDs. Default: UUIDv7 (RFC 9562), from
	// the wall clock, not Now, whose IDs increase in the order the Logger
	// makes them.
	NewID func() uuid.UUID
	// OnError is told of every event that is not written without Log
	// returning an error: records that failed and records dropped at
	// shutdown, as a *DeliveryError; and of every ErrQueueFull. It is
	// called from the Logger's goroutines and from Log, must be safe for
	// concurrent use, and should return quickly. Default: print to
	// standard error.
	OnError func(error)
	// NoLifecycleEvents stops the Logger from recording its own start and
	// stop (ActionAuditLoggerStart and ActionAuditLoggerStop), which it
	// does by default.
	NoLifecycleEvents bool
	// Observer, when set, is told of every event's outcome and of every
	// write, for metrics (see Observer and package otelaudit).
	Observer Observer
	// TraceFrom, when set, gives the trace and span ids of the span
	// active in the context given to Log: an event that has neither id
	// takes them from it, before those of the context's RequestInfo (a
	// traceparent header the middleware read). Being in the Logger, it
	// serves events logged inside and outside HTTP requests alike.
	// otelaudit.TraceFrom reads OpenTelemetry's span. An id that is not
	// valid is dropped and noted, as for Event.TraceID.
	TraceFrom TraceFunc
}

// MinHashKeyBytes is the shortest Redaction.HashKey New accepts: 32
// bytes, as many as HMAC-SHA256's output. Make one with crypto/rand.
const MinHashKeyBytes = 32

// Logger records events in a Store.
//
// Log validates and cleans an event, then delivers it by the action's
// Policy: Sync events are written before Log returns, and Log returns the
// store's error; Async events are queued, and a background goroutine
// writes them in batches, retrying transient errors. An accepted event is
// never lost silently: it is written, or it is reported to the
// OnError and counted in Stats. What can be lost, and when:
//
//   - Async, queue full: Log returns ErrQueueFull (after BlockTimeout with
//     OverflowBlock) and the event is not accepted. Counted as
//     ReasonQueueFull; OnError is told.
//   - Async, the store keeps failing for RetryFor, or refuses a record:
//     the records go to OnError as a *DeliveryError. A record the
//     store refuses is isolated: the rest of its batch is written. After
//     one batch failed for RetryFor, the next ones get one attempt each
//     until the store accepts one (Stats.StoreDown).
//   - Async, the process dies: what is queued and not yet written is lost,
//     at most QueueSize events; under light load, those queued in the
//     last FlushInterval and during the write in progress. Call Close on
//     shutdown; use Sync for events you cannot lose, or an
//     AsyncOptions.Spool (package spool), which keeps Async records on
//     local storage until the store has them.
//   - Close's context ends before the queue is drained: the rest go to the
//     OnError with ReasonShutdown.
//
// A Logger is safe for concurrent use. Writes do not inherit the
// cancellation of the context given to Log: an event logged for a request
// whose client has gone is still written.
type Logger struct {
	store     Store
	clean     *cleaner
	now       func() time.Time
	newID     func() uuid.UUID
	onError   func(error)
	policy    Policy
	cfg       AsyncOptions
	redaction Redaction
	limits    Limits
	lifecycle bool
	wallClock bool // now is wallclock.Now: its reading also times a UUIDv7
	instance  uuid.UUID
	obs       Observer
	traceFrom TraceFunc

	exact    map[Action]Delivery
	prefixes []prefixRule
	def      Delivery

	q        *queue
	sync     *committer
	flushReq chan chan struct{}
	stop     chan struct{} // closed by Close: drain and exit
	abort    context.Context
	abandon  context.CancelFunc // called when Close's context ends
	done     chan struct{}      // closed when the batcher exits
	closing  sync.Once
	closeErr error

	accepted, written, failed, retried, invalid atomic.Uint64
	queueFull, shutdown                         atomic.Uint64
	syncInFlight                                atomic.Int64
	storeDown                                   atomic.Bool   // batches get one attempt: see AsyncOptions.RetryFor
	rng                                         sync.Pool     // *mrand.ChaCha8
	v7                                          atomic.Uint64 // the last UUIDv7's milliseconds<<12 | counter
}

// newV7 returns a UUIDv7 (RFC 9562) for the wall-clock time now: 48 bits
// of Unix milliseconds, a 12-bit counter (section 6.2, method 1) so that
// the IDs of one Logger increase in the order it makes them, and 62
// random bits from a ChaCha8 seeded from crypto/rand. More than 4096 IDs
// in one millisecond borrow from the next. It neither locks nor
// allocates, where uuid.NewV7 reads crypto/rand and allocates for each ID.
func (l *Logger) newV7(now time.Time) uuid.UUID {
	u := l.reserveV7(now)
	l.fillV7(&u)
	return u
}

// reserveV7 returns the first half of a new UUIDv7: its time, version
// and counter, which order it among the Logger's IDs. fillV7 completes
// it.
func (l *Logger) reserveV7(now time.Time) uuid.UUID {
	ms := uint64(max(now.UnixMilli(), 0))
	var next uint64
	for {
		prev := l.v7.Load()
		next = max(ms<<12, prev+1)
		if l.v7.CompareAndSwap(prev, next) {
			break
		}
	}
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], next>>12<<16|0x7000|next&0x0fff)
	return u
}

// fillV7 writes the variant and the random bits of a UUIDv7 that
// reserveV7 began.
func (l *Logger) fillV7(u *uuid.UUID) {
	r := l.rng.Get().(*mrand.ChaCha8)
	lo := r.Uint64()
	l.rng.Put(r)
	binary.BigEndian.PutUint64(u[8:16], lo&^(3<<62)|1<<63)
}

type prefixRule struct {
	prefix string
	d      Delivery
}

// New returns a Logger that writes to store and starts its batcher. opts
// may be nil for the defaults. It returns an error for a nil store and
// for invalid options. Call Close when done.
func New(store Store, opts *Options) (*Logger, error) {
	if store == nil {
		return nil, errors.New("audit: New: nil Store")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	l := &Logger{
		store: store, now: o.Now, newID: o.NewID, onError: o.OnError,
		policy: o.Policy, cfg: o.Async, redaction: o.Redaction, limits: o.Limits,
		lifecycle: !o.NoLifecycleEvents, obs: o.Observer, traceFrom: o.TraceFrom,
	}
	if l.now == nil {
		l.now, l.wallClock = wallclock.Now, true
	}
	l.cfg = l.cfg.withDefaults()
	if err := l.cfg.validate(); err != nil {
		return nil, err
	}
	l.limits = l.limits.withDefaults()
	if err := l.limits.validate(); err != nil {
		return nil, err
	}
	if err := l.compilePolicy(); err != nil {
		return nil, err
	}
	if k := l.redaction.HashKey; k != nil && len(k) < MinHashKeyBytes {
		return nil, fmt.Errorf("audit: Redaction.HashKey must hold at least %d bytes (from crypto/rand), got %d", MinHashKeyBytes, len(k))
	}
	if l.onError == nil {
		l.onError = func(err error) { fmt.Fprintln(os.Stderr, err) }
	}
	l.rng.New = func() any {
		var seed [32]byte
		rand.Read(seed[:])
		return mrand.NewChaCha8(seed)
	}
	l.clean = newCleaner(l.redaction, l.limits)
	l.instance = l.nextID(time.Time{})
	l.q = newQueue(l.cfg.QueueSize, l.cfg.BatchSize, l.cfg.QueueBytes)
	l.sync = newCommitter(l.store, l.obs, l.policy.SyncWriters, l.policy.SyncBatchSize, l.policy.SyncBatchBytes)
	l.flushReq = make(chan chan struct{})
	l.stop = make(chan struct{})
	l.done = make(chan struct{})
	l.abort, l.abandon = context.WithCancel(context.Background())
	go l.run()
	if l.lifecycle {
		host, _ := os.Hostname()
		err := l.Log(context.Background(), Event{
			Action: ActionAuditLoggerStart, ResourceType: "audit_logger", ResourceID: l.instance.String(),
			Status: StatusSuccess, Details: map[string]any{"host": host, "pid": os.Getpid()},
		})
		if err != nil {
			l.lifecycle = false
			l.Close(context.Background())
			return nil, fmt.Errorf("audit: recording logger start: %w", err)
		}
	}
	return l, nil
}

func (l *Logger) compilePolicy() error {
	p := l.policy
	if p.Default > Async {
		return fmt.Errorf("audit: Policy.Default: unknown delivery %d", p.Default)
	}
	l.def = p.Default
	if l.def == DefaultDelivery {
		l.def = Async
	}
	if p.SyncTimeout < 0 {
		return errors.New("audit: Policy.SyncTimeout must not be negative")
	}
	if p.SyncTimeout == 0 {
		l.policy.SyncTimeout = 5 * time.Second
	}
	if p.SyncWriters < 0 || p.SyncBatchSize < 0 || p.SyncBatchBytes < 0 {
		return errors.New("audit: Policy.SyncWriters, SyncBatchSize and SyncBatchBytes must not be negative")
	}
	if p.SyncWriters == 0 {
		l.policy.SyncWriters = 2
	}
	if p.SyncBatchSize == 0 {
		l.policy.SyncBatchSize = 512
	}
	if p.SyncBatchBytes == 0 {
		l.policy.SyncBatchBytes = 4 << 20
	}
	l.exact = make(map[Action]Delivery)
	var secure []Action
	if !p.NoSecurityDefaults {
		secure = SecurityActions()
	}
	for _, a := range secure {
		l.exact[a] = Sync
	}
	for a, d := range p.Actions {
		if d > Async {
			return fmt.Errorf("audit: Policy.Actions[%q]: unknown delivery %d", a, d)
		}
		if d == DefaultDelivery {
			d = l.def
		}
		if strings.HasSuffix(string(a), ".") {
			l.prefixes = append(l.prefixes, prefixRule{string(a), d})
			for _, s := range secure {
				if _, set := p.Actions[s]; !set && strings.HasPrefix(string(s), string(a)) {
					delete(l.exact, s) // an explicit prefix beats the security default
				}
			}
			continue
		}
		l.exact[a] = d
	}
	// longest prefix first
	slices.SortFunc(l.prefixes, func(a, b prefixRule) int { return cmp.Compare(len(b.prefix), len(a.prefix)) })
	return nil
}

// nextID returns a new event ID: Options.NewID's, or a UUIDv7 for the
// wall-clock time now, read now when it is zero.
func (l *Logger) nextID(now time.Time) uuid.UUID {
	if l.newID != nil {
		return l.newID()
	}
	if now.IsZero() {
		now = time.Now()
	}
	return l.newV7(now)
}

// DeliveryFor returns how events with action a are delivered.
func (l *Logger) DeliveryFor(a Action) Delivery {
	if d, ok := l.exact[a]; ok {
		return d
	}
	for _, p := range l.prefixes {
		if strings.HasPrefix(string(a), p.prefix) {
			return p.d
		}
	}
	return l.def
}

// Log records ev. It fills ID and OccurredAt when they are zero and the
// request and actor fields from ctx, validates ev (an error wrapping
// ErrInvalidEvent names the field), cleans it, and delivers it as the
// Policy says for ev.Action:
//
//   - Sync: the record is written before Log returns, retrying transient
//     errors up to Policy.SyncTimeout; Log returns the store's error.
//   - Async: the record is queued; Log returns ErrQueueFull if it cannot be.
//     Its ID's time and counter are taken when it is logged, so that
//     IDs increase in the order events are logged, Sync and Async alike;
//     its random bits may be drawn later, when its batch is taken.
//
// Log returns ErrClosed after Close. The cancellation of ctx does not stop
// a write.
func (l *Logger) Log(ctx context.Context, ev Event) error {
	d := l.DeliveryFor(ev.Action) // an invalid action is refused below
	rec, half, err := l.prepare(ctx, &ev, d)
	if err != nil {
		return err
	}
	if d == Sync {
		return l.writeSync(ctx, rec)
	}
	return l.enqueue(&rec, half)
}

// LogUserAction records action taken by the user userID on their own
// account (resource type "user", resource id userID). result is the
// action's outcome: nil records StatusSuccess, an error StatusFailure with
// its message. The user's email is taken from the context's Actor when
// that Actor is the same user (or, with userID empty, names no user: a
// login to an unknown account, attributed to the email that was typed).
func (l *Logger) LogUserAction(ctx context.Context, userID string, action Action, result error, details map[string]any) error {
	e := Event{Action: action, ResourceType: "user", ResourceID: userID, UserID: userID, Details: details, Status: StatusSuccess}
	if ctx != nil {
		if a := ActorFrom(ctx); a.UserID == userID {
			e.UserEmail = a.UserEmail
		}
	}
	if result != nil {
		e.Status, e.ErrorMessage = StatusFailure, safeErrorString(result)
	}
	return l.Log(ctx, e)
}

// LogResourceChange records a successful action on a resource with the
// field-level changes from before to after (see Diff). The actor comes
// from ctx.
func (l *Logger) LogResourceChange(ctx context.Context, action Action, resourceType, resourceID string, before, after any) error {
	changes, err := Diff(before, after)
	if err != nil {
		return err
	}
	return l.Log(ctx, Event{Action: action, ResourceType: resourceType, ResourceID: resourceID, Changes: changes, Status: StatusSuccess})
}

// LogTo records ev synchronously in s rather than in the Logger's store,
// in one attempt and within ctx (not detached from it): use it with a
// store bound to an application transaction, so that the record commits or
// rolls back with the business change. Validation, cleaning and redaction
// apply as in Log; the Policy does not.
func (l *Logger) LogTo(ctx context.Context, s Store, ev Event) error {
	rec, _, err := l.prepare(ctx, &ev, Sync)
	if err != nil {
		return err
	}
	return l.countSync(&rec, func() error {
		if err := s.Append(ctx, rec); err != nil {
			return fmt.Errorf("audit: append: %w", err)
		}
		return nil
	})
}

func (l *Logger) isClosed() bool { return l.q.isClosed() }

// prepare fills, validates and cleans ev, to be delivered as d. An
// Async record whose time it reads from the wall clock gets the first
// half of its ID only (reserveV7), which orders it among the Logger's
// IDs as it is logged; unless a spool needs the whole ID now, the batcher
// draws the random half when it takes the record, and half says so.
func (l *Logger) prepare(ctx context.Context, ev *Event, d Delivery) (rec Record, half bool, err error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if l.traceFrom != nil && ev.TraceID == "" && ev.SpanID == "" {
		if t, s, ok := l.traceFrom(ctx); ok {
			ev.TraceID, ev.SpanID = t, s
		}
	}
	ev.fillFromContext(ctx)
	var now time.Time // a reading of the wall clock, if there is one
	if ev.OccurredAt.IsZero() {
		ev.OccurredAt = l.now()
		if l.wallClock {
			now = ev.OccurredAt
		}
	}
	if ev.ID == (uuid.UUID{}) {
		if half = !now.IsZero() && d == Async && l.newID == nil && l.cfg.Spool == nil; half {
			ev.ID = l.reserveV7(now)
		} else {
			ev.ID = l.nextID(now)
		}
	}
	var mem *slabs
	if d == Async {
		mem = &l.q.mem
	}
	rec, err = l.clean.clean(ev, mem)
	if err != nil {
		l.invalid.Add(1)
		if l.obs != nil {
			l.obs.Events(OutcomeInvalid, d, ev.Action, 1)
		}
		return Record{}, false, err
	}
	return rec, half, nil
}

func (l *Logger) writeSync(ctx context.Context, rec Record) error {
	// no timer unless the store waits on ctx
	dl := withLazyDeadline(ctx, l.policy.SyncTimeout)
	defer dl.stop()
	ctx = dl
	return l.countSync(&rec, func() error {
		backoff := l.cfg.MinBackoff
		var last error // the store's last error
		for {
			err := l.sync.write(ctx, &rec)
			switch {
			case err == nil:
				return nil
			case ctx.Err() != nil && last != nil && errors.Is(err, ctx.Err()):
				return fmt.Errorf("audit: append %s: gave up after %v: %w (%w)", rec.Action, l.policy.SyncTimeout, last, err)
			case isPermanent(err) || errors.Is(err, ErrClosed) || ctx.Err() != nil:
				return fmt.Errorf("audit: append %s: %w", rec.Action, err)
			}
			last = err
			l.retried.Add(1)
			if !sleepCtx(ctx, l.jitter(backoff)) {
				return fmt.Errorf("audit: append %s: gave up after %v: %w", rec.Action, l.policy.SyncTimeout, err)
			}
			backoff = min(2*backoff, l.cfg.MaxBackoff)
		}
	})
}

// countSync runs write, the synchronous write of rec, and counts it in
// Stats and to the Observer.
func (l *Logger) countSync(rec *Record, write func() error) error {
	if !l.sync.enter() {
		return ErrClosed
	}
	defer l.sync.leave()
	l.syncInFlight.Add(1)
	defer l.syncInFlight.Add(-1)
	l.accepted.Add(1)
	var start time.Time
	if l.obs != nil {
		l.obs.Events(OutcomeAccepted, Sync, rec.Action, 1)
		start = time.Now()
	}
	err := write()
	if l.obs != nil {
		l.obs.SyncWrite(time.Since(start), err)
	}
	if err != nil {
		l.failed.Add(1)
		l.observe(failOutcome(err), Sync, rec.Action, 1)
		return err
	}
	l.written.Add(1)
	l.observe(OutcomeWritten, Sync, rec.Action, 1)
	return nil
}

// enqueue queues rec; half says its ID is half made (see prepare).
func (l *Logger) enqueue(rec *Record, half bool) error {
	var err error
	if l.cfg.Spool != nil {
		err = l.spoolAppend(rec)
	}
	if err == nil {
		err = l.q.push(rec, half, l.cfg.Overflow == OverflowBlock, l.cfg.BlockTimeout)
		if err != nil && l.cfg.Spool != nil {
			if u, ok := l.cfg.Spool.(spoolUnappender); ok {
				u.Unappend(*rec) // not an earlier record of its ID
			} else {
				l.cfg.Spool.Release([]Record{*rec})
			}
		}
	}
	if err == nil {
		l.observe(OutcomeAccepted, Async, rec.Action, 1)
	}
	if err == ErrQueueFull {
		if half {
			l.fillV7(&rec.ID)
		}
		l.queueFull.Add(1)
		l.observe(OutcomeQueueFull, Async, rec.Action, 1)
		// a copy: rec's JSON may be carved from a slab (see slabs), which
		// an OnError that keeps the record would hold whole
		l.onError(&DeliveryError{Reason: ReasonQueueFull, Records: []Record{rec.Clone()}, Err: ErrQueueFull})
	}
	return err
}

// Flush writes everything queued before it was called, and returns when
// that is done or ctx ends. Records that fail are reported to the
// OnError as usual; Flush returns nil once they have been handled.
func (l *Logger) Flush(ctx context.Context) error {
	req := make(chan struct{})
	select {
	case l.flushReq <- req:
	case <-l.done:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("audit: flush: %w", ctx.Err())
	}
	select {
	case <-req:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: flush: %w", ctx.Err())
	}
}

// Close records the Logger's stop, stops accepting events, and writes
// everything queued. If ctx ends first, the in-flight write is cancelled
// and the records not yet written go to OnError with
// ReasonShutdown; Close then returns ctx's error. Close stops the
// Logger's goroutine before it returns. Later calls wait for the first to
// finish and return its result.
func (l *Logger) Close(ctx context.Context) error {
	l.closing.Do(func() {
		if l.lifecycle {
			// Count what was queued before the stop as written (or not):
			// drain first. If ctx ends, the counts are those of the moment.
			_ = l.Flush(ctx)
			s := l.Stats()
			err := l.Log(context.Background(), Event{
				Action: ActionAuditLoggerStop, ResourceType: "audit_logger", ResourceID: l.instance.String(),
				Status: StatusSuccess, Details: map[string]any{
					"accepted": s.Accepted, "written": s.Written, "failed": s.Failed,
					"dropped_queue_full": s.Dropped[ReasonQueueFull],
				},
			})
			if err != nil {
				l.onError(fmt.Errorf("audit: recording logger stop: %w", err))
			}
		}
		l.q.close()
		l.sync.close()
		close(l.stop)
		select {
		case <-l.done:
		case <-ctx.Done():
			l.abandon()
			<-l.done
			l.closeErr = fmt.Errorf("audit: close: %w", ctx.Err())
		}
		l.abandon()
	})
	<-l.done
	return l.closeErr
}

// Stats returns the Logger's counters.
func (l *Logger) Stats() Stats {
	depth, qbytes, accepted := l.q.stats()
	return Stats{
		Accepted: l.accepted.Load() + accepted,
		Written:  l.written.Load(),
		Failed:   l.failed.Load(),
		Retried:  l.retried.Load(),
		Invalid:  l.invalid.Load(),
		Dropped: map[DropReason]uint64{
			ReasonQueueFull: l.queueFull.Load(),
			ReasonShutdown:  l.shutdown.Load(),
		},
		QueueDepth:    depth,
		QueueCapacity: l.cfg.QueueSize,
		QueueBytes:    qbytes,
		SyncInFlight:  int(l.syncInFlight.Load()),
		StoreDown:     l.storeDown.Load(),
	}
}

// deliver writes a batch, retrying transient errors and isolating the
// records the store refuses. While the store is down (a batch exhausted
// its retries and none was written since), a batch gets one attempt.
func (l *Logger) deliver(batch []Record) {
	deadline := time.Now().Add(l.cfg.RetryFor)
	backoff := l.cfg.MinBackoff
	for {
		if l.abort.Err() != nil {
			l.drop(batch, ReasonShutdown, nil)
			return
		}
		ctx, cancel := context.WithTimeout(l.abort, l.cfg.WriteTimeout)
		var start time.Time
		if l.obs != nil {
			start = time.Now()
		}
		err := l.store.Append(ctx, batch...)
		cancel()
		if l.obs != nil {
			l.obs.Write(Async, len(batch), time.Since(start), err)
		}
		if err == nil {
			if l.cfg.Spool != nil {
				l.cfg.Spool.Release(batch)
			}
			l.written.Add(uint64(len(batch)))
			l.observeRecords(OutcomeWritten, Async, batch)
			l.storeDown.Store(false)
			return
		}
		if l.abort.Err() != nil {
			l.drop(batch, ReasonShutdown, err)
			return
		}
		if isPermanent(err) {
			l.storeDown.Store(false) // the store answered
			if len(batch) == 1 {
				l.drop(batch, ReasonRejected, err)
				return
			}
			half := len(batch) / 2
			l.deliver(batch[:half])
			l.deliver(batch[half:])
			return
		}
		if l.storeDown.Load() || !time.Now().Before(deadline) {
			l.storeDown.Store(true)
			l.drop(batch, ReasonRetriesExhausted, err)
			return
		}
		l.retried.Add(1)
		wait := min(l.jitter(backoff), time.Until(deadline))
		backoff = min(2*backoff, l.cfg.MaxBackoff)
		sleepCtx(l.abort, wait)
	}
}

func (l *Logger) drop(batch []Record, reason DropReason, err error) {
	if reason == ReasonShutdown {
		l.shutdown.Add(uint64(len(batch)))
	} else {
		l.failed.Add(uint64(len(batch)))
		if l.cfg.Spool != nil {
			l.cfg.Spool.Release(batch) // reported as failed: not replayed
		}
	}
	o := OutcomeShutdown
	switch reason {
	case ReasonRejected:
		o = OutcomeRejected
	case ReasonRetriesExhausted:
		o = OutcomeRetriesExhausted
	}
	l.observeRecords(o, Async, batch)
	// copies, that share no slab (see slabs) with the records written
	rs := make([]Record, len(batch))
	for i := range batch {
		rs[i] = batch[i].Clone()
	}
	l.onError(&DeliveryError{Reason: reason, Records: rs, Err: err})
}

// jitter returns a random duration in [d/2, d].
func (l *Logger) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	r := l.rng.Get().(*mrand.ChaCha8)
	n := r.Uint64()
	l.rng.Put(r)
	return d/2 + time.Duration(n%uint64(d/2+1))
}

// sleepCtx sleeps for d or until ctx ends; it reports whether it slept the
// whole time.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
