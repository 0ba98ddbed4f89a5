package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/trailmark/audit/store/jetstream"
)

// load runs a jetstream.Loader from a NATS JetStream stream into the
// database until SIGINT or SIGTERM.
func (c cli) load(ctx context.Context, args []string) error {
	fs := c.flags("load")
	var d dbFlags
	d.register(fs, c.secrets)
	natsURL := fs.String("nats", "", "NATS server URL (default $NATS_URL, else nats://127.0.0.1:4222)")
	stream := fs.String("stream", jetstream.DefaultStream, "JetStream stream to load from")
	consumer := fs.String("consumer", "audit-loader", "durable consumer, shared by every loader of the stream")
	dead := fs.String("dead-letter", "audit.deadletter", "subject for records the database refuses")
	batch := fs.Int("batch", 3000, "records per database write")
	workers := fs.Int("workers", 2, "batches written at once")
	every := fs.Duration("progress", 10*time.Second, "how often to print progress")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *natsURL == "" {
		*natsURL = os.Getenv("NATS_URL")
	}
	if *natsURL == "" {
		*natsURL = nats.DefaultURL
	}
	c.secrets.addDSN(*natsURL)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := d.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	nc, err := nats.Connect(*natsURL, nats.Name("auditctl load"), nats.MaxReconnects(-1))
	if err != nil {
		return fmt.Errorf("connecting to NATS at %s: %w", redactURL(*natsURL), err)
	}
	defer nc.Close()
	l, err := jetstream.NewLoader(nc, s, &jetstream.LoaderOptions{
		Stream: *stream, Consumer: *consumer, DeadLetterSubject: *dead, BatchSize: *batch, Workers: *workers,
		OnError: func(err error) { fmt.Fprintln(c.stderr, err) },
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "loading %s (consumer %s) from %s into %s.%s\n", *stream, *consumer, redactURL(*natsURL), d.schema, d.table)
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		select {
		case err := <-done:
			printLoad(c, l.Stats())
			return err
		case <-t.C:
			printLoad(c, l.Stats())
		}
	}
}

func printLoad(c cli, s jetstream.LoaderStats) {
	fmt.Fprintf(c.stdout, "loaded %d, dead-lettered %d, retries %d, redelivered %d; pending %d, ack pending %d, oldest %v\n",
		s.Loaded, s.DeadLettered, s.Retries, s.Redelivered, s.Pending, s.AckPending, s.OldestPendingAge.Round(time.Millisecond))
}

// redactURL returns u without its user information (password or token),
// to print it.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User = nil // a password, or a token in the user name
	return p.String()
}
