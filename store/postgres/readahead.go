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
//
// One read runs at a time. A step waits for the read meant for it only if
// that read has its connection: one still waiting for a connection (a
// server that accepts and never answers, say) is cancelled, and the step
// reads on its own, so that it does not hold the sealing lock for it.
type readAhead struct {
	mu      sync.Mutex
	next    *batch // the read not taken yet, if any
	running *batch // the read in progress, if any
	closed  bool
	ctx     context.Context // ended by Close
	cancel  context.CancelFunc
	idle    chan struct{} // closed when no read runs after Close
}

// batch is one read ahead: up to max records after (xid, id).
type batch struct {
	xid, id string
	max     int
	started chan struct{}   // closed once the read has its connection
	done    chan struct{}   // closed once recs, xids and err are set
	ctx     context.Context // the read's: ended by its timeout, a cancel or Close
	cancel  context.CancelFunc
	recs    []audit.Record
	xids    []string
	err     error
	read    time.Time // when the read ended
}

// readAheadConnect bounds the wait of a read ahead for a connection of
// the pool, and readAheadTimeout the whole read. lib/pq heeds neither a
// cancellation nor a deadline while it sets a new connection up (unless
// connect_timeout is set): a read stuck there stays until the server
// answers or the connection drops, which is why one read runs at a time.
const (
	readAheadConnect = time.Second
	readAheadTimeout = time.Minute
)

// readAheadFresh is how long records read ahead stay good for a step: a
// sealer that is behind takes them at once.
const readAheadFresh = 10 * time.Second

// startReadAhead reads up to max records after (xid, id) in the
// background, unless the store is closed or a read is still running.
func (s *Store) startReadAhead(xid, id string, max int) {
	ra := &s.ahead
	ra.mu.Lock()
	defer ra.mu.Unlock()
	if ra.closed || ra.running != nil {
		return
	}
	if ra.ctx == nil {
		ra.ctx, ra.cancel = context.WithCancel(context.Background())
	}
	ctx, cancel := context.WithTimeout(ra.ctx, readAheadTimeout)
	b := &batch{xid: xid, id: id, max: max, started: make(chan struct{}), done: make(chan struct{}), ctx: ctx, cancel: cancel}
	ra.next, ra.running = b, b
	go func() {
		b.recs, b.xids, b.err = s.readOutside(ctx, b)
		b.read = time.Now()
		close(b.done) // before cancel: takeReadAhead tells a read done from one cut short
		cancel()
		ra.mu.Lock()
		ra.running = nil
		if ra.closed && ra.idle != nil {
			close(ra.idle)
		}
		ra.mu.Unlock()
	}()
}

// readOutside reads b's records in a read-only transaction of its own.
func (s *Store) readOutside(ctx context.Context, b *batch) ([]audit.Record, []string, error) {
	cctx, cancel := context.WithTimeout(ctx, readAheadConnect)
	conn, err := s.db.Connx(cctx)
	cancel()
	if err != nil {
		close(b.started)
		return nil, nil, err
	}
	defer conn.Close()
	tx, err := conn.BeginTxx(ctx, &sql.TxOptions{ReadOnly: true})
	close(b.started)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback()
	return s.readToSeal(ctx, tx, b.xid, b.id, b.max)
}

// takeReadAhead returns the records read ahead after (xid, id), at most
// max, and whether there are any. It waits for a read that has its
// connection, until ctx ends.
func (s *Store) takeReadAhead(ctx context.Context, xid, id string, max int) ([]audit.Record, []string, bool) {
	ra := &s.ahead
	ra.mu.Lock()
	b := ra.next
	ra.next = nil
	ra.mu.Unlock()
	if b == nil {
		return nil, nil, false
	}
	if b.xid != xid || b.id != id || b.max > max {
		b.cancel() // a step failed, or another sealer's came first
		return nil, nil, false
	}
	select {
	case <-b.done:
	case <-b.started:
		// its query may not end when it is cancelled (lib/pq asks the
		// server on another connection and waits on this one): the step
		// stops waiting then, and reads itself
		select {
		case <-b.done:
		case <-b.ctx.Done():
			select {
			case <-b.done:
			default:
				return nil, nil, false
			}
		case <-ctx.Done():
			b.cancel()
			return nil, nil, false
		}
	default:
		b.cancel()
		return nil, nil, false
	}
	// a batch left over (by a step that failed, then a pause) may hold
	// records retention has removed since: those are read again
	if b.err != nil || len(b.recs) == 0 || time.Since(b.read) > readAheadFresh {
		return nil, nil, false
	}
	return b.recs, b.xids, true
}

// closeReadAhead stops a read in progress and waits for it, until ctx
// ends.
func (s *Store) closeReadAhead(ctx context.Context) error {
	ra := &s.ahead
	ra.mu.Lock()
	ra.closed, ra.next = true, nil
	if ra.cancel != nil {
		ra.cancel()
	}
	if ra.running == nil {
		ra.mu.Unlock()
		return nil
	}
	ra.idle = make(chan struct{})
	idle := ra.idle
	ra.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: postgres: close: a read of records to seal is still running: %w", ctx.Err())
	}
}
