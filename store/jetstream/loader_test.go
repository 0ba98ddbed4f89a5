package jetstream_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/jetstream"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

// faulty is a target store that refuses records whose ResourceID is
// "poison" for good, and fails its first transient Appends.
type faulty struct {
	audit.Store
	transient atomic.Int32 // Appends still to fail
	calls     atomic.Int32
}

func (f *faulty) Append(ctx context.Context, recs ...audit.Record) error {
	f.calls.Add(1)
	if f.transient.Add(-1) >= 0 {
		return errors.New("connection reset (simulated)")
	}
	for _, r := range recs {
		if r.ResourceID == "poison" {
			return storekit.Permanent(fmt.Errorf("record %s refused (simulated)", r.ID))
		}
	}
	return f.Store.Append(ctx, recs...)
}

// runLoader runs a Loader until the returned stop is called; stop waits
// for Run to return.
func runLoader(t testing.TB, nc *nats.Conn, target audit.Store, lo jetstream.LoaderOptions) (*jetstream.Loader, func()) {
	t.Helper()
	l, err := jetstream.NewLoader(nc, target, &lo)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := l.Run(ctx); err != nil {
			t.Error(err)
		}
	})
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return l, stop
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// TestLoaderDeadLetters checks that a record the target refuses and a
// message that does not decode go to the dead-letter subject with their
// reason, are counted, and do not keep the other records from loading,
// while transient target errors are retried without loss or duplicates.
func TestLoaderDeadLetters(t *testing.T) {
	nc := connect(t, natsURL(t))
	o, lo := testStream(t, nc)
	s := newStore(t, nc, o)
	ctx := testCtx(t, time.Minute)
	const n = 500
	var recs []audit.Record
	for i := range n {
		r := audit.Record{ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now().UTC(), Action: audit.ActionResourceRead,
			ResourceType: "doc", ResourceID: fmt.Sprint(i), Status: audit.StatusSuccess}
		if i == 137 {
			r.ResourceID = "poison"
		}
		recs = append(recs, r)
	}
	if err := s.Append(ctx, recs[:250]...); err != nil {
		t.Fatal(err)
	}
	j, _ := natsjs.New(nc)
	if _, err := j.Publish(ctx, o.Subject, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, recs[250:]...); err != nil {
		t.Fatal(err)
	}
	mem := memory.New(nil)
	target := &faulty{Store: mem}
	target.transient.Store(3)
	var reported atomic.Int32
	lo.BatchSize = 64
	lo.MinBackoff = time.Millisecond
	lo.MaxBackoff = 10 * time.Millisecond
	lo.LagInterval = 10 * time.Millisecond
	lo.OnError = func(error) { reported.Add(1) }
	l, stop := runLoader(t, nc, target, lo)
	waitFor(t, "the records to load", 30*time.Second, func() bool {
		st := l.Stats()
		return st.Loaded+st.DeadLettered == n+1 && st.LagAt.After(time.Time{}) && st.Pending == 0 && st.AckPending == 0
	})
	stop()
	st := l.Stats()
	if st.Loaded != n-1 || st.DeadLettered != 2 || st.Retries != 3 || mem.Len() != n-1 {
		t.Errorf("stats %+v, %d stored; want %d loaded, 2 dead-lettered, 3 retries, %d stored", st, mem.Len(), n-1, n-1)
	}
	if st.OldestPendingAge != 0 {
		t.Errorf("OldestPendingAge %v with nothing pending; want 0", st.OldestPendingAge)
	}
	if reported.Load() < 5 {
		t.Errorf("%d errors reported; want at least 5 (3 retries, 2 dead letters)", reported.Load())
	}
	for i, r := range recs {
		_, err := mem.Get(ctx, r.ID)
		if (err == nil) == (i == 137) {
			t.Errorf("record %d (%s): Get: %v", i, r.ResourceID, err)
		}
	}
	// The dead letters, with their reasons.
	cons, err := j.OrderedConsumer(ctx, lo.Stream+"_DLQ", natsjs.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cons.Fetch(10, natsjs.FetchMaxWait(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for m := range b.Messages() {
		reasons = append(reasons, m.Headers().Get(jetstream.HeaderReason))
		if m.Headers().Get(jetstream.HeaderStreamSeq) == "" || m.Headers().Get(jetstream.HeaderSubject) != o.Subject {
			t.Errorf("dead letter headers %v: want the stream sequence and subject", m.Headers())
		}
	}
	if len(reasons) != 2 || !strings.Contains(strings.Join(reasons, "|"), "decode record") || !strings.Contains(strings.Join(reasons, "|"), "refused (simulated)") {
		t.Errorf("dead-letter reasons %q; want a decode error and the refusal", reasons)
	}
}

// TestLoaderLag checks that Stats reports what is waiting, and how old the
// oldest waiting record is, while the target cannot take it.
func TestLoaderLag(t *testing.T) {
	nc := connect(t, natsURL(t))
	o, lo := testStream(t, nc)
	s := newStore(t, nc, o)
	ctx := testCtx(t, time.Minute)
	for i := range 30 {
		r := audit.Record{ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now().UTC(), Action: audit.ActionResourceRead,
			ResourceType: "doc", ResourceID: fmt.Sprint(i), Status: audit.StatusSuccess}
		if err := s.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	target := &faulty{Store: memory.New(nil)}
	target.transient.Store(1 << 30) // down
	lo.BatchSize, lo.Workers, lo.LagInterval = 10, 1, 10*time.Millisecond
	lo.OnError = func(error) {}
	l, stop := runLoader(t, nc, target, lo)
	waitFor(t, "the lag", 10*time.Second, func() bool { st := l.Stats(); return st.AckPending == 10 && st.Pending == 20 })
	stop()
	if st := l.Stats(); st.OldestPendingAge < 50*time.Millisecond || st.Loaded != 0 {
		t.Errorf("stats %+v: want the oldest pending record at least 50ms old, nothing loaded", st)
	}
}
