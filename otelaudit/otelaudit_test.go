package otelaudit_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/otelaudit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newMetrics returns Metrics reporting to a manual reader.
func newMetrics(t testing.TB, opts *otelaudit.Options) (*otelaudit.Metrics, *sdkmetric.ManualReader) {
	t.Helper()
	r := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	var o otelaudit.Options
	if opts != nil {
		o = *opts
	}
	o.MeterProvider = mp
	m, err := otelaudit.New(&o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	return m, r
}

// collect returns the metrics read now, by name.
func collect(t *testing.T, r *sdkmetric.ManualReader) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// match reports whether set holds every attribute of want.
func match(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		if v, ok := set.Value(kv.Key); !ok || v != kv.Value {
			return false
		}
	}
	return true
}

// value returns the sum of the int64 points of metric name whose
// attributes hold want, and how many points matched.
func value(t *testing.T, ms map[string]metricdata.Aggregation, name string, want ...attribute.KeyValue) (int64, int) {
	t.Helper()
	var sum int64
	n := 0
	var points []metricdata.DataPoint[int64]
	switch d := ms[name].(type) {
	case metricdata.Sum[int64]:
		points = d.DataPoints
	case metricdata.Gauge[int64]:
		points = d.DataPoints
	case metricdata.Histogram[int64]:
		return histCount(d, want)
	case metricdata.Histogram[float64]:
		return histCount(d, want)
	case nil:
		t.Fatalf("no metric %s", name)
	default:
		t.Fatalf("%s: unexpected %T", name, d)
	}
	for _, p := range points {
		if match(p.Attributes, want) {
			sum += p.Value
			n++
		}
	}
	return sum, n
}

// histCount returns the count of the points of h whose attributes hold
// want, and how many points matched.
func histCount[N int64 | float64](h metricdata.Histogram[N], want []attribute.KeyValue) (count int64, n int) {
	for _, p := range h.DataPoints {
		if match(p.Attributes, want) {
			count += int64(p.Count)
			n++
		}
	}
	return count, n
}

func fvalue(t *testing.T, ms map[string]metricdata.Aggregation, name string) (float64, bool) {
	t.Helper()
	g, ok := ms[name].(metricdata.Gauge[float64])
	if !ok || len(g.DataPoints) != 1 {
		return 0, false
	}
	return g.DataPoints[0].Value, true
}

// flaky is a memory store that refuses records of resource "bad" and
// fails once with a transient error when armed.
type flaky struct {
	*memory.Store
	transient chan struct{}
}

func (s *flaky) Append(ctx context.Context, rs ...audit.Record) error {
	for _, r := range rs {
		if r.ResourceID == "bad" {
			return storekit.Permanent(errors.New("refused"))
		}
	}
	select {
	case <-s.transient:
		return errors.New("connection reset")
	default:
	}
	return s.Store.Append(ctx, rs...)
}

var (
	syncAttr  = otelaudit.AttrDelivery.String("sync")
	asyncAttr = otelaudit.AttrDelivery.String("async")
)

func TestMetricsAfterScriptedRun(t *testing.T) {
	t.Parallel()
	m, reader := newMetrics(t, nil)
	store := &flaky{Store: memory.New(nil), transient: make(chan struct{}, 1)}
	l, err := audit.New(store, &audit.Options{Observer: m, NoLifecycleEvents: true, OnError: func(error) {},
		Async: audit.AsyncOptions{MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if err := m.Register(otelaudit.Sources{Logger: l}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := func(a audit.Action, id string) audit.Event {
		return audit.Event{Action: a, ResourceType: "doc", ResourceID: id, Status: audit.StatusSuccess}
	}
	const logins = 7
	for range logins {
		if err := l.Log(ctx, ev(audit.ActionUserLogin, "u")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Log(ctx, ev(audit.ActionUserLogin, "bad")); err == nil {
		t.Fatal("refused sync write: got nil error")
	}
	store.transient <- struct{}{} // the next Append fails once, then is retried
	for range 4 {
		if err := l.Log(ctx, ev("billing.charge", "c")); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Log(ctx, audit.Event{Action: "billing.charge"}); err == nil {
		t.Fatal("invalid event: got nil error")
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	ms := collect(t, reader)
	user, other := otelaudit.AttrActionClass.String("user"), otelaudit.AttrActionClass.String(otelaudit.OtherClass)
	tests := []struct {
		name   string
		metric string
		attrs  []attribute.KeyValue
		want   int64
	}{
		{"sync logins accepted", "audit.events.accepted", []attribute.KeyValue{syncAttr, user}, logins + 1},
		{"sync logins written", "audit.events.written", []attribute.KeyValue{syncAttr, user}, logins},
		{"sync login rejected", "audit.events.failed", []attribute.KeyValue{syncAttr, user, otelaudit.AttrReason.String("rejected")}, 1},
		{"async accepted", "audit.events.accepted", []attribute.KeyValue{asyncAttr, other}, 4},
		{"async written", "audit.events.written", []attribute.KeyValue{asyncAttr, other}, 4},
		{"invalid", "audit.events.invalid", []attribute.KeyValue{asyncAttr, other}, 1},
		{"retries", "audit.store.retries", nil, 1},
		{"sync durations", "audit.sync.duration", nil, logins + 1},
		{"failed sync durations", "audit.sync.duration", []attribute.KeyValue{otelaudit.AttrErrorType.String("rejected")}, 1},
		{"queue capacity", "audit.queue.capacity", nil, 16384},
		{"queue depth", "audit.queue.depth", nil, 0},
		{"sync active", "audit.sync.active", nil, 0},
		{"store down", "audit.store.down", nil, 0},
	}
	for _, tt := range tests {
		if got, _ := value(t, ms, tt.metric, tt.attrs...); got != tt.want {
			t.Errorf("%s: %s%v: got %d, want %d", tt.name, tt.metric, tt.attrs, got, tt.want)
		}
	}
	// the async batch: one failed Append, then the retry
	if got, _ := value(t, ms, "audit.store.write.duration", asyncAttr, otelaudit.AttrErrorType.String("_OTHER")); got != 1 {
		t.Errorf("failed async writes: got %d, want 1", got)
	}
	if got, _ := value(t, ms, "audit.store.batch.size", asyncAttr); got != 2 {
		t.Errorf("async Appends in the batch size histogram: got %d, want 2", got)
	}
	h := ms["audit.store.batch.size"].(metricdata.Histogram[int64])
	for _, p := range h.DataPoints {
		if match(p.Attributes, []attribute.KeyValue{asyncAttr}) && p.Sum != 8 {
			t.Errorf("async batch sizes: got sum %d, want 8 (4 records, written twice)", p.Sum)
		}
	}
}

func TestQueueFullDrop(t *testing.T) {
	t.Parallel()
	m, reader := newMetrics(t, nil)
	block := make(chan struct{})
	store := blockStore{memory.New(nil), block}
	l, err := audit.New(store, &audit.Options{Observer: m, NoLifecycleEvents: true, OnError: func(error) {},
		Async: audit.AsyncOptions{QueueSize: 2, BatchSize: 1, Overflow: audit.OverflowDrop}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	full := 0
	for range 20 {
		err := l.Log(context.Background(), audit.Event{Action: audit.ActionResourceRead, ResourceType: "d", ResourceID: "1", Status: audit.StatusSuccess})
		if errors.Is(err, audit.ErrQueueFull) {
			full++
		}
	}
	close(block)
	got, _ := value(t, collect(t, reader), "audit.events.dropped", asyncAttr, otelaudit.AttrActionClass.String("resource"), otelaudit.AttrReason.String("queue_full"))
	if full == 0 || got != int64(full) {
		t.Errorf("dropped queue_full: got %d, want %d (> 0)", got, full)
	}
}

type blockStore struct {
	*memory.Store
	block chan struct{}
}

func (s blockStore) Append(ctx context.Context, rs ...audit.Record) error {
	select {
	case <-s.block:
	case <-ctx.Done():
		return ctx.Err()
	}
	return s.Store.Append(ctx, rs...)
}

// 10,000 distinct actions make no more attribute sets than classes.
func TestCardinalityBounded(t *testing.T) {
	t.Parallel()
	m, reader := newMetrics(t, nil)
	l, err := audit.New(memory.New(nil), &audit.Options{Observer: m, NoLifecycleEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 10000 {
		a := audit.Action(fmt.Sprintf("tenant%d.thing%d", i, i))
		if i%2 == 0 {
			a = audit.Action(fmt.Sprintf("resource.verb%d", i))
		}
		if err := l.Log(ctx, audit.Event{Action: a, ResourceType: "d", ResourceID: "1", Status: audit.StatusSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ms := collect(t, reader)
	for _, name := range []string{"audit.events.accepted", "audit.events.written"} {
		total, sets := value(t, ms, name)
		if total != 10000 {
			t.Errorf("%s: got %d events, want 10000", name, total)
		}
		if sets != 2 { // resource and other, async
			t.Errorf("%s: got %d attribute sets, want 2", name, sets)
		}
	}
}

func TestActionClassesValidated(t *testing.T) {
	t.Parallel()
	many := make([]string, otelaudit.MaxActionClasses+1)
	for i := range many {
		many[i] = fmt.Sprint("c", i)
	}
	for _, tt := range []struct {
		name    string
		classes []string
	}{{"dot", []string{"a.b"}}, {"empty", []string{""}}, {"other", []string{"other"}}, {"too many", many}} {
		if _, err := otelaudit.New(&otelaudit.Options{ActionClasses: tt.classes}); err == nil {
			t.Errorf("%s: got nil error, want one", tt.name)
		}
	}
}

func TestSealerRetentionVerify(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	m, reader := newMetrics(t, &otelaudit.Options{Now: clock})
	store := memory.New(&memory.Options{Now: clock})
	l, err := audit.New(store, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 5 {
		if err := l.Log(ctx, audit.Event{Action: audit.ActionResourceRead, ResourceType: "d", ResourceID: "1", Status: audit.StatusSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close(ctx)
	key := chain.HMACKey{ID: "k1", Secret: []byte("a test key of thirty-two bytes or more")}
	signer := &chain.SigningKey{ID: "s1", Key: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))}
	sealer, err := chain.NewSealer(store, key, &chain.SealerOptions{SigningKey: signer, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	ret, err := audit.NewRetention(store, sealer, &audit.RetentionOptions{MaxAge: time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Register(otelaudit.Sources{Sealer: sealer, Retention: ret}); err != nil {
		t.Fatal(err)
	}
	ms := collect(t, reader)
	if _, ok := fvalue(t, ms, "audit.seal.last_run.time"); ok {
		t.Error("audit.seal.last_run.time before any seal: got a value, want none")
	}
	if _, ok := fvalue(t, ms, "audit.verify.last_run.time"); ok {
		t.Error("audit.verify.last_run.time before any verify: got a value, want none")
	}
	if err := sealer.Close(ctx); err != nil { // seals what waits, then counts
		t.Fatal(err)
	}
	rep, err := chain.Verify(ctx, store, &chain.VerifyOptions{Keys: map[string][]byte{key.ID: key.Secret}, PublicKeys: map[string]ed25519.PublicKey{signer.ID: signer.Key.Public().(ed25519.PublicKey)}, Now: clock})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify: %v %+v", err, rep.Problems)
	}
	m.RecordVerify(rep, err)
	now = now.Add(2 * time.Hour)
	if _, err := ret.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	ms = collect(t, reader)
	ints := []struct {
		metric string
		want   int64
	}{
		{"audit.seal.records", 5},
		{"audit.seal.unsealed", 0},
		{"audit.seal.errors", 0},
		{"audit.seal.unsealable", 0},
		{"audit.verify.last_result", 1},
		{"audit.verify.records", 5},
		{"audit.verify.problems", 0},
		{"audit.retention.runs", 1},
		{"audit.retention.purged", 5},
		{"audit.retention.errors", 0},
	}
	for _, tt := range ints {
		if got, _ := value(t, ms, tt.metric); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.metric, got, tt.want)
		}
	}
	floats := []struct {
		metric string
		want   float64
	}{
		{"audit.seal.last_run.time", float64(now.Unix())}, // retention seals before it purges
		{"audit.seal.lag", 0},
		{"audit.verify.last_run.time", float64(now.Add(-2 * time.Hour).Unix())},
		{"audit.retention.last_run.time", float64(now.Unix())},
	}
	for _, tt := range floats {
		if got, ok := fvalue(t, ms, tt.metric); !ok || got != tt.want {
			t.Errorf("%s: got %v (%v), want %v", tt.metric, got, ok, tt.want)
		}
	}
	m.RecordVerify(chain.Report{ProblemCount: 2}, nil)
	if got, _ := value(t, collect(t, reader), "audit.verify.last_result"); got != 0 {
		t.Errorf("audit.verify.last_result after problems: got %d, want 0", got)
	}
	m.RecordVerify(chain.Report{}, errors.New("cannot read"))
	if got, _ := value(t, collect(t, reader), "audit.verify.last_result"); got != 0 {
		t.Errorf("audit.verify.last_result after an error: got %d, want 0", got)
	}
}

func TestLoaderLag(t *testing.T) {
	t.Parallel()
	m, reader := newMetrics(t, nil)
	err := m.Register(otelaudit.Sources{Loader: func() otelaudit.LoaderLag {
		return otelaudit.LoaderLag{Pending: 12, OldestAge: 3 * time.Second}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ms := collect(t, reader)
	if got, _ := value(t, ms, "audit.loader.pending"); got != 12 {
		t.Errorf("audit.loader.pending: got %d, want 12", got)
	}
	if got, _ := fvalue(t, ms, "audit.loader.lag"); got != 3 {
		t.Errorf("audit.loader.lag: got %v, want 3", got)
	}
}

func TestTraceFrom(t *testing.T) {
	t.Parallel()
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid}))
	store := memory.New(nil)
	l, err := audit.New(store, &audit.Options{NoLifecycleEvents: true, TraceFrom: otelaudit.TraceFrom, Policy: audit.Policy{Default: audit.Sync}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	if err := l.Log(ctx, audit.Event{Action: audit.ActionResourceRead, ResourceType: "d", ResourceID: "1", Status: audit.StatusSuccess}); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := otelaudit.TraceFrom(context.Background()); ok {
		t.Error("TraceFrom without a span: got ok")
	}
	page, err := store.Query(context.Background(), audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Records) != 1 || page.Records[0].TraceID != tid.String() || page.Records[0].SpanID != sid.String() {
		t.Fatalf("got %+v, want trace %s span %s", page.Records, tid, sid)
	}
}

// unsealableStore hands the Sealer, once, a record whose Details nest
// deeper than the canonical form accepts, as a row inserted around every
// door would be read.
type unsealableStore struct {
	*memory.Store
	done bool
}

func (u *unsealableStore) SealNext(ctx context.Context, max int, fn func(storekit.Seal, []audit.Record) ([]storekit.Seal, error)) (int, error) {
	return u.Store.SealNext(ctx, max, func(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error) {
		if len(recs) > 0 && !u.done {
			u.done = true
			recs[0].Details = []byte(strings.Repeat(`{"a":`, 5001) + "1" + strings.Repeat("}", 5001))
		}
		return fn(last, recs)
	})
}

// TestSealUnsealable: a record the Sealer sealed by its stored form is
// counted in audit.seal.unsealable (issue 20, item 1).
func TestSealUnsealable(t *testing.T) {
	t.Parallel()
	m, reader := newMetrics(t, nil)
	store := &unsealableStore{Store: memory.New(nil)}
	l, err := audit.New(store, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for range 3 {
		if err := l.Log(ctx, audit.Event{Action: audit.ActionResourceRead, ResourceType: "d", Status: audit.StatusSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close(ctx)
	var reported []error
	sealer, err := chain.NewSealer(store, chain.HMACKey{ID: "k1", Secret: make([]byte, 32)}, &chain.SealerOptions{OnError: func(err error) { reported = append(reported, err) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Register(otelaudit.Sources{Sealer: sealer}); err != nil {
		t.Fatal(err)
	}
	if n, err := sealer.SealOnce(ctx); n != 3 || err != nil {
		t.Fatalf("SealOnce: %d, %v; want 3 sealed", n, err)
	}
	ms := collect(t, reader)
	for _, tt := range []struct {
		metric string
		want   int64
	}{{"audit.seal.records", 3}, {"audit.seal.unsealable", 1}, {"audit.seal.errors", 0}} {
		if got, _ := value(t, ms, tt.metric); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.metric, got, tt.want)
		}
	}
	if len(reported) != 1 || !strings.Contains(reported[0].Error(), string(chain.ProblemUnsealable)) {
		t.Errorf("OnError got %v; want one error naming %s", reported, chain.ProblemUnsealable)
	}
}
