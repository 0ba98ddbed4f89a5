package siem

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trailmark/audit"
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

// loadPosition reads the stream's saved position, retrying every
// FlushInterval until it succeeds or the Tee closes. No saved position
// starts at the stream's Since.
func (t *Tee) loadPosition(w *worker) (position, bool) {
	for {
		s, err := t.positions.LoadPosition(t.abort, positionName(w.cfg.Name))
		if err == nil && s == "" {
			return position{Since: w.since}, true
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

// walk reads and sends the records committed after pos, page by page,
// saving the position after each page, until the walk's last page. It
// returns the new position, how many records it sent, and false when the
// stream must stop (the Tee is closing and its context ended, or the
// store cannot tell where a walk ends).
func (t *Tee) walk(w *worker, pos position, retry Retry) (position, int, bool) {
	sent := 0
	for {
		page, err := t.querier.Query(t.abort, pos.filter(w.cfg.BatchSize))
		if err != nil {
			if t.abort.Err() != nil {
				return pos, sent, false
			}
			w.noteError(err, t.now())
			t.onError(fmt.Errorf("audit: siem: stream %q: read the primary: %w", w.cfg.Name, err))
			return pos, sent, true // walk again after FlushInterval
		}
		if pos.Cursor == "" { // the first page of a walk
			if page.Tail == "" && len(page.Records) > 0 {
				t.onError(fmt.Errorf("audit: siem: stream %q: the primary %T returns no Page.Tail: the stream cannot tell what it sent, and stops", w.cfg.Name, t.querier))
				return pos, sent, false
			}
			pos.Tail = page.Tail
		}
		for rest := page.Records; len(rest) > 0; {
			n := batchLen(rest, w.cfg.BatchSize, w.cfg.BatchBytes)
			batch := rest[:n]
			rest = rest[n:]
			reason, err := deliver(t.abort, w.cfg.Sink, batch, retry, t.now, func(err error) {
				w.retried.Add(1)
				w.noteError(err, t.now())
			}, nil, nil)
			switch reason {
			case "":
				w.sent.Add(uint64(len(batch)))
				w.batches.Add(1)
				sent += len(batch)
				w.mu.Lock()
				w.lastSuccess = t.now()
				w.mu.Unlock()
			case audit.ReasonShutdown:
				// Close gave up: the saved position resumes here.
				return pos, sent, false
			default:
				w.noteError(err, t.now())
				t.drop(w, reason, batch, err)
			}
		}
		next := pos
		if page.NextCursor != "" {
			next.Cursor = page.NextCursor
		} else {
			next.Cursor = ""
			if pos.Tail != "" {
				next.After, next.Since, next.Tail = pos.Tail, time.Time{}, ""
			}
		}
		if len(page.Records) > 0 || pos.After == "" && next.After != "" {
			if err := t.positions.SavePosition(t.abort, positionName(w.cfg.Name), next.String()); err != nil {
				if t.abort.Err() != nil {
					return pos, sent, false
				}
				w.noteError(err, t.now())
				t.onError(fmt.Errorf("audit: siem: stream %q: save position: %w", w.cfg.Name, err))
			} else {
				w.mu.Lock()
				w.lastSaved = t.now()
				w.mu.Unlock()
			}
		}
		pos = next
		if page.NextCursor == "" {
			return pos, sent, true
		}
	}
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
