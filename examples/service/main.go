// Command service is a small HTTP service that shows Trailmark at work:
// logins, logouts, profile updates, permission grants and API keys, each
// recorded in the audit log through the middleware and audit.Wrap1, and
// the audit log API mounted at /audit-logs for users allowed to read it.
//
//	go run ./examples/service                  # in-memory audit log on 127.0.0.1:8080
//	DATABASE_URL=postgres://… go run ./examples/service
//
// Flags and environment:
//
//	-addr, ADDR                   listen address (default 127.0.0.1:8080)
//	DATABASE_URL                  PostgreSQL DSN; the in-memory store when empty
//	TRUSTED_PROXIES               prefixes of reverse proxies whose X-Forwarded-For is believed
//	STREAM_URL                    also stream the audit records there (see examples/receiver)
//	STREAM_SECRET                 the stream's HMAC signing key (the HEC token for splunk)
//	STREAM_FORMAT                 ndjson (default), ocsf or splunk
//
// DEMO ONLY: the accounts, passwords and sessions are fixed and in memory.
// Two accounts exist: alice@example.com / alice-demo-password (admin, may
// read and export the audit log) and bob@example.com / bob-demo-password.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/trailmark/audit/middleware"
	"github.com/trailmark/audit/store/memory"
)

func main() {
	addr := flag.String("addr", envOr("ADDR", "127.0.0.1:8080"), "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, runConfig{
		Addr:           *addr,
		DatabaseURL:    os.Getenv("DATABASE_URL"),
		TrustedProxies: os.Getenv("TRUSTED_PROXIES"),
		Stream:         streamConfig{URL: os.Getenv("STREAM_URL"), Secret: os.Getenv("STREAM_SECRET"), Format: os.Getenv("STREAM_FORMAT")},
		Out:            os.Stderr,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type runConfig struct {
	Addr           string
	DatabaseURL    string
	TrustedProxies string
	Stream         streamConfig
	Out            io.Writer
	// Ready, when set, is called with the address the service listens on.
	Ready func(net.Addr)
}

// run serves until ctx ends, then shuts down: it stops accepting
// requests, lets those in flight finish, and writes the audit records
// still queued.
func run(ctx context.Context, cfg runConfig) error {
	trusted, err := middleware.ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return err
	}
	store, closeStore, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer closeStore()
	store, closeStream, err := withStream(store, cfg.Stream, cfg.Out)
	if err != nil {
		return err
	}
	defer closeStream() // after the Logger's Close, before the store's
	a, err := newApp(appConfig{Store: store, TrustedProxies: trusted, Log: cfg.Out})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.close(context.Background())
		return err
	}
	kind := "in memory (set DATABASE_URL for PostgreSQL)"
	if cfg.DatabaseURL != "" {
		kind = "PostgreSQL"
	}
	fmt.Fprintf(cfg.Out, "listening on http://%s; audit log: %s\n", ln.Addr(), kind)
	fmt.Fprintln(cfg.Out, "demo accounts: alice@example.com / alice-demo-password (admin, auditor), bob@example.com / bob-demo-password")
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr())
	}
	srv := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	select {
	case err = <-served:
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = srv.Shutdown(shutdownCtx)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(err, a.close(closeCtx))
}

// openStore opens PostgreSQL when dsn is set, the memory store otherwise.
// The returned function closes it.
func openStore(ctx context.Context, dsn string) (backend, func() error, error) {
	if dsn == "" {
		return memory.New(), func() error { return nil }, nil
	}
	return openPostgres(ctx, dsn)
}
