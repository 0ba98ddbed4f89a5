package spool

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
)

var _ audit.Spool = (*Spool)(nil)

// Defaults of the options.
const (
	DefaultMaxBytes     = 256 << 20
	DefaultSegmentBytes = 1 << 20
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("audit: spool: closed")

// A segment file starts with a header: magic, then the segment's sequence
// number (uint64, little endian), which orders segments for Replay; 0 in
// a segment kept for reuse. The frames follow.
const (
	magic = "TMSPOOL1"
	// freed marks a segment being zeroed for reuse: reset writes it over
	// magic first and zeroes it last, so that a segment whose header is
	// zero but whose body is not was not left so by the spool
	freed     = "TMSPFREE"
	headerLen = 16 // len(magic) + 8
)

// maxFree is how many segments whose records were all released are kept,
// mapped and zeroed, for reuse: making a file and its mapping costs more
// than the records of a segment do.
const maxFree = 4

// Options configures a Spool. The zero value (and nil) means the
// defaults; Open copies it.
type Options struct {
	// MaxBytes bounds the disk space of the spool: the size of its segment
	// files, those of an earlier process not yet replayed included. A
	// segment is removed when every record in it has been released, so
	// one record the store has not accepted holds its whole segment.
	// When a new segment would pass MaxBytes, Append waits for room as
	// the Logger's Overflow says. At least 2×SegmentBytes. Default 256
	// MiB.
	MaxBytes int64
	// SegmentBytes is the size of one segment file. A record larger than
	// a segment gets a segment of its own size. Default 1 MiB.
	SegmentBytes int64
	// Sync makes Append return only once its record is on the disk
	// (msync), so that a power loss or a kernel crash loses nothing
	// either. Without it, a record is in the page cache when Append
	// returns: it survives the death of the process (SIGKILL, a panic,
	// the OOM killer), not that of the machine. It costs a disk flush per
	// Append.
	Sync bool
}

// Spool is an audit.Spool in a directory: segment files into which
// Append copies each record through a shared memory mapping (on Unix; a
// write per record elsewhere), so that the record is in the kernel's page
// cache, and survives the process, as soon as Append returns. One
// process at a time may open a directory (an advisory lock on Unix).
//
// A Spool is safe for concurrent use. It starts no goroutine.
type Spool struct {
	dir  string
	cfg  Options
	lock *os.File

	bufs sync.Pool // *[]byte: a frame being encoded

	replaying sync.Mutex // one Replay at a time

	mu       sync.Mutex
	active   *segment   // the segment appended to; nil until the first Append
	live     []*segment // this process's segments with records held, oldest first; active too
	free     []*segment // zeroed segments kept for reuse
	leftover []leftover // the segment files of an earlier process not replayed yet, oldest first
	bytes    int64      // the size of all segment files
	next     uint64     // the sequence number of the next segment
	room     chan struct{}
	closed   bool
	spare    map[uuid.UUID]int32 // a retired segment's map, for reuse
}

// Open opens the spool in dir, creating the directory (mode 0700) if it
// does not exist. It refuses, on Unix, a directory its group or others
// may write to: a segment planted there would be replayed into the audit
// log. The segment files an earlier process left there are
// replayed by Replay, which the Logger calls. Close the spool after the
// Logger.
func Open(dir string, opts *Options) (*Spool, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SegmentBytes == 0 {
		o.SegmentBytes = DefaultSegmentBytes
	}
	switch {
	case o.SegmentBytes < 4096:
		return nil, fmt.Errorf("audit: spool: Options.SegmentBytes %d: want at least 4096", o.SegmentBytes)
	case o.MaxBytes < 2*o.SegmentBytes:
		return nil, fmt.Errorf("audit: spool: Options.MaxBytes %d: want at least 2×SegmentBytes (%d)", o.MaxBytes, 2*o.SegmentBytes)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: spool: %w", err)
	}
	if err := checkDirMode(dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, cfg: o, lock: lock, room: make(chan struct{}), next: 1}
	if err := s.findLeftover(); err != nil {
		lock.Close()
		return nil, err
	}
	return s, nil
}

// leftover is a segment file of an earlier process.
type leftover struct {
	name string
	seq  uint64 // from its header; 0 if it has none
}

// findLeftover lists the segment files in the directory, oldest first,
// and counts their bytes.
func (s *Spool) findLeftover() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("audit: spool: %w", err)
	}
	for _, e := range ents {
		// every name of a segment's number, a segment kept aside as
		// corrupt or a stray entry, takes its number: a new segment is
		// never created over it, nor renamed onto it
		if num, ok := segmentNumber(strings.TrimSuffix(e.Name(), ".corrupt")); ok {
			s.next = max(s.next, num+1)
		}
		num, ok := segmentNumber(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		f, err := os.Open(filepath.Join(s.dir, e.Name()))
		if err != nil {
			return fmt.Errorf("audit: spool: %w", err)
		}
		var h [headerLen]byte
		_, rerr := io.ReadFull(f, h[:])
		info, err := f.Stat()
		f.Close()
		if err != nil {
			return fmt.Errorf("audit: spool: %w", err)
		}
		var seq uint64
		if rerr == nil && string(h[:len(magic)]) == magic {
			seq = binary.LittleEndian.Uint64(h[len(magic):])
		}
		s.leftover = append(s.leftover, leftover{e.Name(), seq})
		s.bytes += info.Size()
		s.next = max(s.next, num+1, seq+1)
	}
	slices.SortFunc(s.leftover, func(a, b leftover) int { return cmp.Compare(a.seq, b.seq) })
	return nil
}

// segmentName is the file name of segment num: its number in 16 hex
// digits, so that names sort in the order segments were made.
func segmentName(num uint64) string { return fmt.Sprintf("%016x.seg", num) }

func segmentNumber(name string) (uint64, bool) {
	hex, ok := strings.CutSuffix(name, ".seg")
	if !ok || len(hex) != 16 {
		return 0, false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	return n, err == nil
}

// Append copies rec to the spool. When a new segment is needed and would
// pass MaxBytes, it waits up to wait for records to be released, then
// returns an error wrapping audit.ErrQueueFull.
func (s *Spool) Append(rec audit.Record, wait time.Duration) error {
	bp, _ := s.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	frame := appendFrame((*bp)[:0], &rec)
	defer func() {
		*bp = frame
		s.bufs.Put(bp)
	}()
	var timer *time.Timer
	s.mu.Lock()
	for {
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		g := s.active
		if g != nil && int64(len(frame)) <= g.size-g.off {
			off := g.off
			if err := g.write(frame); err != nil {
				s.mu.Unlock()
				return err
			}
			g.off += int64(len(frame))
			g.held[rec.ID]++
			g.n++
			if !s.cfg.Sync {
				s.mu.Unlock()
				return nil
			}
			// flushed outside the lock: close (Close, Release) waits
			// for it before it unmaps the segment
			g.syncs.Add(1)
			s.mu.Unlock()
			defer g.syncs.Done()
			return g.sync(off, int64(len(frame)))
		}
		size := max(s.cfg.SegmentBytes, int64(headerLen+len(frame)+frameHeader))
		if g != nil && g.n == 0 {
			s.retire(g) // full and empty: make room for the next
		}
		reuse := size == s.cfg.SegmentBytes && len(s.free) > 0
		if !reuse && s.bytes+size > s.cfg.MaxBytes {
			s.dropFree() // room for a segment larger than the others
		}
		if reuse || s.bytes+size <= s.cfg.MaxBytes || s.bytes == 0 {
			if err := s.rotate(size); err != nil {
				s.mu.Unlock()
				return err
			}
			continue
		}
		room, held := s.room, s.bytes
		s.mu.Unlock()
		if wait <= 0 {
			return fmt.Errorf("audit: spool: %s holds %d bytes (MaxBytes %d): %w", s.dir, held, s.cfg.MaxBytes, audit.ErrQueueFull)
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-room:
		case <-timer.C:
			return fmt.Errorf("audit: spool: %s full for %v (MaxBytes %d): %w", s.dir, wait, s.cfg.MaxBytes, audit.ErrQueueFull)
		}
		s.mu.Lock()
	}
}

// rotate makes a new active segment of size bytes: a free one, or a new
// file. s.mu must be held.
func (s *Spool) rotate(size int64) error {
	seq := s.next
	var g *segment
	if n := len(s.free); n > 0 && size == s.cfg.SegmentBytes {
		g, s.free = s.free[n-1], s.free[:n-1]
		s.bytes -= size // counted again below
	} else {
		var err error
		if g, err = createSegment(filepath.Join(s.dir, segmentName(seq)), size); err != nil {
			return err
		}
	}
	var h [headerLen]byte
	copy(h[:], magic)
	binary.LittleEndian.PutUint64(h[len(magic):], seq)
	g.off = 0
	err := g.write(h[:])
	if err == nil && s.cfg.Sync {
		err = g.sync(0, headerLen)
		if err == nil {
			err = syncDir(s.dir)
		}
	}
	if err != nil {
		g.remove()
		return err
	}
	g.off = headerLen
	s.next++
	g.held = s.spare
	s.spare = nil
	if g.held == nil {
		g.held = make(map[uuid.UUID]int32)
	}
	s.bytes += size
	s.active = g
	s.live = append(s.live, g)
	return nil
}

// retire frees g, which holds no record: it is zeroed and kept for reuse,
// or removed. s.mu must be held.
func (s *Spool) retire(g *segment) {
	switch {
	case len(s.free) < maxFree && g.size == s.cfg.SegmentBytes && !s.closed && g.reset() == nil:
		s.free = append(s.free, g)
	default:
		if err := g.remove(); err == nil {
			s.bytes -= g.size
		}
	}
	s.live = slices.DeleteFunc(s.live, func(h *segment) bool { return h == g })
	if s.active == g {
		s.active = nil
	}
	clear(g.held)
	s.spare, g.held = g.held, nil
	s.signal()
}

// dropFree removes the segments kept for reuse. s.mu must be held.
func (s *Spool) dropFree() {
	for _, g := range s.free {
		if err := g.remove(); err == nil {
			s.bytes -= g.size
		}
	}
	s.free = nil
}

// signal wakes the Appends waiting for room. s.mu must be held.
func (s *Spool) signal() {
	close(s.room)
	s.room = make(chan struct{})
}

// Release forgets recs, each in the oldest segment that holds its ID: a
// record stored is the oldest of its ID. A segment whose records are all
// released is removed, unless Append is still filling it.
func (s *Spool) Release(recs []audit.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range recs {
		for _, g := range s.live {
			if s.forget(g, recs[i].ID) {
				break
			}
		}
	}
}

// Unappend forgets rec in the newest segment that holds its ID: the
// record just appended, which its caller did not keep after all (the
// Logger's queue was full). Release would forget an older record of the
// same ID, still waiting in memory, and let its segment go.
func (s *Spool) Unappend(rec audit.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.live) - 1; i >= 0; i-- {
		if s.forget(s.live[i], rec.ID) {
			return
		}
	}
}

// forget forgets one record of id in g, if g holds one, and retires g when
// it holds no more and is not being filled. s.mu must be held.
func (s *Spool) forget(g *segment, id uuid.UUID) bool {
	c, ok := g.held[id]
	if !ok {
		return false
	}
	if c == 1 {
		delete(g.held, id)
	} else {
		g.held[id] = c - 1
	}
	g.n--
	if g.n == 0 && g != s.active {
		s.retire(g)
	}
	return true
}

// Replay calls deliver with the records of the segment files that were
// in the directory when the spool was opened, oldest first, at most n at a
// time, and removes each file once deliver has returned nil for all its
// records. It stops at deliver's first error and returns it. A segment
// whose CRC-valid records cannot be decoded is renamed to end in
// ".corrupt", kept for inspection, and named in the error Replay returns
// after replaying the others. Records the last process was copying when
// it died (their Append had not returned) are skipped: a segment ends at
// the first frame that is incomplete.
func (s *Spool) Replay(n int, deliver func([]audit.Record) error) error {
	n = max(n, 1)
	s.replaying.Lock()
	defer s.replaying.Unlock()
	var errs []error
	for {
		s.mu.Lock()
		if len(s.leftover) == 0 || s.closed {
			s.mu.Unlock()
			return errors.Join(errs...)
		}
		name := s.leftover[0].name
		s.mu.Unlock()
		path := filepath.Join(s.dir, name)
		size, err := replayFile(path, n, deliver)
		var corrupt *corruptError
		switch {
		case errors.As(err, &corrupt):
			errs = append(errs, err)
			if err := os.Rename(path, path+".corrupt"); err != nil {
				return errors.Join(append(errs, fmt.Errorf("audit: spool: %w", err))...)
			}
		case err != nil:
			return errors.Join(append(errs, err)...)
		default:
			if err := os.Remove(path); err != nil {
				return errors.Join(append(errs, fmt.Errorf("audit: spool: %w", err))...)
			}
		}
		s.mu.Lock()
		s.leftover = s.leftover[1:]
		s.bytes -= size
		s.signal()
		s.mu.Unlock()
	}
}

// corruptError is a segment whose records cannot be decoded.
type corruptError struct {
	path string
	err  error
}

func (e *corruptError) Error() string { return fmt.Sprintf("audit: spool: %s: %v", e.path, e.err) }
func (e *corruptError) Unwrap() error { return e.err }

// replayFile delivers the records of the segment file at path, n at a
// time, and returns the file's size.
func replayFile(path string, n int, deliver func([]audit.Record) error) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("audit: spool: %w", err)
	}
	size := int64(len(data))
	if len(data) < headerLen || string(data[:len(magic)]) != magic {
		switch head := data[:min(len(data), len(magic))]; {
		case string(head) == freed:
			// being zeroed for reuse: its records were all released
			return size, nil
		case allZero(data):
			// created and never written, or zeroed for reuse
			return size, nil
		case allZero(head):
			return size, &corruptError{path, fmt.Errorf("%w: a zero header before frames", errCorrupt)}
		}
		return size, &corruptError{path, fmt.Errorf("%w: not a spool segment", errCorrupt)}
	}
	recs, err := decodeSegment(data[headerLen:])
	if err != nil {
		return size, &corruptError{path, err}
	}
	for len(recs) > 0 {
		b := recs[:min(n, len(recs))]
		if err := deliver(b); err != nil {
			return size, err
		}
		recs = recs[len(b):]
	}
	return size, nil
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// decodeSegment decodes the frames of a segment, up to the first that is
// incomplete: the last one, torn by a crash while it was written. What
// follows a torn frame is zero; anything else after it is a damaged frame
// with frames after it, an error (they would be lost without a word).
func decodeSegment(b []byte) ([]audit.Record, error) {
	var recs []audit.Record
	for {
		p, size, ok := nextFrame(b)
		if !ok {
			if !tornTail(b) {
				return nil, fmt.Errorf("%w: a damaged frame after %d records, with data after it", errCorrupt, len(recs))
			}
			return recs, nil
		}
		r, err := decodeRecord(p)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r)
		b = b[size:]
	}
}

// Close closes the spool. Segments whose records have all been released
// are removed; the others stay, for the next process to replay. Close is
// safe to call twice; Append then returns ErrClosed. It does not wait:
// ctx is there for the one Close signature of the module.
func (s *Spool) Close(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	for _, g := range slices.Clone(s.live) {
		if g.n == 0 {
			s.retire(g)
			continue
		}
		if err := g.close(); err != nil {
			errs = append(errs, err)
		}
	}
	s.dropFree()
	s.live, s.active = nil, nil
	if err := s.lock.Close(); err != nil { // releases the lock
		errs = append(errs, fmt.Errorf("audit: spool: %w", err))
	}
	s.signal()
	return errors.Join(errs...)
}

// remove closes and removes a segment's file.
func (g *segment) remove() error {
	err := g.close()
	if rerr := os.Remove(g.path); err == nil && rerr != nil {
		err = fmt.Errorf("audit: spool: %w", rerr)
	}
	return err
}
