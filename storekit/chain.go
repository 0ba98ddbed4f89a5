package storekit

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/trailmark/audit"
)

// Seal is the chain link of one record.
type Seal struct {
	Seq       uint64    `json:"seq"`        // position in the chain, from 1
	EventID   uuid.UUID `json:"event_id"`   // the sealed record
	EventTime time.Time `json:"event_time"` // its OccurredAt: says whether retention may have removed it
	Digest    []byte    `json:"digest"`     // SHA-256 of the record's canonical form
	KeyID     string    `json:"key_id"`     // the HMAC key that made Hash
	Hash      []byte    `json:"hash"`       // the chain value after this record
	SealedAt  time.Time `json:"sealed_at"`  // when the sealer wrote it
	// TenantTag names the record's tenant without spelling it:
	// HMAC-SHA256 under the seal's key of "trailmark.tenant.v1\n" and the
	// TenantID. Empty for a record without a tenant, and in the seals
	// made before tags existed. The link covers it when it is not empty,
	// so that Verify knows, for a missing record, whose retention applies
	// (RetentionOptions.TenantMaxAge), and a tenant's export knows which
	// positions are the tenant's.
	TenantTag []byte `json:"tenant_tag,omitempty"`
	// Leaf is the seal's leaf of the Merkle tree, which the Sealer sets
	// in a sealing step when the store is a TreeStore, for SealNext to
	// store with the seal (see TreeStore). The chain's link does not
	// cover it; nil when read back.
	Leaf *Leaf `json:"-"`
}

// Checkpoint is a signed statement of the chain's state: the hash after
// record Seq, and that records older than PurgedBefore may have been
// removed by retention. A Boundary checkpoint, written by retention, also
// says that the seals up to Seq may be removed: verification may start
// after it, and only after such a checkpoint. Verify checks the newest
// exported checkpoints against the store, so that deleting the newest
// records is detected.
type Checkpoint struct {
	Seq          uint64    `json:"seq"`
	Hash         []byte    `json:"hash"`
	At           time.Time `json:"at"`
	PurgedBefore time.Time `json:"purged_before,omitzero"`
	Boundary     bool      `json:"boundary,omitempty"`
	// TenantCutoffs are the retention cutoffs of the tenants that have a
	// retention of their own (RetentionOptions.TenantMaxAge): a sealed
	// record of such a tenant (its seal's TenantTag says whose it is) may
	// be missing when it occurred before its tenant's cutoff; every other
	// record, before PurgedBefore. Signed, and carried on by every later
	// checkpoint. The signature covers a salted commitment to each
	// tenant's ID, so that a tenant's export can show its own cutoff and
	// leave the other tenants' IDs out.
	TenantCutoffs []TenantCutoff `json:"tenant_cutoffs,omitempty"`
	SignerID      string         `json:"signer_id"`
	Signature     []byte         `json:"signature"`
}

// TenantCutoff is the retention cutoff of one tenant in a Checkpoint.
type TenantCutoff struct {
	TenantID string `json:"tenant_id,omitempty"`
	// Salt is random, per checkpoint and tenant: the commitment does not
	// let anyone confirm a guess of a tenant ID left out.
	Salt         []byte    `json:"salt,omitempty"`
	PurgedBefore time.Time `json:"purged_before"`
	// Commitment stands for TenantID and Salt where they are left out
	// (the other tenants' cutoffs in a tenant's export): SHA-256 of
	// "trailmark.tenant-cutoff.v1\n", Salt and TenantID. The signature
	// covers it; with TenantID and Salt present it is computed from them.
	Commitment []byte `json:"commitment,omitempty"`
}

// SealStore is a Store that keeps a hash chain over its records. The
// Sealer writes the chain; Verify reads it.
type SealStore interface {
	audit.Store
	// SealNext runs one sealing step as the only sealer: within the
	// store's sealing lock it calls fn with the newest seal (its Seq,
	// Hash and KeyID at least; Seq 0 if none) and up to max committed
	// records that have no seal yet (more only to keep together records
	// the store cannot tell apart where sealing continues, as PostgreSQL
	// does records of one ID and one transaction), in the order they must
	// be sealed,
	// and stores the seals fn returns, all or nothing. It returns how
	// many it stored; 0, without calling fn, when nothing is waiting or
	// another sealer holds the lock. When the seals carry leaves
	// (Seal.Leaf: all of them; see SealLeaves), a TreeStore stores them
	// too, in the same transaction, and fails if they do not continue
	// its tree (CheckLeaves). With max 0 it calls fn with the
	// newest seal and no records. When no seal is left (retention removed
	// them all), the newest seal is the Seq and Hash of the newest
	// checkpoint, with no KeyID. The store must not refuse to seal
	// because of a stored checkpoint: it cannot tell a signed one from a
	// forged row; the Sealer checks the signatures, refuses a rewound
	// chain, and continues from a checkpoint only if a validly signed one
	// names that Seq and Hash.
	SealNext(ctx context.Context, max int, fn func(last Seal, recs []audit.Record) ([]Seal, error)) (int, error)
	// ScanChain calls fn for every seal with Seq >= from, in order, with
	// the record it seals (the one with the seal's EventID and
	// EventTime), or nil if the store does not hold it. Details and
	// Changes are canonical JSON, nil when absent.
	ScanChain(ctx context.Context, from uint64, fn func(s Seal, r *audit.Record) error) error
	// ScanUnsealed calls fn for every record that no seal names (by ID
	// and OccurredAt, as ScanChain matches them).
	ScanUnsealed(ctx context.Context, fn func(r *audit.Record) error) error
	// AppendCheckpoint stores a checkpoint.
	AppendCheckpoint(ctx context.Context, c Checkpoint) error
	// Checkpoints returns the stored checkpoints, oldest first.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// SealBatchSizer is a SealStore that advises the default size of a
// sealing step (chain.SealerOptions.BatchSize). Each step has fixed costs
// (round trips, a commit), so bigger steps seal faster; a store whose
// sealing step holds back no writer (PostgreSQL) advises a bigger one than
// the Sealer's default, which suits a store whose step holds its only
// writer's lock (SQLite).
type SealBatchSizer interface {
	// SealBatchSize returns the number of records a sealing step takes
	// by default.
	SealBatchSize() int
}

// ChainPurger is a SealStore that can remove the oldest seals once a
// checkpoint covers them. Only retention calls it.
type ChainPurger interface {
	// PurgeSeals deletes the seals with Seq <= through and returns how
	// many it deleted. The store must hold a checkpoint at Seq through.
	PurgeSeals(ctx context.Context, through uint64) (int64, error)
}

// ChainSource is what Verify reads: a SealStore, or an export of one (see
// ExportChain and NewExportSource).
type ChainSource interface {
	ScanChain(ctx context.Context, from uint64, fn func(s Seal, r *audit.Record) error) error
	ScanUnsealed(ctx context.Context, fn func(r *audit.Record) error) error
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
}

// Purger is a Store that can delete old records.
type Purger interface {
	// Purge deletes the records whose OccurredAt is before cutoff and
	// returns how many it deleted. It never deletes a record at or after
	// cutoff. Concurrent calls must be safe.
	Purge(ctx context.Context, cutoff time.Time) (int64, error)
}

// TenantPurger is a Purger that can delete old records with a cutoff per
// tenant. Retention needs it for RetentionOptions.TenantMaxAge.
type TenantPurger interface {
	// PurgeTenants deletes the records whose OccurredAt is before the
	// cutoff of their tenant, tenants[TenantID] for the tenants listed
	// and def for every other record (those without a tenant too), and
	// returns how many it deleted. It never deletes a record at or after
	// its cutoff. Concurrent calls must be safe.
	PurgeTenants(ctx context.Context, def time.Time, tenants map[string]time.Time) (int64, error)
}
