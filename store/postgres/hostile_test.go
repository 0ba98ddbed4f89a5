package postgres_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storekit"
	"github.com/trailmark/audit/storetest"
)

// TestHostileCheckpointRows inserts the checkpoint rows an application
// role could (issue 9): a seq far beyond the chain, purged_before and at
// at ±infinity, unsigned. Sealing goes on, and Verify and ExportChain
// report each row as bad_checkpoint instead of failing to read it.
func TestHostileCheckpointRows(t *testing.T) {
	s, schema := newChainStore(t)
	ctx := testCtx(t)
	signer := chain.SigningKey{ID: "s", Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32))}
	key := chain.HMACKey{ID: "k", Secret: bytes.Repeat([]byte{6}, 32)}
	sl, err := chain.NewSealer(s, key, &chain.SealerOptions{SigningKey: &signer})
	if err != nil {
		t.Fatal(err)
	}
	seal := func(n int) {
		t.Helper()
		for sealed, deadline := 0, time.Now().Add(time.Minute); sealed < n; {
			k, err := sl.SealOnce(ctx)
			if err != nil {
				t.Fatalf("SealOnce: %v", err)
			}
			if sealed += k; time.Now().After(deadline) {
				t.Fatalf("sealed %d of %d", sealed, n)
			}
		}
	}
	storetest.LoggedRecords(t, s, time.Now().Add(-time.Hour))
	seal(6)
	cp, err := sl.Checkpoint(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO ` + schema + `.audit_logs_checkpoints (seq, hash, at, signer_id, signature) VALUES (9000000000000000000, '\x00', now(), 's', '\x00')`,
		`INSERT INTO ` + schema + `.audit_logs_checkpoints (seq, hash, at, purged_before, boundary, signer_id, signature) VALUES (3, '\x00', now(), 'infinity', true, 's', '\x00')`,
		`INSERT INTO ` + schema + `.audit_logs_checkpoints (seq, hash, at, purged_before, signer_id, signature) VALUES (4, '\x00', 'infinity', '-infinity', 'x', '')`,
		`INSERT INTO ` + schema + `.audit_logs_checkpoints (seq, hash, at, signer_id, signature) VALUES (5, '\x00', '-infinity', 's', '')`,
		// tenant cutoffs (migration 5) that do not parse, or that claim a
		// tenant's records may all be gone
		`INSERT INTO ` + schema + `.audit_logs_checkpoints (seq, hash, at, signer_id, signature, tenant_cutoffs) VALUES (6, '\x00', now(), 's', '\x00', '"not a list"')`,
		`INSERT INTO ` + schema + `.audit_logs_checkpoints (seq, hash, at, purged_before, boundary, signer_id, signature, tenant_cutoffs) VALUES (2, '\x00', now(), 'epoch', true, 's', '\x00',
			'[{"tenant_id":"org-1","salt":"AA==","purged_before":"9999-01-01T00:00:00Z"}]')`,
	} {
		if _, err := s.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	storetest.LoggedRecords(t, s, time.Now().Add(-time.Minute))
	seal(6) // not stopped by the row at 9000000000000000000
	opts := chain.VerifyOptions{
		Keys:       map[string][]byte{key.ID: key.Secret},
		PublicKeys: map[string]ed25519.PublicKey{signer.ID: signer.Key.Public().(ed25519.PublicKey)},
		Trusted:    []storekit.Checkpoint{cp},
	}
	check := func(how string, rep chain.Report, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", how, err)
		}
		if rep.ProblemCount != 6 || rep.Records != 12 {
			t.Errorf("%s: %d problems, %d records; want 6 bad checkpoints, 12 records: %v", how, rep.ProblemCount, rep.Records, rep.Problems)
		}
		for _, p := range rep.Problems {
			if p.Kind != chain.ProblemBadCheckpoint {
				t.Errorf("%s: %v; want bad_checkpoint", how, p)
			}
		}
	}
	rep, err := chain.Verify(ctx, s, &opts)
	check("online", rep, err)
	var buf bytes.Buffer
	if _, err := chain.ExportChain(ctx, s, &buf); err != nil {
		t.Fatalf("ExportChain: %v", err)
	}
	rep, err = chain.Verify(ctx, chain.NewExportSource(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }), &opts)
	check("offline", rep, err)
}

// TestJSONBNoOpRewrite rewrites details and changes as jsonb allows
// without changing their meaning (a round trip through text, a merge
// with {}): online and offline verification both still pass.
func TestJSONBNoOpRewrite(t *testing.T) {
	s, schema := newChainStore(t)
	ctx := testCtx(t)
	key := chain.HMACKey{ID: "k", Secret: bytes.Repeat([]byte{6}, 32)}
	sl, err := chain.NewSealer(s, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	storetest.LoggedRecords(t, s, time.Now().Add(-time.Hour))
	for sealed, deadline := 0, time.Now().Add(time.Minute); sealed < 6 && time.Now().Before(deadline); {
		n, err := sl.SealOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sealed += n
	}
	tx := s.DB().MustBeginTx(ctx, nil)
	tx.MustExecContext(ctx, "SET LOCAL session_replication_role = replica")
	tx.MustExecContext(ctx, "UPDATE "+schema+".audit_logs SET details = details::text::jsonb, changes = changes || '{}'::jsonb")
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	opts := chain.VerifyOptions{Keys: map[string][]byte{key.ID: key.Secret}}
	rep, err := chain.Verify(ctx, s, &opts)
	if err != nil || !rep.OK() || rep.Records != 6 {
		t.Fatalf("online after the rewrite: %+v, %v", rep, err)
	}
	var buf bytes.Buffer
	if _, err := chain.ExportChain(ctx, s, &buf); err != nil {
		t.Fatal(err)
	}
	rep, err = chain.Verify(ctx, chain.NewExportSource(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }), &opts)
	if err != nil || !rep.OK() || rep.Records != 6 {
		t.Errorf("offline after the rewrite: %+v, %v", rep, err)
	}
}

// TestTxHostileCorpus walks the hostile corpus through the in-transaction
// door (issue 20, item 1): Store.Tx(tx).Append, and Logger.LogTo on it,
// each in an application transaction that commits when the record is
// accepted. A refused record gets a permanent error that names the field
// before anything is sent, so the application's transaction is not
// aborted by it; everything committed seals and verifies.
func TestTxHostileCorpus(t *testing.T) {
	s, _ := newChainStore(t)
	ctx := testCtx(t)
	l, err := audit.New(s, &audit.Options{NoLifecycleEvents: true, Policy: audit.Policy{Default: audit.Sync}, OnError: func(error) {}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(ctx) })
	stored := 0
	for _, h := range storetest.HostileRecords(rand.New(rand.NewPCG(20, 3)), 20) {
		tx, err := s.DB().BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		// a record the contract refuses is refused before anything is
		// sent; one PostgreSQL itself refuses (an index entry too large)
		// aborts the transaction, which the application rolls back
		n, aborted := 0, false
		switch err := s.Tx(tx).Append(ctx, h.Record); {
		case err == nil:
			n++
		case !storekit.IsPermanent(err):
			t.Errorf("%s: Tx.Append: %v; want nil or a permanent error", h.Name, err)
		default:
			aborted = !errors.Is(err, audit.ErrInvalidEvent)
		}
		if !aborted {
			ev := storetest.EventOf(&h.Record)
			ev.ID = uuid.Nil
			if err := l.LogTo(ctx, s.Tx(tx), ev); err == nil {
				n++
			} else if !errors.Is(err, audit.ErrInvalidEvent) {
				t.Errorf("%s: LogTo: %v; want nil or an invalid event", h.Name, err)
			}
		}
		if aborted {
			tx.Rollback()
			continue
		}
		if err := tx.Commit(); err != nil {
			t.Fatalf("%s: the application's transaction: %v", h.Name, err)
		}
		stored += n
	}
	storetest.WantSealed(t, s, stored)
}
