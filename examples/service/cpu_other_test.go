//go:build !linux && !nopostgres

package main

import "time"

// processCPU reports that the process's CPU time is not read here.
func processCPU() (time.Duration, bool) { return 0, false }

// pidCPU reports that a process's CPU time is not read here.
func pidCPU(int) (time.Duration, bool) { return 0, false }
