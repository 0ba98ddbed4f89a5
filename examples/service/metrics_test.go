package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/otelaudit"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

// gatedStore is a memory store whose writes can be refused or held.
type gatedStore struct {
	*memory.Store
	refuse atomic.Bool
	gate   atomic.Pointer[chan struct{}] // when set, Append waits for it to close
}

func (s *gatedStore) Append(ctx context.Context, rs ...audit.Record) error {
	if g := s.gate.Load(); g != nil {
		select {
		case <-*g:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.refuse.Load() {
		return storekit.Permanent(errors.New("audit store refuses"))
	}
	return s.Store.Append(ctx, rs...)
}

// scrape reads GET /metrics and parses it as Prometheus does.
func scrape(c *client) map[string]*dto.MetricFamily {
	c.t.Helper()
	r := c.want(200, c.do("GET", "/metrics", "", ""))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		c.t.Fatalf("parsing /metrics: %v\n%s", err, r.body)
	}
	return fams
}

// metricValue returns the value of the sample of family name whose labels
// hold want ("k=v"), summed over the samples that match, and whether any did.
func metricValue(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) (float64, bool) {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		names := make([]string, 0, len(fams))
		for n := range fams {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Fatalf("no metric %s in /metrics; have %s", name, strings.Join(names, " "))
	}
	var sum float64
	found := false
next:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for _, w := range want {
			k, v, _ := strings.Cut(w, "=")
			if labels[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			sum += m.Counter.GetValue()
		case m.Gauge != nil:
			sum += m.Gauge.GetValue()
		case m.Histogram != nil:
			sum += float64(m.Histogram.GetSampleCount())
		}
	}
	return sum, found
}

// TestMetricsEndpoint scrapes /metrics over HTTP after a known run: logins,
// a refused store write, a drop, a seal and a verify.
func TestMetricsEndpoint(t *testing.T) {
	mem := memory.New(nil)
	store := &gatedStore{Store: mem}
	cfg := testConfig(store)
	cfg.LoggerOptions = &audit.Options{Async: audit.AsyncOptions{QueueSize: 2, BatchSize: 1, Overflow: audit.OverflowDrop}}
	a, c := newTestAppWith(t, cfg)
	ctx := context.Background()

	const logins = 3
	for range logins {
		c.login("bob@example.com", "bob-demo-password")
	}
	store.refuse.Store(true)
	if r := c.do("POST", "/login", "", `{"email":"bob@example.com","password":"bob-demo-password"}`); r.status == 200 {
		t.Fatal("login with the audit store refusing: got 200, want a failure (fail-closed)")
	}
	store.refuse.Store(false)
	if err := a.logger.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// Hold the store: the batcher waits in its write, the queue of 2 fills,
	// and the next async event is dropped.
	gate := make(chan struct{})
	store.gate.Store(&gate)
	drops := 0
	for i := 0; i < 50 && drops == 0; i++ {
		err := a.logger.Log(ctx, audit.Event{Action: audit.ActionResourceRead, ResourceType: "doc", ResourceID: fmt.Sprint(i), Status: audit.StatusSuccess})
		if errors.Is(err, audit.ErrQueueFull) {
			drops++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	store.gate.Store(nil)
	close(gate)
	if drops != 1 {
		t.Fatalf("got %d drops, want 1", drops)
	}
	if err := a.logger.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	// Seal and verify, as a service's sealing job does.
	key := chain.HMACKey{ID: "k1", Secret: []byte("the example service's test key, 32+ bytes")}
	signer := &chain.SigningKey{ID: "s1", Key: ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))}
	sealer, err := chain.NewSealer(mem, key, &chain.SealerOptions{SigningKey: signer})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.telemetry.audit.Register(otelaudit.Sources{Sealer: sealer}); err != nil {
		t.Fatal(err)
	}
	if err := sealer.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := chain.Verify(ctx, mem, &chain.VerifyOptions{Keys: map[string][]byte{key.ID: key.Secret},
		PublicKeys: map[string]ed25519.PublicKey{signer.ID: signer.Key.Public().(ed25519.PublicKey)}})
	if err != nil || !rep.OK() {
		t.Fatalf("Verify: %v %+v", err, rep.Problems)
	}
	a.telemetry.audit.RecordVerify(rep, err)

	fams := scrape(c)
	sealed := float64(rep.Records)
	tests := []struct {
		name   string
		metric string
		labels []string
		want   float64
	}{
		{"logins accepted", "audit_events_accepted_total", []string{"audit_delivery=sync", "audit_action_class=user"}, logins + 1},
		{"logins written", "audit_events_written_total", []string{"audit_delivery=sync", "audit_action_class=user"}, logins},
		{"login refused", "audit_events_failed_total", []string{"audit_delivery=sync", "audit_action_class=user", "audit_reason=rejected"}, 1},
		{"drop", "audit_events_dropped_total", []string{"audit_delivery=async", "audit_action_class=resource", "audit_reason=queue_full"}, 1},
		{"sync latencies", "audit_sync_duration_seconds", nil, logins + 1},
		{"queue capacity", "audit_queue_capacity", nil, 2},
		{"queue depth", "audit_queue_depth", nil, 0},
		{"sealed", "audit_seal_records_total", nil, sealed},
		{"unsealed", "audit_seal_unsealed", nil, 0},
		{"verify passed", "audit_verify_last_result", nil, 1},
		{"verified records", "audit_verify_records", nil, sealed},
	}
	for _, tt := range tests {
		got, ok := metricValue(t, fams, tt.metric, tt.labels...)
		if !ok || got != tt.want {
			t.Errorf("%s: %s%v: got %v (found %v), want %v", tt.name, tt.metric, tt.labels, got, ok, tt.want)
		}
	}
	if sealed < logins {
		t.Errorf("sealed %v records, want at least the %d logins", sealed, logins)
	}
	for _, name := range []string{"audit_seal_last_run_time_seconds", "audit_verify_last_run_time_seconds", "audit_store_batch_size", "audit_store_write_duration_seconds"} {
		if v, ok := metricValue(t, fams, name); !ok || v <= 0 {
			t.Errorf("%s: got %v (found %v), want a positive value", name, v, ok)
		}
	}
}
