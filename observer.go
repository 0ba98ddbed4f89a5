package audit

import (
	"context"
	"time"
)

// Observer is told what a Logger does as it happens, so that it can be
// measured: package otelaudit turns it into OpenTelemetry metrics. Set it
// in Options.Observer; nil (the default) observes nothing and costs
// nothing. The cumulative counters are in Stats too; an Observer adds
// what Stats cannot hold: the action and delivery of each event, and the
// duration of each write.
//
// Its methods are called synchronously from Log and from the Logger's
// goroutines, concurrently: they must be safe for concurrent use, return
// quickly and never call the Logger.
type Observer interface {
	// Events is told that n events of action a, delivered by d, reached
	// outcome o. The action is the cleaned one, except for OutcomeInvalid
	// where it is as given (possibly empty or not an action at all).
	Events(o Outcome, d Delivery, a Action, n int)
	// Write is told of each Store.Append the Logger made, retries
	// included: its delivery (Async batches, or Sync group commits), the
	// number of records, how long it took and its error.
	Write(d Delivery, n int, took time.Duration, err error)
	// SyncWrite is told of each Sync write as its caller sees it, from
	// the start of the write to its end, waiting and retries included
	// (LogTo's writes too): how long it took and the error returned.
	SyncWrite(took time.Duration, err error)
}

// Outcome is what became of events, as told to an Observer.
type Outcome uint8

// The outcomes. Accepted events end as Written, Rejected,
// RetriesExhausted or Shutdown (or stay queued); QueueFull and Invalid
// events were never accepted.
const (
	OutcomeAccepted         Outcome = iota + 1 // Log accepted it (Stats.Accepted)
	OutcomeWritten                             // the store confirmed it (Stats.Written)
	OutcomeInvalid                             // Log refused it as invalid (Stats.Invalid)
	OutcomeRejected                            // the store refused it: failed, ReasonRejected (Stats.Failed)
	OutcomeRetriesExhausted                    // not delivered: failed, ReasonRetriesExhausted (Stats.Failed)
	OutcomeQueueFull                           // the queue was full: dropped, ReasonQueueFull
	OutcomeShutdown                            // still queued when Close's context ended: dropped, ReasonShutdown
)

var outcomeNames = [...]string{"", "accepted", "written", "invalid", "rejected", "retries_exhausted", "queue_full", "shutdown"}

// String returns the outcome's name, as metrics label it.
func (o Outcome) String() string {
	if int(o) < len(outcomeNames) && o != 0 {
		return outcomeNames[o]
	}
	return "unknown"
}

// TraceFunc returns the W3C trace and span ids, in lowercase hex, of the
// span active in ctx, and whether there is one (see Options.TraceFrom).
// Package otelaudit's TraceFrom is one for OpenTelemetry.
type TraceFunc func(ctx context.Context) (traceID, spanID string, ok bool)

// observe tells the observer, if any, of n events.
func (l *Logger) observe(o Outcome, d Delivery, a Action, n int) {
	if l.obs != nil && n > 0 {
		l.obs.Events(o, d, a, n)
	}
}

// observeRecords tells the observer, if any, of the outcome of rs, one
// call per run of records with the same action.
func (l *Logger) observeRecords(o Outcome, d Delivery, rs []Record) {
	if l.obs == nil {
		return
	}
	for i := 0; i < len(rs); {
		j := i + 1
		for j < len(rs) && rs[j].Action == rs[i].Action {
			j++
		}
		l.obs.Events(o, d, rs[i].Action, j-i)
		i = j
	}
}

// failOutcome is the Outcome of a Sync write that failed with err.
func failOutcome(err error) Outcome {
	if isPermanent(err) {
		return OutcomeRejected
	}
	return OutcomeRetriesExhausted
}
