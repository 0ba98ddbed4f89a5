package siem

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// A Tee passes through what its primary store can do besides Append, so
// that one handle serves the Logger, the API, the Sealer and Retention:
// it reads, seals and purges by asking the primary. When the primary
// cannot, the method returns an error that wraps errors.ErrUnsupported;
// Unwrap returns the primary, for code that must know what it can do
// (audit.NewRetention, chain.NewSealer and package trail look through
// it).
var (
	_ audit.Querier         = (*Tee)(nil)
	_ audit.Getter          = (*Tee)(nil)
	_ storekit.Purger       = (*Tee)(nil)
	_ storekit.TenantPurger = (*Tee)(nil)
	_ storekit.SealStore    = (*Tee)(nil)
	_ storekit.ChainPurger  = (*Tee)(nil)
)

// Unwrap returns the primary store.
func (t *Tee) Unwrap() audit.Store { return t.primary }

// unsupported is the error of a method the primary does not have.
func (t *Tee) unsupported(what string) error {
	return fmt.Errorf("audit: siem: the Tee's primary %T cannot %s: %w", t.primary, what, errors.ErrUnsupported)
}

// Query asks the primary (audit.Querier).
func (t *Tee) Query(ctx context.Context, f audit.Filter) (audit.Page, error) {
	if q, ok := t.primary.(audit.Querier); ok {
		return q.Query(ctx, f)
	}
	return audit.Page{}, t.unsupported("be queried")
}

// Get asks the primary (audit.Getter).
func (t *Tee) Get(ctx context.Context, id uuid.UUID) (audit.Record, error) {
	if g, ok := t.primary.(audit.Getter); ok {
		return g.Get(ctx, id)
	}
	return audit.Record{}, t.unsupported("look records up")
}

// Purge asks the primary (storekit.Purger).
func (t *Tee) Purge(ctx context.Context, before time.Time) (int64, error) {
	if p, ok := t.primary.(storekit.Purger); ok {
		return p.Purge(ctx, before)
	}
	return 0, t.unsupported("purge")
}

// PurgeTenants asks the primary (storekit.TenantPurger).
func (t *Tee) PurgeTenants(ctx context.Context, before time.Time, tenants map[string]time.Time) (int64, error) {
	if p, ok := t.primary.(storekit.TenantPurger); ok {
		return p.PurgeTenants(ctx, before, tenants)
	}
	return 0, t.unsupported("purge per tenant")
}

// sealStore returns the primary as a storekit.SealStore.
func (t *Tee) sealStore() (storekit.SealStore, error) {
	if s, ok := t.primary.(storekit.SealStore); ok {
		return s, nil
	}
	return nil, t.unsupported("keep a hash chain")
}

// SealNext asks the primary (storekit.SealStore).
func (t *Tee) SealNext(ctx context.Context, max int, fn func(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error)) (int, error) {
	s, err := t.sealStore()
	if err != nil {
		return 0, err
	}
	return s.SealNext(ctx, max, fn)
}

// ScanChain asks the primary (storekit.SealStore).
func (t *Tee) ScanChain(ctx context.Context, from uint64, fn func(s storekit.Seal, r *audit.Record) error) error {
	s, err := t.sealStore()
	if err != nil {
		return err
	}
	return s.ScanChain(ctx, from, fn)
}

// ScanUnsealed asks the primary (storekit.SealStore).
func (t *Tee) ScanUnsealed(ctx context.Context, fn func(r *audit.Record) error) error {
	s, err := t.sealStore()
	if err != nil {
		return err
	}
	return s.ScanUnsealed(ctx, fn)
}

// AppendCheckpoint asks the primary (storekit.SealStore).
func (t *Tee) AppendCheckpoint(ctx context.Context, c storekit.Checkpoint) error {
	s, err := t.sealStore()
	if err != nil {
		return err
	}
	return s.AppendCheckpoint(ctx, c)
}

// Checkpoints asks the primary (storekit.SealStore).
func (t *Tee) Checkpoints(ctx context.Context) ([]storekit.Checkpoint, error) {
	s, err := t.sealStore()
	if err != nil {
		return nil, err
	}
	return s.Checkpoints(ctx)
}

// PurgeSeals asks the primary (storekit.ChainPurger).
func (t *Tee) PurgeSeals(ctx context.Context, through uint64) (int64, error) {
	if p, ok := t.primary.(storekit.ChainPurger); ok {
		return p.PurgeSeals(ctx, through)
	}
	return 0, t.unsupported("purge seals")
}
