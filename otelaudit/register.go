package otelaudit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
)

// instruments makes observable instruments and collects their errors.
type instruments struct {
	meter metric.Meter
	all   []metric.Observable
	errs  []error
}

func (in *instruments) gauge(name, unit, desc string) metric.Int64ObservableGauge {
	g, err := in.meter.Int64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	in.add(g, err)
	return g
}

func (in *instruments) fgauge(name, unit, desc string) metric.Float64ObservableGauge {
	g, err := in.meter.Float64ObservableGauge(name, metric.WithUnit(unit), metric.WithDescription(desc))
	in.add(g, err)
	return g
}

func (in *instruments) updown(name, unit, desc string) metric.Int64ObservableUpDownCounter {
	c, err := in.meter.Int64ObservableUpDownCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	in.add(c, err)
	return c
}

func (in *instruments) counter(name, unit, desc string) metric.Int64ObservableCounter {
	c, err := in.meter.Int64ObservableCounter(name, metric.WithUnit(unit), metric.WithDescription(desc))
	in.add(c, err)
	return c
}

func (in *instruments) add(o metric.Observable, err error) {
	in.errs = append(in.errs, err)
	if err == nil {
		in.all = append(in.all, o)
	}
}

// register registers cb for the instruments made, unless one failed.
func (m *Metrics) register(in *instruments, cb metric.Callback) error {
	if err := errors.Join(in.errs...); err != nil {
		return fmt.Errorf("audit: otelaudit: %w", err)
	}
	reg, err := m.meter.RegisterCallback(cb, in.all...)
	if err != nil {
		return fmt.Errorf("audit: otelaudit: %w", err)
	}
	m.mu.Lock()
	m.regs = append(m.regs, reg)
	m.mu.Unlock()
	return nil
}

// unixSeconds is t as seconds since the Unix epoch.
func unixSeconds(t time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

func i64(v uint64) int64 { return int64(min(v, 1<<63-1)) }

// Register adds the observable instruments of the sources set in src,
// read from their Stats at each collection. Call it once per source
// (several Loggers need distinct MeterProviders or are better summed by
// the caller). Close unregisters them.
func (m *Metrics) Register(src Sources) error {
	var errs []error
	if src.Logger != nil {
		errs = append(errs, m.registerLogger(src.Logger))
	}
	if src.Sealer != nil {
		errs = append(errs, m.registerSealer(src.Sealer))
	}
	if src.Retention != nil {
		errs = append(errs, m.registerRetention(src.Retention))
	}
	if src.Tee != nil {
		errs = append(errs, m.registerTee(src))
	}
	if src.Loader != nil {
		errs = append(errs, m.registerLoader(src.Loader))
	}
	return errors.Join(errs...)
}

func (m *Metrics) registerLogger(l *audit.Logger) error {
	in := &instruments{meter: m.meter}
	depth := in.updown("audit.queue.depth", "{event}", "Async events accepted and not yet written or failed.")
	capacity := in.updown("audit.queue.capacity", "{event}", "The most async events the queue holds (AsyncOptions.QueueSize).")
	size := in.updown("audit.queue.size", "By", "Memory held by the queued async events, as AsyncOptions.QueueBytes counts it.")
	active := in.updown("audit.sync.active", "{write}", "Sync writes in progress.")
	retries := in.counter("audit.store.retries", "{call}", "Store.Append calls repeated after an error.")
	down := in.gauge("audit.store.down", "{state}", "1 while async batches fail without retries (the store is down), else 0.")
	return m.register(in, func(_ context.Context, o metric.Observer) error {
		s := l.Stats()
		o.ObserveInt64(depth, int64(s.QueueDepth))
		o.ObserveInt64(capacity, int64(s.QueueCapacity))
		o.ObserveInt64(size, s.QueueBytes)
		o.ObserveInt64(active, int64(s.SyncInFlight))
		o.ObserveInt64(retries, i64(s.Retried))
		var d int64
		if s.StoreDown {
			d = 1
		}
		o.ObserveInt64(down, d)
		return nil
	})
}

func (m *Metrics) registerSealer(s *chain.Sealer) error {
	in := &instruments{meter: m.meter}
	lag := in.fgauge("audit.seal.lag", "s", "Age of the oldest unsealed record, as last counted by the Sealer.")
	unsealed := in.gauge("audit.seal.unsealed", "{record}", "Records waiting for a seal, as last counted by the Sealer.")
	last := in.fgauge("audit.seal.last_run.time", "s", "When the last sealing step ended, in seconds since the Unix epoch; absent before the first.")
	sealed := in.counter("audit.seal.records", "{record}", "Records the Sealer sealed.")
	cps := in.counter("audit.seal.checkpoints", "{checkpoint}", "Checkpoints the Sealer wrote.")
	errs := in.counter("audit.seal.errors", "{error}", "Errors of the Sealer's steps.")
	unsealable := in.counter("audit.seal.unsealable", "{record}", "Records sealed by the digest of their stored form: they cannot be put in canonical form, and entered the store around every door.")
	return m.register(in, func(_ context.Context, o metric.Observer) error {
		st := s.Stats()
		if !st.UnsealedAt.IsZero() {
			o.ObserveFloat64(lag, st.OldestUnsealedAge.Seconds())
			o.ObserveInt64(unsealed, int64(st.Unsealed))
		}
		if !st.LastRun.IsZero() {
			o.ObserveFloat64(last, unixSeconds(st.LastRun))
		}
		o.ObserveInt64(sealed, i64(st.Sealed))
		o.ObserveInt64(cps, i64(st.Checkpoints))
		o.ObserveInt64(errs, i64(st.Errors))
		o.ObserveInt64(unsealable, i64(st.Unsealable))
		return nil
	})
}

func (m *Metrics) registerRetention(r *audit.Retention) error {
	in := &instruments{meter: m.meter}
	runs := in.counter("audit.retention.runs", "{run}", "Retention runs ended.")
	purged := in.counter("audit.retention.purged", "{record}", "Records retention removed.")
	archived := in.counter("audit.retention.archived", "{record}", "Records retention handed to Archive.")
	errs := in.counter("audit.retention.errors", "{run}", "Retention runs that failed.")
	last := in.fgauge("audit.retention.last_run.time", "s", "When the last retention run ended, in seconds since the Unix epoch; absent before the first.")
	return m.register(in, func(_ context.Context, o metric.Observer) error {
		st := r.Stats()
		o.ObserveInt64(runs, i64(st.Runs))
		o.ObserveInt64(purged, i64(st.Purged))
		o.ObserveInt64(archived, i64(st.Archived))
		o.ObserveInt64(errs, i64(st.Errors))
		if !st.LastRun.IsZero() {
			o.ObserveFloat64(last, unixSeconds(st.LastRun))
		}
		return nil
	})
}

func (m *Metrics) registerTee(src Sources) error {
	t := src.Tee
	in := &instruments{meter: m.meter}
	depth := in.updown("audit.stream.queue.depth", "{record}", "Records waiting for a stream's sink.")
	size := in.updown("audit.stream.queue.size", "By", "Approximate memory of the records waiting for a stream's sink.")
	sent := in.counter("audit.stream.sent", "{record}", "Records a stream's sink accepted.")
	retries := in.counter("audit.stream.retries", "{call}", "Sends repeated after an error.")
	dropped := in.counter("audit.stream.dropped", "{record}", "Records a stream dropped, by reason.")
	lag := in.fgauge("audit.stream.lag", "s", "While records wait, the time since the sink last accepted a batch; 0 when none wait.")
	return m.register(in, func(_ context.Context, o metric.Observer) error {
		now := m.now()
		for _, s := range t.Stats().Streams {
			name := AttrStream.String(s.Name)
			opt := metric.WithAttributeSet(attribute.NewSet(name))
			o.ObserveInt64(depth, int64(s.Queued), opt)
			o.ObserveInt64(size, int64(s.QueuedBytes), opt)
			o.ObserveInt64(sent, i64(s.Sent), opt)
			o.ObserveInt64(retries, i64(s.Retried), opt)
			for reason, n := range s.Dropped {
				o.ObserveInt64(dropped, i64(n), metric.WithAttributeSet(attribute.NewSet(name, AttrReason.String(string(reason)))))
			}
			switch {
			case s.Queued == 0:
				o.ObserveFloat64(lag, 0, opt)
			case !s.LastSuccess.IsZero():
				o.ObserveFloat64(lag, max(now.Sub(s.LastSuccess), 0).Seconds(), opt)
			}
		}
		return nil
	})
}

func (m *Metrics) registerLoader(f func() LoaderLag) error {
	in := &instruments{meter: m.meter}
	pending := in.updown("audit.loader.pending", "{record}", "Records in the stream not yet committed to the target store.")
	lag := in.fgauge("audit.loader.lag", "s", "Age of the oldest record not yet committed to the target store; 0 if none.")
	return m.register(in, func(_ context.Context, o metric.Observer) error {
		l := f()
		o.ObserveInt64(pending, i64(l.Pending))
		o.ObserveFloat64(lag, l.OldestAge.Seconds())
		return nil
	})
}

func (m *Metrics) registerVerify() error {
	in := &instruments{meter: m.meter}
	last := in.fgauge("audit.verify.last_run.time", "s", "When the last verification recorded with RecordVerify ended, in seconds since the Unix epoch; absent before the first.")
	result := in.gauge("audit.verify.last_result", "{result}", "1 if the last verification passed (no error, no problem), else 0; absent before the first.")
	problems := in.gauge("audit.verify.problems", "{problem}", "Problems the last verification found.")
	records := in.gauge("audit.verify.records", "{record}", "Records the last verification checked.")
	if err := errors.Join(in.errs...); err != nil {
		return fmt.Errorf("audit: otelaudit: %w", err)
	}
	reg, err := m.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		m.mu.Lock()
		v := m.verify
		m.mu.Unlock()
		if v.at.IsZero() {
			return nil
		}
		o.ObserveFloat64(last, unixSeconds(v.at))
		var ok int64
		if v.ok {
			ok = 1
		}
		o.ObserveInt64(result, ok)
		o.ObserveInt64(problems, i64(v.problems))
		o.ObserveInt64(records, i64(v.records))
		return nil
	}, in.all...)
	if err != nil {
		return fmt.Errorf("audit: otelaudit: %w", err)
	}
	m.verifyReg = reg
	return nil
}

// RecordVerify records the result of an chain.Verify: call it with what
// Verify returned. The verification passed when err is nil and the report
// holds no problem. Its time is the Options.Now of the call.
func (m *Metrics) RecordVerify(rep chain.Report, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.verify = verifyState{at: m.now(), ok: err == nil && rep.ProblemCount == 0, problems: rep.ProblemCount, records: rep.Records}
}
