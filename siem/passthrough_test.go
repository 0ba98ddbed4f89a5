package siem_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/siem"
	"github.com/trailmark/audit/store/memory"
)

// discard is a Sink that drops what it is sent.
type discard struct{}

func (discard) Send(context.Context, []audit.Record) error { return nil }

// appendOnly is a store that can only append.
type appendOnly struct{}

func (appendOnly) Append(context.Context, ...audit.Record) error { return nil }

// TestTeePassesThrough: one Tee handle serves the Logger, queries, the
// Sealer, Retention and Verify, by asking its primary; over a primary that
// cannot, each is refused, at construction where there is one.
func TestTeePassesThrough(t *testing.T) {
	ctx := context.Background()
	primary := memory.New(nil)
	tee, err := siem.NewTee(primary, []siem.Stream{{Name: "s", Sink: discard{}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tee.Close(ctx)
	if tee.Unwrap() != audit.Store(primary) {
		t.Error("Unwrap is not the primary")
	}
	old := time.Now().Add(-48 * time.Hour)
	rec := audit.Record{ID: [16]byte{1}, OccurredAt: old.UTC().Truncate(time.Microsecond), RecordedAt: old.UTC().Truncate(time.Microsecond),
		Action: audit.ActionUserLogin, ResourceType: "user", Status: audit.StatusSuccess}
	if err := tee.Append(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if p, err := tee.Query(ctx, audit.Filter{}); err != nil || len(p.Records) != 1 {
		t.Fatalf("Query through the Tee: %d records, %v", len(p.Records), err)
	}
	if _, err := tee.Get(ctx, rec.ID); err != nil {
		t.Fatalf("Get through the Tee: %v", err)
	}
	var kf bytes.Buffer
	if err := chain.WriteNewKeyFile(&kf, "k", "s"); err != nil {
		t.Fatal(err)
	}
	keys, err := chain.ReadKeyFile(&kf)
	if err != nil {
		t.Fatal(err)
	}
	sl, err := chain.NewSealer(tee, keys.Current(), keys.SealerOptions())
	if err != nil {
		t.Fatal(err)
	}
	if n, err := sl.SealOnce(ctx); err != nil || n != 1 {
		t.Fatalf("SealOnce through the Tee: %d, %v", n, err)
	}
	// the primary keeps its Merkle tree when sealed through the Tee
	if _, err := chain.Prove(ctx, primary, rec.ID); err != nil {
		t.Fatalf("Prove after sealing through the Tee: %v", err)
	}
	ret, err := audit.NewRetention(tee, sl, &audit.RetentionOptions{MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ret.RunOnce(ctx)
	if err != nil || res.Purged != 1 || res.SealsPurged != 1 {
		t.Fatalf("retention through the Tee: %+v, %v", res, err)
	}
	rep, err := chain.Verify(ctx, tee, keys.VerifyOptions())
	if err != nil || !rep.OK() || rep.Purged != 1 {
		t.Errorf("Verify through the Tee: %+v, %v", rep, err)
	}

	bare, err := siem.NewTee(appendOnly{}, []siem.Stream{{Name: "s", Sink: discard{}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bare.Close(ctx)
	if _, err := bare.Query(ctx, audit.Filter{}); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Query over an append-only primary: %v, want errors.ErrUnsupported", err)
	}
	if _, err := bare.Checkpoints(ctx); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Checkpoints over an append-only primary: %v, want errors.ErrUnsupported", err)
	}
	if _, err := chain.NewSealer(bare, keys.Current(), nil); err == nil || !strings.Contains(err.Error(), "keeps no hash chain") {
		t.Errorf("NewSealer over an append-only primary: %v", err)
	}
	if _, err := audit.NewRetention(bare, nil, nil); err == nil || !strings.Contains(err.Error(), "cannot purge") {
		t.Errorf("NewRetention over an append-only primary: %v", err)
	}
}
