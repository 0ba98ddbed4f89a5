//go:build !linux

package audit_test

import "time"

// threadCPU reports that the CPU time of a thread cannot be read here.
func threadCPU() (time.Duration, bool) { return 0, false }
