package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// columns are the columns Append writes, in the order of rowArgs.
const columns = "id, ts, recorded_at, user_id, user_email, ip_address, user_agent, action, resource_type, resource_id, details, changes, request_id, session_id, status, error_message, tenant_id, trace_id, span_id"

const (
	nColumns = 19
	// chunkRows records go in one INSERT: 16 × 500 parameters stay well
	// below SQLite's limit of 32766.
	chunkRows = 500
)

var (
	rowPlaceholders = "(" + strings.TrimSuffix(strings.Repeat("?,", nColumns), ",") + ")"
	insertFull      = insertSQL(chunkRows)
)

func insertSQL(n int) string {
	var sb strings.Builder
	sb.WriteString("INSERT INTO audit_logs (" + columns + ") VALUES ")
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(rowPlaceholders)
	}
	sb.WriteString(" ON CONFLICT (id) DO NOTHING")
	return sb.String()
}

// Append stores records in one transaction, all or nothing, ignoring
// those whose ID is already stored: a retried batch stores each record
// once. Records are written with multi-row INSERT … ON CONFLICT DO
// NOTHING, up to 500 rows a statement, and are on disk (synchronous=FULL)
// when Append returns nil. Details and Changes are stored in canonical
// form (storekit.CanonicalJSON); empty ones as NULL.
//
// A record the store refuses for its data fails the whole call with an
// error marked storekit.Permanent; other errors (a locked, read-only or full
// file) are transient.
func (s *Store) Append(ctx context.Context, records ...audit.Record) error {
	if len(records) == 0 {
		return nil
	}
	args, err := s.rows(records)
	if err != nil {
		return storekit.Permanent(fmt.Errorf("audit: sqlite: append: %w", err))
	}
	err = s.writeTx(ctx, func(tx *sqlx.Tx) error {
		for start := 0; start < len(records); start += chunkRows {
			n := min(chunkRows, len(records)-start)
			q := insertFull
			if n < chunkRows {
				q = insertSQL(n)
			}
			if _, err := tx.ExecContext(ctx, q, args[start*nColumns:(start+n)*nColumns]...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("audit: sqlite: append %d record(s): %w", len(records), err)
		if errCode(err) == 19 { // SQLITE_CONSTRAINT: the data, not the file
			return storekit.Permanent(err)
		}
		return err
	}
	return nil
}

// writeTx runs f in a write transaction on the writer connection.
func (s *Store) writeTx(ctx context.Context, f func(tx *sqlx.Tx) error) error {
	tx, err := s.writer.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// rows validates records and returns their column values, in order.
func (s *Store) rows(records []audit.Record) ([]any, error) {
	now := s.cfg.now().UnixMicro()
	args := make([]any, 0, len(records)*nColumns)
	str := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	for i := range records {
		r := &records[i]
		if err := validate(r); err != nil {
			return nil, fmt.Errorf("record %d (%s): %w", i, r.ID, err)
		}
		var ip any
		if r.IPAddress.IsValid() {
			ip = r.IPAddress.String()
		}
		details, err := canonical(r.Details)
		if err != nil {
			return nil, fmt.Errorf("record %d (%s): details: %w", i, r.ID, err)
		}
		changes, err := canonical(r.Changes)
		if err != nil {
			return nil, fmt.Errorf("record %d (%s): changes: %w", i, r.ID, err)
		}
		id := r.ID // a copy: the driver keeps the slice until the statement runs
		args = append(args, id[:], r.OccurredAt.UnixMicro(), now,
			str(r.UserID), str(r.UserEmail), ip, str(r.UserAgent),
			string(r.Action), r.ResourceType, str(r.ResourceID), details, changes,
			str(r.RequestID), str(r.SessionID), string(r.Status), str(r.ErrorMessage),
			str(r.TenantID), str(r.TraceID), str(r.SpanID))
	}
	return args, nil
}

// canonical returns the canonical JSON text of b, or nil for none.
func canonical(b json.RawMessage) (any, error) {
	c, err := storekit.CanonicalJSON(b)
	if err != nil || len(c) == 0 {
		return nil, err
	}
	return string(c), nil
}

// validate checks the record contract (audit.Record.Validate), which
// covers what the schema would refuse, so that a bad record is named in a
// clear error. The Logger's cleaning makes every check pass.
func validate(r *audit.Record) error { return r.Validate() }
