package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/trailmark/audit"
)

// readAhead reads the records of the next sealing step on a connection of
// its own while a step that was full computes and writes its seals: a
// step reads its records (the client's work: decoding them), then writes
// its seals and leaves (the server's work), so a sealer that is behind
// kept one of two cores idle.
//
// Reading them outside the step's transaction is sound: they are the
// records after the step's last, in (xid, id) order, of transactions that
// had all ended when they were read (xid below the snapshot's xmin); no
// record can join that set later. The next step uses them only if they
// follow the newest seal it reads under the sealing lock (so not after a
// step that failed, nor after another sealer's); otherwise, or on any
// error, it reads its records as it always does.
type readAhead struct {
	mu      sync.Mutex
	next    *batch // nil when none is being read
	closed  bool
	ctx     context.Context // ended by Close
	cancel  context.CancelFunc
	running sync.WaitGroup
}

// batch is one read ahead: up to max records after (xid, id).
type batch struct {
	xid, id string
	max     int
	done    chan struct{} // closed once recs, xids and err are set
	cancel  context.CancelFunc
	recs    []audit.Record
	xids    []string
	err     error
}

// startReadAhead reads up to max records after (xid, id) in the
// background, unless the store is closed; it replaces a read not taken.
func (s *Store) startReadAhead(xid, id string, max int) {
	ra := &s.ahead
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.closed {
		return
	}
	if ra.ctx == nil {
		ra.ctx, ra.cancel = context.WithCancel(context.Background())
	}
	if ra.next != nil {
		ra.next.cancel() // not taken: a step failed, or another sealer's came first
	}
	ctx, cancel := context.WithCancel(ra.ctx)
	b := &batch{xid: xid, id: id, max: max, done: make(chan struct{}), cancel: cancel}
	ra.next = b
	ra.running.Go(func() {
		defer cancel()
		defer close(b.done)
		b.recs, b.xids, b.err = s.readOutside(ctx, xid, id, max)
	})
}

// readOutside reads up to max records to seal after (xid, id) in a
// read-only transaction of its own.
func (s *Store) readOutside(ctx context.Context, xid, id string, max int) ([]audit.Record, []string, error) {
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	return s.readToSeal(ctx, tx, xid, id, max)
}

// takeReadAhead returns the records read ahead after (xid, id), at most
// max, and whether there are any; it waits for a read in progress.
func (s *Store) takeReadAhead(ctx context.Context, xid, id string, max int) ([]audit.Record, []string, bool) {
	ra := &s.ahead
	ra.mu.Lock()
	b := ra.next
	ra.next = nil
	ra.mu.Unlock()
	if b == nil || b.xid != xid || b.id != id || b.max > max {
		return nil, nil, false
	}
	// The step waits holding the sealing lock: not for a read that cannot
	// get a connection, say, when its own connection could read now.
	t := time.NewTimer(readAheadWait)
	defer t.Stop()
	select {
	case <-b.done:
	case <-t.C:
		b.cancel()
		return nil, nil, false
	case <-ctx.Done():
		b.cancel()
		return nil, nil, false
	}
	if b.err != nil || len(b.recs) == 0 {
		return nil, nil, false
	}
	return b.recs, b.xids, true
}

// readAheadWait is how long a step waits for the records read ahead for
// it before it reads them itself: a read ahead starts while the step
// before computes and writes its seals, and is done by the next step in
// all but a stalled connection.
const readAheadWait = time.Second

// closeReadAhead stops a read in progress and waits for it, until ctx
// ends.
func (s *Store) closeReadAhead(ctx context.Context) error {
	ra := &s.ahead
	ra.mu.Lock()
	ra.closed, ra.next = true, nil
	if ra.cancel != nil {
		ra.cancel()
	}
	ra.mu.Unlock()
	done := make(chan struct{})
	go func() {
		ra.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: postgres: close: a read of records to seal is still running: %w", ctx.Err())
	}
}
