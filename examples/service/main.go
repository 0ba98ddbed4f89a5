// Command service is a small HTTP service that shows Trailmark at work:
// logins, logouts, profile updates, permission grants and API keys, each
// recorded in the audit log through the middleware and audit.Wrap, and
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
//	AUDIT_KEYS                    the chain's key file (default ./audit-keys.json beside AUDIT_DB):
//	                              the audit log is sealed into a hash chain with checkpoints signed
//	                              by its key; written, mode 0600, when missing (auditctl keygen)
//	AUDIT_MAX_AGE                 retention: remove records older than this (e.g. 2160h); off when empty
//
// DEMO ONLY: two accounts and their sessions live in memory. Passwords are
// hashed with bcrypt; sessions expire 30 minutes after login. There is no
// rate limiting, lockout or password change: do not copy the
// authentication, copy the auditing.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
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
		KeysFile:       os.Getenv("AUDIT_KEYS"),
		MaxAge:         os.Getenv("AUDIT_MAX_AGE"),
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
	// KeysFile is the chain's key file; default audit-keys.json beside
	// AuditFile (in memory, for the memory store). Written when missing.
	KeysFile string
	// MaxAge turns retention on (a time.ParseDuration string).
	MaxAge string
	Out    io.Writer
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
	var retention *audit.RetentionOptions
	if cfg.MaxAge != "" {
		d, err := time.ParseDuration(cfg.MaxAge)
		if err != nil || d <= 0 {
			return fmt.Errorf("audit: example: AUDIT_MAX_AGE %q is not a positive duration such as 2160h", cfg.MaxAge)
		}
		retention = &audit.RetentionOptions{MaxAge: d}
	}
	streams, err := streams(cfg.Stream)
	if err != nil {
		return err
	}
	store, kind, closeStore, err := openAuditStore(ctx, cfg.DatabaseURL, cfg.AuditFile)
	if err != nil {
		return err
	}
	keys, err := loadKeys(cfg, cfg.Out)
	if err != nil {
		closeStore(context.Background())
		return err
	}
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
	a, err := newApp(appConfig{Store: store, Keys: keys, Streams: streams, Retention: retention,
		TrustedProxies: trusted, Log: cfg.Out, AdminPassword: cfg.AdminPassword, UserPassword: cfg.UserPassword})
	if err != nil {
		closeStore(context.Background())
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
	return errors.Join(err, a.close(closeCtx)) // the Trail closes the store
}

// loadKeys reads the chain's key file, or writes a new one (mode 0600)
// when there is none. The memory store gets keys that live in memory.
func loadKeys(cfg runConfig, out io.Writer) (*chain.KeyFile, error) {
	path := cfg.KeysFile
	if path == "" && cfg.DatabaseURL == "" && cfg.AuditFile == "" {
		var buf bytes.Buffer
		if err := chain.WriteNewKeyFile(&buf, "k1", "s1"); err != nil {
			return nil, err
		}
		return chain.ReadKeyFile(&buf)
	}
	if path == "" {
		path = filepath.Join(filepath.Dir(cfg.AuditFile), "audit-keys.json")
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := writeKeys(path); err != nil {
			return nil, fmt.Errorf("audit: example: AUDIT_KEYS: %w", err)
		}
		fmt.Fprintf(out, "wrote new chain keys to %s: keep them, verification needs them (auditctl verify --keys %s)\n", path, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("audit: example: AUDIT_KEYS: %w", err)
	}
	defer f.Close()
	k, err := chain.ReadKeyFile(f)
	if err != nil {
		return nil, fmt.Errorf("audit: example: AUDIT_KEYS %s: %w", path, err)
	}
	return k, nil
}

// writeKeys writes a new key file at path, mode 0600: a file of its own,
// apart from the database, since whoever can change the database must not
// also hold the keys.
func writeKeys(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	id := time.Now().UTC().Format("20060102")
	if err := chain.WriteNewKeyFile(f, "k-"+id, "s-"+id); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
