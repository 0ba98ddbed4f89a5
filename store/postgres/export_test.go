package postgres

import (
	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// QueryText returns the statement and arguments that s.Query(ctx, f)
// sends.
func QueryText(s *Store, f audit.Filter) (string, []any) {
	if f.Cursor == "" {
		return buildQuery(s.sql.queryAt, &f, storekit.PageSize(&f)+1)
	}
	return buildQuery(s.sql.query, &f, storekit.PageSize(&f)+1)
}

// ScanText returns the statement and arguments that s.ScanRecords(ctx,
// f, fn) sends.
func ScanText(s *Store, f audit.Filter) (string, []any) {
	return buildQuery(s.sql.query, &f, 0)
}

// SnapshotHorizon and HorizonSnapshot are snapshotHorizon and
// horizonSnapshot, for tests.
var (
	SnapshotHorizon = snapshotHorizon
	HorizonSnapshot = horizonSnapshot
)

// PrefixEnd is prefixEnd, for tests.
var PrefixEnd = prefixEnd

// SealQuery returns the statement a sealing step reads its records with,
// and the settings it runs it under.
func SealQuery(s *Store) (settings, query string) { return sealPlanSettings, s.toSealQuery() }

// Preparable is preparable, for tests.
var Preparable = preparable

// PreparedCount returns how many statements s keeps prepared.
func PreparedCount(s *Store) int {
	s.prepared.mu.Lock()
	defer s.prepared.mu.Unlock()
	return len(s.prepared.stmts)
}

// ReadSlots returns how many reads s admits at once, 0 for no limit.
func ReadSlots(s *Store) int { return cap(s.reads) }

// TakeReadSlot takes one of s's read slots, as a read in progress does,
// until the function it returns is called.
func TakeReadSlot(s *Store) func() { s.reads <- struct{}{}; return func() { <-s.reads } }
