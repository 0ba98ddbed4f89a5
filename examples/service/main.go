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
//	DEMO_ADMIN_PASSWORD           password of alice@example.com (admin, may read and export the
//	                              audit log); generated and printed once at start when empty
//	DEMO_USER_PASSWORD            password of bob@example.com; generated likewise
//	STREAM_URL                    also stream the audit records there (see examples/receiver)
//	STREAM_SECRET                 the stream's HMAC signing key, 32 bytes at least (the HEC token for splunk)
//	STREAM_FORMAT                 ndjson (default), ocsf or splunk
//
// DEMO ONLY: two accounts and their sessions live in memory. Passwords are
// hashed with bcrypt; sessions expire 30 minutes after login. There is no
// rate limiting, lockout or password change: do not copy the
// authentication, copy the auditing.
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
	"strings"
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
		AdminPassword:  os.Getenv("DEMO_ADMIN_PASSWORD"),
		UserPassword:   os.Getenv("DEMO_USER_PASSWORD"),
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
	Addr        string
	DatabaseURL string
	// AuditFile is the SQLite file used when DatabaseURL is empty; the
	// memory store when both are.
	AuditFile      string
	TrustedProxies string
	// AdminPassword and UserPassword are the demo accounts' passwords;
	// each one left empty is generated and printed once to Out.
	AdminPassword, UserPassword string
	Stream                      streamConfig
	Out                         io.Writer
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
	store, closeStream, err := withStream(store, cfg.Stream, cfg.Out)
	if err != nil {
		return err
	}
	defer closeStream() // after the Logger's Close, before the store's
	var generated []string
	for _, acct := range []struct {
		pw    *string
		email string
	}{{&cfg.AdminPassword, "alice@example.com (admin)"}, {&cfg.UserPassword, "bob@example.com"}} {
		if *acct.pw == "" {
			*acct.pw = randomID("demo-")[:29]
			generated = append(generated, fmt.Sprintf("%s / %s", acct.email, *acct.pw))
		}
	}
	a, err := newApp(appConfig{Store: store, TrustedProxies: trusted, Log: cfg.Out,
		AdminPassword: cfg.AdminPassword, UserPassword: cfg.UserPassword})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		a.close(context.Background())
		return err
	}
	fmt.Fprintf(cfg.Out, "listening on http://%s; audit log: %s\n", ln.Addr(), kind)
	if len(generated) > 0 {
		// Printed once, here; never logged again. Set DEMO_ADMIN_PASSWORD
		// and DEMO_USER_PASSWORD to choose them.
		fmt.Fprintf(cfg.Out, "DEMO ONLY: generated passwords: %s\n", strings.Join(generated, ", "))
	}
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
