package trail_test

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/api"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/trail"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newKeys returns a new key file.
func newKeys(t *testing.T) *chain.KeyFile {
	t.Helper()
	var buf bytes.Buffer
	if err := chain.WriteNewKeyFile(&buf, "k1", "s1"); err != nil {
		t.Fatal(err)
	}
	k, err := chain.ReadKeyFile(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// sink collects what a stream sends, and whether it was closed.
type sink struct {
	mu     sync.Mutex
	got    []audit.Record
	closed bool
}

func (s *sink) Send(_ context.Context, recs []audit.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, recs...)
	return nil
}

func (s *sink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

// closingStore is a memory store that counts its Close calls.
type closingStore struct {
	*memory.Store
	closes int
}

func (s *closingStore) Close(context.Context) error { s.closes++; return nil }

// TestTrailLifecycle runs every part: events logged through the Trail's
// Logger reach the store and the stream, all are sealed, the Logger's
// stop record included, before Close returns, the chain verifies, and
// the sink and the store are closed once, last.
func TestTrailLifecycle(t *testing.T) {
	ctx := context.Background()
	keys := newKeys(t)
	store := &closingStore{Store: memory.New(nil)}
	snk := &sink{}
	tr, err := trail.New(store, &trail.Options{
		Keys:      keys,
		Sealer:    &chain.SealerOptions{Interval: time.Hour}, // only Close seals: shows it does
		Retention: &audit.RetentionOptions{Interval: time.Hour},
		Streams:   []siem.Stream{{Name: "siem", Sink: snk}},
		OnError:   func(err error) { t.Errorf("OnError: %v", err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Sealer() == nil || tr.Retention() == nil || tr.Tee() == nil || tr.Store() != audit.Store(store) {
		t.Fatalf("parts: sealer %v, retention %v, tee %v", tr.Sealer(), tr.Retention(), tr.Tee())
	}
	for tr.Retention().Stats().Runs == 0 { // New's first run
		time.Sleep(time.Millisecond)
	}
	for i := range 5 {
		err := tr.Logger().Log(ctx, audit.Event{Action: audit.ActionUserLogin, ResourceType: "user", ResourceID: string(rune('a' + i)), Status: audit.StatusSuccess})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := tr.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if store.closes != 1 {
		t.Errorf("store closed %d times, want 1", store.closes)
	}
	recs, err := store.Query(ctx, audit.Filter{Limit: audit.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	var actions []audit.Action
	for _, r := range recs.Records {
		actions = append(actions, r.Action)
	}
	// start, 5 logins, the retention run of New's Run, stop
	for _, want := range []audit.Action{audit.ActionAuditLoggerStart, audit.ActionUserLogin, audit.ActionAuditRetentionRun, audit.ActionAuditLoggerStop} {
		if !slices.Contains(actions, want) {
			t.Errorf("no %s record among %v", want, actions)
		}
	}
	snk.mu.Lock()
	streamed, closed := len(snk.got), snk.closed
	snk.mu.Unlock()
	if streamed != len(recs.Records) || !closed {
		t.Errorf("stream got %d records (closed %v), the store holds %d", streamed, closed, len(recs.Records))
	}
	vo := keys.VerifyOptions()
	vo.SealWindow = time.Nanosecond // every record must be sealed
	rep, err := chain.Verify(ctx, store, vo)
	if err != nil || !rep.OK() || rep.Unsealed != 0 || rep.Records != uint64(len(recs.Records)) {
		t.Errorf("Verify: %+v, %v; want every one of %d records sealed and OK", rep, err, len(recs.Records))
	}
}

// TestNewRefuses: what cannot work is refused by New, with nothing left
// running (goleak checks) and the store not closed.
func TestNewRefuses(t *testing.T) {
	keys := newKeys(t)
	noSigning, err := chain.ReadKeyFile(strings.NewReader(`{"hmac_keys":[{"id":"k","secret":"` + strings.Repeat("A", 44) + `"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		store audit.Store
		opts  *trail.Options
		want  string
	}{
		{"nil store", nil, nil, "nil store"},
		{"keys on a store without a chain", appendOnly{}, &trail.Options{Keys: keys}, "keeps no hash chain"},
		{"retention of a chain without keys", &closingStore{Store: memory.New(nil)}, &trail.Options{Retention: &audit.RetentionOptions{}}, "needs Options.Keys"},
		{"retention without a signing key", &closingStore{Store: memory.New(nil)}, &trail.Options{Keys: noSigning, Retention: &audit.RetentionOptions{}}, "SigningKey"},
		{"retention of a store that cannot purge", appendOnly{}, &trail.Options{Retention: &audit.RetentionOptions{}}, "cannot purge"},
		{"a bad stream", &closingStore{Store: memory.New(nil)}, &trail.Options{Streams: []siem.Stream{{Name: "", Sink: &sink{}}}}, "Name"},
	}
	for _, tt := range tests {
		_, err := trail.New(tt.store, tt.opts)
		if err == nil || !strings.HasPrefix(err.Error(), "audit: ") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error saying %q", tt.name, err, tt.want)
		}
		if cs, ok := tt.store.(*closingStore); ok && cs.closes != 0 {
			t.Errorf("%s: New closed the store", tt.name)
		}
	}
}

// appendOnly is a store that can only append.
type appendOnly struct{}

func (appendOnly) Append(context.Context, ...audit.Record) error { return nil }

// TestHandler serves the API and the viewer under one prefix over real
// HTTP: a list as the authorized caller (the read is recorded), a 401
// without one, the viewer page, and the Sealer's state on its status
// endpoint.
func TestHandler(t *testing.T) {
	ctx := context.Background()
	tr, err := trail.New(memory.New(nil), &trail.Options{Keys: newKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close(ctx)
	auth := api.AuthorizeFunc(func(r *http.Request) (api.Caller, error) {
		if r.Header.Get("Authorization") == "Bearer admin" {
			return api.Caller{Actor: audit.Actor{UserID: "admin"}}, nil
		}
		return api.Caller{}, api.ErrUnauthenticated
	})
	h, err := tr.Handler("/audit-logs", auth, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/audit-logs", h)
	mux.Handle("/audit-logs/", h)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	get := func(path, token string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// a login is delivered Sync: stored when Log returns
	if err := tr.Logger().Log(ctx, audit.Event{Action: audit.ActionUserLogin, ResourceType: "user", ResourceID: "u1", Status: audit.StatusSuccess}); err != nil {
		t.Fatal(err)
	}
	if code, body := get("/audit-logs?action=user.login", "admin"); code != 200 || !strings.Contains(body, `"user.login"`) {
		t.Errorf("list: %d %s", code, body)
	}
	if code, _ := get("/audit-logs", ""); code != http.StatusUnauthorized {
		t.Errorf("list without a caller: %d, want 401", code)
	}
	if code, body := get("/audit-logs/viewer/", ""); code != 200 || !strings.Contains(body, `/audit-logs`) {
		t.Errorf("viewer: %d, page without the API path", code)
	}
	// The Sealer signs checkpoints: the page checks proofs with its key.
	if tr.LogKey() == "" || !strings.HasPrefix(tr.LogKey(), chain.DefaultOrigin+"+") {
		t.Errorf("LogKey() = %q, want the verifier key of %s", tr.LogKey(), chain.DefaultOrigin)
	}
	if _, body := get("/audit-logs/viewer/", ""); !strings.Contains(html.UnescapeString(body), `data-log-key="`+tr.LogKey()+`"`) {
		t.Errorf("the viewer page does not carry the log's key")
	}
	if _, err := tr.Sealer().SealOnce(ctx); err != nil {
		t.Fatal(err)
	}
	code, body := get("/audit-logs/viewer/status", "admin")
	var st struct {
		Configured bool `json:"configured"`
		Chain      *struct {
			Sealed uint64 `json:"sealed"`
		} `json:"chain"`
	}
	if err := json.Unmarshal([]byte(body), &st); code != 200 || err != nil || !st.Configured || st.Chain == nil || st.Chain.Sealed == 0 {
		t.Errorf("status: %d %s", code, body)
	}
	recs, err := tr.Store().(audit.Querier).Query(ctx, audit.Filter{Action: audit.ActionAuditLogRead})
	if err != nil || len(recs.Records) == 0 {
		t.Errorf("the API's reads were not recorded: %d records, %v", len(recs.Records), err)
	}
	for _, p := range []string{"", "/", "audit", "/audit/", "/a/../b"} {
		if _, err := tr.Handler(p, auth, nil); err == nil {
			t.Errorf("Handler(%q): no error", p)
		}
	}
	if _, err := tr.Handler("/x", nil, nil); err == nil || !strings.Contains(err.Error(), "Authorizer") {
		t.Errorf("Handler without an Authorizer: %v", err)
	}
}
