package siem_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/trailmark/audit"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/store/memory"
)

// attemptClock is a RoundTripper in front of a real transport that notes
// when each attempt starts.
type attemptClock struct {
	next http.RoundTripper
	mu   sync.Mutex
	at   []time.Time
	n    chan struct{} // one token per attempt
}

func (c *attemptClock) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.at = append(c.at, time.Now())
	c.mu.Unlock()
	select {
	case c.n <- struct{}{}:
	default:
	}
	return c.next.RoundTrip(r)
}

func (c *attemptClock) times() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at...)
}

// TestRetryBackoffGrows runs a Tee against a sink over real HTTP on
// loopback that is dead (it hangs up without answering) or failing (503),
// and checks
// that the waits between attempts grow as Retry says: the wait after the
// n-th failure is at least min(MinBackoff·2ⁿ, MaxBackoff)/2 (the lower
// end of its jitter), so the attempts within a window are few. A backoff
// that never grows made 372 attempts in 3 s against a dead sink. The
// bounds are lower bounds only: a loaded machine makes waits longer, never
// shorter.
func TestRetryBackoffGrows(t *testing.T) {
	t.Parallel()
	retry := siem.Retry{MinBackoff: 10 * time.Millisecond, MaxBackoff: 160 * time.Millisecond, RetryFor: time.Hour}
	const attempts = 8 // waits of at least 5, 10, 20, 40, 80, 80, 80 ms
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	// A dead sink: it accepts each connection and closes it at once,
	// without an answer. (A closed port would do, but another program
	// could take it meanwhile.)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepting := make(chan struct{})
	go func() {
		defer close(accepting)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-accepting })
	dead := "http://" + l.Addr().String() + "/"

	for _, tt := range []struct{ name, url string }{{"failing 503", failing.URL}, {"dead", dead}} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &attemptClock{next: http.DefaultTransport.(*http.Transport).Clone(), n: make(chan struct{}, attempts)}
			sink, err := siem.NewHTTP(tt.url, &siem.HTTPOptions{Client: &http.Client{Transport: clock}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { sink.Close(context.Background()) })
			tee, err := siem.NewTee(memory.New(nil), []siem.Stream{{Name: "siem", Sink: sink, BatchSize: 1, FlushInterval: time.Millisecond, Retry: retry}},
				&siem.TeeOptions{OnError: func(error) {}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				ctx, cancel := context.WithCancel(context.Background())
				cancel() // drop what is left: the sink never recovers
				tee.Close(ctx)
			})
			if err := tee.Append(context.Background(), audit.Record{ID: uuid.New(), Action: audit.ActionUserLogin, ResourceType: "user", Status: audit.StatusSuccess}); err != nil {
				t.Fatal(err)
			}
			timeout := time.After(time.Minute)
			for range attempts {
				select {
				case <-clock.n:
				case <-timeout:
					t.Fatalf("%d attempts after a minute, want %d", len(clock.times()), attempts)
				}
			}
			all := clock.times()
			at := all[:attempts]
			backoff, window := retry.MinBackoff, time.Duration(0)
			for i := 1; i < len(at); i++ {
				least := backoff / 2
				if gap := at[i].Sub(at[i-1]); gap < least {
					t.Errorf("wait before attempt %d: got %v, want at least %v (the backoff does not grow)", i+1, gap, least)
				}
				window += least
				backoff = min(2*backoff, retry.MaxBackoff)
			}
			// Counted: the first attempts-1 waits take at least window, so
			// no more than attempts-1 attempts start within it (a constant
			// backoff makes about window/(MinBackoff/2) of them).
			n := 0
			for _, a := range all {
				if a.Sub(at[0]) < window {
					n++
				}
			}
			if n > attempts-1 {
				t.Errorf("%d attempts in the first %v, want at most %d", n, window, attempts-1)
			}
			if n := tee.Stats().Streams[0].Retried; n < attempts-1 {
				t.Errorf("Stats: retried %d, want at least %d", n, attempts-1)
			}
		})
	}
}
