package spool_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/spool"
	"github.com/trailmark/audit/store/memory"
)

// TestMain runs a child's role when childEnv is set (see crash_test.go),
// the tests otherwise, checking that they leave no goroutine behind.
func TestMain(m *testing.M) {
	if _, ok := os.LookupEnv(childEnv); ok {
		run := child
		if os.Getenv(childRole) == "sealer" {
			run = childSealer
		}
		if err := run(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// record returns a valid record with ID i.
func record(i int) audit.Record {
	var id uuid.UUID
	id[15], id[14], id[6], id[8] = byte(i), byte(i>>8), 0x70, 0x80
	return audit.Record{ID: id, OccurredAt: time.Unix(1700000000, int64(i)*1000).UTC(),
		Action: audit.ActionResourceRead, ResourceType: "document", ResourceID: fmt.Sprint("d-", i), Status: audit.StatusSuccess,
		Details: json.RawMessage(`{"note":"` + strings.Repeat("x", 100) + `"}`), Changes: json.RawMessage(`{"n":{"after":1,"before":0}}`)}
}

func open(t *testing.T, dir string, opts *spool.Options) *spool.Spool {
	t.Helper()
	s, err := spool.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

// replayAll returns what Replay delivers.
func replayAll(t *testing.T, s *spool.Spool) []audit.Record {
	t.Helper()
	var got []audit.Record
	if err := s.Replay(7, func(rs []audit.Record) error {
		if len(rs) > 7 {
			t.Errorf("a batch of %d records, want at most 7", len(rs))
		}
		got = append(got, rs...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// segments returns the names of dir's segment files.
func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*.seg*"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestReplayWhatWasNotReleased: Replay delivers the records of the
// segments that hold a record not released, in order; a segment whose
// records were all released is gone.
func TestReplayWhatWasNotReleased(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, &spool.Options{SegmentBytes: 4096, MaxBytes: 1 << 20})
	const n, released = 100, 80
	var all []audit.Record
	for i := range n { // about 20 a segment
		r := record(i)
		if err := s.Append(r, 0); err != nil {
			t.Fatal(err)
		}
		all = append(all, r)
	}
	s.Release(all[:released])
	s.Release([]audit.Record{record(1000)}) // not held: ignored
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(record(1), 0); !errors.Is(err, spool.ErrClosed) {
		t.Errorf("Append after Close: got %v, want ErrClosed", err)
	}

	s = open(t, dir, nil)
	got := replayAll(t, s)
	if len(got) < n-released || len(got) > n-released+25 {
		t.Fatalf("replayed %d records, want the %d not released and those sharing their segment", len(got), n-released)
	}
	if want := all[n-len(got):]; !slices.EqualFunc(got, want, func(a, b audit.Record) bool { return a.ID == b.ID && a.ResourceID == b.ResourceID }) {
		t.Errorf("replayed %v, want %v", ids(got), ids(want))
	}
	if n := segments(t, dir); len(n) != 0 {
		t.Errorf("after Replay, segment files %v, want none", n)
	}
	if got := replayAll(t, s); len(got) != 0 {
		t.Errorf("a second Replay delivered %d records, want 0", len(got))
	}
}

func ids(rs []audit.Record) []string {
	var s []string
	for _, r := range rs {
		s = append(s, r.ResourceID)
	}
	return s
}

func TestReleasedSegmentsAreRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, &spool.Options{SegmentBytes: 4096, MaxBytes: 8192})
	// far more than MaxBytes holds, released as they go, twice for one ID
	for i := range 1000 {
		r := record(i % 500)
		if err := s.Append(r, 0); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		s.Release([]audit.Record{r})
	}
	if n := segments(t, dir); len(n) > 1 {
		t.Errorf("segment files %v, want the active one only", n)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := segments(t, dir); len(n) != 0 {
		t.Errorf("after Close, segment files %v, want none", n)
	}
}

func TestFull(t *testing.T) {
	t.Parallel()
	s := open(t, t.TempDir(), &spool.Options{SegmentBytes: 4096, MaxBytes: 8192})
	var held []audit.Record
	var err error
	for i := 0; err == nil; i++ {
		r := record(i)
		if err = s.Append(r, 0); err == nil {
			held = append(held, r)
		}
	}
	if !errors.Is(err, audit.ErrQueueFull) {
		t.Fatalf("got %v, want ErrQueueFull", err)
	}
	start := time.Now()
	if err := s.Append(record(9999), 30*time.Millisecond); !errors.Is(err, audit.ErrQueueFull) {
		t.Fatalf("got %v, want ErrQueueFull after waiting", err)
	}
	if d := time.Since(start); d < 30*time.Millisecond {
		t.Errorf("gave up after %v, want 30ms", d)
	}
	// room made while Append waits lets it in
	go func() {
		time.Sleep(20 * time.Millisecond)
		s.Release(held)
	}()
	if err := s.Append(record(9999), 5*time.Second); err != nil {
		t.Errorf("got %v after a release, want nil", err)
	}
}

func TestOversizedRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, &spool.Options{SegmentBytes: 4096, MaxBytes: 8192})
	r := record(1)
	r.Details = []byte(fmt.Sprintf(`{"x":%q}`, make([]byte, 10000)))
	if err := s.Append(r, 0); err != nil {
		t.Fatalf("a record larger than MaxBytes in an empty spool: %v", err)
	}
	if err := s.Append(record(2), 0); !errors.Is(err, audit.ErrQueueFull) {
		t.Fatalf("beside it: got %v, want ErrQueueFull", err)
	}
	s.Close(context.Background())
	got := replayAll(t, open(t, dir, nil))
	if len(got) != 1 || string(got[0].Details) != string(r.Details) {
		t.Errorf("replayed %d records, want the large one", len(got))
	}
}

func TestOneProcessPerDirectory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, nil)
	if _, err := spool.Open(dir, nil); err == nil {
		t.Fatal("a second Open of a directory in use succeeded")
	}
	s.Close(context.Background())
	open(t, dir, nil)
}

func TestOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts spool.Options
	}{
		{"small segment", spool.Options{SegmentBytes: 100}},
		{"MaxBytes below two segments", spool.Options{SegmentBytes: 1 << 20, MaxBytes: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := spool.Open(t.TempDir(), &tt.opts); err == nil {
				t.Errorf("Open(%+v) succeeded, want an error", tt.opts)
			}
		})
	}
}

// threeRecords appends 3 records to a spool in dir and closes it; it
// returns the segment files and the first one's bytes.
func threeRecords(t *testing.T, dir string) ([]string, []byte) {
	t.Helper()
	s := open(t, dir, &spool.Options{SegmentBytes: 4096, MaxBytes: 1 << 20})
	for i := range 3 {
		if err := s.Append(record(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	s.Close(context.Background())
	segs := segments(t, dir)
	if len(segs) != 1 {
		t.Fatalf("segments %v, want 1", segs)
	}
	data, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	return segs, data
}

// TestTornAndCorrupt: a frame cut short ends a segment; a segment that is
// not one is renamed and reported, and the others are replayed.
func TestTornAndCorrupt(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	segs, data := threeRecords(t, dir)
	// a fourth frame half copied: its length, and a part of its payload
	end := len(data) - 1
	for data[end] == 0 {
		end--
	}
	end++
	copy(data[end:], []byte{200, 0, 0, 0, 1, 2, 3, 4, 1, 9, 9})
	if err := os.WriteFile(segs[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "0000000000000000.seg")
	if err := os.WriteFile(bad, []byte("not a segment"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, nil)
	var got []audit.Record
	err := s.Replay(10, func(rs []audit.Record) error { got = append(got, rs...); return nil })
	if err == nil {
		t.Error("Replay of a foreign file returned nil, want an error")
	}
	if len(got) != 3 {
		t.Errorf("replayed %d records, want 3", len(got))
	}
	if _, err := os.Stat(bad + ".corrupt"); err != nil {
		t.Errorf("the foreign file was not kept aside: %v", err)
	}
}

// TestReplayStops: an error of deliver stops Replay, and the segment is
// replayed again by the next call.
func TestReplayStops(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, nil)
	for i := range 10 {
		if err := s.Append(record(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	s.Close(context.Background())
	s = open(t, dir, nil)
	stop := errors.New("stop")
	if err := s.Replay(4, func([]audit.Record) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("got %v, want deliver's error", err)
	}
	if got := replayAll(t, s); len(got) != 10 {
		t.Errorf("replayed %d records after a stop, want 10", len(got))
	}
}

// failingStore fails every Append with a transient error.
type failingStore struct{}

func (failingStore) Append(context.Context, ...audit.Record) error { return errors.New("down") }

// TestLoggerKeepsWhatShutdownDrops: records a Logger could not write
// before Close gave up stay in the spool, and the next Logger writes
// them; a Logger that writes everything leaves no segment.
func TestLoggerKeepsWhatShutdownDrops(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	sp := open(t, dir, nil)
	var mu sync.Mutex
	var dropped int
	l, err := audit.New(failingStore{}, &audit.Options{
		NoLifecycleEvents: true,
		Async:             audit.AsyncOptions{Spool: sp, FlushInterval: time.Millisecond},
		OnError: func(err error) {
			var de *audit.DeliveryError
			if errors.As(err, &de) && de.Reason == audit.ReasonShutdown {
				mu.Lock()
				dropped += len(de.Records)
				mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var ids []uuid.UUID
	for i := range 50 {
		r := record(i)
		if err := l.Log(ctx, audit.Event{ID: r.ID, Action: r.Action, ResourceType: r.ResourceType, Status: r.Status}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := l.Close(cctx); err == nil {
		t.Fatal("Close with the store down returned nil")
	}
	if dropped != 50 {
		t.Fatalf("%d records dropped at shutdown, want 50", dropped)
	}
	sp.Close(context.Background())

	store := memory.New(nil)
	sp = open(t, dir, nil)
	l, err = audit.New(store, &audit.Options{NoLifecycleEvents: true, Async: audit.AsyncOptions{Spool: sp}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil { // after the replay
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if _, err := store.Get(ctx, id); err != nil {
			t.Errorf("record %v: %v", id, err)
		}
	}
	if s := l.Stats(); s.Accepted != 50 || s.Written != 50 {
		t.Errorf("Stats Accepted %d, Written %d, want 50 and 50", s.Accepted, s.Written)
	}
	sp.Close(context.Background())
	if n := segments(t, dir); len(n) != 0 {
		t.Errorf("segment files %v after everything was written, want none", n)
	}
}

// TestLoggerSpoolFull: a full spool refuses as the queue does, with the
// Logger's Overflow.
func TestLoggerSpoolFull(t *testing.T) {
	t.Parallel()
	sp := open(t, t.TempDir(), &spool.Options{SegmentBytes: 4096, MaxBytes: 8192})
	var mu sync.Mutex
	var full int
	l, err := audit.New(failingStore{}, &audit.Options{
		NoLifecycleEvents: true,
		Async:             audit.AsyncOptions{Spool: sp, Overflow: audit.OverflowDrop},
		OnError: func(err error) {
			if errors.Is(err, audit.ErrQueueFull) {
				mu.Lock()
				full++
				mu.Unlock()
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := audit.Event{Action: audit.ActionResourceRead, ResourceType: "document", Status: audit.StatusSuccess}
	for err == nil {
		err = l.Log(context.Background(), ev)
	}
	if !errors.Is(err, audit.ErrQueueFull) {
		t.Errorf("got %v, want ErrQueueFull", err)
	}
	if s := l.Stats(); s.Dropped[audit.ReasonQueueFull] != 1 || full != 1 {
		t.Errorf("Dropped[queue_full] %d, OnError told %d times, want 1 and 1", s.Dropped[audit.ReasonQueueFull], full)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	l.Close(ctx)
}

// TestReusedSegmentsReplayNoStaleRecord: a segment reused after all its
// records were released replays only what it holds since.
func TestReusedSegmentsReplayNoStaleRecord(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, &spool.Options{SegmentBytes: 4096, MaxBytes: 1 << 20})
	const n, held = 500, 10 // about 20 records a segment: each segment is reused many times
	for i := range n {
		r := record(i)
		if err := s.Append(r, 0); err != nil {
			t.Fatal(err)
		}
		if i < n-held {
			s.Release([]audit.Record{r})
		}
	}
	s.Close(context.Background())
	got := replayAll(t, open(t, dir, nil))
	seen := map[string]bool{}
	for _, r := range got {
		var i int
		fmt.Sscanf(r.ResourceID, "d-%d", &i)
		if i < n-held-25 || seen[r.ResourceID] {
			t.Errorf("replayed %s: released long ago, or twice", r.ResourceID)
		}
		seen[r.ResourceID] = true
	}
	for i := n - held; i < n; i++ {
		if !seen[fmt.Sprint("d-", i)] {
			t.Errorf("record d-%d, not released, was not replayed", i)
		}
	}
}

// TestFreedSegmentsHoldNothing: a segment file being zeroed for reuse
// when the process died (its header says freed, its frames are partly
// zeroed), or made and never written (all zero), is removed by Replay,
// neither replayed nor reported.
func TestFreedSegmentsHoldNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	segs, data := threeRecords(t, dir)
	copy(data, "TMSPFREE")
	clear(data[8:100]) // the rest of the header and a part of the first frame
	if err := os.WriteFile(segs[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "00000000000000ff.seg"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	got := replayAll(t, open(t, dir, nil))
	if len(got) != 0 {
		t.Errorf("replayed %d records, want 0", len(got))
	}
	if n := segments(t, dir); len(n) != 0 {
		t.Errorf("segment files %v left, want none", n)
	}
}

// TestSync: with Options.Sync, records are replayed as without it.
func TestSync(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, &spool.Options{Sync: true, SegmentBytes: 4096, MaxBytes: 1 << 20})
	for i := range 50 {
		if err := s.Append(record(i), 0); err != nil {
			t.Fatal(err)
		}
	}
	s.Close(context.Background())
	if got := replayAll(t, open(t, dir, nil)); len(got) != 50 {
		t.Errorf("replayed %d records, want 50", len(got))
	}
}

// TestConcurrentAppendRelease: appenders and a releaser at once, through
// reused segments and waits for room; everything released, nothing is
// left.
func TestConcurrentAppendRelease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, &spool.Options{SegmentBytes: 4096, MaxBytes: 4 * 4096})
	const writers, each = 4, 1000
	appended := make(chan audit.Record, 64)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				r := record(w*each + i)
				if err := s.Append(r, 10*time.Second); err != nil {
					t.Error(err)
					return
				}
				appended <- r
			}
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var batch []audit.Record
		for r := range appended {
			if batch = append(batch, r); len(batch) == 16 {
				s.Release(batch)
				batch = batch[:0]
			}
		}
		s.Release(batch)
	}()
	wg.Wait()
	close(appended)
	<-done
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := segments(t, dir); len(n) != 0 {
		t.Errorf("segment files %v after every record was released, want none", n)
	}
}

// TestSyncAppendRacesClose: with Sync, an Append flushes outside the
// Spool's lock; a Close at the same time used to unmap the segment under
// it (a panic in msync, found by an outside review). Close now waits for
// the flushes in progress.
func TestSyncAppendRacesClose(t *testing.T) {
	for round := range 50 {
		s, err := spool.Open(t.TempDir(), &spool.Options{Sync: true})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 100 {
					if err := s.Append(record(round*10000+g*1000+i), 0); err != nil {
						return
					}
				}
			})
		}
		time.Sleep(time.Millisecond)
		s.Close(context.Background())
		wg.Wait()
	}
}

// TestDamagedSegmentsAreReported: a damaged frame with frames after it,
// or a zero header before frames, is a corrupt segment (kept aside as
// .corrupt, Replay reports it), not the torn end of one, whose records
// would be removed without a word (found by an outside review: both lost
// every acknowledged record after the damage, silently).
func TestDamagedSegmentsAreReported(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		damage func([]byte)
	}{
		{"a flipped byte in the first frame", func(b []byte) { b[16+8+20] ^= 0xff }},
		{"a first frame's length past the end", func(b []byte) { binary.LittleEndian.PutUint32(b[16:], 1<<30) }},
		{"a zero header", func(b []byte) { clear(b[:8]) }},
	} {
		dir := t.TempDir()
		segs, data := threeRecords(t, dir)
		tt.damage(data)
		if err := os.WriteFile(segs[0], data, 0o600); err != nil {
			t.Fatal(err)
		}
		s := open(t, dir, nil)
		err := s.Replay(10, func([]audit.Record) error { return nil })
		corrupt, _ := filepath.Glob(filepath.Join(dir, "*.corrupt"))
		if err == nil || len(corrupt) != 1 {
			t.Errorf("%s: Replay %v, %d .corrupt files; want an error and the segment kept aside", tt.name, err, len(corrupt))
		}
	}
}

// TestStrayNamesKeepTheirNumbers: a directory named like a segment, or a
// segment kept aside as corrupt, takes its number: the spool neither
// fails every Append creating a segment over it, nor renames a later
// corrupt segment over the first (found by an outside review).
func TestStrayNamesKeepTheirNumbers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "0000000000000001.seg"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := open(t, dir, nil)
	for i := range 5 {
		if err := s.Append(record(i), 0); err != nil {
			t.Fatalf("Append %d beside a directory named like a segment: %v", i, err)
		}
	}
	s.Close(context.Background())

	dir = t.TempDir()
	for round := range 2 {
		s := open(t, dir, nil)
		if err := s.Append(record(round), 0); err != nil {
			t.Fatal(err)
		}
		s.Close(context.Background())
		segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		if len(segs) != 1 {
			t.Fatalf("round %d: segments %v, want 1", round, segs)
		}
		data, err := os.ReadFile(segs[0])
		if err != nil {
			t.Fatal(err)
		}
		copy(data, "GARBAGE!")
		if err := os.WriteFile(segs[0], data, 0o600); err != nil {
			t.Fatal(err)
		}
		s = open(t, dir, nil)
		if err := s.Replay(10, func([]audit.Record) error { return nil }); err == nil {
			t.Fatalf("round %d: a corrupt segment replayed without an error", round)
		}
		s.Close(context.Background())
	}
	if corrupt, _ := filepath.Glob(filepath.Join(dir, "*.corrupt")); len(corrupt) != 2 {
		t.Errorf(".corrupt files %v after two corrupt segments, want 2", corrupt)
	}
}

// TestOpenRefusesAWritableDirectory: a spool directory that its group or
// others may write to is refused: a segment planted there would be
// replayed into the audit log (suspected by an outside review).
func TestOpenRefusesAWritableDirectory(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file modes do not say who may write on Windows")
	}
	t.Parallel()
	for _, tt := range []struct {
		mode os.FileMode
		ok   bool
	}{{0o700, true}, {0o755, true}, {0o775, false}, {0o777, false}, {0o1777, false}} {
		dir := filepath.Join(t.TempDir(), "spool")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tt.mode); err != nil {
			t.Fatal(err)
		}
		s, err := spool.Open(dir, nil)
		if (err == nil) != tt.ok {
			t.Errorf("mode %04o: %v, want ok %v", tt.mode, err, tt.ok)
		}
		if err == nil {
			s.Close(context.Background())
		}
	}
}

// TestUnappendForgetsTheNewestOfAnID: of two records of one ID in two
// segments, Unappend forgets the newer (the Logger's queue refused it),
// so the older, still waiting in memory, keeps its segment; Release
// forgot the older one (suspected by an outside review).
func TestUnappendForgetsTheNewestOfAnID(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, dir, &spool.Options{SegmentBytes: 4096, MaxBytes: 1 << 20})
	first := record(0)
	if err := s.Append(first, 0); err != nil {
		t.Fatal(err)
	}
	var fillers []audit.Record
	for i := 1; len(segments(t, dir)) < 2; i++ {
		r := record(i)
		if err := s.Append(r, 0); err != nil {
			t.Fatal(err)
		}
		fillers = append(fillers, r)
	}
	again := record(9999)
	again.ID, again.ResourceID = first.ID, "the newer of the ID"
	if err := s.Append(again, 0); err != nil {
		t.Fatal(err)
	}
	s.Unappend(again)
	s.Release(fillers) // the first segment now holds only first
	s.Close(context.Background())
	// a segment with a record held replays whole (its released records
	// again: at least once); the older record of the ID must be there,
	// the newer must not
	var older, newer int
	for _, r := range replayAll(t, open(t, dir, nil)) {
		switch {
		case r.ID == first.ID && r.ResourceID == first.ResourceID:
			older++
		case r.ID == first.ID:
			newer++
		}
	}
	if older != 1 || newer != 0 {
		t.Errorf("replayed the older record of the ID %d times and the newer %d; want 1 and 0", older, newer)
	}
}
