package postgres

import (
	"context"
	"errors"
	"slices"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/internal/canonical"
	"github.com/trailmark/audit/storekit"
)

// Append stores records, ignoring those whose (OccurredAt, ID) is already
// stored. One record is inserted with one statement, prepared unless the
// Store is Unprepared. More are copied with COPY straight into the table,
// in one transaction; if that meets a record already stored (what a
// retried batch does) or a deadlock, it is rolled back and the batch goes
// again through a staging table, from which
// INSERT … ON CONFLICT DO NOTHING moves only the new records. Either way
// the batch is stored all or nothing, and a batch retried after any
// failure, even a lost connection during COMMIT, stores each record once.
//
// A record that PostgreSQL cannot store (see RecordError), or that the
// database refuses for its data, fails the whole call with an error marked
// storekit.Permanent; other errors are transient.
func (s *Store) Append(ctx context.Context, records ...audit.Record) error {
	return s.append(ctx, nil, records)
}

// append writes records in tx, or in transactions of its own when tx is
// nil.
func (s *Store) append(ctx context.Context, tx Transaction, records []audit.Record) error {
	if len(records) == 0 {
		return nil
	}
	if err := validate(records); err != nil {
		return appendErr(err, records, records)
	}
	if tx != nil {
		// In the caller's transaction: no partitions are made (that would
		// hold the caller up on locks and take a second connection), and
		// a failed COPY cannot be rolled back alone, so batches take the
		// staging path at once.
		if len(records) == 1 {
			return s.insertOne(ctx, tx, records)
		}
		return s.viaStaging(ctx, tx, records)
	}
	if need := s.parts.missing(records); len(need) > 0 {
		s.ensurePartitions(ctx, need)
	}
	if len(records) == 1 {
		return s.insertOne(ctx, nil, records)
	}
	err := s.inTx(ctx, records, func(tx *sqlx.Tx) error {
		return s.copyRows(ctx, tx, s.sql.copyTable, records)
	})
	if pe := pq.As(err, pqerror.UniqueViolation, pqerror.TRDeadlockDetected); pe == nil {
		return err
	}
	return s.inTx(ctx, records, func(tx *sqlx.Tx) error { return s.viaStaging(ctx, tx, records) })
}

// insertOne inserts the one record of records in tx, or in a transaction
// of its own when tx is nil: then as a prepared statement, one round trip
// to the server where a plain one takes two.
func (s *Store) insertOne(ctx context.Context, tx Transaction, records []audit.Record) error {
	args := rowArgs(make([]any, len(columns)), &records[0])
	var err error
	if tx != nil {
		_, err = tx.ExecContext(ctx, s.sql.insertOne, args...)
	} else {
		_, err = s.exec(ctx, s.sql.insertOne, args...)
	}
	if err != nil {
		return appendErr(err, records, records)
	}
	return nil
}

// inTx runs f in a transaction of its own.
func (s *Store) inTx(ctx context.Context, records []audit.Record, f func(*sqlx.Tx) error) error {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return appendErr(err, records, records)
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return appendErr(err, records, records)
	}
	return nil
}

// viaStaging copies records into the staging table and moves those not
// stored yet into the audit table, within tx.
func (s *Store) viaStaging(ctx context.Context, tx Transaction, records []audit.Record) error {
	if _, err := tx.ExecContext(ctx, s.sql.createStaging); err != nil {
		return appendErr(err, records, records)
	}
	if err := s.copyRows(ctx, tx, s.sql.copyStaging, records); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.sql.fromStaging); err != nil {
		return appendErr(err, records, records)
	}
	return nil
}

// copyRows copies records with the COPY statement copy, within tx, in
// ("timestamp", id) order: concurrent batches that share records then
// take their locks in one order, and cannot deadlock.
func (s *Store) copyRows(ctx context.Context, tx Transaction, copy string, records []audit.Record) error {
	rows := inKeyOrder(records)
	stmt, err := tx.PrepareContext(ctx, copy)
	if err != nil {
		return appendErr(err, records, rows)
	}
	args := make([]any, len(columns))
	for i := range rows {
		if _, err := stmt.ExecContext(ctx, rowArgs(args, &rows[i])...); err != nil {
			stmt.Close()
			return appendErr(err, records, rows)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil { // ends the COPY
		stmt.Close()
		return appendErr(err, records, rows)
	}
	if err := stmt.Close(); err != nil {
		return appendErr(err, records, rows)
	}
	return nil
}

// inKeyOrder returns records sorted by ("timestamp", id): records itself
// when it is, as batches of the Logger mostly are, or a sorted copy.
func inKeyOrder(records []audit.Record) []audit.Record {
	cmp := func(a, b *audit.Record) int {
		if c := a.OccurredAt.Compare(b.OccurredAt); c != 0 {
			return c
		}
		return storekit.CompareIDs(a.ID, b.ID)
	}
	for i := 1; i < len(records); i++ {
		if cmp(&records[i-1], &records[i]) > 0 {
			rows := slices.Clone(records)
			slices.SortFunc(rows, func(a, b audit.Record) int { return cmp(&a, &b) })
			return rows
		}
	}
	return records
}

// rowArgs fills args with the column values of r, in the order of
// columns, and returns it. Empty strings are stored as NULL.
func rowArgs(args []any, r *audit.Record) []any {
	str := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	var ip, details, changes any
	if r.IPAddress.IsValid() {
		ip = r.IPAddress.String()
	}
	// in canonical form, as every store keeps them: an escaped NUL or a
	// lone surrogate, which jsonb refuses, is U+FFFD there (validate
	// checked that the form can be made; a Logger's JSON is in it)
	if c, err := canonical.Bytes(r.Details); err == nil && len(c) > 0 {
		details = string(c)
	}
	if c, err := canonical.Bytes(r.Changes); err == nil && len(c) > 0 {
		changes = string(c)
	}
	args[0] = r.ID.String()
	args[1] = r.OccurredAt.UTC()
	args[2] = str(r.UserID)
	args[3] = str(r.UserEmail)
	args[4] = ip
	args[5] = str(r.UserAgent)
	args[6] = string(r.Action)
	args[7] = r.ResourceType
	args[8] = str(r.ResourceID)
	args[9] = details
	args[10] = changes
	args[11] = str(r.RequestID)
	args[12] = str(r.SessionID)
	args[13] = string(r.Status)
	args[14] = str(r.ErrorMessage)
	args[15] = str(r.TenantID)
	args[16] = str(r.TraceID)
	args[17] = str(r.SpanID)
	return args
}

// validate checks the record contract (audit.Record.Validate), which
// covers what PostgreSQL would refuse or mangle, so that a bad record is
// named in a clear error before anything is sent. The Logger's cleaning
// makes every check pass; Append may be called directly.
func validate(records []audit.Record) error {
	for i := range records {
		r := &records[i]
		var fe *audit.FieldError
		if err := r.Validate(); errors.As(err, &fe) {
			return &RecordError{Index: i, ID: r.ID, Field: fe.Field, Msg: fe.Msg}
		}
	}
	return nil
}
