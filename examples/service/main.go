// Command service is a small HTTP service that shows Trailmark at work:
// logins, logouts, profile updates, permission grants and API keys, each
// recorded in the audit log through the middleware and audit.Wrap1, and
// the audit log API mounted at /audit-logs for users allowed to read it.
//
//	go run ./examples/service                  # audit log in ./audit.db (SQLite), on 127.0.0.1:8080
//	DATABASE_URL=postgres://… go run ./examples/service
//
// Flags and environment:
//
//	-addr, ADDR                   listen address (default 127.0.0.1:8080)
//	DATABASE_URL                  PostgreSQL DSN; when empty, the SQLite file AUDIT_DB
//	AUDIT_DB                      SQLite file of the audit log (default ./audit.db)
//	TRUSTED_PROXIES               prefixes of reverse proxies whose X-Forwarded-For is believed
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
)

func main() {
	addr := flag.String("addr", envOr("ADDR", "127.0.0.1:8080"), "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, runConfig{
		Addr:           *addr,
		DatabaseURL:    os.Getenv("DATABASE_URL"),
		AuditFile:      envOr("AUDIT_DB", "audit.db"),
		TrustedProxies: os.Getenv("TRUSTED_PROXIES"),
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
	Addr        string
	DatabaseURL string
	// AuditFile is the SQLite file used when DatabaseURL is empty; the
	// memory store when both are.
	AuditFile      string
	TrustedProxies string
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
	store, kind, closeStore, err := openAuditStore(ctx, cfg.DatabaseURL, cfg.AuditFile)
	if err != nil {
		return err
	}
	defer closeStore()
	a, err := newApp(appConfig{Store: store, TrustedProxies: trusted, Log: cfg.Out})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.close(context.Background())
		return err
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
