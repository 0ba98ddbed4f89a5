//go:build !linux

package spool

import "os"

// preallocate allocates the blocks of f's first size bytes.
func preallocate(f *os.File, size int64) error { return zeroFill(f, size) }
