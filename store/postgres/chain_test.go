package postgres_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/postgres"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// tamper changes the tables as a superuser could: with triggers off
// (session_replication_role = replica), around the append-only guard.
type tamper struct {
	db     *sqlx.DB
	s      *postgres.Store
	schema string
}

func (p tamper) table(suffix string) string { return p.schema + ".audit_logs" + suffix }

// do runs f in a transaction with triggers disabled.
func (p tamper) do(ctx context.Context, f func(tx *sqlx.Tx) error) error {
	tx, err := p.db.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "SET LOCAL session_replication_role = replica"); err != nil {
		return err
	}
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func jsonOrNull(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func (p tamper) insert(ctx context.Context, tx *sqlx.Tx, r audit.Record, xid string) error {
	var ip any
	if r.IPAddress.IsValid() {
		ip = r.IPAddress.String()
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO `+p.table("")+` (id, "timestamp", recorded_at, user_id, user_email, ip_address, user_agent,
		action, resource_type, resource_id, details, changes, request_id, session_id, status, error_message, xid, tenant_id, trace_id, span_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, COALESCE($17::xid8, pg_current_xact_id()), $18, $19, $20)`,
		r.ID, r.OccurredAt, r.RecordedAt, nullIfEmpty(r.UserID), nullIfEmpty(r.UserEmail), ip, nullIfEmpty(r.UserAgent),
		string(r.Action), r.ResourceType, nullIfEmpty(r.ResourceID), jsonOrNull(r.Details), jsonOrNull(r.Changes),
		nullIfEmpty(r.RequestID), nullIfEmpty(r.SessionID), string(r.Status), nullIfEmpty(r.ErrorMessage), nullIfEmpty(xid),
		nullIfEmpty(r.TenantID), nullIfEmpty(r.TraceID), nullIfEmpty(r.SpanID))
	return err
}

func (p tamper) UpdateRecord(ctx context.Context, id uuid.UUID, mutate func(*audit.Record)) error {
	r, err := p.s.Get(ctx, id)
	if err != nil {
		return err
	}
	return p.do(ctx, func(tx *sqlx.Tx) error {
		var xid string
		if err := tx.QueryRowContext(ctx, "DELETE FROM "+p.table("")+" WHERE id = $1 RETURNING xid::text", id).Scan(&xid); err != nil {
			return err
		}
		mutate(&r)
		return p.insert(ctx, tx, r, xid)
	})
}

func (p tamper) DeleteRecord(ctx context.Context, id uuid.UUID) error {
	return p.do(ctx, func(tx *sqlx.Tx) error {
		res, err := tx.ExecContext(ctx, "DELETE FROM "+p.table("")+" WHERE id = $1", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("deleted %d records", n)
		}
		return nil
	})
}

func (p tamper) InsertRecord(ctx context.Context, r audit.Record) error {
	return p.do(ctx, func(tx *sqlx.Tx) error { return p.insert(ctx, tx, r, "") })
}

const sealCols = "seq, event_id, event_time, event_xid, digest, key_id, hash, sealed_at, tenant_tag"

func (p tamper) insertSeal(ctx context.Context, tx *sqlx.Tx, s storekit.Seal, xid string) error {
	var tag any
	if len(s.TenantTag) > 0 {
		tag = s.TenantTag
	}
	_, err := tx.ExecContext(ctx, "INSERT INTO "+p.table("_seals")+" ("+sealCols+") VALUES ($1, $2, $3, $4::xid8, $5, $6, $7, $8, $9)",
		int64(s.Seq), s.EventID, s.EventTime, xid, s.Digest, s.KeyID, s.Hash, s.SealedAt, tag)
	return err
}

func (p tamper) UpdateSeal(ctx context.Context, seq uint64, mutate func(*storekit.Seal)) error {
	return p.do(ctx, func(tx *sqlx.Tx) error {
		var (
			s   storekit.Seal
			n   int64
			xid string
		)
		err := tx.QueryRowContext(ctx, "DELETE FROM "+p.table("_seals")+" WHERE seq = $1 RETURNING seq, event_id, event_time, event_xid::text, digest, key_id, hash, sealed_at, tenant_tag", int64(seq)).
			Scan(&n, &s.EventID, &s.EventTime, &xid, &s.Digest, &s.KeyID, &s.Hash, &s.SealedAt, &s.TenantTag)
		if err != nil {
			return err
		}
		s.Seq = uint64(n)
		s.EventTime, s.SealedAt = s.EventTime.UTC(), s.SealedAt.UTC()
		mutate(&s)
		return p.insertSeal(ctx, tx, s, xid)
	})
}

func (p tamper) DeleteSeal(ctx context.Context, seq uint64) error {
	return p.do(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, "DELETE FROM "+p.table("_seals")+" WHERE seq = $1", int64(seq))
		return err
	})
}

func (p tamper) InsertSeal(ctx context.Context, s storekit.Seal) error {
	return p.do(ctx, func(tx *sqlx.Tx) error { return p.insertSeal(ctx, tx, s, "0") })
}

// reset empties the store's tables, for the next trial.
func (p tamper) reset(ctx context.Context) error {
	return p.do(ctx, func(tx *sqlx.Tx) error {
		for _, t := range []string{"", "_seals", "_checkpoints", "_tree_leaves", "_tree_checkpoints"} {
			if _, err := tx.ExecContext(ctx, "DELETE FROM "+p.table(t)); err != nil {
				return err
			}
		}
		return nil
	})
}

func TestChain(t *testing.T) {
	db := testDB(t)
	// trials reuse one schema per test, emptied each time: creating one
	// takes far longer than a trial
	var mu sync.Mutex
	reuse := map[string]tamper{}
	storetest.RunChain(t, func(t *testing.T) (storekit.SealStore, storetest.Tamperer) {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := reuse[t.Name()]; ok {
			if err := p.reset(context.Background()); err != nil {
				t.Fatal(err)
			}
			return p.s, p
		}
		s, schema := newChainStore(t)
		p := tamper{db: db, s: s, schema: schema}
		if strings.Contains(t.Name(), "RandomTampering") {
			reuse[t.Name()] = p
		}
		return s, p
	}, 1000)
}

// newChainStore returns a migrated store in a schema of its own, and the
// schema.
func newChainStore(t *testing.T) (*postgres.Store, string) {
	t.Helper()
	schema := newSchema(t)
	s, err := postgres.New(testDB(t), &postgres.Options{Schema: schema, PartitionsPast: 8, PartitionsAhead: 1, OnError: func(err error) { t.Errorf("store error: %v", err) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Migrate(testCtx(t)); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	// the chain suite retains records younger than the default 90 days
	if err := s.SetMinRetention(testCtx(t), 0); err != nil {
		t.Fatal(err)
	}
	return s, schema
}

func TestChainGuard(t *testing.T) {
	s, schema := newChainStore(t)
	ctx := testCtx(t)
	if err := s.Append(ctx, storetest.Records(0, 3)...); err != nil {
		t.Fatal(err)
	}
	signer := chain.SigningKey{ID: "s", Key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	sl, err := chain.NewSealer(s, chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, &chain.SealerOptions{SigningKey: &signer})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for n := 0; n < 3 && time.Now().Before(deadline); {
		k, err := sl.SealOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += k
	}
	if _, err := sl.Checkpoint(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE " + schema + ".audit_logs_seals SET key_id = 'x'",
		"DELETE FROM " + schema + ".audit_logs_seals",
		"TRUNCATE " + schema + ".audit_logs_seals",
		"DELETE FROM " + schema + ".audit_logs_checkpoints",
		"UPDATE " + schema + ".audit_logs_checkpoints SET seq = 0",
		"TRUNCATE " + schema + ".audit_logs_checkpoints",
		"UPDATE " + schema + ".audit_logs_tree_leaves SET salt = NULL",
		"DELETE FROM " + schema + ".audit_logs_tree_leaves",
		"TRUNCATE " + schema + ".audit_logs_tree_leaves",
		"UPDATE " + schema + ".audit_logs_tree_checkpoints SET note = ''",
		"DELETE FROM " + schema + ".audit_logs_tree_checkpoints",
		"TRUNCATE " + schema + ".audit_logs_tree_checkpoints",
	} {
		_, err := s.DB().ExecContext(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: got %v, want the guard to refuse", q, err)
		}
	}
	// purging seals needs a checkpoint there
	if _, err := s.PurgeSeals(ctx, 2); err == nil || !strings.Contains(err.Error(), "no retention checkpoint") {
		t.Errorf("PurgeSeals without a checkpoint: %v", err)
	}
}

// TestSealOrderFollowsCommits checks that a record whose transaction
// commits late is neither skipped nor sealed out of order, and that a
// rolled-back record leaves no gap.
func TestSealOrderFollowsCommits(t *testing.T) {
	s := newStore(t, nil)
	ctx := testCtx(t)
	db := s.DB()
	logger, err := audit.New(s, &audit.Options{NoLifecycleEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	defer logger.Close(ctx)
	sl, err := chain.NewSealer(s, chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := func(id string) audit.Event {
		return audit.Event{Action: "doc.edit", ResourceType: "doc", ResourceID: id, Status: audit.StatusSuccess}
	}
	// a long transaction writes first...
	slow, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := logger.LogTo(ctx, s.Tx(slow), ev("slow")); err != nil {
		t.Fatal(err)
	}
	// ...a rolled-back one...
	gone, err := db.BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := logger.LogTo(ctx, s.Tx(gone), ev("rolled-back")); err != nil {
		t.Fatal(err)
	}
	gone.Rollback()
	// ...then quick ones commit
	for i := range 3 {
		if err := logger.LogTo(ctx, s, ev(fmt.Sprint("fast-", i))); err != nil {
			t.Fatal(err)
		}
	}
	n, err := sl.SealOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("sealed %d records while an older transaction was open; want 0: it must not be overtaken", n)
	}
	if err := slow.Commit(); err != nil {
		t.Fatal(err)
	}
	var order []string
	deadline := time.Now().Add(time.Minute)
	for len(order) < 4 && time.Now().Before(deadline) {
		if _, err := sl.SealOnce(ctx); err != nil {
			t.Fatal(err)
		}
		order = order[:0]
		s.ScanChain(ctx, 0, func(sl storekit.Seal, r *audit.Record) error {
			order = append(order, r.ResourceID)
			return nil
		})
		time.Sleep(5 * time.Millisecond)
	}
	if len(order) != 4 || order[0] != "slow" {
		t.Errorf("sealed in order %v; want the slow transaction's record first, then the 3 others", order)
	}
	rep, err := chain.Verify(ctx, s, &chain.VerifyOptions{Keys: map[string][]byte{"k": make([]byte, 32)}})
	if err != nil || !rep.OK() || rep.Seals != 4 {
		t.Errorf("verify: %+v, %v", rep, err)
	}
}

// TestSealOrderInvariants seals records from many transactions and checks
// that the chain follows (xid, id) as numbers, each record once.
func TestSealOrderInvariants(t *testing.T) {
	s, schema := newChainStore(t)
	ctx := testCtx(t)
	for i := range 30 {
		if err := s.Append(ctx, storetest.Records(i*7, i*7+7)...); err != nil {
			t.Fatal(err)
		}
	}
	sl, err := chain.NewSealer(s, chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, &chain.SealerOptions{BatchSize: 13})
	if err != nil {
		t.Fatal(err)
	}
	for sealed, deadline := 0, time.Now().Add(time.Minute); sealed < 210 && time.Now().Before(deadline); {
		n, err := sl.SealOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sealed += n
	}
	var bad, dups, total int
	seals := schema + ".audit_logs_seals"
	q := "SELECT count(*) FROM " + seals + " a JOIN " + seals + " b ON b.seq = a.seq + 1 WHERE (b.event_xid, b.event_id) <= (a.event_xid, a.event_id)"
	if err := s.DB().GetContext(ctx, &bad, q); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().GetContext(ctx, &dups, "SELECT count(*) - count(DISTINCT event_id) FROM "+seals); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().GetContext(ctx, &total, "SELECT count(*) FROM "+seals); err != nil {
		t.Fatal(err)
	}
	if bad != 0 || dups != 0 || total != 210 {
		t.Errorf("%d seals out of (xid, id) order, %d records sealed twice, %d seals; want 0, 0, 210", bad, dups, total)
	}
}

// TestEveryDeliverySealed writes through every path a record can take —
// Async, Sync, inside transactions that commit and that roll back — while
// two sealers run, and checks that every committed record is sealed once
// and the chain verifies.
func TestEveryDeliverySealed(t *testing.T) {
	s, _ := newChainStore(t)
	ctx := testCtx(t)
	logger, err := audit.New(s, &audit.Options{Async: audit.AsyncOptions{FlushInterval: 5 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	key := chain.HMACKey{ID: "k", Secret: make([]byte, 32)}
	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 2 {
		sl, err := chain.NewSealer(s, key, &chain.SealerOptions{Interval: 2 * time.Millisecond, OnError: func(err error) { t.Error(err) }})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); sl.Run(runCtx) }()
	}
	committed := 0
	for i := range 60 {
		ev := audit.Event{Action: audit.ActionResourceRead, ResourceType: "doc", ResourceID: fmt.Sprint(i), Status: audit.StatusSuccess}
		switch i % 4 {
		case 0: // Async
			err = logger.Log(ctx, ev)
		case 1: // Sync
			ev.Action = audit.ActionPermissionGrant
			err = logger.Log(ctx, ev)
		case 2, 3: // in a transaction
			tx := s.DB().MustBeginTx(ctx, nil)
			err = logger.LogTo(ctx, s.Tx(tx), ev)
			if i%4 == 2 {
				err = errors.Join(err, tx.Commit())
			} else {
				tx.Rollback()
				committed--
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		committed++
	}
	if err := logger.Close(ctx); err != nil {
		t.Fatal(err)
	}
	committed += 2 // the logger's start and stop
	opts := chain.VerifyOptions{Keys: map[string][]byte{key.ID: key.Secret}}
	var rep chain.Report
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if rep, err = chain.Verify(ctx, s, &opts); err != nil {
			t.Fatal(err)
		}
		if rep.Unsealed == 0 && rep.Seals == uint64(committed) {
			break
		}
	}
	stop()
	wg.Wait()
	if !rep.OK() || rep.Seals != uint64(committed) || rep.Records != uint64(committed) || rep.Unsealed != 0 {
		t.Errorf("report %+v; want %d records, all sealed, no problem", rep, committed)
	}
}

// TestConcurrentRetention runs two retention runners at once on a chain.
func TestConcurrentRetention(t *testing.T) {
	s, _ := newChainStore(t)
	ctx := testCtx(t)
	now := time.Now()
	for i := range 40 {
		r := storetest.Record(i)
		r.OccurredAt = now.AddDate(0, 0, -160+4*i).Truncate(time.Microsecond)
		if err := s.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	key := chain.HMACKey{ID: "k", Secret: make([]byte, 32)}
	signer := chain.SigningKey{ID: "s", Key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	errs := make(chan error, 2)
	results := make(chan audit.RetentionResult, 2)
	for range 2 {
		go func() {
			sl, err := chain.NewSealer(s, key, &chain.SealerOptions{SigningKey: &signer})
			if err != nil {
				errs <- err
				return
			}
			r, err := audit.NewRetention(s, sl, nil)
			if err != nil {
				errs <- err
				return
			}
			res, err := r.RunOnce(ctx)
			results <- res
			errs <- err
		}()
	}
	var purged int64
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent retention: %v", err)
		}
	}
	close(results)
	for r := range results {
		purged += r.Purged
	}
	want := 0
	for i := range 40 {
		if now.AddDate(0, 0, -160+4*i).Before(now.Add(-audit.DefaultMaxAge)) {
			want++
		}
	}
	if purged != int64(want) {
		t.Errorf("the two runs removed %d records in all, want %d", purged, want)
	}
	sl, _ := chain.NewSealer(s, key, &chain.SealerOptions{SigningKey: &signer})
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if n, _ := sl.SealOnce(ctx); n == 0 {
			break
		}
	}
	cps, _ := s.Checkpoints(ctx)
	rep, err := chain.Verify(ctx, s, &chain.VerifyOptions{Keys: map[string][]byte{key.ID: key.Secret},
		PublicKeys: map[string]ed25519.PublicKey{signer.ID: signer.Key.Public().(ed25519.PublicKey)}, Trusted: cps})
	if err != nil || !rep.OK() {
		t.Errorf("verify after concurrent retention: %+v, %v", rep, err)
	}
}

// TestCheckpointWaitsForSealer checks that a checkpoint taken while
// another sealing step holds the lock is at the newest seal, not at 0.
func TestCheckpointWaitsForSealer(t *testing.T) {
	s, schema := newChainStore(t)
	ctx := testCtx(t)
	if err := s.Append(ctx, storetest.Records(0, 5)...); err != nil {
		t.Fatal(err)
	}
	signer := chain.SigningKey{ID: "s", Key: ed25519.NewKeyFromSeed(make([]byte, 32))}
	sl, err := chain.NewSealer(s, chain.HMACKey{ID: "k", Secret: make([]byte, 32)}, &chain.SealerOptions{SigningKey: &signer})
	if err != nil {
		t.Fatal(err)
	}
	for sealed, deadline := 0, time.Now().Add(time.Minute); sealed < 5 && time.Now().Before(deadline); {
		n, err := sl.SealOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sealed += n
	}
	// another sealer's step holds the lock for a while
	h := fnv.New64a()
	h.Write([]byte("trailmark/audit:" + schema + ".audit_logs:seal"))
	tx := s.DB().MustBeginTx(ctx, nil)
	tx.MustExec("SELECT pg_advisory_xact_lock($1)", int64(h.Sum64()))
	go func() { time.Sleep(200 * time.Millisecond); tx.Rollback() }()
	cp, err := sl.Checkpoint(ctx, time.Time{})
	if err != nil || cp.Seq != 5 {
		t.Errorf("checkpoint under contention: seq %d, %v; want 5", cp.Seq, err)
	}
}

// TestSealPlanWithoutStatistics: on a table never analyzed, a sealing step
// reads its records from the (xid, id) index in order, with no sort of
// every unsealed record (which made sealing quadratic).
func TestSealPlanWithoutStatistics(t *testing.T) {
	dsn(t)
	t.Parallel()
	s := newStore(t, nil)
	ctx := testCtx(t)
	if err := generate(ctx, s.DB(), schemaOf(t, s), 30000, time.Now().Add(-48*time.Hour), 5*time.Second, false); err != nil {
		t.Fatal(err)
	}
	settings, q := postgres.SealQuery(s)
	tx, err := s.DB().BeginTxx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, settings); err != nil {
		t.Fatal(err)
	}
	var plan []byte
	err = tx.QueryRowContext(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+q,
		"999999999999", "0", "00000000-0000-0000-0000-000000000000", 1000).Scan(&plan)
	if err != nil {
		t.Fatal(err)
	}
	var doc []struct{ Plan planNode }
	if err := json.Unmarshal(plan, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(n *planNode)
	walk = func(n *planNode) {
		switch n.NodeType {
		case "Sort", "Bitmap Heap Scan", "Seq Scan":
			if n.ActualRows > 0 || n.RowsRemovedByFilter > 0 || n.NodeType == "Sort" {
				t.Errorf("sealing plan has a %s (%d rows): %s", n.NodeType, n.ActualRows, plan)
			}
		}
		for i := range n.Plans {
			walk(&n.Plans[i])
		}
	}
	walk(&doc[0].Plan)
}
