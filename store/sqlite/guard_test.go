package sqlite

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storetest"
)

var (
	testKey    = chain.HMACKey{ID: "k", Secret: bytes.Repeat([]byte{7}, 32)}
	testSigner = chain.SigningKey{ID: "s", Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))}
)

func verifyOptions() *chain.VerifyOptions {
	return &chain.VerifyOptions{
		Keys:       map[string][]byte{testKey.ID: testKey.Secret},
		PublicKeys: map[string]ed25519.PublicKey{testSigner.ID: testSigner.Key.Public().(ed25519.PublicKey)},
	}
}

// TestAppendOnlyGuard checks that SQL that changes or removes records,
// seals or checkpoints is refused, while retention still works, and that
// its permit is never left behind.
func TestAppendOnlyGuard(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, nil)
	recs := storetest.Records(0, 10) // in March 2026
	if err := s.Append(ctx, recs...); err != nil {
		t.Fatal(err)
	}
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{SigningKey: &testSigner})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.Checkpoint(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE audit_logs SET user_id = 'mallory'",
		"DELETE FROM audit_logs",
		"UPDATE audit_seals SET hash = x'00'",
		"DELETE FROM audit_seals",
		"UPDATE audit_checkpoints SET seq = 0",
		"DELETE FROM audit_checkpoints",
		"UPDATE audit_tree_leaves SET salt = NULL",
		"DELETE FROM audit_tree_leaves",
		"UPDATE audit_tree_checkpoints SET note = ''",
		"DELETE FROM audit_tree_checkpoints",
	} {
		_, err := s.writer.ExecContext(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s: got %v, want refused", q, err)
		}
	}
	rep, err := chain.Verify(ctx, s, verifyOptions())
	if err != nil || !rep.OK() {
		t.Fatalf("after refused changes: %v %v", err, rep.Problems)
	}
	// retention removes what is older than the cutoff, and only that
	ret, err := audit.NewRetention(s, sl, &audit.RetentionOptions{
		MaxAge: time.Hour, Now: func() time.Time { return recs[5].OccurredAt.Add(time.Hour) },
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := ret.RunOnce(ctx)
	if err != nil || res.Purged != 5 || res.SealsPurged != 5 {
		t.Fatalf("retention: %+v, %v; want 5 records and 5 seals purged", res, err)
	}
	var permits int
	if err := s.reader.Get(&permits, "SELECT count(*) FROM audit_retention"); err != nil || permits != 0 {
		t.Errorf("permits left: %d, %v", permits, err)
	}
	if _, err := s.writer.ExecContext(ctx, "DELETE FROM audit_logs"); err == nil {
		t.Errorf("DELETE after retention: no error")
	}
	rep, err = chain.Verify(ctx, s, verifyOptions())
	if err != nil || !rep.OK() {
		t.Fatalf("after retention: %v %v", err, rep.Problems)
	}
}

// TestFileSizeUnderRetention writes and purges the same number of records
// in rounds, and checks that the file (with its write-ahead log) stops
// growing: freed pages are reused and returned.
func TestFileSizeUnderRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t, &Options{PurgeBatch: 1000})
	const rounds, perRound = 10, 2000
	size := func() int64 {
		var n int64
		for _, suffix := range []string{"", "-wal"} {
			if fi, err := os.Stat(s.path + suffix); err == nil {
				n += fi.Size()
			}
		}
		return n
	}
	var sizes []int64
	for r := range rounds {
		recs := storetest.Records(r*perRound, (r+1)*perRound) // a minute apart
		if err := s.Append(ctx, recs...); err != nil {
			t.Fatal(err)
		}
		if r > 0 {
			n, err := s.Purge(ctx, recs[0].OccurredAt)
			if err != nil || n != perRound {
				t.Fatalf("round %d: purged %d, %v; want %d", r, n, err, perRound)
			}
		}
		sizes = append(sizes, size())
	}
	t.Logf("file + WAL bytes after each round of %d written, %d purged: %v", perRound, perRound, sizes)
	if last, second := sizes[rounds-1], sizes[1]; last > second*5/4 {
		t.Errorf("the file grew from %d to %d bytes while holding as many records", second, last)
	}
	// purging everything gives the space back to the file system
	if _, err := s.Purge(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	if empty := size(); empty > sizes[rounds-1]/4 {
		t.Errorf("after purging every record the file has %d bytes, from %d", empty, sizes[rounds-1])
	} else {
		t.Logf("after purging every record: %d bytes", empty)
	}
}
