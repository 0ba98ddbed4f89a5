package audit

import (
	"bytes"
	"context"
	"encoding/json"
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

	for range slabMin/2/1024 - 1 {
		s.alloc(1024)
	}
	s.refill()
	if s.cur.Load() != c {
		t.Fatal("refill replaced a slab less than half used")
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
	// asked: slabMin/2 - 1024 + 3*slabMin, twice that rounded up to 4 KiB
	if want := (2*(slabMin/2-1024+3*slabMin) + 4095) &^ 4095; len(c2.buf) != want {
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
