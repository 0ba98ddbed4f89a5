package spool

import (
	"os"

	"golang.org/x/sys/unix"
)

// preallocate allocates the blocks of f's first size bytes.
func preallocate(f *os.File, size int64) error {
	err := unix.Fallocate(int(f.Fd()), 0, 0, size)
	if err == unix.EOPNOTSUPP || err == unix.ENOSYS {
		return zeroFill(f, size)
	}
	return err
}
