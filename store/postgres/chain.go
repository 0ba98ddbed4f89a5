package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

var (
	_ storekit.SealStore      = (*Store)(nil)
	_ storekit.SealBatchSizer = (*Store)(nil)
	_ storekit.ChainPurger    = (*Store)(nil)
	_ storekit.TenantPurger   = (*Store)(nil)
)

// sealCols are the columns of a seal, in the order scanSeal reads them.
const sealCols = `seq, event_id, event_time, digest, key_id, hash, sealed_at`

// chainRecordList reads a record's columns from the alias e of an outer
// join, where they may all be NULL.
const chainRecordList = `e.id, COALESCE(e."timestamp", 'epoch'), COALESCE(e.recorded_at, 'epoch'),
COALESCE(e.user_id, ''), COALESCE(e.user_email, ''), COALESCE(host(e.ip_address), ''), COALESCE(e.user_agent, ''),
COALESCE(e.action, ''), COALESCE(e.resource_type, ''), COALESCE(e.resource_id, ''), e.details, e.changes,
COALESCE(e.request_id, ''), COALESCE(e.session_id, ''), COALESCE(e.status, ''), COALESCE(e.error_message, ''),
COALESCE(e.tenant_id, ''), COALESCE(e.trace_id, ''), COALESCE(e.span_id, '')`

// SealBatchSize returns 5000, the default size of a sealing step on
// PostgreSQL (see storekit.SealBatchSizer): a step blocks no writer, and
// its fixed costs (a dozen round trips, the commit) made steps of 1000
// records seal 70 000 records a second where steps of 5000 sealed 90 000
// (BenchmarkSealPostgres). A step of 5000 records holds them in memory,
// and a sealer that is behind reads as many ahead: 10 MB for records of
// 1 kB.
func (s *Store) SealBatchSize() int { return 5000 }

// SealNext runs one sealing step (see storekit.SealStore) in one transaction,
// as the only sealer: it takes the advisory lock of the table's chain
// without waiting, and returns 0 if another sealer holds it.
//
// Records are sealed in the order of the transaction that inserted them
// (then of their ID), and only once every transaction older than theirs
// has ended: a record inserted by a transaction that is still open holds
// back the records of later transactions, but is never overtaken by them.
// So a record waits to be sealed at most the sealer's interval plus the
// longest writing transaction running when it committed. Read-only
// transactions hold nothing back.
//
// A step may take more than max records: all those of one ID written by
// one transaction (records are keyed by ID and time, so two may share an
// ID), which a step takes together, since the next continues after the
// newest seal's transaction and ID.
//
// When a step is full (more records are likely waiting), the store reads
// the next step's records on another connection while this step computes
// and writes its seals (see readAhead): a sealer that is behind keeps
// both the client and the server busy. The next step uses them only if
// they follow the newest seal it finds; a Store holds at most one such
// batch, until the next step or Close.
func (s *Store) SealNext(ctx context.Context, max int, fn func(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error)) (int, error) {
	n, err := s.sealNext(ctx, max, fn)
	if err != nil {
		return 0, fmt.Errorf("audit: postgres: seal: %w", err)
	}
	return n, nil
}

func (s *Store) sealNext(ctx context.Context, max int, fn func(last storekit.Seal, recs []audit.Record) ([]storekit.Seal, error)) (int, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// A sealing step does not wait for another: it would seal nothing.
	// Reading the newest seal (max 0) waits, so that it reads the truth.
	// The key is a number written into the statement, which then takes
	// one round trip, not two.
	key := strconv.FormatInt(s.sql.LockSeal, 10)
	lock := "SELECT pg_try_advisory_xact_lock(" + key + ")"
	if max <= 0 {
		lock = "SELECT true FROM (SELECT pg_advisory_xact_lock(" + key + ")) AS l"
	}
	var locked bool
	if err := tx.QueryRowContext(ctx, lock).Scan(&locked); err != nil {
		return 0, err
	}
	if !locked {
		return 0, nil
	}
	last, xid, id, err := s.lastSeal(ctx, tx)
	if err != nil {
		return 0, err
	}
	if max <= 0 {
		_, err := fn(last, nil)
		return 0, err
	}
	recs, xids, ahead := s.takeReadAhead(ctx, xid, id, max)
	if !ahead {
		if recs, xids, err = s.readToSeal(ctx, tx, xid, id, max); err != nil {
			return 0, err
		}
	}
	if len(recs) == 0 {
		return 0, nil
	}
	if len(recs) >= max {
		// more are likely waiting: read them while this step seals
		s.startReadAhead(xids[len(xids)-1], recs[len(recs)-1].ID.String(), max)
	}
	seals, err := storekit.RunSealer(fn, last, recs)
	if err != nil {
		return 0, err
	}
	stmt, err := tx.PrepareContext(ctx, "COPY "+s.sql.Seals+" (seq, event_id, event_time, event_xid, digest, key_id, hash, sealed_at, tenant_tag) FROM STDIN")
	if err != nil {
		return 0, err
	}
	for i := range seals {
		sl := &seals[i]
		var tag any
		if len(sl.TenantTag) > 0 {
			tag = sl.TenantTag
		}
		if _, err := stmt.ExecContext(ctx, int64(sl.Seq), sl.EventID.String(), micro(sl.EventTime), xids[i],
			sl.Digest, sl.KeyID, sl.Hash, micro(sl.SealedAt), tag); err != nil {
			stmt.Close()
			return 0, err
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return 0, err
	}
	if err := stmt.Close(); err != nil {
		return 0, err
	}
	if leaves, ok := storekit.SealLeaves(seals); ok {
		if err := s.addLeaves(ctx, tx, int64(leaves[0].Seq)-1, leaves); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return len(seals), nil
}

// readToSeal reads the next batch to seal, up to max records after (xid,
// id), within tx.
func (s *Store) readToSeal(ctx context.Context, tx *sqlx.Tx, xid, id string, max int) ([]audit.Record, []string, error) {
	var horizon string
	if err := tx.QueryRowContext(ctx, sealPlanSettings).Scan(&horizon); err != nil {
		return nil, nil, err
	}
	// one more than max: whether the batch ends inside a group
	limit := int64(max)
	if limit < math.MaxInt64 {
		limit++
	}
	rows, err := tx.QueryContext(ctx, s.toSealQuery(), horizon, xid, id, limit)
	if err != nil {
		return nil, nil, err
	}
	recs, xids, err := scanToSeal(rows, max)
	if err != nil || len(recs) <= max {
		return recs, xids, err
	}
	// A step continues after the newest seal's (xid, id), so it must not
	// end inside a group of records of one ID written by one transaction
	// (two records may share an ID at two times): the rest of the group
	// would be passed over for ever. The step takes the whole group,
	// beyond max.
	same := func(i, j int) bool { return xids[i] == xids[j] && recs[i].ID == recs[j].ID }
	if !same(max-1, max) {
		return recs[:max], xids[:max], nil
	}
	g := max - 1
	for g > 0 && same(g-1, max-1) {
		g--
	}
	if rows, err = tx.QueryContext(ctx, "SELECT e.xid::text AS xid_text, "+selectList+" FROM "+s.sql.Table+
		" e WHERE e.xid = $1::xid8 AND e.id = $2::uuid", xids[g], recs[g].ID.String()); err != nil {
		return nil, nil, err
	}
	group, gx, err := scanToSeal(rows, 0)
	if err != nil {
		return nil, nil, err
	}
	return append(recs[:g], group...), append(xids[:g], gx...), nil
}

// scanToSeal reads the rows of toSealQuery, n of them expected.
func scanToSeal(rows *sql.Rows, n int) ([]audit.Record, []string, error) {
	defer rows.Close()
	var (
		recs = make([]audit.Record, 0, min(n, 8192))
		xids = make([]string, 0, min(n, 8192))
		x    string
	)
	scan := newRowScanner(false, &x)
	for rows.Next() {
		r, err := scan.scan(rows)
		if err != nil {
			return nil, nil, err
		}
		recs, xids = append(recs, r), append(xids, x)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return recs, xids, rows.Close()
}

// toSealQuery reads the records to seal: those of transactions older than
// $1 after ($2, $3) in (xid, id) order, at most $4. Run it after
// sealPlanSettings. Records of one (xid, id) come in no set order: a step
// takes all of them or none (readToSeal).
func (s *Store) toSealQuery() string {
	// (the text form of xid gets another name: ORDER BY xid would sort by it)
	return "SELECT e.xid::text AS xid_text, " + selectList + " FROM " + s.sql.Table +
		" e WHERE e.xid < $1::xid8 AND (e.xid, e.id) > ($2::xid8, $3::uuid) ORDER BY e.xid, e.id LIMIT $4"
}

// sealPlanSettings make the planner read toSealQuery's records in (xid,
// id) order from that index, without a sort, whatever the statistics say:
// on a table never analyzed, it sorted every unsealed record at each step,
// which made sealing quadratic (TestSealPlanWithoutStatistics). set_config
// with true is SET LOCAL; the same round trip returns the horizon, the
// oldest transaction still running, whose records and later ones wait.
const sealPlanSettings = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text FROM (SELECT set_config('enable_sort', 'off', true), set_config('enable_bitmapscan', 'off', true)) AS settings"

// lastSeal returns the newest seal and the (xid, id) after which sealing
// continues: the newest seal's, or, when retention removed every seal,
// the newest checkpoint's.
func (s *Store) lastSeal(ctx context.Context, tx *sqlx.Tx) (storekit.Seal, string, string, error) {
	var (
		sl   storekit.Seal
		seq  int64
		xid  string
		id   uuid.UUID
		hash []byte
	)
	err := tx.QueryRowContext(ctx, "SELECT seq, hash, event_xid::text, event_id, key_id FROM "+s.sql.Seals+" ORDER BY seq DESC LIMIT 1").
		Scan(&seq, &hash, &xid, &id, &sl.KeyID) // none for a checkpoint: the Sealer tells them apart
	// A rewound chain (seals missing below a checkpoint) is the Sealer's
	// to refuse: it checks the checkpoints' signatures, which the store
	// cannot, and anyone with INSERT could have added a row.
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, "SELECT seq, hash, COALESCE(event_xid, '0')::text, COALESCE(event_id, '00000000-0000-0000-0000-000000000000'), '' FROM "+
			s.sql.Checkpoints+" ORDER BY seq DESC, at DESC LIMIT 1").Scan(&seq, &hash, &xid, &id, &sl.KeyID)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return storekit.Seal{}, "0", uuid.UUID{}.String(), nil
	case err != nil:
		return storekit.Seal{}, "", "", err
	}
	sl.Seq, sl.Hash = uint64(seq), hash
	return sl, xid, id.String(), nil
}

// ScanChain calls fn for each seal with Seq >= from, in order, with the
// record it seals or nil. It reads one query's snapshot, streaming.
func (s *Store) ScanChain(ctx context.Context, from uint64, fn func(storekit.Seal, *audit.Record) error) error {
	rows, err := s.db.QueryContext(ctx, "SELECT s.seq, s.event_id, s.event_time, s.digest, s.key_id, s.hash, s.sealed_at, s.tenant_tag, "+
		chainRecordList+" FROM "+s.sql.Seals+" s LEFT JOIN "+s.sql.Table+` e ON e.id = s.event_id AND e."timestamp" = s.event_time`+
		" WHERE s.seq >= $1 ORDER BY s.seq", int64(min(from, 1<<62)))
	if err != nil {
		return fmt.Errorf("audit: postgres: scan chain: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			sl      storekit.Seal
			seq     int64
			found   uuid.NullUUID
			r       audit.Record
			ip      string
			action  string
			status  string
			details []byte
			changes []byte
		)
		if err := rows.Scan(&seq, &sl.EventID, timeColumn{&sl.EventTime}, &sl.Digest, &sl.KeyID, &sl.Hash, timeColumn{&sl.SealedAt},
			&sl.TenantTag, &found, timeColumn{&r.OccurredAt}, timeColumn{&r.RecordedAt}, &r.UserID, &r.UserEmail, &ip, &r.UserAgent, &action,
			&r.ResourceType, &r.ResourceID, &details, &changes, &r.RequestID, &r.SessionID, &status, &r.ErrorMessage,
			&r.TenantID, &r.TraceID, &r.SpanID); err != nil {
			return fmt.Errorf("audit: postgres: scan chain: %w", err)
		}
		sl.Seq = uint64(seq)
		sl.EventTime, sl.SealedAt = sl.EventTime.UTC(), sl.SealedAt.UTC()
		var rec *audit.Record
		if found.Valid {
			r.ID = found.UUID
			if ip != "" {
				if r.IPAddress, err = netip.ParseAddr(ip); err != nil {
					return fmt.Errorf("audit: postgres: scan chain: record %s: ip_address: %w", r.ID, err)
				}
			}
			r.OccurredAt, r.RecordedAt = r.OccurredAt.UTC(), r.RecordedAt.UTC()
			r.Action, r.Status = audit.Action(action), audit.Status(status)
			r.Details, r.Changes = jsonColumn(details), jsonColumn(changes)
			rec = &r
		}
		if err := fn(sl, rec); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: postgres: scan chain: %w", err)
	}
	return nil
}

// ScanUnsealed calls fn for each record that no seal names.
func (s *Store) ScanUnsealed(ctx context.Context, fn func(*audit.Record) error) error {
	rows, err := s.db.QueryContext(ctx, "SELECT "+selectList+" FROM "+s.sql.Table+" e WHERE NOT EXISTS (SELECT 1 FROM "+
		s.sql.Seals+` s WHERE s.event_id = e.id AND s.event_time = e."timestamp") ORDER BY e.xid, e.id`)
	if err != nil {
		return fmt.Errorf("audit: postgres: scan unsealed: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return fmt.Errorf("audit: postgres: scan unsealed: %w", err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: postgres: scan unsealed: %w", err)
	}
	return nil
}

// AppendCheckpoint stores a checkpoint, with the position in the table of
// the seal it is at, so that sealing can continue from it.
func (s *Store) AppendCheckpoint(ctx context.Context, c storekit.Checkpoint) error {
	var purged any
	if !c.PurgedBefore.IsZero() {
		purged = micro(c.PurgedBefore)
	}
	tenants, err := storekit.TenantCutoffsColumn(c.TenantCutoffs)
	if err != nil {
		return fmt.Errorf("audit: postgres: append checkpoint %d: %w", c.Seq, err)
	}
	_, err = s.db.ExecContext(ctx, "INSERT INTO "+s.sql.Checkpoints+
		" (seq, hash, at, purged_before, boundary, signer_id, signature, tenant_cutoffs, event_xid, event_id)"+
		" SELECT $1, $2, $3, $4, $5, $6, $7, $8::jsonb, (SELECT event_xid FROM "+s.sql.Seals+" WHERE seq = $1), (SELECT event_id FROM "+s.sql.Seals+" WHERE seq = $1)",
		int64(c.Seq), c.Hash, micro(c.At), purged, c.Boundary, c.SignerID, c.Signature, tenants)
	if err != nil {
		return fmt.Errorf("audit: postgres: append checkpoint %d: %w", c.Seq, err)
	}
	return nil
}

// Checkpoints returns the stored checkpoints, oldest first.
func (s *Store) Checkpoints(ctx context.Context) ([]storekit.Checkpoint, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT seq, hash, at, purged_before, boundary, signer_id, signature, tenant_cutoffs::text FROM "+s.sql.Checkpoints+" ORDER BY seq, at")
	if err != nil {
		return nil, fmt.Errorf("audit: postgres: checkpoints: %w", err)
	}
	defer rows.Close()
	var cps []storekit.Checkpoint
	for rows.Next() {
		// any row may be hostile (the store cannot check signatures): it
		// must read, so that Verify can report it
		var (
			c        storekit.Checkpoint
			seq      int64
			boundary sql.NullBool
			signer   sql.NullString
			tenants  sql.NullString
		)
		if err := rows.Scan(&seq, &c.Hash, timeColumn{&c.At}, timeColumn{&c.PurgedBefore}, &boundary, &signer, &c.Signature, &tenants); err != nil {
			return nil, fmt.Errorf("audit: postgres: checkpoints: %w", err)
		}
		c.Seq, c.Boundary, c.SignerID = uint64(seq), boundary.Bool, signer.String
		// cutoffs that do not parse are left out: the signature, which
		// covers them, then fails, and Verify reports the checkpoint
		c.TenantCutoffs = storekit.TenantCutoffs(tenants.String)
		cps = append(cps, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: postgres: checkpoints: %w", err)
	}
	return cps, nil
}

// PurgeSeals deletes the seals up to and including through, through the
// function <table>_purge_seals, which refuses unless a retention
// checkpoint is at through and every seal it would delete is of a record
// older than that checkpoint's cutoff. The role of the Store needs EXECUTE on it (see the package
// documentation).
func (s *Store) PurgeSeals(ctx context.Context, through uint64) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, "SELECT "+s.sql.PurgeSeals+"($1)", int64(through)).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit: postgres: purge seals through %d: %w", through, err)
	}
	return n, nil
}

// jsonColumn returns a jsonb column as every store returns Details and
// Changes: canonical JSON (jsonb keeps its own key order), nil for SQL
// NULL or JSON null. A value that cannot be made canonical is returned as
// it is, for storekit.Digest to report: reading never fails on stored data.
func jsonColumn(b []byte) json.RawMessage {
	c, err := storekit.CanonicalJSON(b)
	switch {
	case err != nil:
		return b
	case string(c) == "null":
		return nil
	}
	return c
}

// Times a hostile row's ±infinity reads as: the extremes JSON can carry.
var (
	infinityTime    = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	minusInfinityTS = time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC)
)

// timeColumn scans a timestamptz that may hold 'infinity' or '-infinity'
// (which lib/pq returns as text), in UTC; NULL reads as the zero time.
type timeColumn struct{ t *time.Time }

func (c timeColumn) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*c.t = time.Time{}
	case time.Time:
		*c.t = x.UTC()
	case []byte:
		return c.Scan(string(x))
	case string:
		switch x {
		case "infinity":
			*c.t = infinityTime
		case "-infinity":
			*c.t = minusInfinityTS
		default:
			return fmt.Errorf("not a timestamp: %q", x)
		}
	default:
		return fmt.Errorf("cannot scan %T into a timestamp", v)
	}
	return nil
}
