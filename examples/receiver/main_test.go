package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/trailmark/audit"
	"github.com/trailmark/audit/stream"
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
	srv := httptest.NewServer(newHandler([]byte("s3cret"), &out, &log))
	defer srv.Close()
	recs := []audit.Record{{ID: uuid.New(), OccurredAt: time.Now().UTC(), Action: audit.ActionUserLogin, UserID: "u-1", Status: audit.StatusSuccess}}
	for _, tt := range []struct {
		secret  string
		wantErr bool
	}{{"s3cret", false}, {"s3cret", false}, {"wrong", true}} {
		sink, err := stream.NewHTTP(srv.URL, &stream.HTTPOptions{Secret: []byte(tt.secret)})
		if err != nil {
			t.Fatal(err)
		}
		err = sink.Send(context.Background(), recs)
		sink.Close()
		if (err != nil) != tt.wantErr || tt.wantErr && !audit.IsPermanent(err) {
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
