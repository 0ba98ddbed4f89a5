package middleware

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"testing"

	"github.com/trailmark/audit"
)

// TestRecordedStatus checks, over real HTTP on loopback, that the status
// a request event records is the final status the client received: an
// informational 1xx (100 Continue, 103 Early Hints) is not final, and a
// hijacked connection, whose answer the middleware cannot see, records no
// status code and hijacked true (see Options.Events).
func TestRecordedStatus(t *testing.T) {
	t.Parallel()
	l, s := newLogger(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/hints-then-500", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.WriteHeader(http.StatusInternalServerError)
	})
	mux.HandleFunc("/hints-then-body", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		w.Write([]byte("body")) // an implicit 200
	})
	mux.HandleFunc("/hints-then-nothing", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints) // net/http then sends 200
	})
	mux.HandleFunc("/continue-then-201", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusContinue)
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("/hints-then-panic", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusEarlyHints)
		panic(http.ErrAbortHandler) // net/http closes the connection without a log line
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Ignored", "1")
		conn, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
	})
	mw := mustNew(t, l, &Options{Events: EventsAll})
	// done receives each request's path once the middleware has returned
	// (or re-raised a panic): its event is then in the store.
	done := make(chan string, 1)
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { done <- r.URL.Path }()
		mw(mux).ServeHTTP(w, r)
	}))

	tests := []struct {
		path       string
		client     int // the status the client reads; 0: none (connection closed)
		code       int // status_code recorded; 0: absent
		status     audit.Status
		hijacked   bool
		errMessage string
	}{
		{path: "/hints-then-500", client: 500, code: 500, status: audit.StatusError, errMessage: "Internal Server Error"},
		{path: "/hints-then-body", client: 200, code: 200, status: audit.StatusSuccess},
		{path: "/hints-then-nothing", client: 200, code: 200, status: audit.StatusSuccess},
		{path: "/continue-then-201", client: 201, code: 201, status: audit.StatusSuccess},
		{path: "/hints-then-panic", client: 0, code: 500, status: audit.StatusError, errMessage: "panic: " + http.ErrAbortHandler.Error()},
		{path: "/hijack", client: 101, code: 0, status: audit.StatusSuccess, hijacked: true},
	}
	for _, tt := range tests {
		t.Run(tt.path[1:], func(t *testing.T) {
			if got := finalStatus(t, srv.Listener, tt.path); got != tt.client {
				t.Errorf("client got status %d, want %d", got, tt.client)
			}
			if got := <-done; got != tt.path {
				t.Fatalf("served %s, want %s", got, tt.path)
			}
			rs := records(t, s, audit.Filter{Action: ActionHTTPRequest, ResourceID: tt.path})
			if len(rs) != 1 {
				t.Fatalf("got %d events, want 1", len(rs))
			}
			d, err := rs[0].DecodeDetails()
			if err != nil {
				t.Fatal(err)
			}
			code, hasCode := d["status_code"]
			switch {
			case tt.code == 0 && hasCode:
				t.Errorf("status_code %v, want none", code)
			case tt.code != 0 && code != json.Number(fmt.Sprint(tt.code)):
				t.Errorf("status_code %v, want %d", code, tt.code)
			}
			if rs[0].Status != tt.status || rs[0].ErrorMessage != tt.errMessage {
				t.Errorf("status %s %q, want %s %q", rs[0].Status, rs[0].ErrorMessage, tt.status, tt.errMessage)
			}
			if hj, _ := d["hijacked"].(bool); hj != tt.hijacked {
				t.Errorf("hijacked %v, want %v", d["hijacked"], tt.hijacked)
			}
		})
	}
}

// finalStatus sends GET path over a raw connection and returns the first
// non-informational status the server answers (101 counts as final), or 0
// when the server closes the connection without one.
func finalStatus(t *testing.T, srv interface{ Addr() net.Addr }, path string) int {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", path)
	br := bufio.NewReader(conn)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp.StatusCode
		}
	}
}
