package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/sqlite"
)

// TestRestartKeepsHistory runs the service on an SQLite file, logs in,
// stops it, starts it again on the same file: the first login is still in
// the audit log, and the chain over both runs verifies.
func TestRestartKeepsHistory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "audit.db")
	serve := func(use func(c *client)) string {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		ready := make(chan net.Addr, 1)
		var out bytes.Buffer
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, runConfig{Addr: "127.0.0.1:0", AuditFile: file, Out: &out, Ready: func(a net.Addr) { ready <- a },
				AdminPassword: "alice-demo-password", UserPassword: "bob-demo-password"})
		}()
		var addr net.Addr
		select {
		case addr = <-ready:
		case err := <-done:
			t.Fatalf("run: %v", err)
		}
		c := &client{t: t, url: "http://" + addr.String(), hc: &http.Client{Transport: &http.Transport{}}}
		use(c)
		c.hc.CloseIdleConnections()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run: %v", err)
		}
		return out.String()
	}
	out := serve(func(c *client) { c.login("bob@example.com", "bob-demo-password") })
	if !strings.Contains(out, "audit log: SQLite file "+file) {
		t.Errorf("the service does not say where the file is: %q", out)
	}
	serve(func(c *client) {
		alice := c.login("alice@example.com", "alice-demo-password")
		body := c.want(200, c.do("GET", "/audit-logs?user_id=u-bob&action=user.login", alice, "")).body
		if !strings.Contains(string(body), `"user_id":"u-bob"`) {
			t.Errorf("bob's login of the first run is gone: %s", body)
		}
	})
	// the chain over both runs, as auditctl seal and verify make it
	ctx := context.Background()
	s, err := sqlite.Open(ctx, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	key := chain.HMACKey{ID: "k", Secret: bytes.Repeat([]byte{1}, 32)}
	signer := chain.SigningKey{ID: "s", Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))}
	sl, err := chain.NewSealer(s, key, &chain.SealerOptions{SigningKey: &signer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.Checkpoint(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	rep, err := chain.Verify(ctx, s, &chain.VerifyOptions{
		Keys:       map[string][]byte{key.ID: key.Secret},
		PublicKeys: map[string]ed25519.PublicKey{signer.ID: signer.Key.Public().(ed25519.PublicKey)},
	})
	if err != nil || !rep.OK() || rep.Records < 2 {
		t.Errorf("verify: %d records, %v, %v", rep.Records, err, rep.Problems)
	}
}
