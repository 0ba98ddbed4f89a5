package chain

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/trailmark/audit"
)

// SealerStats says what a Sealer did since NewSealer. Alert on Errors and
// on a growing OldestUnsealedAge: records that wait long for their seal are
// not yet protected by the chain.
type SealerStats struct {
	LastRun     time.Time // when the last sealing step ended; zero before the first
	Sealed      uint64    // records this Sealer sealed (by Run, Close, SealOnce or retention)
	Checkpoints uint64    // checkpoints written by Run and Close
	Errors      uint64    // errors of Run and Close; Run's also went to OnError
	LastError   error     // the newest of them; nil if none
	// Unsealable counts the records this Sealer sealed by the digest of
	// their stored form, because their canonical form cannot be made
	// (ProblemUnsealable): records that entered the store around every
	// door. Alert on any.
	Unsealable uint64
	// Unsealed is how many records were waiting for a seal, and
	// OldestUnsealedAge how long the oldest of them had been in the store
	// (by RecordedAt), when they were last counted, at UnsealedAt. Run
	// counts them after its first step, then every CheckpointEvery; Close
	// counts them after its final seal. In PostgreSQL, records committed
	// after a transaction that is still open wait for it to end.
	Unsealed          int
	OldestUnsealedAge time.Duration
	UnsealedAt        time.Time
}

// sealerLoop is the state of Run, Close and Stats.
type sealerLoop struct {
	stopped context.Context // done once Close was called
	stop    context.CancelFunc
	runs    sync.WaitGroup

	mu        sync.Mutex
	closed    bool
	sinceCP   int       // records sealed since the last checkpoint Run or Close wrote
	lastCP    time.Time // when that was; zero until Run starts
	lastCount time.Time // when Run last counted the unsealed records
	stats     SealerStats
}

func (l *sealerLoop) sealed(now time.Time, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.LastRun = now
	l.stats.Sealed += uint64(n)
	l.sinceCP += n
}

func (l *sealerLoop) failed(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stats.Errors++
	l.stats.LastError = err
}

// printError is the default error hook of the Sealer and Retention, as the
// Logger's.
func printError(err error) { fmt.Fprintln(os.Stderr, err) }

// Stats returns what the Sealer did.
func (s *Sealer) Stats() SealerStats {
	s.loop.mu.Lock()
	defer s.loop.mu.Unlock()
	return s.loop.stats
}

// Run seals every Interval and writes a checkpoint every CheckpointEvery
// (when a SigningKey is set and records were sealed), until ctx ends or Close
// is called. It returns ctx's error, or nil when Close stopped it. Errors
// of single steps go to OnError and are counted in Stats; Run goes on.
func (s *Sealer) Run(ctx context.Context) error {
	s.loop.mu.Lock()
	if s.loop.closed {
		s.loop.mu.Unlock()
		return nil
	}
	s.loop.runs.Add(1)
	if s.loop.lastCP.IsZero() {
		s.loop.lastCP = s.cfg.Now()
	}
	s.loop.mu.Unlock()
	defer s.loop.runs.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.loop.stopped, cancel)()

	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := s.SealOnce(ctx); err != nil && ctx.Err() == nil {
			s.report(err)
		}
		if ctx.Err() == nil {
			s.loop.mu.Lock()
			count := s.cfg.Now().Sub(s.loop.lastCount) >= s.cfg.CheckpointEvery
			due := s.loop.sinceCP > 0 && s.cfg.Now().Sub(s.loop.lastCP) >= s.cfg.CheckpointEvery
			s.loop.mu.Unlock()
			if s.cfg.SigningKey != nil && due {
				if err := s.finalCheckpoint(ctx); err != nil && ctx.Err() == nil {
					s.report(err)
				}
			}
			if count {
				if err := s.countUnsealed(ctx); err != nil && ctx.Err() == nil {
					s.report(err)
				}
			}
		}
		select {
		case <-ctx.Done():
			if s.loop.stopped.Err() != nil {
				return nil
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Sealer) report(err error) {
	s.loop.failed(err)
	s.cfg.OnError(err)
}

// Close stops Run, waits for it to return, then seals every record waiting
// and, when a SigningKey is set and records were sealed since the last
// checkpoint, writes a checkpoint and hands it to Export, all within ctx.
//
// Call it on shutdown after Logger.Close, so that the Logger's last
// records, its stop record among them, are sealed before the process
// exits:
//
//	logger.Close(ctx) // writes what is queued, and the Logger's stop
//	sealer.Close(ctx) // seals it
//
// Otherwise they wait for the next sealer, and Verify reports them as
// unsealed once they are older than its SealWindow. Close returns the
// errors of the final steps (they are counted in Stats, not sent to
// OnError). It may be called again: each call seals what is waiting.
func (s *Sealer) Close(ctx context.Context) error {
	s.loop.mu.Lock()
	s.loop.closed = true
	s.loop.mu.Unlock()
	s.loop.stop()
	s.loop.runs.Wait() // each Run's context is cancelled: they return promptly

	var errs []error
	if _, err := s.SealOnce(ctx); err != nil {
		errs = append(errs, err)
	}
	s.loop.mu.Lock()
	due := s.loop.sinceCP > 0
	s.loop.mu.Unlock()
	if s.cfg.SigningKey != nil && due && len(errs) == 0 {
		if err := s.finalCheckpoint(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := s.countUnsealed(ctx); err != nil {
		errs = append(errs, err)
	}
	err := errors.Join(errs...)
	if err != nil {
		s.loop.failed(err)
		return fmt.Errorf("audit: closing the sealer: %w", err)
	}
	return nil
}

// finalCheckpoint writes a checkpoint at the newest seal and exports it.
func (s *Sealer) finalCheckpoint(ctx context.Context) error {
	c, err := s.Checkpoint(ctx, time.Time{})
	if err != nil {
		return err
	}
	s.loop.mu.Lock()
	s.loop.lastCP, s.loop.sinceCP = s.cfg.Now(), 0
	s.loop.stats.Checkpoints++
	s.loop.mu.Unlock()
	if s.cfg.Export != nil {
		if err := s.cfg.Export(ctx, c); err != nil {
			return fmt.Errorf("audit: exporting checkpoint %d: %w", c.Seq, err)
		}
	}
	return nil
}

// countUnsealed counts the records waiting for a seal, for Stats.
func (s *Sealer) countUnsealed(ctx context.Context) error {
	n := 0
	var oldest time.Time
	err := s.store.ScanUnsealed(ctx, func(r *audit.Record) error {
		n++
		t := r.RecordedAt
		if t.IsZero() {
			t = r.OccurredAt
		}
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit: seal: counting unsealed records: %w", err)
	}
	now := s.cfg.Now()
	s.loop.mu.Lock()
	defer s.loop.mu.Unlock()
	s.loop.lastCount = now
	s.loop.stats.Unsealed, s.loop.stats.UnsealedAt, s.loop.stats.OldestUnsealedAge = n, now, 0
	if n > 0 {
		s.loop.stats.OldestUnsealedAge = max(now.Sub(oldest), 0)
	}
	return nil
}
