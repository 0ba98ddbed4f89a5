package jetstream_test

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/jetstream"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// TestLoaderHostileCorpus walks the hostile corpus through the doors of
// a JetStream deployment into PostgreSQL (issue 20, item 1): each record
// published raw to the stream, as any producer can (the Loader's door),
// and each through the publisher's Append. The Loader dead-letters, with
// the reason, what breaks the record contract, and stores the rest; the
// publisher refuses it with a permanent error. Everything stored seals
// and verifies: one message can no longer stop sealing.
func TestLoaderHostileCorpus(t *testing.T) {
	nc := connect(t, natsURL(t))
	o, lo := testStream(t, nc)
	pub := newStore(t, nc, o)
	target, _ := pgStore(t)
	ctx := testCtx(t, 2*time.Minute)
	j, _ := natsjs.New(nc)
	corpus := storetest.HostileRecords(rand.New(rand.NewPCG(20, 1)), 20)
	sent, published, deep := 0, 0, ""
	for _, h := range corpus {
		if strings.HasPrefix(h.Name, "details nested 5001") {
			deep = h.Record.ID.String()
		}
		if m := storetest.HostileJSON(h.Record); len(m) < 900<<10 { // under the server's max payload
			if _, err := j.Publish(ctx, o.Subject, m); err != nil {
				t.Fatalf("%s: publishing it raw: %v", h.Name, err)
			}
			sent++
		}
		r := h.Record
		r.ID = [16]byte{}
		r.ID[0] = 1
		copy(r.ID[1:], h.Record.ID[1:]) // another record
		switch err := pub.Append(ctx, r); {
		case err == nil:
			published++
		case !storekit.IsPermanent(err):
			t.Errorf("%s: publisher Append: %v; want nil or a permanent error", h.Name, err)
		}
	}
	lo.BatchSize = 16
	lo.MinBackoff = time.Millisecond
	lo.MaxBackoff = 10 * time.Millisecond
	lo.OnError = func(error) {}
	l, stop := runLoader(t, nc, target, lo)
	waitFor(t, "the records to load or dead-letter", time.Minute, func() bool {
		st := l.Stats()
		return st.Loaded+st.DeadLettered >= uint64(sent+published) // a redelivery counts twice
	})
	stop()
	st := l.Stats()
	t.Logf("%d sent raw, %d through the publisher: %d loaded, %d dead-lettered", sent, published, st.Loaded, st.DeadLettered)
	if st.DeadLettered == 0 || published == len(corpus) {
		t.Errorf("nothing refused: %d dead-lettered, %d of %d published", st.DeadLettered, published, len(corpus))
	}
	// each record once, however often it was delivered
	storetest.WantSealed(t, target, len(storetest.QueryAll(t, target, audit.Filter{Limit: 1000})))

	// each dead letter says why; the deep one that stopped sealing for
	// good is among them
	cons, err := j.OrderedConsumer(ctx, lo.Stream+"_DLQ", natsjs.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := cons.Fetch(int(st.DeadLettered), natsjs.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for m := range b.Messages() {
		reason := m.Headers().Get(jetstream.HeaderReason)
		if reason == "" {
			t.Errorf("dead letter without a reason: %.100s", m.Data())
		}
		if deep != "" && strings.Contains(reason, deep) {
			found = true
			if !strings.Contains(reason, "nests arrays and objects 5001 deep") {
				t.Errorf("reason %q; want it to say how deep", reason)
			}
		}
	}
	if !found {
		t.Errorf("the record nested 5001 deep (%s) was not dead-lettered", deep)
	}
}
