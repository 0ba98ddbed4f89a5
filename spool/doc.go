// Package spool keeps a Logger's Async records in local files from the
// moment Log accepts them until the store has them, so that a process
// killed with records queued loses none: the next Logger on the same
// directory writes them.
//
//	sp, err := spool.Open("/var/lib/myapp/audit-spool", nil)
//	if err != nil { … }
//	logger, err := audit.New(store, &audit.Options{Async: audit.AsyncOptions{Spool: sp}})
//	if err != nil { … }
//	defer sp.Close(ctx)                      // after the Logger
//	defer logger.Close(ctx)                  // writes and releases what is queued
//
// # What it guarantees
//
// Log appends an Async record to the spool before it returns. On Unix the
// record is copied into a segment file mapped into memory (MAP_SHARED):
// the copy is the file's page cache, which the kernel writes to the disk
// whether or not the process still runs. So a record whose Log returned
// nil survives the death of the process — SIGKILL, a panic, the OOM
// killer — and is written by the next Logger given the spool, which
// replays the spool before anything else. It does not survive a power
// loss or a kernel crash unless Options.Sync is set (an msync per
// record). Replay can write a record the store already holds (the store
// accepted it, and the process died before the segment was removed);
// stores ignore a record whose ID they hold, so it is stored once.
//
// The spool is bounded in bytes (Options.MaxBytes). When it is full, Log
// waits for room or returns audit.ErrQueueFull, by AsyncOptions.Overflow,
// as it does when the in-memory queue is full.
//
// A Spool is safe for concurrent use and starts no goroutine. One process
// at a time may open a directory.
package spool
