package siem_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/trailmark/audit"
)

// attempt is one request the receiver saw.
type attempt struct {
	key string
	ids []uuid.UUID
	ok  bool // answered 2xx after verifying
	at  time.Time
}

// receiver is an HTTP endpoint on loopback that verifies what a sink
// sends, written from the documented scheme with the standard library
// only, so that the sink is checked against an independent reader. fail
// decides, per request number (from 0), how to answer (a mode).
type receiver struct {
	t      *testing.T
	secret []byte
	fail   func(n int, w http.ResponseWriter, r *http.Request) mode
	srv    *httptest.Server

	mu       sync.Mutex
	n        int
	attempts []attempt
	errs     []string
}

// mode is how the receiver answers one request.
type mode int

const (
	normal  mode = iota // verify, record, 202
	handled             // fail has answered (or hung up)
	loseAck             // verify and record, then reset the connection
)

func newReceiver(t *testing.T, secret string, fail func(n int, w http.ResponseWriter, r *http.Request) mode) *receiver {
	t.Helper()
	rc := &receiver{t: t, secret: []byte(secret), fail: fail}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	n := rc.n
	rc.n++
	rc.mu.Unlock()
	m := normal
	if rc.fail != nil {
		m = rc.fail(n, w, r)
	}
	if m == handled {
		return
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		rc.errorf("reading body: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if err := rc.verify(r.Header.Get("Trailmark-Signature"), r.Header.Get("Idempotency-Key"), raw); err != nil {
		rc.errorf("request %d: %v", n, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if got := r.Header.Get("Content-Encoding"); got != "gzip" {
		rc.errorf("Content-Encoding %q, want gzip", got)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		rc.errorf("gzip: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	a := attempt{key: r.Header.Get("Idempotency-Key"), ok: m != loseAck, at: time.Now()}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec audit.Record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			rc.errorf("line %q: %v", sc.Text(), err)
			continue
		}
		a.ids = append(a.ids, rec.ID)
	}
	if err := sc.Err(); err != nil {
		rc.errorf("scan: %v", err)
	}
	rc.mu.Lock()
	rc.attempts = append(rc.attempts, a)
	rc.mu.Unlock()
	if m == loseAck {
		hangUp(w)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// verify checks the signature: t=<unix>,v2=<hex HMAC-SHA256(secret, t + "." + key + "." + body)>.
func (rc *receiver) verify(header, key string, body []byte) error {
	var ts, sig string
	for _, p := range strings.Split(header, ",") {
		switch k, v, _ := strings.Cut(p, "="); k {
		case "t":
			ts = v
		case "v2":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("signature header %q: no timestamp", header)
	}
	if d := time.Since(time.Unix(sec, 0)); d > time.Minute || d < -time.Minute {
		return fmt.Errorf("signature timestamp %d is %v away", sec, d)
	}
	m := hmac.New(sha256.New, rc.secret)
	m.Write([]byte(ts + "." + key + "."))
	m.Write(body)
	if want := hex.EncodeToString(m.Sum(nil)); !hmac.Equal([]byte(sig), []byte(want)) {
		return fmt.Errorf("signature %q, want %q", sig, want)
	}
	return nil
}

func (rc *receiver) errorf(format string, args ...any) {
	rc.mu.Lock()
	rc.errs = append(rc.errs, fmt.Sprintf(format, args...))
	rc.mu.Unlock()
}

// seen returns the attempts and errors so far.
func (rc *receiver) seen() ([]attempt, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]attempt(nil), rc.attempts...), append([]string(nil), rc.errs...)
}

// requests returns the number of requests so far.
func (rc *receiver) requests() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n
}

// logN logs n events through a Sync Logger over store and returns their
// IDs.
func logN(t testing.TB, store audit.Store, n int) []uuid.UUID {
	t.Helper()
	logger, err := audit.New(store,
		&audit.Options{Policy: audit.Policy{Default: audit.Sync, NoSecurityDefaults: true}, NoLifecycleEvents: true, OnError: func(err error) { t.Errorf("logger: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
		err := logger.Log(context.Background(), audit.Event{
			ID: ids[i], Action: audit.ActionResourceUpdate, ResourceType: "document",
			ResourceID: fmt.Sprint("doc-", i), UserID: "u-1", Status: audit.StatusSuccess,
			Details: map[string]any{"n": i},
		})
		if err != nil {
			t.Fatalf("Log %d: %v", i, err)
		}
	}
	if err := logger.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	return ids
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err == nil {
		conn.Close()
	}
}
