package middleware

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
)

// TestNewRequestIDNotAnIdentity: an id from Options.NewRequestID that is
// not an identity (audit.CheckID) is replaced by a generated one, never
// cut, so that the request's events are recorded under an id of their
// own; one that is, whatever its characters, is kept exactly.
func TestNewRequestIDNotAnIdentity(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("r", audit.MaxIDBytes)
	for _, tt := range []struct {
		id   string
		kept bool
	}{
		{long + "x", false},
		{"req\x00", false},
		{"req\xff", false},
		{"req\u0085", false},
		{long, true},
		{"req=1 é", true},
	} {
		l, s := newLogger(t)
		mw := mustNew(t, nil, &Options{IgnoreClientRequestID: true, NewRequestID: func() string { return tt.id }})
		srv := serve(t, mw(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := l.Log(r.Context(), audit.Event{Action: "doc.read", ResourceType: "doc", Status: audit.StatusSuccess}); err != nil {
				t.Errorf("NewRequestID %.20q…: Log: %v", tt.id, err)
			}
		})))
		req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
		resp, _ := do(t, req)
		recs := records(t, s, audit.Filter{})
		if len(recs) != 1 {
			t.Fatalf("NewRequestID %.20q…: %d records, want 1", tt.id, len(recs))
		}
		got := recs[0].RequestID
		if tt.kept && got != tt.id {
			t.Errorf("NewRequestID %.20q…: recorded %.20q…, want it exactly", tt.id, got)
		}
		if _, err := uuid.Parse(got); !tt.kept && (err != nil || got == tt.id) {
			t.Errorf("NewRequestID %.20q…: recorded %.20q…, want a generated UUID", tt.id, got)
		}
		if h := resp.Header.Get("X-Request-Id"); h != got {
			t.Errorf("NewRequestID %.20q…: header %.20q…, want the recorded %.20q…", tt.id, h, got)
		}
		l.Close(context.Background())
	}
}
