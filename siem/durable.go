package siem

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// position is what a durable stream saves in the PositionStore: the tail
// of the last walk it delivered whole (After), or, before its first walk,
// the time it starts from (Since); and, within a walk, the cursor of the
// next page and the walk's own tail.
type position struct {
	Since  time.Time `json:"since,omitzero"`
	After  string    `json:"after,omitempty"`
	Cursor string    `json:"cursor,omitempty"`
	Tail   string    `json:"tail,omitempty"`
}

// positionName is the name a stream's position is saved under.
func positionName(stream string) string { return "siem/" + stream }

func parsePosition(s string) (position, error) {
	var p position
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, fmt.Errorf("not a position saved by a stream: %w", err)
	}
	if p.Cursor != "" && p.Tail == "" {
		return p, errors.New("not a position saved by a stream: a cursor without its walk's tail")
	}
	return p, nil
}

func (p position) String() string {
	b, _ := json.Marshal(p) // strings and a time: cannot fail
	return string(b)
}

// filter returns the query of the page the stream reads next.
func (p position) filter(limit int) audit.Filter {
	f := audit.Filter{After: p.After, Cursor: p.Cursor, Limit: limit}
	if p.After == "" {
		f.Since = p.Since
	}
	return f
}

// runDurable is the goroutine of a stream whose position is saved in the
// store: it walks the primary from its saved position, sends each page,
// saves the position after it, and walks again when records were
// appended, at the latest every FlushInterval; on Close it walks once
// more, to the end, and stops.
func (t *Tee) runDurable(w *worker) {
	defer t.wg.Done()
	if l, ok := t.positions.(storekit.PositionLocker); ok {
		release, ok := t.lead(w, l)
		if !ok {
			return
		}
		defer release()
	}
	pos, ok := t.loadPosition(w)
	if !ok {
		return
	}
	retry := w.cfg.Retry
	retry.RetryFor = 0 // until it succeeds: the store keeps what waits
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		stopping := w.isStopping()
		w.appended.Store(0)
		var sent int
		pos, sent, ok = t.walk(w, pos, retry)
		switch {
		case !ok || stopping || t.abort.Err() != nil:
			return
		case sent >= w.cfg.BatchSize:
			continue // catching up: walk again at once
		}
		if timer == nil {
			timer = time.NewTimer(w.cfg.FlushInterval)
		} else {
			timer.Reset(w.cfg.FlushInterval)
		}
		select {
		case <-timer.C:
		case <-w.wake:
			if !timer.Stop() {
				<-timer.C
			}
		case <-w.stop:
		}
	}
}

// lead takes the lock of the stream's position, waiting while another
// process holds it and trying again every FlushInterval, until it does or
// the Tee closes.
func (t *Tee) lead(w *worker, l storekit.PositionLocker) (func(), bool) {
	for {
		release, ok, err := l.TryLockPosition(t.abort, positionName(w.cfg.Name))
		switch {
		case err != nil:
			t.onError(fmt.Errorf("audit: siem: stream %q: lock position: %w", w.cfg.Name, err))
		case ok:
			w.mu.Lock()
			w.standby = false
			w.mu.Unlock()
			return release, true
		default:
			w.mu.Lock()
			w.standby = true
			w.mu.Unlock()
		}
		if !t.pause(w) {
			return nil, false
		}
	}
}

// loadPosition reads the stream's saved position, retrying every
// FlushInterval until it succeeds or the Tee closes. No saved position
// starts at the stream's Since.
func (t *Tee) loadPosition(w *worker) (position, bool) {
	for {
		s, err := t.positions.LoadPosition(t.abort, positionName(w.cfg.Name))
		if err == nil && s == "" {
			// saved at once: a Tee that stops before its first walk is
			// saved must leave the next one the same start
			p := position{Since: w.since}
			t.savePosition(w, p)
			return p, true
		}
		if err == nil {
			p, perr := parsePosition(s)
			if perr == nil {
				return p, true
			}
			t.onError(fmt.Errorf("audit: siem: stream %q: the saved position: %w", w.cfg.Name, perr))
			return position{}, false
		}
		t.onError(fmt.Errorf("audit: siem: stream %q: load position: %w", w.cfg.Name, err))
		if !t.pause(w) {
			return position{}, false
		}
	}
}

// pause waits FlushInterval; false if the Tee is closing meanwhile.
func (t *Tee) pause(w *worker) bool {
	timer := time.NewTimer(w.cfg.FlushInterval)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-w.stop:
		return false
	case <-t.abort.Done():
		return false
	}
}

// flight is one page of a walk being sent.
type flight struct {
	next position // the position after the page
	n    int      // its records
	done chan struct{}
	// set before done is closed:
	sent int  // records the sink accepted
	stop bool // Close gave up: the page is not delivered
}

// walk reads and sends the records committed after pos, page by page
// (of audit.MaxLimit records: a page after a tail costs the store about a
// sort of the whole backlog), each in batches,
// up to InFlight pages at once, saving the position after each page
// once it and those before it are sent, until the walk's last page. It
// returns the new position, how many records it sent, and false when the
// stream must stop (the Tee is closing and its context ended, or the
// store cannot tell where a walk ends).
func (t *Tee) walk(w *worker, pos position, retry Retry) (position, int, bool) {
	saved, sent, ok := pos, 0, true
	var window []*flight
	// retire takes the pages sent at the head of the window, waiting for
	// the first if wait, and saves the position after the last of them.
	retire := func(wait bool) {
		var last *flight
		for len(window) > 0 {
			f := window[0]
			if wait {
				<-f.done
				wait = false
			} else {
				select {
				case <-f.done:
				default:
					wait = true
				}
				if wait {
					break
				}
			}
			window = window[1:]
			sent += f.sent
			if f.stop {
				ok = false
			}
			if ok && (f.n > 0 || saved.After == "" && f.next.After != "") {
				last = f
			}
			if ok {
				saved = f.next
			}
		}
		if last != nil {
			t.savePosition(w, saved)
		}
	}
	drain := func() {
		for len(window) > 0 {
			retire(true)
		}
	}
	cur := pos
	for {
		page, err := t.querier.Query(t.abort, cur.filter(audit.MaxLimit))
		if err != nil {
			drain()
			if t.abort.Err() != nil {
				return saved, sent, false
			}
			w.noteError(err, t.now())
			if errors.Is(err, audit.ErrInvalidFilter) {
				// a position another store made, or altered: walking again
				// would fail alike
				t.onError(fmt.Errorf("audit: siem: stream %q: the saved position does not fit the primary, and the stream stops (delete the position %q to start again from Stream.Since): %w", w.cfg.Name, positionName(w.cfg.Name), err))
				return saved, sent, false
			}
			t.onError(fmt.Errorf("audit: siem: stream %q: read the primary: %w", w.cfg.Name, err))
			return saved, sent, ok // walk again after FlushInterval
		}
		if cur.Cursor == "" { // the first page of a walk
			if page.Tail == "" && len(page.Records) > 0 {
				drain()
				t.onError(fmt.Errorf("audit: siem: stream %q: the primary %T returns no Page.Tail: the stream cannot tell what it sent, and stops", w.cfg.Name, t.querier))
				return saved, sent, false
			}
			cur.Tail = page.Tail
		}
		next := cur
		if page.NextCursor != "" {
			next.Cursor = page.NextCursor
		} else {
			next.Cursor = ""
			if cur.Tail != "" {
				next.After, next.Since, next.Tail = cur.Tail, time.Time{}, ""
			}
		}
		f := &flight{next: next, n: len(page.Records), done: make(chan struct{})}
		window = append(window, f)
		go t.sendPage(w, page.Records, retry, f)
		retire(false)
		for len(window) >= w.cfg.InFlight {
			retire(true)
		}
		if !ok || page.NextCursor == "" {
			drain()
			return saved, sent, ok
		}
		cur = next
	}
}

// sendPage sends the records of one page, in batches, and closes f.done.
func (t *Tee) sendPage(w *worker, recs []audit.Record, retry Retry, f *flight) {
	defer close(f.done)
	h := hooks{
		retried: func(err error) {
			w.retried.Add(1)
			w.noteError(err, t.now())
		},
		back: w.backChan,
		sent: w.sinkBack,
	}
	for len(recs) > 0 {
		n := batchLen(recs, w.cfg.BatchSize, w.cfg.BatchBytes)
		batch := recs[:n]
		recs = recs[n:]
		reason, err := deliver(t.abort, w.cfg.Sink, batch, retry, t.now, h)
		switch reason {
		case "":
			w.sent.Add(uint64(len(batch)))
			w.batches.Add(1)
			f.sent += len(batch)
			w.mu.Lock()
			w.lastSuccess = t.now()
			w.mu.Unlock()
		case audit.ReasonShutdown:
			f.stop = true // the saved position resumes before this page
			return
		default:
			w.noteError(err, t.now())
			t.drop(w, reason, batch, err)
		}
	}
}

// savePosition saves pos as the stream's, and reports an error it
// cannot (the next save may succeed).
func (t *Tee) savePosition(w *worker, pos position) {
	if err := t.positions.SavePosition(t.abort, positionName(w.cfg.Name), pos.String()); err != nil {
		if t.abort.Err() == nil {
			w.noteError(err, t.now())
			t.onError(fmt.Errorf("audit: siem: stream %q: save position: %w", w.cfg.Name, err))
		}
		return
	}
	w.mu.Lock()
	w.lastSaved = t.now()
	w.mu.Unlock()
}

// backChan returns the channel closed when a batch of the stream next
// reaches the sink.
func (w *worker) backChan() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.back == nil {
		w.back = make(chan struct{})
	}
	return w.back
}

// sinkBack tells the batches waiting out a backoff that the sink took
// one: they try again at once.
func (w *worker) sinkBack() {
	w.mu.Lock()
	if w.back != nil {
		close(w.back)
		w.back = nil
	}
	w.mu.Unlock()
}

// batchLen returns how many of recs, from the first, make one batch.
func batchLen(recs []audit.Record, size, bytes int) int {
	n, total := 0, 0
	for n < len(recs) && n < size {
		s := recordSize(&recs[n])
		if n > 0 && total+s > bytes {
			break
		}
		total += s
		n++
	}
	return n
}

// isStopping reports whether Close has begun.
func (w *worker) isStopping() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopping
}
