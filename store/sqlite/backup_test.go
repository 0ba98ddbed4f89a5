package sqlite_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/sqlite"
)

// TestBackupOnline backs up a file while another goroutine appends to it,
// and checks that the copy opens, holds what was sealed, and that its
// chain verifies with the keys and the checkpoint signer.
func TestBackupOnline(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openIn(t, dir)
	record := func(i int) audit.Record {
		return audit.Record{ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now().UTC().Truncate(time.Microsecond), Action: audit.ActionResourceUpdate,
			ResourceType: "document", ResourceID: fmt.Sprint("doc-", i), UserID: "u-1", Status: audit.StatusSuccess}
	}
	const sealed = 50
	for i := range sealed {
		if err := s.Append(ctx, record(i)); err != nil {
			t.Fatal(err)
		}
	}
	key := chain.HMACKey{ID: "k", Secret: bytes.Repeat([]byte{1}, 32)}
	signer := chain.SigningKey{ID: "s", Key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))}
	sl, err := chain.NewSealer(s, key, &chain.SealerOptions{SigningKey: &signer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.Checkpoint(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}

	// appends go on during the backup
	stop, appended := make(chan struct{}), make(chan int)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		defer func() { appended <- n }()
		for i := sealed; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.Append(ctx, record(i)); err != nil {
				t.Errorf("append during the backup: %v", err)
				return
			}
			n++
		}
	}()
	backup := filepath.Join(dir, "backup.db")
	err = s.Backup(ctx, backup)
	close(stop)
	n := <-appended
	wg.Wait()
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	t.Logf("%d records appended during the backup", n)

	b, err := sqlite.Open(ctx, backup, &sqlite.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("opening the backup: %v", err)
	}
	defer b.Close(context.Background())
	rep, err := chain.Verify(ctx, b, &chain.VerifyOptions{
		Keys:       map[string][]byte{key.ID: key.Secret},
		PublicKeys: map[string]ed25519.PublicKey{signer.ID: signer.Key.Public().(ed25519.PublicKey)},
	})
	if err != nil || !rep.OK() || rep.Records != sealed || rep.Checkpoints < 1 {
		t.Errorf("verify the backup: %d records, %d checkpoints, %v, %v; want %d records, a checkpoint, no problem",
			rep.Records, rep.Checkpoints, err, rep.Problems, sealed)
	}
	// the copy is a store like the original: writable, in WAL mode
	w, err := sqlite.Open(ctx, backup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	if err := w.Append(ctx, record(-1)); err != nil {
		t.Errorf("append to the backup: %v", err)
	}
	if _, err := os.Stat(backup + "-wal"); err != nil {
		t.Errorf("the backup is not in WAL mode: %v", err)
	}
}

// TestBackupNeverOverwrites: a backup to an existing file fails and
// leaves the file as it was.
func TestBackupNeverOverwrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	s := openIn(t, dir)
	existing := filepath.Join(dir, "precious")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{existing, "", "file:" + filepath.Join(dir, "uri.db")} {
		if err := s.Backup(ctx, path); err == nil {
			t.Errorf("Backup(%q): got nil, want an error", path)
		}
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("the existing file holds %q after Backup, want it unchanged", b)
	}
	if err := s.Backup(ctx, filepath.Join(dir, "no-such-dir", "b.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Backup into a missing directory: got %v, want os.ErrNotExist", err)
	}
}

// openIn opens audit.db in dir, closed at the end of the test.
func openIn(t *testing.T, dir string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "audit.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}
