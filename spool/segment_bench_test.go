//go:build unix

package spool

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkSegmentWrite compares the two ways of putting a record's frame
// in the page cache: a copy into the segment's shared mapping (what Append
// does on Unix) and a pwrite system call per frame (what a spool without
// mmap would do, one write per record or per batch of concurrent callers).
func BenchmarkSegmentWrite(b *testing.B) {
	rec := codecRecords()[1].rec
	frame := appendFrame(nil, &rec)
	const size = 1 << 20
	b.Run("mmap", func(b *testing.B) {
		g, err := createSegment(filepath.Join(b.TempDir(), "s"), size)
		if err != nil {
			b.Fatal(err)
		}
		defer g.remove()
		b.SetBytes(int64(len(frame)))
		for b.Loop() {
			if g.off+int64(len(frame)) > size {
				g.reset()
				g.off = 0
			}
			if err := g.write(frame); err != nil {
				b.Fatal(err)
			}
			g.off += int64(len(frame))
		}
	})
	b.Run("pwrite", func(b *testing.B) {
		f, err := os.Create(filepath.Join(b.TempDir(), "s"))
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		if err := preallocate(f, size); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(frame)))
		var off int64
		for b.Loop() {
			if off+int64(len(frame)) > size {
				off = 0
			}
			if _, err := f.WriteAt(frame, off); err != nil {
				b.Fatal(err)
			}
			off += int64(len(frame))
		}
	})
}
