package siem

import (
	"context"
	"fmt"
	"time"

	"github.com/trailmark/audit"
)

// BackfillOptions configures Backfill. The zero value (and nil) means the
// defaults.
type BackfillOptions struct {
	// Filter narrows the records sent (Since, Limit and Cursor are
	// Backfill's own and ignored). Default: all.
	Filter audit.Filter
	// Until bounds OccurredAt from above (exclusive); zero means no bound.
	Until time.Time
	// BatchSize is the records per Send (and per query page), at most
	// audit.MaxLimit. Default DefaultBatchSize.
	BatchSize int
	// Retry says how a failed batch is retried.
	Retry Retry
	// Now is the clock of the retry deadline. Default time.Now.
	Now func() time.Time
	// Progress, if set, is called after each batch the sink accepted,
	// with the records sent so far and the cursor to resume from.
	Progress func(BackfillProgress)
	// Cursor resumes a Backfill that stopped: pass the Cursor of its last
	// Progress (with the same src, since, Filter and Until). Empty: from
	// the newest record.
	Cursor string
}

// BackfillProgress is what Backfill reports after each batch the sink
// accepted.
type BackfillProgress struct {
	// Sent counts the records the sink accepted in this call.
	Sent int
	// Cursor is where the walk goes on: BackfillOptions.Cursor resumes
	// there. Empty once the last page was sent.
	Cursor string
}

// Backfill sends to sink the records of src whose OccurredAt is at or
// after since, newest first, page by page, retrying each batch like a
// Tee's stream. It is the recovery for what a stream lost: records
// queued when the process died, or dropped (see DropError.Oldest). It
// re-sends records the sink may already hold: the receiver dedupes by
// record ID. It returns how many records the sink accepted, and stops at
// the first batch it cannot deliver; BackfillOptions.Progress and Cursor
// let a caller show its progress and resume it where it stopped.
func Backfill(ctx context.Context, src audit.Querier, since time.Time, sink Sink, opts *BackfillOptions) (int, error) {
	var o BackfillOptions
	if opts != nil {
		o = *opts
	}
	if o.BatchSize == 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.BatchSize < 0 || o.BatchSize > audit.MaxLimit {
		return 0, fmt.Errorf("audit: siem: backfill: BatchSize must be between 1 and %d, got %d", audit.MaxLimit, o.BatchSize)
	}
	if err := o.Retry.validate(); err != nil {
		return 0, fmt.Errorf("audit: siem: backfill: %w", err)
	}
	o.Retry = o.Retry.withDefaults()
	if o.Now == nil {
		o.Now = time.Now
	}
	f := o.Filter
	f.Since, f.Until, f.Limit, f.Cursor = since, o.Until, o.BatchSize, o.Cursor
	sent := 0
	for {
		page, err := src.Query(ctx, f)
		if err != nil {
			return sent, fmt.Errorf("audit: siem: backfill: %w", err)
		}
		if len(page.Records) > 0 {
			if reason, err := deliver(ctx, sink, page.Records, o.Retry, o.Now, hooks{}); reason != "" {
				return sent, fmt.Errorf("audit: siem: backfill: %d record(s) not delivered: %s: %w", len(page.Records), reason, err)
			}
			sent += len(page.Records)
			if o.Progress != nil {
				o.Progress(BackfillProgress{Sent: sent, Cursor: page.NextCursor})
			}
		}
		if page.NextCursor == "" {
			return sent, nil
		}
		f.Cursor = page.NextCursor
	}
}
