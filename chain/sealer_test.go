package chain_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

var (
	testKey    = chain.HMACKey{ID: "k1", Secret: bytes.Repeat([]byte{7}, 32)}
	testSigner = chain.SigningKey{ID: "s1", Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))}
)

func testVerifyOpts() *chain.VerifyOptions {
	return &chain.VerifyOptions{
		Keys:       map[string][]byte{testKey.ID: testKey.Secret},
		PublicKeys: map[string]ed25519.PublicKey{testSigner.ID: testSigner.Key.Public().(ed25519.PublicKey)},
	}
}

func TestNewSealerErrors(t *testing.T) {
	s := memory.New(nil)
	for _, tt := range []struct {
		key  chain.HMACKey
		opts *chain.SealerOptions
	}{
		{},
		{key: chain.HMACKey{ID: "k", Secret: []byte("short")}},
		{key: chain.HMACKey{Secret: testKey.Secret}},
		{key: testKey, opts: &chain.SealerOptions{SigningKey: &chain.SigningKey{ID: "s"}}},
		{key: testKey, opts: &chain.SealerOptions{Origin: "two words"}},
		{key: testKey, opts: &chain.SealerOptions{Origin: "a+b"}},
		{key: testKey, opts: &chain.SealerOptions{Origin: "line\nbreak"}},
	} {
		if _, err := chain.NewSealer(s, tt.key, tt.opts); err == nil {
			t.Errorf("NewSealer(%q, %+v): no error", tt.key.ID, tt.opts)
		}
	}
	if _, err := chain.NewSealer(nil, testKey, nil); err == nil {
		t.Error("NewSealer(nil): no error")
	}
	if _, err := chain.NewSealer(s, testKey, &chain.SealerOptions{Origin: "audit.example.com/tenant-logs"}); err != nil {
		t.Errorf("NewSealer with a URL-like origin: %v", err)
	}
}

// exports collects the checkpoints a Sealer exports.
type exports struct {
	mu  sync.Mutex
	all []storekit.Checkpoint
}

func (e *exports) export(_ context.Context, c storekit.Checkpoint) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.all = append(e.all, c)
	return nil
}

func (e *exports) list() []storekit.Checkpoint {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]storekit.Checkpoint(nil), e.all...)
}

// TestSealerRun runs the sealer loop: records logged through a Logger are
// sealed, and checkpoints are written and exported.
func TestSealerRun(t *testing.T) {
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Async: fastAsync()})
	var cps exports
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{
		SigningKey: &testSigner, Interval: 5 * time.Millisecond, CheckpointEvery: 10 * time.Millisecond,
		Export: cps.export,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- sl.Run(ctx) }()
	for i := range 50 {
		e := ev(audit.ActionResourceRead)
		if i%10 == 0 {
			e.Action = audit.ActionUserLogin // Sync
		}
		if err := l.Log(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	l.Flush(context.Background())
	waitFor(t, func() bool {
		all := cps.list()
		return len(all) > 0 && all[len(all)-1].Seq == 50
	})
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", err)
	}
	all := cps.list()
	trusted := all[len(all)-1]
	opts := testVerifyOpts()
	opts.Trusted = []storekit.Checkpoint{trusted}
	rep, err := chain.Verify(context.Background(), s, opts)
	if err != nil || !rep.OK() || rep.Seals != 50 {
		t.Errorf("verify: %+v, %v", rep, err)
	}
}

func TestCheckpointFileRoundTrip(t *testing.T) {
	c := storekit.Checkpoint{Seq: 9, Hash: bytes.Repeat([]byte{1}, 32), At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	testSigner.Sign(&c)
	var buf bytes.Buffer
	for range 3 {
		if err := chain.WriteCheckpoint(&buf, c); err != nil {
			t.Fatal(err)
		}
	}
	cps, err := chain.ReadCheckpoints(&buf)
	if err != nil || len(cps) != 3 {
		t.Fatalf("ReadCheckpoints: %d, %v", len(cps), err)
	}
	if err := chain.VerifyCheckpoint(&cps[2], testVerifyOpts().PublicKeys); err != nil {
		t.Errorf("checkpoint read back does not verify: %v", err)
	}
	cps[2].Seq++
	if err := chain.VerifyCheckpoint(&cps[2], testVerifyOpts().PublicKeys); err == nil {
		t.Errorf("a changed checkpoint verifies")
	}
	if _, err := chain.ReadCheckpoints(bytes.NewReader([]byte("{\"seq\":1}\nnot json"))); err == nil {
		t.Errorf("ReadCheckpoints of garbage: no error")
	}
}

// TestRetentionArchive keeps what retention removes in a gzip'ed NDJSON
// file, records the run, and leaves a chain that verifies.
func TestRetentionArchive(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s := memory.New(nil)
	l := newLogger(t, s, &audit.Options{Now: func() time.Time { return now }})
	rs := storetest.Records(0, 40)
	for i := range rs {
		rs[i].OccurredAt = now.AddDate(0, 0, -i*5) // up to 195 days back
		if err := s.Append(context.Background(), rs[i]); err != nil {
			t.Fatal(err)
		}
	}
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{SigningKey: &testSigner, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	archive := &sink{}
	gz := gzip.NewWriter(archive)
	defer gz.Close()
	r, err := audit.NewRetention(s, sl, &audit.RetentionOptions{
		Logger: l, Archive: audit.ArchiveNDJSON(gz, archive), Now: func() time.Time { return now },
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// 90 days: records 19..39 (95 days and older) go
	if res.Purged != 21 || res.Archived != 21 || !res.Cutoff.Equal(now.Add(-audit.DefaultMaxAge)) {
		t.Errorf("result %+v, want 21 purged and archived", res)
	}
	if archive.syncs == 0 {
		t.Errorf("the archive file was never synced")
	}
	// durable before return: what reached the file when the run returned,
	// without closing the gzip writer, holds every removed record
	zr, err := gzip.NewReader(bytes.NewReader(archive.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	sc := bufio.NewScanner(&lenient{zr})
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct {
			Record audit.Record   `json:"record"`
			Seal   *storekit.Seal `json:"seal"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatal(err)
		}
		if !line.Record.OccurredAt.Before(res.Cutoff) || line.Seal == nil || line.Seal.EventID != line.Record.ID {
			t.Errorf("archived line %s", sc.Bytes())
		}
		lines++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if lines != 21 {
		t.Errorf("archive has %d lines when the run returned, want 21", lines)
	}
	l.Flush(context.Background())
	page, _ := s.Query(context.Background(), audit.Filter{Action: audit.ActionAuditRetentionRun})
	if len(page.Records) != 1 || !bytes.Contains(page.Records[0].Details, []byte(`"purged":21`)) {
		t.Errorf("retention run not recorded: %+v", page.Records)
	}
	cps, _ := s.Checkpoints(context.Background())
	opts := testVerifyOpts()
	opts.Now = func() time.Time { return now.Add(time.Minute) }
	if _, err := sl.SealOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	// the records were sealed newest first: no prefix of the chain is old
	// enough to drop, so the seals stay and vouch for the removed records
	if rep, err := chain.Verify(context.Background(), s, opts); err != nil || !rep.OK() || rep.Purged != 21 || rep.Records != 20 || len(cps) != 1 {
		t.Errorf("verify after retention: %+v, %v (checkpoints %d)", rep, err, len(cps))
	}
	// an archive that fails stops the run before anything is removed
	r2, _ := audit.NewRetention(s, sl, &audit.RetentionOptions{MaxAge: 24 * time.Hour, Now: func() time.Time { return now },
		Archive: func(context.Context, []audit.Record, []json.RawMessage) error { return errors.New("disk full") }})
	before := s.Len()
	if _, err := r2.RunOnce(context.Background()); err == nil || s.Len() != before {
		t.Errorf("failing archive: %v, %d -> %d records", err, before, s.Len())
	}
}

// sink is an archive file: a buffer that can fail its writes after
// failAfter bytes, its Sync, and counts its Syncs.
type sink struct {
	bytes.Buffer
	failAfter int // 0: never
	failSync  bool
	syncs     int
}

func (s *sink) Write(p []byte) (int, error) {
	if s.failAfter > 0 && s.Len()+len(p) > s.failAfter {
		return 0, errors.New("disk full")
	}
	return s.Buffer.Write(p)
}

func (s *sink) Sync() error {
	if s.failSync {
		return errors.New("EIO on fsync")
	}
	s.syncs++
	return nil
}

// lenient reads a gzip stream that was flushed but not closed: the
// missing trailer ends it.
type lenient struct{ r io.Reader }

func (l *lenient) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = io.EOF
	}
	return n, err
}

// TestRetentionArchiveSinkFails: an archive sink that fails part way, on
// a write, a flush or a sync, stops the run before anything is removed.
func TestRetentionArchiveSinkFails(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		sink *sink
		gzip bool
	}{
		{"write fails mid-way", &sink{failAfter: 3000}, false},
		{"gzip flush fails", &sink{failAfter: 20}, true},
		{"sync fails", &sink{failSync: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := memory.New(nil)
			rs := storetest.Records(0, 2*audit.MaxLimit+10) // several batches
			for i := range rs {
				rs[i].OccurredAt = now.AddDate(-1, 0, 0).Add(time.Duration(i) * time.Second)
			}
			if err := s.Append(context.Background(), rs...); err != nil {
				t.Fatal(err)
			}
			sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{SigningKey: &testSigner, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			var w io.Writer = tt.sink
			if tt.gzip {
				zw := gzip.NewWriter(tt.sink)
				defer zw.Close()
				w = zw
			}
			r, err := audit.NewRetention(s, sl, &audit.RetentionOptions{Archive: audit.ArchiveNDJSON(w, tt.sink),
				Now: func() time.Time { return now }, OnError: func(error) {}})
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.RunOnce(context.Background())
			if err == nil || res.Purged != 0 || s.Len() != len(rs) {
				t.Errorf("got %v, purged %d, %d of %d records left; want an error and nothing removed", err, res.Purged, s.Len(), len(rs))
			}
		})
	}
}

func TestRetentionRunLoop(t *testing.T) {
	s := memory.New(nil)
	if err := s.Append(context.Background(), storetest.Records(0, 5)...); err != nil {
		t.Fatal(err)
	}
	// a plain store without a chain needs no Sealer
	s2 := &plainStore{memory.New(nil)}
	s2.Append(context.Background(), storetest.Records(0, 5)...)
	r, err := audit.NewRetention(s2, nil, &audit.RetentionOptions{MaxAge: time.Hour, Interval: 5 * time.Millisecond,
		OnError: func(err error) { t.Error(err) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	// all older than an hour: removed by the first run; the loop runs on
	waitFor(t, func() bool { return r.Stats().Runs >= 3 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run: %v", err)
	}
	if n := s2.Len(); n != 0 {
		t.Errorf("%d records left, want 0 (all older than an hour)", n)
	}
	if _, err := audit.NewRetention(s, nil, &audit.RetentionOptions{}); err == nil {
		t.Errorf("NewRetention on a chain store without a Sealer: no error")
	}
	if _, err := audit.NewRetention(s, nil, &audit.RetentionOptions{MaxAge: -1}); err == nil {
		t.Errorf("negative MaxAge: no error")
	}
	if _, err := audit.NewRetention(discardStore{}, nil, &audit.RetentionOptions{}); err == nil {
		t.Errorf("NewRetention on a store that cannot purge: no error")
	}
}

// plainStore hides the chain methods of a memory store.
type plainStore struct{ m *memory.Store }

func (p *plainStore) Append(ctx context.Context, rs ...audit.Record) error {
	return p.m.Append(ctx, rs...)
}
func (p *plainStore) Purge(ctx context.Context, t time.Time) (int64, error) {
	return p.m.Purge(ctx, t)
}
func (p *plainStore) Query(ctx context.Context, f audit.Filter) (audit.Page, error) {
	return p.m.Query(ctx, f)
}
func (p *plainStore) Len() int { return p.m.Len() }

type discardStore struct{}

func (discardStore) Append(context.Context, ...audit.Record) error { return nil }

// TestExportVerifiedLater verifies, an hour after, an export that held a
// record still waiting for its seal: the window counts from the export.
func TestExportVerifiedLater(t *testing.T) {
	t0 := time.Now().Add(-time.Hour).Truncate(time.Microsecond)
	s := memory.New(&memory.Options{Now: func() time.Time { return t0 }})
	if err := s.Append(context.Background(), storetest.Records(0, 5)...); err != nil {
		t.Fatal(err)
	}
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{SigningKey: &testSigner})
	if err != nil {
		t.Fatal(err)
	}
	cp, err := sl.Checkpoint(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Append(context.Background(), storetest.Records(5, 6)...); err != nil { // not sealed yet
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := chain.ExportChain(context.Background(), s, &buf); err != nil {
		t.Fatal(err)
	}
	// the export was made at t0 + 1s
	var header map[string]any
	lines := bytes.SplitN(buf.Bytes(), []byte("\n"), 2)
	json.Unmarshal(lines[0], &header)
	header["exported_at"] = t0.Add(time.Second)
	h, _ := json.Marshal(header)
	export := append(append(h, '\n'), lines[1]...)
	src := chain.NewExportSource(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(export)), nil })
	opts := testVerifyOpts()
	opts.Trusted = []storekit.Checkpoint{cp}
	rep, err := chain.Verify(context.Background(), src, opts)
	if err != nil || !rep.OK() || rep.Unsealed != 1 {
		t.Errorf("export verified an hour later: %+v, %v", rep, err)
	}
}

// TestShutdownSealsLast follows the documented shutdown: close the Logger,
// then the Sealer. The Logger's stop record is sealed, a final checkpoint
// covers it, and Verify finds nothing unsealed.
func TestShutdownSealsLast(t *testing.T) {
	s := memory.New(nil)
	l, err := audit.New(s, &audit.Options{Async: fastAsync()}) // records its start and stop
	if err != nil {
		t.Fatal(err)
	}
	var cps exports
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{
		SigningKey: &testSigner, Interval: time.Hour, // Run seals once, at its start
		Export: cps.export,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- sl.Run(context.Background()) }()
	for range 10 {
		if err := l.Log(context.Background(), ev(audit.ActionResourceRead)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := sl.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run stopped by Close returned %v, want nil", err)
	}
	if err := sl.Run(context.Background()); err != nil {
		t.Errorf("Run after Close: %v, want nil at once", err)
	}
	opts := testVerifyOpts()
	opts.SealWindow = time.Nanosecond // anything unsealed is a problem
	exported := cps.list()
	opts.Trusted = exported
	rep, err := chain.Verify(context.Background(), s, opts)
	if err != nil || !rep.OK() || rep.Unsealed != 0 || rep.Seals != 12 {
		t.Errorf("verify after shutdown: %+v, %v; want 12 seals (start, 10, stop), none unsealed", rep, err)
	}
	if len(exported) == 0 || exported[len(exported)-1].Seq != 12 {
		t.Errorf("exported checkpoints %+v, want the last at seal 12", exported)
	}
	st := sl.Stats()
	if st.Sealed != 12 || st.Checkpoints != 1 || st.Unsealed != 0 || st.Errors != 0 || st.LastRun.IsZero() {
		t.Errorf("stats %+v, want 12 sealed, 1 checkpoint, nothing unsealed, no error", st)
	}
}

// stuckSealStore refuses to seal.
type stuckSealStore struct{ *memory.Store }

func (s stuckSealStore) SealNext(context.Context, int, func(storekit.Seal, []audit.Record) ([]storekit.Seal, error)) (int, error) {
	return 0, errors.New("lock timeout")
}

// captureStderr runs f with os.Stderr going to a pipe and returns what f
// wrote there. Tests using it do not run in parallel.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	defer func() { os.Stderr = old }()
	out := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		out <- string(b)
	}()
	f()
	w.Close()
	return <-out
}

// TestSealerReportsByDefault: without OnError, the Sealer's errors are
// printed, and Stats shows them and the records waiting.
func TestSealerReportsByDefault(t *testing.T) {
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s := stuckSealStore{memory.New(&memory.Options{Now: func() time.Time { return t0 }})}
	if err := s.Append(context.Background(), storetest.Records(0, 3)...); err != nil {
		t.Fatal(err)
	}
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{Interval: time.Millisecond,
		Now: func() time.Time { return t0.Add(time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	out := captureStderr(t, func() {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error)
		go func() { done <- sl.Run(ctx) }()
		waitFor(t, func() bool { return sl.Stats().Errors >= 2 })
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v, want context.Canceled", err)
		}
	})
	if !strings.Contains(out, "lock timeout") {
		t.Errorf("standard error %q, want the sealing error reported by default", out)
	}
	st := sl.Stats()
	if st.LastError == nil || !strings.Contains(st.LastError.Error(), "lock timeout") || st.Sealed != 0 {
		t.Errorf("stats %+v, want the last error and nothing sealed", st)
	}
	if st.Unsealed != 3 || st.OldestUnsealedAge != time.Hour || !st.UnsealedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("unsealed %d, oldest %v, at %v; want 3 waiting for 1h", st.Unsealed, st.OldestUnsealedAge, st.UnsealedAt)
	}
	if err := sl.Close(context.Background()); err == nil || sl.Stats().Errors <= st.Errors {
		t.Errorf("Close: %v, want the sealing error, counted", err)
	}
}

// TestRetentionReportsByDefault: without OnError, Run prints the errors of
// its runs; Stats counts runs, rows removed and errors.
func TestRetentionReportsByDefault(t *testing.T) {
	s := &plainStore{memory.New(nil)}
	s.Append(context.Background(), storetest.Records(0, 5)...)
	r, err := audit.NewRetention(s, nil, &audit.RetentionOptions{MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	if st.Runs != 1 || st.Purged != 5 || st.LastResult.Purged != 5 || st.Errors != 0 || st.LastRun.IsZero() {
		t.Errorf("stats %+v, want 1 run that removed 5", st)
	}
	bad, err := audit.NewRetention(s, nil, &audit.RetentionOptions{MaxAge: time.Hour, Interval: time.Hour,
		Archive: func(context.Context, []audit.Record, []json.RawMessage) error { return errors.New("bucket gone") }})
	if err != nil {
		t.Fatal(err)
	}
	s.Append(context.Background(), storetest.Records(5, 6)...)
	out := captureStderr(t, func() {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- bad.Run(ctx) }()
		waitFor(t, func() bool { return bad.Stats().Runs == 1 })
		cancel()
		<-done
	})
	if !strings.Contains(out, "bucket gone") {
		t.Errorf("standard error %q, want the archive error reported by default", out)
	}
	if st := bad.Stats(); st.Errors != 1 || st.LastError == nil || st.Purged != 0 {
		t.Errorf("stats %+v, want 1 error and nothing removed", st)
	}
}

// lostCommit is a memory store whose next sealing step fails after the
// Sealer made its seals, as when the connection drops during COMMIT.
type lostCommit struct {
	*memory.Store
	fail bool
}

func (s *lostCommit) SealNext(ctx context.Context, max int, fn func(storekit.Seal, []audit.Record) ([]storekit.Seal, error)) (int, error) {
	if !s.fail {
		return s.Store.SealNext(ctx, max, fn)
	}
	s.fail = false
	return s.Store.SealNext(ctx, max, func(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error) {
		if _, err := fn(last, recs); err != nil {
			return nil, err
		}
		return nil, errors.New("connection lost during COMMIT")
	})
}

// TestSealerAfterLostCommit: a sealing step that failed after the seals
// were made (nothing committed) does not make the Sealer take the chain for
// rewound: the next step seals the same records.
func TestSealerAfterLostCommit(t *testing.T) {
	s := &lostCommit{Store: memory.New(nil), fail: true}
	if err := s.Append(context.Background(), storetest.Records(0, 5)...); err != nil {
		t.Fatal(err)
	}
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.SealOnce(context.Background()); err == nil {
		t.Fatal("the lost commit was not reported")
	}
	n, err := sl.SealOnce(context.Background())
	if err != nil || n != 5 {
		t.Fatalf("SealOnce after a lost commit: %d, %v; want 5 sealed", n, err)
	}
	rep, err := chain.Verify(context.Background(), s, testVerifyOpts())
	if err != nil || !rep.OK() || rep.Seals != 5 {
		t.Errorf("verify: %+v, %v", rep, err)
	}
}

// countingChain counts the seals a store's ScanChain hands out.
type countingChain struct {
	*memory.Store
	scans, seals int
}

func (c *countingChain) ScanChain(ctx context.Context, from uint64, fn func(storekit.Seal, *audit.Record) error) error {
	c.scans++
	return c.Store.ScanChain(ctx, from, func(s storekit.Seal, r *audit.Record) error {
		c.seals++
		return fn(s, r)
	})
}

// TestRetentionReadsChainOnce: a run with an Archive reads the chain once,
// and archives every old record, sealed or not, with its seal.
func TestRetentionReadsChainOnce(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	s := &countingChain{Store: memory.New(nil)}
	rs := storetest.Records(0, 2*audit.MaxLimit+10)
	for i := range rs {
		rs[i].OccurredAt = now.AddDate(0, 0, -200).Add(time.Duration(i) * time.Hour) // the newest within 90 days
	}
	if err := s.Append(context.Background(), rs...); err != nil {
		t.Fatal(err)
	}
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{SigningKey: &testSigner, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	var archived, sealed int
	r, err := audit.NewRetention(s, sl, &audit.RetentionOptions{
		Now: func() time.Time { return now },
		Archive: func(_ context.Context, recs []audit.Record, seals []json.RawMessage) error {
			for i := range recs {
				archived++
				var seal storekit.Seal
				if seals[i] != nil && json.Unmarshal(seals[i], &seal) == nil && seal.EventID == recs[i].ID {
					sealed++
				}
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.scans != 1 || s.seals != len(rs) {
		t.Errorf("got %d chain scans of %d seals, want 1 scan of %d", s.scans, s.seals, len(rs))
	}
	if int64(archived) != res.Purged || sealed != archived || res.Purged == 0 {
		t.Errorf("archived %d (%d with their seals), purged %d: want all purged records archived with seals", archived, sealed, res.Purged)
	}
}

// sizedStore advises a sealing step of size records and records the
// largest step asked of it.
type sizedStore struct {
	*memory.Store
	size int
	mu   sync.Mutex
	asks []int
}

func (s *sizedStore) SealBatchSize() int { return s.size }

func (s *sizedStore) SealNext(ctx context.Context, max int, fn func(storekit.Seal, []audit.Record) ([]storekit.Seal, error)) (int, error) {
	if max > 0 { // 0 reads the newest seal
		s.mu.Lock()
		s.asks = append(s.asks, max)
		s.mu.Unlock()
	}
	return s.Store.SealNext(ctx, max, fn)
}

// TestBatchSizeFromStore: without BatchSize, a Sealer takes the steps its
// store advises (storekit.SealBatchSizer), or 1000; BatchSize overrides
// both.
func TestBatchSizeFromStore(t *testing.T) {
	for _, tt := range []struct {
		advise, batch int
		want          []int
	}{
		{advise: 3, want: []int{3, 3, 3, 3}}, // 10 records: 3 + 3 + 3 + 1
		{advise: 0, want: []int{1000}},
		{advise: 3, batch: 4, want: []int{4, 4, 4}},
	} {
		s := &sizedStore{Store: memory.New(nil), size: tt.advise}
		if err := s.Append(context.Background(), storetest.Records(0, 10)...); err != nil {
			t.Fatal(err)
		}
		sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{BatchSize: tt.batch})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := sl.SealOnce(context.Background()); err != nil || n != 10 {
			t.Fatalf("SealOnce = %d, %v; want 10", n, err)
		}
		if !slices.Equal(s.asks, tt.want) {
			t.Errorf("store advises %d, BatchSize %d: steps of %v, want %v", tt.advise, tt.batch, s.asks, tt.want)
		}
	}
}
