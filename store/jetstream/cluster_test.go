package jetstream_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/jetstream"
)

// TestClusterFailover runs a 3-node JetStream cluster on loopback and a
// stream of 3 replicas (the default) while 3 producers (async Loggers on
// the publisher Store) and 2 Loaders move records into PostgreSQL. It
// kills the stream's leader, restarts it once the stream has a new
// leader and the load went on, then kills the new leader (another node)
// and restarts it. In the end every record a Logger had acknowledged is
// in the table once, the stream holds each once, and the chain sealed
// over the table verifies.
func TestClusterFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: cluster failover test")
	}
	target, schema := pgStore(t) // skips without PostgreSQL
	c := newCluster(t, 3)
	ctx := testCtx(t, 3*time.Minute)
	connectAll := func() *nats.Conn {
		return connect(t, c.urls(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	}
	admin := connectAll()
	o, lo := testStream(t, admin)
	o.Replicas = 0 // the default: 3
	newStore(t, admin, o)
	j, _ := natsjs.New(admin)
	if ci := streamCluster(ctx, j, o.Stream); ci == nil || len(ci.Replicas) != 2 {
		t.Fatalf("stream cluster %+v: want a leader and 2 replicas", ci)
	}

	// Loaders: AckWait short, so that acknowledgements lost in a
	// failover come back quickly.
	lo.AckWait, lo.WriteTimeout, lo.MaxBackoff, lo.BatchSize = 5*time.Second, 2*time.Second, 500*time.Millisecond, 500
	var loadErrs atomic.Int64
	lo.OnError = func(error) { loadErrs.Add(1) }
	var loaders []*jetstream.Loader
	for range 2 {
		l, stop := runLoader(t, connectAll(), target, lo)
		loaders = append(loaders, l)
		defer stop()
	}

	// Producers log, paced at about 500 events/s each (200 under -race),
	// until stopped (at most perProducer each: 2 minutes' worth).
	const perProducer = 60000
	pace := 5
	if raceEnabled {
		pace = 2
	}
	stop := make(chan struct{})
	var logged atomic.Int64
	var wg sync.WaitGroup
	stats := make([]audit.Stats, 3)
	for p := range 3 {
		s := newStore(t, connectAll(), o)
		l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, OnError: func(err error) { t.Log(err) },
			Async: audit.AsyncOptions{BatchSize: 200, FlushInterval: 5 * time.Millisecond, WriteTimeout: 3 * time.Second, MinBackoff: 20 * time.Millisecond, RetryFor: time.Minute, BlockTimeout: time.Minute}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer func() {
				if err := l.Close(ctx); err != nil {
					t.Error(err)
				}
				stats[p] = l.Stats()
			}()
			for i := range perProducer {
				select {
				case <-stop:
					return
				default:
				}
				if err := l.Log(ctx, audit.Event{Action: audit.ActionResourceRead, UserID: "producer-" + strconv.Itoa(p), ResourceType: "doc",
					ResourceID: strconv.Itoa(i), Status: audit.StatusSuccess}); err != nil {
					t.Error(err)
					return
				}
				logged.Add(1)
				if i%pace == pace-1 {
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	loaded := func() (n uint64) {
		for _, l := range loaders {
			n += l.Stats().Loaded
		}
		return n
	}
	// progress waits until n more records were logged and loaded.
	progress := func(what string, n int64) {
		t.Helper()
		l0, d0 := logged.Load(), loaded()
		waitFor(t, what, time.Minute, func() bool { return logged.Load() >= l0+n && loaded() >= d0+uint64(n) })
	}
	// killLeader kills the stream leader, waits for another to take over
	// and the load to go on, restarts the killed node and waits for the
	// stream to be whole again.
	var killed []string
	killLeader := func() {
		t.Helper()
		ci := streamCluster(ctx, j, o.Stream)
		if ci == nil {
			t.Fatal("the stream has no leader")
		}
		n := c.node(ci.Leader)
		start := time.Now()
		n.kill()
		killed = append(killed, n.name)
		waitFor(t, "a new stream leader", time.Minute, func() bool {
			ci := streamCluster(ctx, j, o.Stream)
			return ci != nil && ci.Leader != n.name
		})
		t.Logf("killed stream leader %s; new leader after %v", n.name, time.Since(start).Round(time.Millisecond))
		progress("the load to go on without "+n.name, 1000)
		n.start(t)
		waitFor(t, "the stream to be whole again", time.Minute, func() bool { return healthy(streamCluster(ctx, j, o.Stream), 3) })
	}
	start := time.Now()
	progress("the load to start", 2000)
	killLeader()
	killLeader()
	if killed[0] == killed[1] {
		t.Errorf("killed %s twice; want two different nodes", killed[0])
	}
	progress("the load to go on", 1000)
	close(stop)
	wg.Wait()
	var accepted uint64
	for p, st := range stats {
		if st.Failed != 0 || st.Written != st.Accepted || st.Accepted == 0 {
			t.Errorf("producer %d: %+v; want every accepted event written", p, st)
		}
		accepted += st.Accepted
	}
	waitFor(t, "every acknowledged record to load", 2*time.Minute, func() bool {
		if loaded() < accepted {
			return false
		}
		cons, err := j.Consumer(ctx, o.Stream, lo.Consumer)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	took := time.Since(start)

	var count, distinct int64
	if err := target.DB().QueryRowContext(ctx, "SELECT count(*), count(DISTINCT id) FROM "+schema+".audit_logs").Scan(&count, &distinct); err != nil {
		t.Fatal(err)
	}
	inStream, dead := streamMsgs(t, admin, o.Stream), streamMsgs(t, admin, o.Stream+"_DLQ")
	var ls []jetstream.LoaderStats
	for _, l := range loaders {
		ls = append(ls, l.Stats())
	}
	t.Logf("%d records acknowledged by 3 producers, loaded in %v across 2 leader kills (%v); %d loader errors survived; loaders %+v", accepted, took.Round(time.Millisecond), killed, loadErrs.Load(), ls)
	if count != int64(accepted) || distinct != int64(accepted) || inStream != accepted || dead != 0 {
		t.Fatalf("rows %d, distinct IDs %d, stream %d, dead letters %d; want %d, %d, %d, 0", count, distinct, inStream, dead, accepted, accepted, accepted)
	}

	key := chain.HMACKey{ID: "k", Secret: make([]byte, 32)}
	sl, err := chain.NewSealer(target, key, &chain.SealerOptions{BatchSize: 5000})
	if err != nil {
		t.Fatal(err)
	}
	// PostgreSQL seals in an order commits cannot overtake: a transaction
	// open elsewhere in the database (another test's) may hold records
	// back for a while; they are sealed once it ends
	var sealed uint64
	for deadline := time.Now().Add(time.Minute); sealed < accepted && time.Now().Before(deadline); {
		n, err := sl.SealOnce(ctx)
		if err != nil {
			t.Fatalf("SealOnce: %v", err)
		}
		if sealed += uint64(n); n == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if sealed != accepted {
		t.Fatalf("sealed %d; want %d", sealed, accepted)
	}
	rep, err := chain.Verify(ctx, target, &chain.VerifyOptions{Keys: map[string][]byte{key.ID: key.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Seals != accepted || rep.Unsealed != 0 {
		t.Errorf("verify report %+v; want %d records sealed and no problem", rep, accepted)
	}
}
