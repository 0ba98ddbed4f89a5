//go:build unix

package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"
)

// segment is one segment file, mapped into memory (MAP_SHARED): bytes
// copied into the mapping are the file's page cache, which outlives the
// process.
type segment struct {
	path string
	f    *os.File
	m    []byte
	size int64
	off  int64               // the end of the frames
	held map[uuid.UUID]int32 // the records held, by ID: how many times each
	n    int                 // the records held
	// syncs are the Sync Appends flushing it outside the Spool's lock:
	// close waits for them
	syncs sync.WaitGroup
}

// createSegment creates the segment file at path, size bytes long, its
// blocks allocated so that copying into the mapping never meets a full
// disk, and maps it. The caller writes its header.
func createSegment(path string, size int64) (*segment, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: spool: %w", err)
	}
	err = preallocate(f, size)
	var m []byte
	if err == nil {
		m, err = unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	}
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("audit: spool: segment %s: %w", path, err)
	}
	return &segment{path: path, f: f, m: m, size: size}, nil
}

// reset zeroes what was written to g, for reuse.
func (g *segment) reset() (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("audit: spool: write to %s: %v", g.path, r)
		}
	}()
	// the header says "freed" until the rest is zero, then is zeroed: a
	// crash midway leaves no stale frame under a zero header
	copy(g.m, freed)
	clear(g.m[len(freed):g.off])
	clear(g.m[:len(freed)])
	return nil
}

// write copies frame to the mapping at g.off. A fault (the disk full on a
// file system that allocates on write, an I/O error) is an error rather
// than the death of the process.
func (g *segment) write(frame []byte) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("audit: spool: write to %s: %v", g.path, r)
		}
	}()
	copy(g.m[g.off:], frame)
	return nil
}

// sync writes the pages holding n bytes from off to the disk.
func (g *segment) sync(off, n int64) error {
	page := int64(os.Getpagesize())
	start := off / page * page
	if err := unix.Msync(g.m[start:off+n], unix.MS_SYNC); err != nil {
		return fmt.Errorf("audit: spool: msync %s: %w", g.path, err)
	}
	return nil
}

// close unmaps and closes the file.
func (g *segment) close() error {
	g.syncs.Wait()
	err := unix.Munmap(g.m)
	g.m = nil
	if cerr := g.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("audit: spool: close %s: %w", g.path, err)
	}
	return nil
}

// syncDir syncs the directory dir, so that a file created in it survives
// a power loss.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// checkDirMode refuses a spool directory that users other than its
// owner may write to: whatever segment they put there would be replayed
// into the audit log as the records of this process.
func checkDirMode(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("audit: spool: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return fmt.Errorf("audit: spool: directory %s has mode %04o: its group or others may write segments that would be replayed into the audit log; run chmod go-w %s", dir, perm, dir)
	}
	return nil
}

// lockDir takes an exclusive advisory lock on dir's file LOCK, which
// holds while the returned file is open.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: spool: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("audit: spool: %s is in use by another process: %w", dir, err)
	}
	return f, nil
}
