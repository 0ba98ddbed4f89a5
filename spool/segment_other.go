//go:build !unix

package spool

import (
	"fmt"
	"os"
	"sync"

	"github.com/google/uuid"
)

// segment is one segment file, written with one write per record: a
// written record is in the operating system's cache, which outlives the
// process.
type segment struct {
	path string
	f    *os.File
	size int64
	off  int64               // the end of the frames
	held map[uuid.UUID]int32 // the records held, by ID: how many times each
	n    int                 // the records held
	// syncs are the Sync Appends flushing it outside the Spool's lock:
	// close waits for them
	syncs sync.WaitGroup
}

// createSegment creates the segment file at path, size bytes of zeros.
// The caller writes its header.
func createSegment(path string, size int64) (*segment, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: spool: %w", err)
	}
	if err := preallocate(f, size); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("audit: spool: segment %s: %w", path, err)
	}
	return &segment{path: path, f: f, size: size}, nil
}

// reset zeroes what was written to g, for reuse.
func (g *segment) reset() error {
	// the header says "freed" until the rest is zero (see segment_unix.go)
	if _, err := g.f.WriteAt([]byte(freed), 0); err != nil {
		return fmt.Errorf("audit: spool: %w", err)
	}
	if err := zeroFill(g.f, g.off); err != nil {
		return fmt.Errorf("audit: spool: %w", err)
	}
	return nil
}

// write writes frame to the file at g.off.
func (g *segment) write(frame []byte) error {
	if _, err := g.f.WriteAt(frame, g.off); err != nil {
		return fmt.Errorf("audit: spool: %w", err)
	}
	return nil
}

// sync writes the file to the disk.
func (g *segment) sync(off, n int64) error {
	if err := g.f.Sync(); err != nil {
		return fmt.Errorf("audit: spool: %w", err)
	}
	return nil
}

func (g *segment) close() error {
	g.syncs.Wait()
	if err := g.f.Close(); err != nil {
		return fmt.Errorf("audit: spool: close %s: %w", g.path, err)
	}
	return nil
}

// checkDirMode does nothing on this system: its file modes do not say
// who may write (use the directory's ACL).
func checkDirMode(string) error { return nil }

// lockDir opens dir's file LOCK. There is no lock on this system: do not
// open one directory from two processes.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(dir+string(os.PathSeparator)+"LOCK", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: spool: %w", err)
	}
	return f, nil
}

// syncDir does nothing: directories cannot be synced here.
func syncDir(string) error { return nil }
