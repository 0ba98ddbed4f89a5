package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/trailmark/audit"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/storekit"
)

// lockedBuffer is a bytes.Buffer safe for the handler's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestReceiver: the receiver prints what a signed HTTPSink sends, refuses
// a wrong secret and ignores a batch it has seen.
func TestReceiver(t *testing.T) {
	var out, log lockedBuffer
	const secret = "the receiver's test secret, 32 bytes or more"
	srv := httptest.NewServer(newHandler([]byte(secret), &out, &log))
	defer srv.Close()
	recs := []audit.Record{{ID: uuid.New(), OccurredAt: time.Now().UTC(), Action: audit.ActionUserLogin, UserID: "u-1", Status: audit.StatusSuccess}}
	for _, tt := range []struct {
		secret  string
		wantErr bool
	}{{secret, false}, {secret, false}, {"a wrong secret, also of 32 bytes or more", true}} {
		sink, err := siem.NewHTTP(srv.URL, &siem.HTTPOptions{Secret: []byte(tt.secret)})
		if err != nil {
			t.Fatal(err)
		}
		err = sink.Send(context.Background(), recs)
		sink.Close(context.Background())
		if (err != nil) != tt.wantErr || tt.wantErr && !storekit.IsPermanent(err) {
			t.Errorf("secret %q: got %v, want error %v", tt.secret, err, tt.wantErr)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("printed %d lines, want 1 (the duplicate ignored):\n%s", len(lines), out.String())
	}
	var got audit.Record
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil || got.ID != recs[0].ID {
		t.Errorf("printed %s (%v), want record %s", lines[0], err, recs[0].ID)
	}
	if l := log.String(); !strings.Contains(l, "duplicate batch") || !strings.Contains(l, "rejected") {
		t.Errorf("log %q, want a duplicate and a rejection", l)
	}
}

// recordingTransport keeps a copy of each request it sends.
type recordingTransport struct {
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	header http.Header
	body   []byte
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, recorded{header: r.Header.Clone(), body: body})
	rt.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return http.DefaultTransport.RoundTrip(r)
}

// TestReceiverReplay: a signed batch captured on the wire and sent again
// within the signature's tolerance, under the same or a fresh
// Idempotency-Key, is not printed again (it was, 3 times from 4 sends,
// while the key was not signed).
func TestReceiverReplay(t *testing.T) {
	secret := []byte("the receiver's test secret, 32 bytes or more")
	var out, log lockedBuffer
	srv := httptest.NewServer(newHandler(secret, &out, &log))
	defer srv.Close()
	rt := &recordingTransport{}
	sink, err := siem.NewHTTP(srv.URL, &siem.HTTPOptions{Secret: secret, Client: &http.Client{Transport: rt}})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	recs := []audit.Record{{ID: uuid.New(), OccurredAt: time.Now().UTC(), Action: audit.ActionUserLogin, UserID: "u-1", Status: audit.StatusSuccess}}
	if err := sink.Send(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if len(rt.reqs) != 1 {
		t.Fatalf("the sink sent %d requests, want 1", len(rt.reqs))
	}
	sent := rt.reqs[0]
	for _, tt := range []struct {
		key  string
		want int // 200 for a duplicate, 401 for a key the signature does not cover
	}{{sent.header.Get(siem.IdempotencyHeader), 200}, {"fresh-key-1", 401}, {strings.Repeat("ab", 16), 401}, {"", 401}} {
		req, err := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(sent.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = sent.header.Clone()
		req.Header.Set(siem.IdempotencyHeader, tt.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("replay with key %q: got %d, want %d", tt.key, resp.StatusCode, tt.want)
		}
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 1 {
		t.Errorf("printed %d lines from 1 send and 4 replays, want 1:\n%s", len(lines), out.String())
	}
}
