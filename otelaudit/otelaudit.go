package otelaudit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/storekit"
)

// ScopeName is the instrumentation scope of the Meter the instruments come
// from.
const ScopeName = "github.com/trailmark/audit/otelaudit"

// OtherClass is the action class of the actions whose class is not one of
// Options.ActionClasses.
const OtherClass = "other"

// MaxActionClasses bounds Options.ActionClasses, and so the attribute sets
// of each event counter.
const MaxActionClasses = 64

// DefaultActionClasses are the action classes of the package audit's
// actions: the part of the action before its first ".".
func DefaultActionClasses() []string {
	return []string{"user", "resource", "permission", "api_key", "audit_log", "audit", "http"}
}

// The attribute keys of the instruments.
const (
	AttrDelivery    = attribute.Key("audit.delivery")     // "sync" or "async"
	AttrActionClass = attribute.Key("audit.action.class") // the action's part before its first ".", or "other"
	AttrReason      = attribute.Key("audit.reason")       // an audit.DropReason
	AttrStream      = attribute.Key("audit.stream")       // a Tee stream's name
	AttrErrorType   = attribute.Key("error.type")         // set on failed writes: "rejected", "timeout" or "_OTHER"
)

// Options configures Metrics. The zero value (and nil) means the defaults.
type Options struct {
	// MeterProvider makes the Meter of the instruments. Default: the
	// global one, otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// ActionClasses are the action classes counted under their own name
	// (attribute audit.action.class); any other action counts as
	// OtherClass, so that the attribute sets stay few whatever actions a
	// service logs. At most MaxActionClasses. Default
	// DefaultActionClasses.
	ActionClasses []string
	// Now is the clock of the lag measurements. Default time.Now.
	Now func() time.Time
}

// Sources are what Metrics reads at each collection; a nil field is
// skipped.
type Sources struct {
	Logger    *audit.Logger    // queue depth, capacity and bytes, Sync writes in flight, retries, store down
	Sealer    *chain.Sealer    // sealing lag, unsealed records, last seal time, seals and errors
	Retention *audit.Retention // runs, records removed and archived, errors, last run time
	Tee       *siem.Tee        // each stream's queue, sent, retries, drops and lag
	// Loader reports the lag of a store/jetstream Loader; adapt it with
	//
	//	func() otelaudit.LoaderLag {
	//		s := loader.Stats()
	//		return otelaudit.LoaderLag{Pending: s.Pending + uint64(s.AckPending), OldestAge: s.OldestPendingAge}
	//	}
	//
	// (a function, so that this package does not import NATS).
	Loader func() LoaderLag
}

// LoaderLag is how far a loader is behind its stream.
type LoaderLag struct {
	Pending   uint64        // records in the stream not yet committed to the target
	OldestAge time.Duration // the age of the oldest of them; 0 if none
}

// Metrics records what the audit pipeline does as OpenTelemetry metrics.
// It is an audit.Observer: set it in audit.Options.Observer for the event
// counters and the write histograms; Register adds the instruments read
// from the Stats of a Logger, Sealer, Retention, Tee and Loader. The
// instruments are listed in the package documentation.
//
// Metrics is safe for concurrent use. Close unregisters its callbacks.
type Metrics struct {
	meter   metric.Meter
	now     func() time.Time
	classes map[string]int // class → index in the attribute tables; OtherClass is the last

	syncDur, writeDur metric.Float64Histogram
	batch             metric.Int64Histogram

	// counts holds the event counters, by outcome, delivery (0 sync, 1
	// async) and class: Events adds to them (an atomic addition, the
	// cheapest thing on Log's path) and a callback reports them as the
	// audit.events.* counters.
	counts [len(outcomes)][2][]atomic.Int64
	// sets are the attribute sets of those counts
	sets [len(outcomes)][2][]metric.ObserveOption
	// write histograms by delivery, and error type (0 none)
	writeOpts [2][4][]metric.RecordOption
	syncOpts  [4][]metric.RecordOption

	mu        sync.Mutex
	regs      []metric.Registration
	verify    verifyState
	verifyReg metric.Registration
}

type verifyState struct {
	at       time.Time
	ok       bool
	problems uint64
	records  uint64
}

// outcomes are the outcomes counted, each with its counter's name and
// the audit.reason attribute it carries, if any.
var outcomes = [...]struct {
	o      audit.Outcome
	name   string
	reason audit.DropReason
}{
	{audit.OutcomeAccepted, "audit.events.accepted", ""},
	{audit.OutcomeWritten, "audit.events.written", ""},
	{audit.OutcomeInvalid, "audit.events.invalid", ""},
	{audit.OutcomeRejected, "audit.events.failed", audit.ReasonRejected},
	{audit.OutcomeRetriesExhausted, "audit.events.failed", audit.ReasonRetriesExhausted},
	{audit.OutcomeQueueFull, "audit.events.dropped", audit.ReasonQueueFull},
	{audit.OutcomeShutdown, "audit.events.dropped", audit.ReasonShutdown},
}

// outcomeIndex maps an audit.Outcome to its index in outcomes, -1 for none.
func outcomeIndex(o audit.Outcome) int {
	for i := range outcomes {
		if outcomes[i].o == o {
			return i
		}
	}
	return -1
}

var errorTypes = [4]string{"", "rejected", "timeout", "_OTHER"}

// New returns Metrics whose instruments come from opts.MeterProvider.
// opts may be nil for the defaults. It returns an error for invalid
// options or when the provider refuses an instrument.
func New(opts *Options) (*Metrics, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MeterProvider == nil {
		o.MeterProvider = otel.GetMeterProvider()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ActionClasses == nil {
		o.ActionClasses = DefaultActionClasses()
	}
	if len(o.ActionClasses) > MaxActionClasses {
		return nil, fmt.Errorf("audit: otelaudit: ActionClasses holds %d classes, more than %d", len(o.ActionClasses), MaxActionClasses)
	}
	m := &Metrics{meter: o.MeterProvider.Meter(ScopeName), now: o.Now, classes: map[string]int{}}
	classes := make([]string, 0, len(o.ActionClasses)+1)
	for _, c := range o.ActionClasses {
		if c == "" || strings.Contains(c, ".") || c == OtherClass {
			return nil, fmt.Errorf("audit: otelaudit: ActionClasses: %q is not a class (non-empty, no \".\", not %q)", c, OtherClass)
		}
		if _, dup := m.classes[c]; !dup {
			m.classes[c] = len(classes)
			classes = append(classes, c)
		}
	}
	classes = append(classes, OtherClass)
	if err := m.instruments(); err != nil {
		return nil, err
	}
	deliveries := [2]audit.Delivery{audit.Sync, audit.Async}
	for d, del := range deliveries {
		dv := AttrDelivery.String(del.String())
		for o, oc := range outcomes {
			m.counts[o][d] = make([]atomic.Int64, len(classes))
			m.sets[o][d] = make([]metric.ObserveOption, len(classes))
			for i, c := range classes {
				kv := []attribute.KeyValue{dv, AttrActionClass.String(c)}
				if oc.reason != "" {
					kv = append(kv, AttrReason.String(string(oc.reason)))
				}
				m.sets[o][d][i] = metric.WithAttributeSet(attribute.NewSet(kv...))
			}
		}
		for e, et := range errorTypes {
			kv := []attribute.KeyValue{dv}
			if et != "" {
				kv = append(kv, AttrErrorType.String(et))
			}
			m.writeOpts[d][e] = []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
		}
	}
	for e, et := range errorTypes {
		var set attribute.Set
		if et != "" {
			set = attribute.NewSet(AttrErrorType.String(et))
		}
		m.syncOpts[e] = []metric.RecordOption{metric.WithAttributeSet(set)}
	}
	if err := m.registerEvents(); err != nil {
		return nil, err
	}
	if err := m.registerVerify(); err != nil {
		m.Close(context.Background())
		return nil, err
	}
	return m, nil
}

// durationBounds are the buckets of the duration histograms, in seconds.
var durationBounds = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// batchBounds are the buckets of the batch size histogram.
var batchBounds = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000}

func (m *Metrics) instruments() error {
	var errs []error
	var err error
	m.syncDur, err = m.meter.Float64Histogram("audit.sync.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of sync writes as Log's caller waits for them, retries included."),
		metric.WithExplicitBucketBoundaries(durationBounds...))
	errs = append(errs, err)
	m.writeDur, err = m.meter.Float64Histogram("audit.store.write.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of each Store.Append the Logger made (async batches and sync group commits)."),
		metric.WithExplicitBucketBoundaries(durationBounds...))
	errs = append(errs, err)
	m.batch, err = m.meter.Int64Histogram("audit.store.batch.size", metric.WithUnit("{event}"),
		metric.WithDescription("Records in each Store.Append the Logger made."),
		metric.WithExplicitBucketBoundaries(batchBounds...))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("audit: otelaudit: %w", err)
	}
	return nil
}

var _ audit.Observer = (*Metrics)(nil)

// class returns the index of a's class.
func (m *Metrics) class(a audit.Action) int {
	s := string(a)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s = s[:i]
	}
	if i, ok := m.classes[s]; ok {
		return i
	}
	return len(m.classes)
}

func deliveryIndex(d audit.Delivery) int {
	if d == audit.Sync {
		return 0
	}
	return 1
}

// Events counts n events of action a: it implements audit.Observer. It
// costs an atomic addition; the counts are reported at each collection.
func (m *Metrics) Events(o audit.Outcome, d audit.Delivery, a audit.Action, n int) {
	if oi := outcomeIndex(o); oi >= 0 {
		m.counts[oi][deliveryIndex(d)][m.class(a)].Add(int64(n))
	}
}

// registerEvents makes the audit.events.* counters and reports counts
// through them; a count never added to is not reported.
func (m *Metrics) registerEvents() error {
	desc := map[string]string{
		"audit.events.accepted": "Events Log accepted: validated, then written (sync) or queued (async).",
		"audit.events.written":  "Events the store confirmed.",
		"audit.events.failed":   "Accepted events the store refused (reason rejected) or that retries could not deliver (reason retries_exhausted).",
		"audit.events.invalid":  "Events Log refused as invalid.",
		"audit.events.dropped":  "Events not written: never accepted because the queue was full (reason queue_full), or still queued when Close gave up (reason shutdown).",
	}
	in := &instruments{meter: m.meter}
	byName := map[string]metric.Int64ObservableCounter{}
	var insts [len(outcomes)]metric.Int64ObservableCounter
	for i, oc := range outcomes {
		c, ok := byName[oc.name]
		if !ok {
			c = in.counter(oc.name, "{event}", desc[oc.name])
			byName[oc.name] = c
		}
		insts[i] = c
	}
	return m.register(in, func(_ context.Context, obs metric.Observer) error {
		for o := range m.counts {
			for d := range m.counts[o] {
				for c := range m.counts[o][d] {
					if n := m.counts[o][d][c].Load(); n != 0 {
						obs.ObserveInt64(insts[o], n, m.sets[o][d][c])
					}
				}
			}
		}
		return nil
	})
}

// errorType is the index in errorTypes of err.
func errorType(err error) int {
	switch {
	case err == nil:
		return 0
	case storekit.IsPermanent(err):
		return 1
	case errors.Is(err, context.DeadlineExceeded):
		return 2
	}
	return 3
}

// Write records the duration and size of one Store.Append: it implements
// audit.Observer.
func (m *Metrics) Write(d audit.Delivery, n int, took time.Duration, err error) {
	ctx := context.Background()
	di := deliveryIndex(d)
	m.writeDur.Record(ctx, took.Seconds(), m.writeOpts[di][errorType(err)]...)
	m.batch.Record(ctx, int64(n), m.writeOpts[di][0]...)
}

// SyncWrite records the duration of one Sync write: it implements
// audit.Observer.
func (m *Metrics) SyncWrite(took time.Duration, err error) {
	m.syncDur.Record(context.Background(), took.Seconds(), m.syncOpts[errorType(err)]...)
}

// TraceFrom returns the ids of the OpenTelemetry span in ctx, if it has a
// valid one: set it as audit.Options.TraceFrom, so that events logged in
// a traced request or job carry its trace.
func TraceFrom(ctx context.Context) (traceID, spanID string, ok bool) {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return "", "", false
	}
	return sc.TraceID().String(), sc.SpanID().String(), true
}

var _ audit.TraceFunc = TraceFrom

// Close unregisters the callbacks of the observable instruments, the
// audit.events.* counters included: nothing but the histograms is
// reported afterwards. It does not wait: ctx is there for the one Close
// signature of the module. It is safe to call twice.
func (m *Metrics) Close(ctx context.Context) error {
	m.mu.Lock()
	regs := m.regs
	m.regs = nil
	if m.verifyReg != nil {
		regs = append(regs, m.verifyReg)
		m.verifyReg = nil
	}
	m.mu.Unlock()
	var errs []error
	for _, r := range regs {
		errs = append(errs, r.Unregister())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("audit: otelaudit: %w", err)
	}
	return nil
}
