package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
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
	if !strings.Contains(out, "wrote new chain keys to "+filepath.Join(filepath.Dir(file), "audit-keys.json")) {
		t.Errorf("the service does not say where it wrote its keys: %q", out)
	}
	// the chain over both runs, sealed by the service itself: every
	// record, the last Logger's stop included, with the keys it wrote
	ctx := context.Background()
	kf, err := os.Open(filepath.Join(filepath.Dir(file), "audit-keys.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer kf.Close()
	if fi, err := kf.Stat(); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	keys, err := chain.ReadKeyFile(kf)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	vo := keys.VerifyOptions()
	vo.SealWindow = time.Nanosecond
	rep, err := chain.Verify(ctx, s, vo)
	if err != nil || !rep.OK() || rep.Records < 6 || rep.Unsealed != 0 || rep.Checkpoints == 0 {
		t.Errorf("verify: %d records, %d unsealed, %d checkpoints, %v, %v", rep.Records, rep.Unsealed, rep.Checkpoints, err, rep.Problems)
	}
}
