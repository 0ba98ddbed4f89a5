package jetstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/jetstream"
)

func newStore(t testing.TB, nc *nats.Conn, o jetstream.Options) *jetstream.Store {
	t.Helper()
	s, err := jetstream.New(testCtx(t, time.Minute), nc, &o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readAll returns every record in the stream, in stream order.
func readAll(t testing.TB, nc *nats.Conn, stream string) []audit.Record {
	t.Helper()
	ctx := testCtx(t, time.Minute)
	j, _ := natsjs.New(nc)
	c, err := j.OrderedConsumer(ctx, stream, natsjs.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	n := streamMsgs(t, nc, stream)
	var out []audit.Record
	for uint64(len(out)) < n {
		b, err := c.Fetch(int(min(n-uint64(len(out)), 1000)), natsjs.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			r, err := jetstream.DecodeRecord(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			if got, want := m.Headers().Get(nats.MsgIdHdr), r.ID.String(); got != want {
				t.Errorf("Nats-Msg-Id %q, want the record ID %q", got, want)
			}
			out = append(out, r)
		}
		if err := b.Error(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestRoundTrip checks that a record published and read back is the
// record, byte for byte in Details and Changes, and that appending the
// same records again stores nothing new.
func TestRoundTrip(t *testing.T) {
	nc := connect(t, natsURL(t))
	o, _ := testStream(t, nc)
	s := newStore(t, nc, o)
	ctx := testCtx(t, time.Minute)
	recs := []audit.Record{{
		ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC),
		UserID: "u-1", UserEmail: "a@example.com", IPAddress: netip.MustParseAddr("2001:db8::1"), UserAgent: "ua <&>",
		Action: audit.ActionPermissionGrant, ResourceType: "role", ResourceID: "r&d",
		Details:   json.RawMessage(`{"html":"<b>&amp;</b>","n":1.50,"u":"é\u2028"}`),
		Changes:   json.RawMessage(`{"role":{"after":"admin","before":null}}`),
		RequestID: "req", SessionID: "sess", Status: audit.StatusFailure, ErrorMessage: "denied",
	}, {
		ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Date(2026, 3, 1, 12, 0, 1, 0, time.UTC),
		Action: audit.ActionResourceRead, ResourceType: "doc", Status: audit.StatusSuccess,
	}}
	for range 2 {
		if err := s.Append(ctx, recs...); err != nil {
			t.Fatal(err)
		}
	}
	got := readAll(t, nc, o.Stream)
	if len(got) != len(recs) {
		t.Fatalf("got %d records in the stream, want %d (the second Append must be deduplicated)", len(got), len(recs))
	}
	for i := range recs {
		if !reflect.DeepEqual(got[i], recs[i]) {
			t.Errorf("record %d:\n got %+v\nwant %+v", i, got[i], recs[i])
		}
	}
}

// TestStreamChecks checks that New refuses a stream whose settings cannot
// keep the documented promises, and accepts the one it creates.
func TestStreamChecks(t *testing.T) {
	nc := connect(t, natsURL(t))
	ctx := testCtx(t, time.Minute)
	j, _ := natsjs.New(nc)
	tests := []struct {
		name   string
		mutate func(*natsjs.StreamConfig)
		opts   func(*jetstream.Options)
		want   string // in the error; empty: no error
	}{
		{"created by New", nil, nil, ""},
		{"memory storage", func(c *natsjs.StreamConfig) { c.Storage = natsjs.MemoryStorage }, nil, "file storage"},
		{"short duplicate window", func(c *natsjs.StreamConfig) { c.Duplicates = time.Minute }, nil, "duplicate window"},
		{"short max age", func(c *natsjs.StreamConfig) { c.MaxAge = time.Hour }, nil, "MaxAge"},
		{"discard old with a limit", func(c *natsjs.StreamConfig) { c.Discard = natsjs.DiscardOld; c.MaxBytes = 1 << 30 }, nil, "DiscardNew"},
		{"interest retention", func(c *natsjs.StreamConfig) { c.Retention = natsjs.InterestPolicy }, nil, "interest"},
		{"subject not captured", func(c *natsjs.StreamConfig) { c.Subjects = []string{c.Subjects[0] + ".other"} }, nil, "do not capture"},
		{"wildcard subject", func(c *natsjs.StreamConfig) { c.Subjects = []string{strings.Split(c.Subjects[0], ".")[0] + ".>"} }, nil, ""},
		{"too few replicas", nil, func(o *jetstream.Options) { o.Replicas = 3 }, "replica"},
		{"one replica, by default", func(*natsjs.StreamConfig) {}, func(o *jetstream.Options) { o.Replicas = 0 }, "1 replica(s), want at least 3"},
		{"created by default on one server", nil, func(o *jetstream.Options) { o.Replicas = 0 }, "set Options.Replicas to 1"},
		{"missing with NoCreate", func(c *natsjs.StreamConfig) { c.Name = "" }, func(o *jetstream.Options) { o.NoCreate = true }, "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, _ := testStream(t, nc)
			cfg, err := o.StreamConfig()
			if err != nil {
				t.Fatal(err)
			}
			if tt.mutate != nil {
				tt.mutate(&cfg)
				if cfg.Name != "" {
					if _, err := j.CreateStream(ctx, cfg); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tt.opts != nil {
				tt.opts(&o)
			}
			_, err = jetstream.New(ctx, nc, &o)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("New: %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("New: error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

// TestOptionsValidated checks that New refuses bad options.
func TestOptionsValidated(t *testing.T) {
	nc := connect(t, natsURL(t))
	tests := []struct {
		name string
		o    jetstream.Options
	}{
		{"window shorter than retries", jetstream.Options{DuplicateWindow: time.Minute}},
		{"max age too short", jetstream.Options{MaxAge: time.Hour}},
		{"wildcard subject", jetstream.Options{Subject: "audit.*"}},
		{"stream name with a dot", jetstream.Options{Stream: "a.b"}},
		{"negative in flight", jetstream.Options{MaxInFlight: -1}},
	}
	for _, tt := range tests {
		if _, err := jetstream.New(context.Background(), nc, &tt.o); err == nil || !strings.HasPrefix(err.Error(), "audit: jetstream:") {
			t.Errorf("%s: New returned %v, want an audit: jetstream: error", tt.name, err)
		}
	}
}

// TestConnectionDrops publishes through an async Logger while the
// connection to NATS is cut again and again, and checks that every
// accepted event is in the stream exactly once.
func TestConnectionDrops(t *testing.T) {
	url := natsURL(t)
	admin := connect(t, url)
	o, _ := testStream(t, admin)
	newStore(t, admin, o) // create the stream
	p := newProxy(t, url)
	nc := connect(t, p.url(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond), nats.ReconnectJitter(0, 0))
	s := newStore(t, nc, o)
	var reported atomic.Int64
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, Async: audit.AsyncOptions{BatchSize: 200, FlushInterval: 5 * time.Millisecond, WriteTimeout: 2 * time.Second, MinBackoff: 10 * time.Millisecond}, OnError: func(err error) { reported.Add(1); t.Log(err) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 2*time.Minute)
	const n = 20000
	cuts := 0
	for i := range n {
		if err := l.Log(ctx, audit.Event{Action: audit.ActionResourceRead, ResourceType: "doc", ResourceID: fmt.Sprint(i), Status: audit.StatusSuccess}); err != nil {
			t.Fatal(err)
		}
		if i%2000 == 1000 {
			p.cut()
			cuts++
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := l.Stats()
	if st.Accepted != n || st.Written != n || st.Failed != 0 || reported.Load() != 0 {
		t.Fatalf("stats %+v, %d reported; want %d accepted and written", st, reported.Load(), n)
	}
	recs := readAll(t, admin, o.Stream)
	seen := map[uuid.UUID]bool{}
	for _, r := range recs {
		if seen[r.ID] {
			t.Errorf("record %s twice in the stream", r.ID)
		}
		seen[r.ID] = true
	}
	if len(seen) != n {
		t.Errorf("got %d distinct records in the stream, want %d", len(seen), n)
	}
	t.Logf("%d cuts, %d retries, %d reconnects", cuts, st.Retried, nc.Stats().Reconnects)
	if nc.Stats().Reconnects == 0 {
		t.Error("the connection never dropped: the test tested nothing")
	}
}

// TestUnreachable checks that with NATS gone, a Sync Log fails within
// SyncTimeout and async events that cannot be delivered are counted and
// reported.
func TestUnreachable(t *testing.T) {
	url := natsURL(t)
	admin := connect(t, url)
	o, _ := testStream(t, admin)
	p := newProxy(t, url)
	nc := connect(t, p.url(), nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	s := newStore(t, nc, o)
	var delivery []*audit.DeliveryError
	done := make(chan struct{})
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{SyncTimeout: 500 * time.Millisecond}, Async: audit.AsyncOptions{FlushInterval: time.Millisecond, RetryFor: 300 * time.Millisecond, WriteTimeout: 100 * time.Millisecond}, OnError: func(err error) {
		var de *audit.DeliveryError
		if errors.As(err, &de) {
			delivery = append(delivery, de)
			close(done)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	p.ln.Close() // nothing new gets through
	p.cut()
	ctx := testCtx(t, time.Minute)
	start := time.Now()
	err = l.Log(ctx, audit.Event{Action: audit.ActionUserLogin, ResourceType: "user", ResourceID: "u", Status: audit.StatusSuccess})
	if took := time.Since(start); err == nil || took > 2*time.Second {
		t.Errorf("Sync Log with NATS unreachable: %v after %v; want an error within SyncTimeout (500ms)", err, took)
	}
	if err := l.Log(ctx, audit.Event{Action: audit.ActionResourceRead, ResourceType: "doc", Status: audit.StatusSuccess}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("the undeliverable async event was never reported")
	}
	l.Close(ctx)
	st := l.Stats()
	if st.Failed != 2 || len(delivery) != 1 || delivery[0].Reason != audit.ReasonRetriesExhausted || len(delivery[0].Records) != 1 {
		t.Errorf("stats %+v, reports %v; want 2 failed (1 Sync, 1 Async), the async one reported as retries_exhausted", st, delivery)
	}
}
