package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/trailmark/audit/siem"
)

// TestRunStreams: with STREAM_URL set, the service's audit records reach
// a receiver, signed, in the chosen format, by the time run returns.
func TestRunStreams(t *testing.T) {
	const secret = "stream-test-secret-of-32-bytes-or-more"
	var mu sync.Mutex
	var classes []float64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if err := siem.VerifySignature([]byte(secret), r.Header.Get(siem.SignatureHeader), r.Header.Get(siem.IdempotencyHeader), raw, time.Now(), 0); err != nil {
			t.Errorf("receiver: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Errorf("receiver: %v", err)
			return
		}
		sc := bufio.NewScanner(zr)
		for sc.Scan() {
			var ev struct {
				ClassUID float64 `json:"class_uid"`
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("receiver: %v", err)
			}
			mu.Lock()
			classes = append(classes, ev.ClassUID)
			mu.Unlock()
		}
	}))
	defer recv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, runConfig{Addr: "127.0.0.1:0", Out: io.Discard, AdminPassword: "alice-demo-password", UserPassword: "bob-demo-password", Ready: func(a net.Addr) { ready <- a },
			Stream: streamConfig{URL: recv.URL, Secret: secret, Format: "ocsf"}})
	}()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run: %v", err)
	}
	c := &client{t: t, url: "http://" + addr.String(), hc: &http.Client{Transport: &http.Transport{}}}
	c.login("alice@example.com", "alice-demo-password")
	c.hc.CloseIdleConnections()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	var logins int
	for _, c := range classes {
		if c == 3002 { // OCSF Authentication
			logins++
		}
	}
	if logins != 1 {
		t.Errorf("the receiver got %d Authentication events (of %d), want 1", logins, len(classes))
	}
}

func TestRunRejectsBadStream(t *testing.T) {
	err := run(context.Background(), runConfig{Addr: "127.0.0.1:0", Out: io.Discard, Stream: streamConfig{URL: "ftp://x", Format: "ocsf"}})
	if err == nil {
		t.Error("bad STREAM_URL: no error")
	}
}
