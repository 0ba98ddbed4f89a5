package audit

import (
	"errors"
	"fmt"
	"time"
)

// Spool keeps Async records on local storage from the moment Log accepts
// them until the store has them, so that a process killed with records
// queued loses none of them: the next Logger given the same spool writes
// them. Package spool implements it with files in a directory; set it as
// AsyncOptions.Spool.
//
// With a Spool, Log appends an Async record to it before queueing it, and
// returns only once Append has returned. The Logger releases a record when
// the store has accepted it, or when it reports the record to OnError as
// failed (ReasonRejected, ReasonRetriesExhausted), or when Log does not
// accept it after all (the in-memory queue is full). Records dropped at
// shutdown (ReasonShutdown) are reported and kept: the next Logger on the
// spool writes them. Its batcher starts by replaying what an earlier
// process left in the spool, writing what Log queues meanwhile between
// two replayed batches; Flush returns after the replay. Stores ignore a
// record they already hold (by ID), so a record replayed twice is stored
// once. Replayed records count as Accepted in Stats.
//
// The methods must be safe for concurrent use. A Spool that may hold two
// records of one ID also implements Unappend(rec Record), which forgets
// the newest record of rec's ID: the Logger calls it for a record the
// full queue refused, where Release would forget an older one of the
// same ID still waiting to be stored (package spool does).
type Spool interface {
	// Append keeps rec until it is released. Its Details and Changes may
	// share memory with other records' (see Store): a spool that keeps
	// them in memory, rather than writing them out, should keep a copy
	// (Record.Clone), or it holds the whole block. When the spool is
	// full, it waits up to wait for room (0: not at all), then returns an
	// error wrapping ErrQueueFull. The Logger passes AsyncOptions.BlockTimeout
	// with OverflowBlock and 0 with OverflowDrop, so the spool's bound
	// behaves as the queue's. On any other error the Logger queues the
	// record all the same, without the spool's protection, and reports
	// the error to OnError.
	Append(rec Record, wait time.Duration) error
	// Release forgets records; records it does not hold are ignored. It
	// must not keep recs, which the Logger reuses.
	Release(recs []Record)
	// Replay calls deliver with the records that an earlier process
	// appended and did not release, at most n at a time, and forgets them
	// once deliver has returned nil for all of those in one unit of
	// storage. It stops at the first error of deliver and returns it;
	// what was not forgotten is replayed again by the next call.
	Replay(n int, deliver func([]Record) error) error
}

// spoolUnappender is a Spool that can forget the record it appended last
// of an ID (spool.Spool.Unappend): with two records of one ID held, one
// queued and one refused by the full queue, Release could forget the
// queued one instead and let its storage go while it waits in memory.
type spoolUnappender interface {
	Unappend(rec Record)
}

// spoolAppend appends rec to the spool. It returns ErrQueueFull when the
// spool is full; any other error of the spool is reported, and rec is
// queued without it.
func (l *Logger) spoolAppend(rec *Record) error {
	var wait time.Duration
	if l.cfg.Overflow == OverflowBlock {
		wait = l.cfg.BlockTimeout
	}
	err := l.cfg.Spool.Append(*rec, wait)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrQueueFull):
		return ErrQueueFull
	}
	l.onError(fmt.Errorf("audit: spool: %w", err))
	return nil
}

// errStopping ends a replay when Close is called.
var errStopping = errors.New("audit: closing")

// replay writes what an earlier process left in the spool, a batch at a
// time, with what is queued in between; Close stops it between two
// batches.
func (l *Logger) replay() {
	err := l.cfg.Spool.Replay(l.cfg.BatchSize, func(rs []Record) error {
		select {
		case <-l.stop:
			return errStopping
		default:
		}
		l.accepted.Add(uint64(len(rs)))
		l.observeRecords(OutcomeAccepted, Async, rs)
		l.deliver(rs)
		if l.abort.Err() != nil {
			return l.abort.Err() // dropped at shutdown: kept for the next replay
		}
		if l.q.len() > 0 {
			l.writeQueued() // Log does not wait for the end of the replay
		}
		return nil
	})
	if err != nil && err != errStopping && l.abort.Err() == nil {
		l.onError(fmt.Errorf("audit: spool: replay: %w", err))
	}
}
