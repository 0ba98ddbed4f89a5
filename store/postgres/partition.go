package postgres

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/lib/pq"

	"github.com/trailmark/audit"
)

// month numbers the months of the proleptic Gregorian calendar, in UTC:
// year*12 + month-1.
type month int32

func monthOf(t time.Time) month {
	y, m, _ := t.UTC().Date()
	return month(y*12 + int(m) - 1)
}

// String returns the first day of m as PostgreSQL reads a date.
func (m month) String() string {
	return fmt.Sprintf("%04d-%02d-01", int(m)/12, int(m)%12+1)
}

// Timing of partition maintenance.
const (
	ensureTimeout  = 10 * time.Second // one ensure_partitions call
	ensureLockWait = 2 * time.Second  // lock_timeout of that call
	ensureBackoff  = time.Minute      // no attempt after a failure for that long
)

// partitions remembers which monthly partitions are known to exist, so
// that Append asks the database to create one only the first time a
// process meets its month. The memory is per Store and never wrong in a
// harmful way: a partition dropped by another process is just a month
// whose records go to the default partition.
type partitions struct {
	past, ahead month
	now         func() time.Time

	mu      sync.Mutex
	known   map[month]bool
	ready   month     // known holds ready … ready+ahead
	retryAt time.Time // after a failure: no attempt before

	ensuring sync.Mutex // one ensure_partitions call at a time
}

func newPartitions(c config) *partitions {
	return &partitions{past: month(c.past), ahead: month(c.ahead), now: c.now, known: map[month]bool{}, ready: -1}
}

// missing returns the months that records and the clock say should have a
// partition, and are not known to have one: the current month and the
// ahead ones, and those of records within the window. It returns nil
// while backing off after a failure.
func (p *partitions) missing(records []audit.Record) []month {
	now := p.now()
	cur := monthOf(now)
	lo, hi := cur-p.past, cur+p.ahead
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Before(p.retryAt) {
		return nil
	}
	var need []month
	if p.ready != cur {
		for m := cur; m <= hi; m++ {
			if !p.known[m] {
				need = append(need, m)
			}
		}
		if len(need) == 0 {
			p.ready = cur
		}
	}
	last := month(-1)
	for i := range records {
		m := monthOf(records[i].OccurredAt)
		if m == last || m < lo || m > hi {
			continue
		}
		last = m
		if !p.known[m] && !slices.Contains(need, m) {
			need = append(need, m)
		}
	}
	return need
}

func (p *partitions) learn(ms []month) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range ms {
		p.known[m] = true
	}
}

func (p *partitions) fail() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retryAt = p.now().Add(ensureBackoff)
}

// forget drops what p knows, after partitions were dropped.
func (p *partitions) forget() {
	p.mu.Lock()
	defer p.mu.Unlock()
	clear(p.known)
	p.ready = -1
}

// EnsurePartitions creates the partitions of the current month and of the
// coming ones (see Options.PartitionsAhead) that do not exist yet. Migrate calls
// it, and Append does as the months go by; call it from a scheduled job
// if the first records of a month may be written only through Tx. It is
// safe to call concurrently from many processes.
func (s *Store) EnsurePartitions(ctx context.Context) error {
	cur := monthOf(s.cfg.now())
	var ms []month
	for m := cur; m <= cur+month(s.cfg.ahead); m++ {
		ms = append(ms, m)
	}
	s.parts.ensuring.Lock()
	defer s.parts.ensuring.Unlock()
	return s.ensure(ctx, ms)
}

// ensurePartitions creates the partitions of months, as a best effort:
// an event without its partition lands in the default partition. Errors go
// to the error handler, and the store backs off for a while.
func (s *Store) ensurePartitions(ctx context.Context, ms []month) {
	s.parts.ensuring.Lock()
	defer s.parts.ensuring.Unlock()
	ms = slices.DeleteFunc(ms, func(m month) bool {
		s.parts.mu.Lock()
		defer s.parts.mu.Unlock()
		return s.parts.known[m]
	})
	if len(ms) == 0 {
		return
	}
	if err := s.ensure(ctx, ms); err != nil {
		if ctx.Err() != nil {
			return // the caller's own deadline: it reports that
		}
		s.parts.fail()
		s.cfg.onError(fmt.Errorf("%w (their records go to the default partition until it succeeds)", err))
	}
}

// ensure calls ensure_partitions for ms, in a transaction that waits at
// most ensureLockWait for a lock.
func (s *Store) ensure(ctx context.Context, ms []month) error {
	ctx, cancel := context.WithTimeout(ctx, ensureTimeout)
	defer cancel()
	dates := make([]string, len(ms))
	for i, m := range ms {
		dates[i] = m.String()
	}
	err := func() error {
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", ensureLockWait.Milliseconds())); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.sql.ensure, pq.Array(dates)); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		return fmt.Errorf("audit: postgres: creating partitions of %s for %v: %w", s.sql.Name, dates, err)
	}
	s.parts.learn(ms)
	return nil
}
