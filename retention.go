package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Retention periods.
const (
	// DefaultMaxAge is how long records are kept by default: 90 days.
	DefaultMaxAge = 90 * 24 * time.Hour
	// PCIMaxAge is 366 days: at least the 12 calendar months of history
	// that PCI DSS 10.5.1 requires, whether or not they hold 29 February.
	// Retention runs once a day by default, so a record is removed
	// between 366 and 367 days after it occurred.
	PCIMaxAge = 366 * 24 * time.Hour
)

// ArchiveFunc receives records before retention removes them, in batches
// of up to MaxLimit, with their seals when the store keeps a hash chain:
// seals[i] is the seal of recs[i] in its JSON form (chain.Seal's), nil for
// a record not sealed. From a store that keeps a chain, the sealed records
// come in chain order (the order they were sealed, about oldest first),
// then the records not sealed yet; from any other store, newest first, as
// Query returns them.
//
// An ArchiveFunc must be durable before it returns: once it returns nil,
// retention may remove the records, so they must have reached the archive
// for good (a buffered or compressing writer flushed, a file synced).
// If it returns an error, retention stops and removes nothing.
type ArchiveFunc func(ctx context.Context, recs []Record, seals []json.RawMessage) error

// A RetentionChain is the hash chain's side of retention; the chain
// package's Sealer is one. NewRetention calls CheckRetention once; each
// run calls Retain before it removes records, and PurgeSeals after.
type RetentionChain interface {
	// CheckRetention returns an error if the chain cannot keep store
	// verifiable through retention: it seals another store, or it cannot
	// sign checkpoints.
	CheckRetention(store Store) error
	// Retain seals the records waiting, hands the records past their
	// retention (res.Cutoff, res.TenantCutoffs) to archive when it is
	// not nil, counting them in res.Archived, and signs a checkpoint at
	// the purge boundary, the newest seal whose records, and all before
	// it, are past their retention, which it sets in res.Boundary; the
	// chain then verifies without the records retention removes.
	Retain(ctx context.Context, res *RetentionResult, archive ArchiveFunc) error
	// PurgeSeals removes the seals up to boundary, which a checkpoint
	// of Retain covers, and returns how many it removed.
	PurgeSeals(ctx context.Context, boundary uint64) (int64, error)
}

// purger and tenantPurger are storekit.Purger and storekit.TenantPurger:
// the stores retention can purge.
type purger interface {
	Purge(ctx context.Context, before time.Time) (int64, error)
}

type tenantPurger interface {
	PurgeTenants(ctx context.Context, before time.Time, tenants map[string]time.Time) (int64, error)
}

// unwrap returns the store s wraps, through every wrapper that has an
// Unwrap() Store method (siem.Tee), or s.
func unwrap(s Store) Store {
	for range 16 {
		u, ok := s.(interface{ Unwrap() Store })
		if !ok {
			return s
		}
		s = u.Unwrap()
	}
	return s
}

// chainKeeper is what a store that keeps a hash chain has
// (storekit.ChainPurger): retention must not remove its records without
// the chain's side.
type chainKeeper interface {
	PurgeSeals(ctx context.Context, through uint64) (int64, error)
}

// RetentionOptions configures Retention. The zero value (and nil) removes
// records older than 90 days once a day.
type RetentionOptions struct {
	// MaxAge is how long records are kept. Default DefaultMaxAge.
	MaxAge time.Duration
	// TenantMaxAge is how long the records of the tenants listed are
	// kept, by TenantID, in place of MaxAge (e.g. 30 days for one plan,
	// 365 for another). Each tenant ID must be a valid identity
	// (CheckID). The store must implement TenantPurger. With a
	// hash chain, every retention checkpoint signs these cutoffs, and
	// each seal names its record's tenant by a keyed tag, so that Verify
	// tells a record removed by its tenant's retention from a deleted
	// one. See docs/tenants.md.
	TenantMaxAge map[string]time.Duration
	// Interval is how often Run runs. Default 24h.
	Interval time.Duration
	// Archive, when set, gets the records before they go.
	Archive ArchiveFunc
	// Logger records each run as ActionAuditRetentionRun. Optional.
	Logger *Logger
	// OnError is told of the errors of Run's runs, which are counted in
	// Stats too. Default: print to standard error, as the Logger does.
	OnError func(error)
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// RetentionResult says what a retention run did.
type RetentionResult struct {
	Cutoff time.Time // records that occurred before it were removed
	// TenantCutoffs are the cutoffs of the tenants of TenantMaxAge, which
	// apply to their records in place of Cutoff; nil without it.
	TenantCutoffs map[string]time.Time
	Archived      int64 // records handed to Archive
	Purged        int64 // records removed
	// Boundary is the newest seal removed with its records (0 for none);
	// a checkpoint at Boundary keeps the chain verifiable.
	Boundary    uint64
	SealsPurged int64
}

// RetentionStats says what a Retention did since NewRetention. Alert on
// Errors: records past their retention are still stored, or an archive
// failed.
type RetentionStats struct {
	Runs       uint64          // runs ended, by Run or RunOnce
	LastRun    time.Time       // when the last one ended; zero before the first
	LastResult RetentionResult // what it did
	Purged     uint64          // records removed by all runs
	Archived   uint64          // records handed to Archive by all runs
	Errors     uint64          // runs that failed; Run's also went to OnError
	LastError  error           // the newest of those errors; nil if none
}

// Retention removes old records from a store.
type Retention struct {
	store purger
	chain RetentionChain // nil when the store keeps no chain
	cfg   RetentionOptions
	runMu chan struct{}

	statsMu sync.Mutex
	stats   RetentionStats
}

// Stats returns what the Retention did.
func (r *Retention) Stats() RetentionStats {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	return r.stats
}

func (r *Retention) ran(res RetentionResult, err error) {
	r.statsMu.Lock()
	defer r.statsMu.Unlock()
	st := &r.stats
	st.Runs++
	st.LastRun, st.LastResult = r.cfg.Now(), res
	st.Purged += uint64(max(res.Purged, 0))
	st.Archived += uint64(max(res.Archived, 0))
	if err != nil {
		st.Errors++
		st.LastError = err
	}
}

// NewRetention returns a Retention for store, which must be able to purge
// (storekit.Purger). chain is the hash chain's side, the chain package's
// Sealer of store: required when the store keeps a chain
// (storekit.ChainPurger), so that the chain stays verifiable after a
// purge; nil otherwise. opts may be nil for the defaults; NewRetention
// copies it.
func NewRetention(store Store, chain RetentionChain, opts *RetentionOptions) (*Retention, error) {
	if store == nil {
		return nil, errors.New("audit: retention: nil store")
	}
	// a wrapper (siem.Tee) passes purges through: what the store can
	// do is what the store it wraps can
	store = unwrap(store)
	p, ok := store.(purger)
	if !ok {
		return nil, fmt.Errorf("audit: retention: %T cannot purge", store)
	}
	var cfg RetentionOptions
	if opts != nil {
		cfg = *opts
	}
	if cfg.MaxAge == 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.MaxAge < 0 {
		return nil, errors.New("audit: retention: MaxAge must be positive")
	}
	if len(cfg.TenantMaxAge) > 0 {
		ages := make(map[string]time.Duration, len(cfg.TenantMaxAge))
		for t, d := range cfg.TenantMaxAge {
			if t == "" {
				return nil, errors.New("audit: retention: TenantMaxAge: an empty tenant ID (records without a tenant follow MaxAge)")
			}
			if p := idProblem(t); p != "" {
				return nil, fmt.Errorf("audit: retention: TenantMaxAge: a tenant ID %s", p)
			}
			if d <= 0 {
				return nil, fmt.Errorf("audit: retention: TenantMaxAge of tenant %q must be positive, not %v", t, d)
			}
			ages[t] = d
		}
		cfg.TenantMaxAge = ages
		if _, ok := store.(tenantPurger); !ok {
			return nil, fmt.Errorf("audit: retention: TenantMaxAge is set, but %T cannot purge per tenant (it does not implement storekit.TenantPurger)", store)
		}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 24 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.OnError == nil {
		cfg.OnError = printError
	}
	r := &Retention{store: p, cfg: cfg, runMu: make(chan struct{}, 1)}
	if chain != nil {
		if err := chain.CheckRetention(store); err != nil {
			return nil, fmt.Errorf("audit: retention: %w", err)
		}
		r.chain = chain
	} else if _, ok := store.(chainKeeper); ok {
		return nil, fmt.Errorf("audit: retention: %T keeps a hash chain: pass its Sealer to NewRetention, so that the chain stays verifiable", store)
	}
	return r, nil
}

// Run runs retention now and then every Interval until ctx ends, and
// returns ctx's error. Errors of single runs go to OnError.
func (r *Retention) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.cfg.OnError(err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// RunOnce removes the records older than MaxAge: it seals what is
// waiting, archives the records, writes a checkpoint at the purge
// boundary, removes the records, then the seals the checkpoint covers,
// and records the run. Records at or after the cutoff are never removed.
// Concurrent calls on one Retention run one after the other; runs in
// other processes are safe too (the store's purge is).
func (r *Retention) RunOnce(ctx context.Context) (RetentionResult, error) {
	select {
	case r.runMu <- struct{}{}:
		defer func() { <-r.runMu }()
	case <-ctx.Done():
		return RetentionResult{}, ctx.Err()
	}
	now := r.cfg.Now()
	res := RetentionResult{Cutoff: truncMicro(now.Add(-r.cfg.MaxAge))}
	for t, d := range r.cfg.TenantMaxAge {
		if res.TenantCutoffs == nil {
			res.TenantCutoffs = make(map[string]time.Time, len(r.cfg.TenantMaxAge))
		}
		res.TenantCutoffs[t] = truncMicro(now.Add(-d))
	}
	err := r.run(ctx, &res)
	if r.cfg.Logger != nil {
		ev := Event{
			Action: ActionAuditRetentionRun, ResourceType: "audit_log", Status: StatusSuccess,
			Details: map[string]any{
				"cutoff": res.Cutoff, "max_age": r.cfg.MaxAge.String(), "purged": res.Purged,
				"archived": res.Archived, "boundary_seq": res.Boundary, "seals_purged": res.SealsPurged,
			},
		}
		if len(res.TenantCutoffs) > 0 {
			ages := make(map[string]string, len(r.cfg.TenantMaxAge))
			for t, d := range r.cfg.TenantMaxAge {
				ages[t] = d.String()
			}
			ev.Details["tenant_max_age"] = ages
		}
		if err != nil {
			ev.Status, ev.ErrorMessage = StatusError, err.Error()
		}
		if lerr := r.cfg.Logger.Log(ctx, ev); lerr != nil && err == nil {
			err = fmt.Errorf("audit: retention: recording the run: %w", lerr)
		}
	}
	r.ran(res, err)
	return res, err
}

func (r *Retention) run(ctx context.Context, res *RetentionResult) error {
	if r.chain != nil {
		// first the checkpoint, so that a crash after it leaves records
		// the checkpoint allows to be missing, never the reverse
		if err := r.chain.Retain(ctx, res, r.cfg.Archive); err != nil {
			return fmt.Errorf("audit: retention: %w", err)
		}
	} else if r.cfg.Archive != nil {
		n, err := r.archive(ctx, res)
		res.Archived = n
		if err != nil {
			return fmt.Errorf("audit: retention: archive: %w", err)
		}
	}
	var n int64
	var err error
	if len(res.TenantCutoffs) > 0 {
		n, err = r.store.(tenantPurger).PurgeTenants(ctx, res.Cutoff, res.TenantCutoffs)
	} else {
		n, err = r.store.Purge(ctx, res.Cutoff)
	}
	res.Purged = n
	if err != nil {
		return fmt.Errorf("audit: retention: purge: %w", err)
	}
	if r.chain != nil && res.Boundary > 0 {
		n, err := r.chain.PurgeSeals(ctx, res.Boundary)
		res.SealsPurged = n
		if err != nil {
			return fmt.Errorf("audit: retention: purge seals: %w", err)
		}
	}
	return nil
}

// cutoffOf returns the cutoff of tenant's records: its own, or Cutoff.
func (res *RetentionResult) cutoffOf(tenant string) time.Time {
	if at, ok := res.TenantCutoffs[tenant]; ok && tenant != "" {
		return at
	}
	return res.Cutoff
}

// archive hands the records past their retention to Archive, newest
// first, for a store without a chain.
func (r *Retention) archive(ctx context.Context, res *RetentionResult) (int64, error) {
	q, ok := r.store.(Querier)
	if !ok {
		return 0, fmt.Errorf("%T cannot be queried", r.store)
	}
	var total int64
	// the latest cutoff of all; each record is kept or not by its own
	until := res.Cutoff
	for _, at := range res.TenantCutoffs {
		if at.After(until) {
			until = at
		}
	}
	f := Filter{Until: until, Limit: MaxLimit}
	for {
		p, err := q.Query(ctx, f)
		if err != nil {
			return total, err
		}
		recs := p.Records[:0:0]
		for i := range p.Records {
			if p.Records[i].OccurredAt.Before(res.cutoffOf(p.Records[i].TenantID)) {
				recs = append(recs, p.Records[i])
			}
		}
		if len(recs) > 0 {
			if err := r.cfg.Archive(ctx, recs, make([]json.RawMessage, len(recs))); err != nil {
				return total, err
			}
			total += int64(len(recs))
		}
		if p.NextCursor == "" {
			break
		}
		f.Cursor = p.NextCursor
	}
	return total, nil
}

// ArchiveNDJSON returns an ArchiveFunc that writes each record to w as one
// line of JSON, {"record": …, "seal": …} (seal null when the record was not
// sealed): a file an auditor can read, and Verify could check against the
// checkpoints.
//
// It makes each batch durable before it returns, as ArchiveFunc requires:
// it flushes w, then each of under in order, and syncs each writer that can
// be synced. under are the writers beneath w, outermost first: w's own
// buffer alone is not enough when w writes to a file. A writer is flushed
// by its Flush() error method (gzip.Writer, bufio.Writer) and synced by its
// Sync() error method (*os.File). For a compressed file:
//
//	f, err := os.OpenFile("audit-archive.ndjson.gz", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
//	…
//	zw := gzip.NewWriter(f)
//	archive := audit.ArchiveNDJSON(zw, f) // after each batch: zw.Flush(), f.Sync()
//
// ArchiveNDJSON closes nothing: close zw, then f, when retention is done.
// A file flushed but not closed is complete up to its last batch; a gzip
// reader reports the missing trailer as io.ErrUnexpectedEOF after the
// last line.
func ArchiveNDJSON(w io.Writer, under ...io.Writer) ArchiveFunc {
	enc := json.NewEncoder(w)
	layers := append([]io.Writer{w}, under...)
	return func(_ context.Context, recs []Record, seals []json.RawMessage) error {
		for i := range recs {
			s := json.RawMessage("null")
			if i < len(seals) && seals[i] != nil {
				s = seals[i]
			}
			if err := enc.Encode(struct {
				Record *Record         `json:"record"`
				Seal   json.RawMessage `json:"seal"`
			}{&recs[i], s}); err != nil {
				return fmt.Errorf("audit: archive: %w", err)
			}
		}
		for _, l := range layers {
			if f, ok := l.(interface{ Flush() error }); ok {
				if err := f.Flush(); err != nil {
					return fmt.Errorf("audit: archive: flush: %w", err)
				}
			}
			if f, ok := l.(interface{ Sync() error }); ok {
				if err := f.Sync(); err != nil {
					return fmt.Errorf("audit: archive: sync: %w", err)
				}
			}
		}
		return nil
	}
}
