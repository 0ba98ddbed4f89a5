package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"
)

// inSlab reports whether b lies in c's memory.
func inSlab(c *slab, b []byte) bool {
	if len(b) == 0 {
		return false
	}
	lo := uintptr(unsafe.Pointer(unsafe.SliceData(c.buf)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= lo && p+uintptr(len(b)) <= lo+uintptr(len(c.buf))
}

func TestSlabsAlloc(t *testing.T) {
	var nilSlabs *slabs
	if b := nilSlabs.alloc(10); len(b) != 10 {
		t.Fatalf("nil slabs: got %d bytes, want 10", len(b))
	}

	var s slabs
	if b := s.alloc(0); b != nil || s.want.Load() {
		t.Fatal("alloc(0) returned bytes, or asked for a slab")
	}
	if b := s.alloc(10); len(b) != 10 || !s.want.Load() {
		t.Fatalf("no slab yet: got %d bytes, want %v; want 10 bytes and want set", len(b), s.want.Load())
	}
	s.refill()
	c := s.cur.Load()
	if c == nil || len(c.buf) != slabMin || s.want.Load() {
		t.Fatalf("after refill: slab %v, want %v; want a slab of %d bytes and want cleared", c != nil, s.want.Load(), slabMin)
	}

	a, b := s.alloc(5), s.alloc(7)
	if !inSlab(c, a) || !inSlab(c, b) || len(a) != 5 || len(b) != 7 || cap(a) != 5 || cap(b) != 7 {
		t.Fatalf("carved: len %d/%d cap %d/%d in slab %v/%v; want 5/7 bytes of their own capacity in the slab",
			len(a), len(b), cap(a), cap(b), inSlab(c, a), inSlab(c, b))
	}
	copy(a, "aaaaa")
	copy(b, "bbbbbbb")
	a = append(a, 'x') // must not write over b
	if string(b) != "bbbbbbb" || string(a) != "aaaaax" {
		t.Fatalf("append to one carving changed the next: a %q, b %q", a, b)
	}
	if big := s.alloc(slabMax + 1); inSlab(c, big) {
		t.Fatal("a carving larger than slabMax came from the slab")
	}
	// fill the slab: what does not fit is allocated, and the slab is not
	// replaced until the batcher's turn
	for range slabMin / slabMax {
		s.alloc(slabMax)
	}
	if extra := s.alloc(100); inSlab(c, extra) || len(extra) != 100 || s.cur.Load() != c {
		t.Fatal("a carving past the end of the slab came from it, or the slab changed")
	}
}

func TestSlabsRefill(t *testing.T) {
	var s slabs
	s.refill()
	if s.cur.Load() != nil {
		t.Fatal("refill made a slab that no Log asked for")
	}
	s.alloc(1)
	s.refill()
	c := s.cur.Load()

	for range slabMin/4*3/1024 - 1 {
		s.alloc(1024)
	}
	s.refill()
	if s.cur.Load() != c {
		t.Fatal("refill replaced a slab less than three quarters used")
	}

	// 3 × slabMin asked of a slabMin slab: the next holds twice that
	for range 3 * slabMin / slabMax {
		s.alloc(slabMax)
	}
	s.refill()
	c2 := s.cur.Load()
	if c2 == c {
		t.Fatal("refill kept a used slab")
	}
	// asked: slabMin/4*3 - 1024 + 3*slabMin, twice that rounded up to 4 KiB
	if want := (2*(slabMin/4*3-1024+3*slabMin) + 4095) &^ 4095; len(c2.buf) != want {
		t.Fatalf("new slab of %d bytes, want %d (twice what was asked, in pages)", len(c2.buf), want)
	}

	for range 4 * slabCap / slabMax {
		s.alloc(slabMax)
	}
	s.refill()
	if c3 := s.cur.Load(); len(c3.buf) != slabCap {
		t.Fatalf("new slab of %d bytes, want the cap %d", len(c3.buf), slabCap)
	}
}

// keepingStore keeps the records it is given as they are, sharing their
// memory, as a store that does not copy Details would.
type keepingStore struct {
	mu   sync.Mutex
	recs []Record
}

func (s *keepingStore) Append(_ context.Context, rs ...Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs = append(s.recs, rs...)
	return nil
}

// TestAsyncDetailsShared logs, from several goroutines at once, events
// whose encoded details are carved from shared slabs, of every size up to
// past slabMax, and checks that every record the store kept still holds
// its own details and changes once all are written: no carving overlaps
// another or is written after it was queued.
func TestAsyncDetailsShared(t *testing.T) {
	s := &keepingStore{}
	l, err := New(s, &Options{NoLifecycleEvents: true, Async: AsyncOptions{BatchSize: 64, FlushInterval: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	const goroutines, each = 4, 1500
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				pad := strings.Repeat(string(rune('a'+g)), (i*37)%(slabMax+200))
				ev := Event{
					Action: ActionResourceUpdate, ResourceType: "doc", ResourceID: fmt.Sprintf("%d-%d", g, i), Status: StatusSuccess,
					Details: map[string]any{"g": g, "i": i, "pad": pad},
				}
				if i%3 == 0 {
					ev.Changes = map[string]Change{"title": {Before: pad, After: i}}
				}
				if err := l.Log(ctx, ev); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(s.recs) != goroutines*each {
		t.Fatalf("%d records, want %d", len(s.recs), goroutines*each)
	}
	for _, r := range s.recs {
		var g, i int
		if _, err := fmt.Sscanf(r.ResourceID, "%d-%d", &g, &i); err != nil {
			t.Fatal(err)
		}
		pad := strings.Repeat(string(rune('a'+g)), (i*37)%(slabMax+200))
		want, _ := json.Marshal(map[string]any{"g": g, "i": i, "pad": pad})
		if !bytes.Equal(r.Details, want) {
			t.Fatalf("record %s: details %.80s…, want %.80s…", r.ResourceID, r.Details, want)
		}
		var wantCh []byte
		if i%3 == 0 {
			wantCh, _ = json.Marshal(map[string]any{"title": map[string]any{"before": pad, "after": i}})
		}
		if !bytes.Equal(r.Changes, wantCh) {
			t.Fatalf("record %s: changes %.80s…, want %.80s…", r.ResourceID, r.Changes, wantCh)
		}
	}
}

// failingStore refuses every record, once gate (if set) lets it.
type failingStore struct {
	mu   sync.Mutex
	gate chan struct{}
}

type refused struct{}

func (refused) Error() string   { return "refused" }
func (refused) Permanent() bool { return true }

func (s *failingStore) Append(context.Context, ...Record) error {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return refused{}
}

// TestSlabsKeptFromUsers: the records an OnError gets share no memory with
// a slab (one it kept would hold the whole slab); an event whose details
// are annotated, or that has only a note, carves nothing; the batcher
// drops its slab when the Logger closes.
func TestSlabsKeptFromUsers(t *testing.T) {
	var mu sync.Mutex
	var failed []Record
	fs := &failingStore{}
	l, err := New(fs, &Options{NoLifecycleEvents: true,
		Async: AsyncOptions{QueueSize: 8, BatchSize: 8, FlushInterval: time.Hour, Overflow: OverflowDrop},
		OnError: func(err error) {
			var de *DeliveryError
			if errors.As(err, &de) {
				mu.Lock()
				failed = append(failed, de.Records...)
				mu.Unlock()
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ev := Event{Action: ActionResourceUpdate, ResourceType: "doc", Status: StatusSuccess, Details: map[string]any{"a": 1}}
	l.Log(ctx, ev) // no slab yet: this one asks for it
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c := l.q.mem.cur.Load()
	if c == nil {
		t.Fatal("no slab after a Log with details and a Flush")
	}

	noted := ev
	noted.TraceID = "not-a-trace-id" // dropped, with a note in the details
	l.Log(ctx, noted)
	bare := Event{Action: ActionResourceUpdate, ResourceType: "doc", Status: StatusSuccess, TraceID: "not-a-trace-id"}
	l.Log(ctx, bare)
	if off := c.off.Load(); off != 0 {
		t.Errorf("annotated events carved %d bytes from the slab, want 0", off)
	}

	// the batcher takes a full batch and waits in the store; the queue
	// fills behind it, and the next event is refused and reported at once
	gate := make(chan struct{})
	fs.mu.Lock()
	fs.gate = gate
	fs.mu.Unlock()
	for range 6 + 8 {
		if err := l.Log(ctx, ev); err != nil {
			t.Fatal(err)
		}
		for start := time.Now(); l.q.len() == 8 && l.q.inflight.Load() == 0; {
			if time.Since(start) > 10*time.Second {
				t.Fatal("the batcher did not take a full batch")
			}
			time.Sleep(time.Millisecond) // until the batcher took the first 8
		}
	}
	if err := l.Log(ctx, ev); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Log on a full queue: %v, want ErrQueueFull", err)
	}
	close(gate)
	if c.off.Load() == 0 {
		t.Fatal("no event carved its details from the slab")
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if l.q.mem.cur.Load() != nil {
		t.Error("the Logger kept its slab after Close")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failed) != 18 {
		t.Fatalf("OnError got %d records, want 18", len(failed))
	}
	for _, r := range failed {
		if inSlab(c, r.Details) || inSlab(c, r.Changes) {
			t.Fatalf("a record handed to OnError shares the slab: %s", r.Details)
		}
	}
}
