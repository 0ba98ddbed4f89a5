package siem_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
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
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
)

func TestVerifySignature(t *testing.T) {
	t.Parallel()
	secret := []byte("whsec-test-secret-of-32-bytes-at-least")
	other := []byte("whsec-another-secret-of-32-bytes-or-more")
	body := []byte(`{"id":"1"}` + "\n")
	const key = "5eddd5a143ee76e45c2a977126790dd3"
	at := time.Unix(1_780_000_000, 0)
	sign := func(secret []byte) string {
		h, err := siem.Sign(secret, at, key, body)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	good := sign(secret)
	tests := []struct {
		name   string
		secret []byte
		header string
		key    string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", secret, good, key, body, at, nil},
		{"valid within tolerance", secret, good, key, body, at.Add(4 * time.Minute), nil},
		{"rotation: second v2 matches", secret, sign(other) + ",v2=" + good[strings.Index(good, "v2=")+3:], key, body, at, nil},
		{"wrong secret", other, good, key, body, at, siem.ErrBadSignature},
		{"body changed", secret, good, key, []byte(`{"id":"2"}` + "\n"), at, siem.ErrBadSignature},
		{"timestamp changed", secret, strings.Replace(good, "t=1780000000", "t=1780000001", 1), key, body, at, siem.ErrBadSignature},
		{"replayed under a fresh key", secret, good, "fresh-key", body, at, siem.ErrBadSignature},
		{"replayed under the key with a byte of the body moved into it", secret, good, key + ".{", body[1:], at, siem.ErrNoSignature},
		{"replayed without a key", secret, good, "", body, at, siem.ErrNoSignature},
		{"key too long", secret, good, strings.Repeat("a", siem.MaxKeyLen+1), body, at, siem.ErrNoSignature},
		{"replayed late", secret, good, key, body, at.Add(6 * time.Minute), siem.ErrStaleSignature},
		{"from the future", secret, good, key, body, at.Add(-6 * time.Minute), siem.ErrStaleSignature},
		{"empty", secret, "", key, body, at, siem.ErrNoSignature},
		{"no v2", secret, "t=1780000000", key, body, at, siem.ErrNoSignature},
		{"v1 only (the old scheme, which did not sign the key)", secret, strings.Replace(good, "v2=", "v1=", 1), key, body, at, siem.ErrNoSignature},
		{"bad timestamp", secret, "t=x,v2=00", key, body, at, siem.ErrNoSignature},
		{"empty secret", nil, good, key, body, at, siem.ErrShortSecret},
		{"short secret", secret[:siem.MinSecretLen-1], good, key, body, at, siem.ErrShortSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := siem.VerifySignature(tt.secret, tt.header, tt.key, tt.body, tt.now, 0); !errors.Is(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestSignRefuses: Sign makes no signature that anyone could make or that
// reads two ways.
func TestSignRefuses(t *testing.T) {
	t.Parallel()
	secret := bytes.Repeat([]byte{1}, siem.MinSecretLen)
	for name, tt := range map[string]struct {
		secret []byte
		key    string
	}{
		"empty secret": {nil, "k"},
		"short secret": {secret[1:], "k"},
		"empty key":    {secret, ""},
		"key with a .": {secret, "a.b"},
	} {
		if h, err := siem.Sign(tt.secret, time.Now(), tt.key, nil); h != "" || err == nil || !strings.HasPrefix(err.Error(), "audit: siem: ") {
			t.Errorf("%s: got %q, %v; want no signature and an audit: siem: error", name, h, err)
		}
	}
}

// captured is one request as a receiver got it.
type captured struct {
	header http.Header
	lines  []json.RawMessage
}

// captureServer answers 200 and keeps every request's headers and
// decoded lines.
func captureServer(t *testing.T) (*httptest.Server, func() []captured) {
	var mu sync.Mutex
	var got []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Errorf("gzip: %v", err)
				return
			}
			body = zr
		}
		c := captured{header: r.Header.Clone()}
		sc := bufio.NewScanner(body)
		for sc.Scan() {
			c.lines = append(c.lines, json.RawMessage(bytes.Clone(sc.Bytes())))
		}
		mu.Lock()
		got = append(got, c)
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() []captured { mu.Lock(); defer mu.Unlock(); return append([]captured(nil), got...) }
}

func testRecords(n int) []audit.Record {
	rs := make([]audit.Record, n)
	for i := range rs {
		rs[i] = audit.Record{
			ID:         uuid.MustParse("0190a8e4-0000-7000-8000-00000000000" + string(rune('0'+i))),
			OccurredAt: time.Date(2026, 6, 1, 12, 0, i, 123456000, time.UTC),
			UserID:     "u-1", UserEmail: "ada@example.com", Action: audit.ActionUserLogin,
			ResourceType: "user", ResourceID: "u-1", Status: audit.StatusSuccess,
			Details: json.RawMessage(`{"method":"password"}`),
		}
	}
	return rs
}

// TestHTTPSinkFormats checks each format's lines and headers as a
// receiver reads them.
func TestHTTPSinkFormats(t *testing.T) {
	t.Parallel()
	recs := testRecords(2)
	tests := []struct {
		name   string
		opts   siem.HTTPOptions
		ctype  string
		header map[string]string
		check  func(t *testing.T, i int, line json.RawMessage)
	}{
		{name: "ndjson is the export's record JSON", ctype: "application/x-ndjson", check: func(t *testing.T, i int, line json.RawMessage) {
			want, _ := json.Marshal(&recs[i])
			if !bytes.Equal(line, want) {
				t.Errorf("line %d:\n got %s\nwant %s", i, line, want)
			}
		}},
		{name: "ocsf", opts: siem.HTTPOptions{Format: siem.FormatOCSF, NoGzip: true}, ctype: "application/x-ndjson", check: func(t *testing.T, i int, line json.RawMessage) {
			var ev struct {
				ClassUID int `json:"class_uid"`
				TypeUID  int `json:"type_uid"`
				Metadata struct {
					UID string `json:"uid"`
				} `json:"metadata"`
			}
			if err := json.Unmarshal(line, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.ClassUID != 3002 || ev.TypeUID != 300201 || ev.Metadata.UID != recs[i].ID.String() {
				t.Errorf("line %d: class %d type %d uid %s, want 3002 300201 %s", i, ev.ClassUID, ev.TypeUID, ev.Metadata.UID, recs[i].ID)
			}
		}},
		{name: "splunk hec", opts: siem.HTTPOptions{Format: siem.FormatSplunk, SplunkToken: "tok-1", SplunkIndex: "audit"},
			ctype: "application/json", header: map[string]string{"Authorization": "Splunk tok-1"},
			check: func(t *testing.T, i int, line json.RawMessage) {
				var ev struct {
					Time       json.Number  `json:"time"`
					SourceType string       `json:"sourcetype"`
					Index      string       `json:"index"`
					Event      audit.Record `json:"event"`
				}
				if err := json.Unmarshal(line, &ev); err != nil {
					t.Fatal(err)
				}
				wantTime := []string{"1780315200.123", "1780315201.123"}[i]
				if ev.Time.String() != wantTime || ev.SourceType != "trailmark:audit" || ev.Index != "audit" || ev.Event.ID != recs[i].ID {
					t.Errorf("line %d: time %s sourcetype %q index %q id %s, want %s trailmark:audit audit %s",
						i, ev.Time, ev.SourceType, ev.Index, ev.Event.ID, wantTime, recs[i].ID)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, got := captureServer(t)
			sink, err := siem.NewHTTP(srv.URL, &tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close(context.Background())
			if err := sink.Send(context.Background(), recs); err != nil {
				t.Fatal(err)
			}
			reqs := got()
			if len(reqs) != 1 || len(reqs[0].lines) != len(recs) {
				t.Fatalf("got %d requests, want 1 with %d lines", len(reqs), len(recs))
			}
			h := reqs[0].header
			if h.Get("Content-Type") != tt.ctype || h.Get("Idempotency-Key") != siem.IdempotencyKey(recs) {
				t.Errorf("Content-Type %q, Idempotency-Key %q; want %q, %q", h.Get("Content-Type"), h.Get("Idempotency-Key"), tt.ctype, siem.IdempotencyKey(recs))
			}
			if wantGzip := !tt.opts.NoGzip; (h.Get("Content-Encoding") == "gzip") != wantGzip {
				t.Errorf("Content-Encoding %q, want gzip %v", h.Get("Content-Encoding"), wantGzip)
			}
			if h.Get("Trailmark-Signature") != "" {
				t.Errorf("a signature without a Secret: %q", h.Get("Trailmark-Signature"))
			}
			for k, v := range tt.header {
				if h.Get(k) != v {
					t.Errorf("%s %q, want %q", k, h.Get(k), v)
				}
			}
			for i, l := range reqs[0].lines {
				tt.check(t, i, l)
			}
		})
	}
}

// TestHTTPSinkRedirectNotFollowed: a signed POST is not re-sent where a
// redirect points.
func TestHTTPSinkRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	other, got := captureServer(t)
	srv := httptest.NewServer(http.RedirectHandler(other.URL, http.StatusTemporaryRedirect))
	defer srv.Close()
	sink, err := siem.NewHTTP(srv.URL, &siem.HTTPOptions{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	err = sink.Send(context.Background(), testRecords(1))
	if !storekit.IsPermanent(err) || len(got()) != 0 {
		t.Errorf("got %v and %d requests at the target, want a permanent error and none", err, len(got()))
	}
}

func TestNewHTTPErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, url string
		opts      siem.HTTPOptions
		want      string
	}{
		{"scheme", "ftp://user:pw-secret@host/x", siem.HTTPOptions{}, "http:// or https://"},
		{"no host", "http:///x", siem.HTTPOptions{}, "host"},
		{"unparsable", "http://user:pw-secret@host:port-x/", siem.HTTPOptions{}, "does not parse"},
		{"format", "http://h/", siem.HTTPOptions{Format: "xml"}, "unknown Format"},
		{"timeout", "http://h/", siem.HTTPOptions{Timeout: -1}, "Timeout"},
		{"client and tls", "http://h/", siem.HTTPOptions{Client: http.DefaultClient, TLS: &tls.Config{}}, "not both"},
		{"client alone", "http://h/", siem.HTTPOptions{Client: http.DefaultClient}, ""},
		{"empty secret", "http://h/", siem.HTTPOptions{Secret: []byte{}}, "at least 32 bytes"},
		{"short secret", "http://h/", siem.HTTPOptions{Secret: []byte("pw-secret, 31 bytes long ......")}, "at least 32 bytes"},
		{"secret of 32 bytes", "http://h/", siem.HTTPOptions{Secret: []byte("a secret of exactly 32 bytes ...")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := siem.NewHTTP(tt.url, &tt.opts)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				s.Close(context.Background())
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "pw-secret") {
				t.Errorf("got %v, want an error about %q without the password", err, tt.want)
			}
		})
	}
}

// TestBackfill sends what a primary holds since a time.
func TestBackfill(t *testing.T) {
	t.Parallel()
	primary := memory.New(nil)
	ids := logN(t, primary, 25)
	sink := &recordingSink{}
	n, err := siem.Backfill(context.Background(), primary, time.Now().Add(-time.Hour), sink, &siem.BackfillOptions{BatchSize: 10})
	if err != nil || n != 25 {
		t.Fatalf("Backfill: %d, %v; want 25, nil", n, err)
	}
	got := map[uuid.UUID]bool{}
	for _, r := range sink.got() {
		got[r.ID] = true
	}
	for _, id := range ids {
		if !got[id] {
			t.Errorf("record %s not backfilled", id)
		}
	}
	// Nothing since the future.
	if n, err := siem.Backfill(context.Background(), primary, time.Now().Add(time.Hour), sink, nil); n != 0 || err != nil {
		t.Errorf("Backfill from the future: %d, %v; want 0, nil", n, err)
	}
}

// refusingAfter accepts n batches, then refuses every batch for good.
type refusingAfter struct {
	recordingSink
	n, calls int
}

func (s *refusingAfter) Send(ctx context.Context, rs []audit.Record) error {
	s.calls++
	if s.calls > s.n {
		return storekit.Permanent(errors.New("quota exceeded"))
	}
	return s.recordingSink.Send(ctx, rs)
}

// TestBackfillProgressAndResume: Backfill reports each accepted batch with
// the cursor to resume from; a Backfill that stopped at a refused batch,
// resumed from its last progress, sends the rest, so that every record
// reaches the sink with none skipped.
func TestBackfillProgressAndResume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primary := memory.New(nil)
	ids := logN(t, primary, 25)
	since := time.Now().Add(-time.Hour)
	first := &refusingAfter{n: 1}
	var progress []siem.BackfillProgress
	n, err := siem.Backfill(ctx, primary, since, first, &siem.BackfillOptions{BatchSize: 10,
		Progress: func(p siem.BackfillProgress) { progress = append(progress, p) }})
	if err == nil || n != 10 {
		t.Fatalf("Backfill into a sink refusing its second batch: %d, %v; want 10 and an error", n, err)
	}
	if len(progress) != 1 || progress[0].Sent != 10 || progress[0].Cursor == "" {
		t.Fatalf("progress %+v; want one report of 10 sent, with a cursor", progress)
	}
	rest := &recordingSink{}
	var last siem.BackfillProgress
	n, err = siem.Backfill(ctx, primary, since, rest, &siem.BackfillOptions{BatchSize: 10, Cursor: progress[0].Cursor,
		Progress: func(p siem.BackfillProgress) { last = p }})
	if err != nil || n != 15 || last.Sent != 15 || last.Cursor != "" {
		t.Fatalf("resumed Backfill: %d, %v, last progress %+v; want 15 sent and no cursor left", n, err, last)
	}
	got := map[uuid.UUID]int{}
	for _, r := range append(first.got(), rest.got()...) {
		got[r.ID]++
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("record %s reached the sink %d times, want once", id, got[id])
		}
	}
}
