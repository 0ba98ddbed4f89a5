package chain

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// The hash chain's side of retention (audit.RetentionChain).

var _ audit.RetentionChain = (*Sealer)(nil)

// CheckRetention returns an error unless the Sealer can keep store
// verifiable through retention: it must seal store itself (or the store
// store wraps, see Unwrap), sign checkpoints (SealerOptions.SigningKey),
// and store must be able to purge seals (storekit.ChainPurger).
func (s *Sealer) CheckRetention(store audit.Store) error {
	if s.cfg.SigningKey == nil {
		return errors.New("the Sealer has no SigningKey: retention writes a signed checkpoint at the purge boundary, so that the chain stays verifiable")
	}
	if !sameStore(store, s.store) {
		return fmt.Errorf("the Sealer seals %T, not the store retention purges (%T)", s.store, store)
	}
	if _, ok := s.store.(storekit.ChainPurger); !ok {
		return fmt.Errorf("%T keeps a chain but cannot purge seals (storekit.ChainPurger)", s.store)
	}
	return nil
}

// sameStore reports whether a and b are one store, or wrap one (an
// Unwrap() audit.Store method, as siem.Tee has).
func sameStore(a audit.Store, b storekit.SealStore) bool {
	return unwrap(a) == unwrap(b)
}

// unwrap returns the store s wraps, through every wrapper that has an
// Unwrap() audit.Store method, or s.
func unwrap(s audit.Store) audit.Store {
	for range 16 {
		u, ok := s.(interface{ Unwrap() audit.Store })
		if !ok {
			return s
		}
		s = u.Unwrap()
	}
	return s
}

// Retain seals the records waiting, hands the records past their
// retention to archive (when not nil) with their seals, and writes a
// signed checkpoint at the purge boundary, which it sets in res.Boundary.
// Retention calls it before it removes records (see
// audit.RetentionChain).
func (s *Sealer) Retain(ctx context.Context, res *audit.RetentionResult, archive audit.ArchiveFunc) error {
	if _, err := s.SealOnce(ctx); err != nil {
		return err
	}
	boundary, err := s.scanChain(ctx, s.oldFunc(res), res, archive)
	if err != nil {
		return err
	}
	if _, err := s.checkpointAt(ctx, boundary, res.Cutoff, res.TenantCutoffs, true); err != nil {
		return err
	}
	res.Boundary = boundary.Seq
	return nil
}

// PurgeSeals removes the seals up to boundary, which a checkpoint of
// Retain covers, and returns how many it removed.
func (s *Sealer) PurgeSeals(ctx context.Context, boundary uint64) (int64, error) {
	p, ok := s.store.(storekit.ChainPurger)
	if !ok {
		return 0, fmt.Errorf("audit: %T cannot purge seals", s.store)
	}
	return p.PurgeSeals(ctx, boundary)
}

var errStop = errors.New("stop")

// oldFunc returns whether a sealed record is past its retention: before
// its tenant's cutoff. A record already gone is judged by its seal's
// TenantTag, where the tag is of a tenant of TenantMaxAge under the
// Sealer's key, and by the default cutoff otherwise.
func (s *Sealer) oldFunc(res *audit.RetentionResult) func(s *storekit.Seal, rec *audit.Record) bool {
	if len(res.TenantCutoffs) == 0 {
		return func(s *storekit.Seal, _ *audit.Record) bool { return s.EventTime.Before(res.Cutoff) }
	}
	key := s.key
	mac := hmac.New(sha256.New, key.Secret)
	byTag := make(map[string]time.Time, len(res.TenantCutoffs))
	for t, at := range res.TenantCutoffs {
		byTag[string(tenantTag(mac, t))] = at
	}
	return func(s *storekit.Seal, rec *audit.Record) bool {
		cut := res.Cutoff
		switch {
		case rec != nil:
			cut = cutoffOf(res, rec.TenantID)
		case len(s.TenantTag) > 0 && s.KeyID == key.ID:
			if at, ok := byTag[string(s.TenantTag)]; ok {
				cut = at
			}
		}
		return s.EventTime.Before(cut)
	}
}

// cutoffOf returns the cutoff of tenant's records.
func cutoffOf(res *audit.RetentionResult, tenant string) time.Time {
	if at, ok := res.TenantCutoffs[tenant]; ok && tenant != "" {
		return at
	}
	return res.Cutoff
}

// scanChain reads the chain once. It returns the boundary, the last seal
// of the longest prefix of the chain whose records are all older than
// cutoff; with an Archive, it hands it the sealed records older than
// cutoff in chain order as it goes, then the unsealed ones, in batches of
// MaxLimit, and counts them in res.Archived. Without an Archive it stops
// at the end of the prefix. Nothing is kept but the batch at hand.
func (s *Sealer) scanChain(ctx context.Context, isOld func(*storekit.Seal, *audit.Record) bool, res *audit.RetentionResult, archive audit.ArchiveFunc) (storekit.Seal, error) {
	var (
		boundary storekit.Seal
		prefix   = true
		recs     []audit.Record
		seals    []json.RawMessage
		// archiveErr is Archive's error, returned through ScanChain
		archiveErr error
	)
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		if err := archive(ctx, recs, seals); err != nil {
			archiveErr = fmt.Errorf("archive: %w", err)
			return archiveErr
		}
		res.Archived += int64(len(recs))
		recs, seals = nil, nil // Archive may keep the slices it was given
		return nil
	}
	add := func(rec *audit.Record, s *storekit.Seal) error {
		var js json.RawMessage
		if s != nil {
			var err error
			if js, err = json.Marshal(s); err != nil {
				return err
			}
		}
		recs, seals = append(recs, rec.Clone()), append(seals, js)
		if len(recs) == audit.MaxLimit {
			return flush()
		}
		return nil
	}
	archiving := archive != nil
	err := s.store.ScanChain(ctx, 0, func(seal storekit.Seal, rec *audit.Record) error {
		old := isOld(&seal, rec)
		if prefix {
			if old {
				boundary = seal
			} else if prefix = false; !archiving {
				return errStop
			}
		}
		if archiving && old && rec != nil {
			return add(rec, &seal)
		}
		return nil
	})
	switch {
	case archiveErr != nil:
		return boundary, archiveErr
	case err != nil && !errors.Is(err, errStop):
		return boundary, err
	}
	if !archiving {
		return boundary, nil
	}
	// records appended since SealOnce
	err = s.store.ScanUnsealed(ctx, func(rec *audit.Record) error {
		if rec.OccurredAt.Before(cutoffOf(res, rec.TenantID)) {
			return add(rec, nil)
		}
		return nil
	})
	switch {
	case archiveErr != nil:
		return boundary, archiveErr
	case err != nil:
		return boundary, fmt.Errorf("archive: %w", err)
	}
	return boundary, flush()
}
