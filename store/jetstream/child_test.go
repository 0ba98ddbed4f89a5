package jetstream_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/store/jetstream"
	"github.com/trailmark/audit/store/postgres"
)

// Environment of a child process of TestEndToEnd.
const (
	envStream  = "AUDIT_TEST_JS_STREAM"
	envSubject = "AUDIT_TEST_JS_SUBJECT"
	envDead    = "AUDIT_TEST_JS_DEAD"
	envSchema  = "AUDIT_TEST_JS_SCHEMA"
	envCount   = "AUDIT_TEST_JS_COUNT" // events per producer
	envID      = "AUDIT_TEST_JS_ID"    // producer number
)

// childReport is what a child prints on standard output when it ends.
type childReport struct {
	Accepted, Written, Failed, QueueFull uint64
	Loader                               jetstream.LoaderStats
}

// child runs the test binary as a producer or loader process and returns
// its exit code.
func child(role string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	nc, err := nats.Connect(os.Getenv(envNATS), nats.MaxReconnects(-1))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nc.Close()
	var rep childReport
	switch role {
	case "producer":
		err = produce(ctx, nc, &rep)
	case "loader":
		err = load(ctx, nc, &rep)
	default:
		err = fmt.Errorf("unknown role %q", role)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", role, err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	return 0
}

func produce(ctx context.Context, nc *nats.Conn, rep *childReport) error {
	n, err := strconv.Atoi(os.Getenv(envCount))
	if err != nil {
		return err
	}
	s, err := jetstream.New(ctx, nc, &jetstream.Options{Stream: os.Getenv(envStream), Subject: os.Getenv(envSubject), Replicas: 1})
	if err != nil {
		return err
	}
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, Async: audit.AsyncOptions{QueueSize: 8192, BatchSize: 512, FlushInterval: 10 * time.Millisecond, BlockTimeout: 30 * time.Second}})
	if err != nil {
		return err
	}
	id := os.Getenv(envID)
	for i := range n {
		err := l.Log(ctx, audit.Event{Action: audit.ActionResourceRead, UserID: "producer-" + id, ResourceType: "doc",
			ResourceID: strconv.Itoa(i), Status: audit.StatusSuccess, Details: map[string]any{"i": i, "p": id}})
		if err != nil && err != audit.ErrQueueFull {
			return err
		}
	}
	if err := l.Close(ctx); err != nil {
		return err
	}
	st := l.Stats()
	rep.Accepted, rep.Written, rep.Failed, rep.QueueFull = st.Accepted, st.Written, st.Failed, st.Dropped[audit.ReasonQueueFull]
	return nil
}

func load(ctx context.Context, nc *nats.Conn, rep *childReport) error {
	s, err := postgres.Open(ctx, os.Getenv(envDSN), &postgres.Options{Schema: os.Getenv(envSchema)})
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	l, err := jetstream.NewLoader(nc, s, &jetstream.LoaderOptions{
		Stream: os.Getenv(envStream), Consumer: "loader", DeadLetterSubject: os.Getenv(envDead),
		AckWait: 10 * time.Second, WriteTimeout: 5 * time.Second, MaxBackoff: time.Second,
	})
	if err != nil {
		return err
	}
	if err := l.Run(ctx); err != nil {
		return err
	}
	rep.Loader = l.Stats()
	return nil
}
