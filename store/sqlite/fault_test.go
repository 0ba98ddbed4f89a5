package sqlite

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storetest"
)

// TestFaultsFailClosed writes through a Logger to files that cannot take
// writes: a Sync event's Log returns the error; an Async event is
// reported to OnError and counted as failed, never lost
// silently.
func TestFaultsFailClosed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		// open returns a store whose writes fail, and what the error says
		open func(t *testing.T) *Store
	}{
		{"immutable file", func(t *testing.T) *Store {
			// chattr +i makes the file read-only even for root (the tests
			// run as root, for whom chmod 0444 changes nothing); SQLite
			// then opens it read-only, as it does for a file it may not
			// write
			path := filepath.Join(t.TempDir(), "audit.db")
			s, err := Open(ctx, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.Close(context.Background())
			if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
				t.Skipf("chattr +i: %v: %s", err, out)
			}
			t.Cleanup(func() { exec.Command("chattr", "-i", path).Run() })
			return newStoreAt(t, path, nil)
		}},
		{"opened read-only", func(t *testing.T) *Store {
			path := filepath.Join(t.TempDir(), "audit.db")
			s, err := Open(ctx, path, nil)
			if err != nil {
				t.Fatal(err)
			}
			s.Close(context.Background())
			return newStoreAt(t, path, &Options{ReadOnly: true})
		}},
		{"full", func(t *testing.T) *Store {
			// the file may not grow past the pages it has: SQLite fails
			// with SQLITE_FULL, as it does on a full disk
			s := newStore(t, nil)
			// (it cannot be set below the pages in use) and is filled up
			if _, err := s.writer.ExecContext(ctx, "PRAGMA max_page_count = 1"); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 10000; i++ {
				if err := s.Append(ctx, storetest.Record(i)); err != nil {
					return s
				}
			}
			t.Fatal("the file does not fill up")
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := tt.open(t)
			if err := s.Append(ctx, storetest.Records(0, 100)...); err == nil {
				t.Fatal("Append: no error")
			} else {
				t.Logf("Append: %v", err)
			}
			var mu sync.Mutex
			var reported []error
			l, err := audit.New(s,
				&audit.Options{Policy: audit.Policy{Actions: map[audit.Action]audit.Delivery{
					audit.ActionUserLogin: audit.Sync, audit.ActionResourceRead: audit.Async,
				}, SyncTimeout: 300 * time.Millisecond}, Async: audit.AsyncOptions{RetryFor: 200 * time.Millisecond, FlushInterval: 10 * time.Millisecond}, OnError: func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }})
			if err != nil {
				t.Fatal(err)
			}
			// (larger than what is left in a page of the full file)
			ev := audit.Event{UserID: "u", ResourceType: "doc", Status: audit.StatusSuccess,
				Details: map[string]any{"text": strings.Repeat("x", 3000)}}
			ev.Action = audit.ActionUserLogin
			if err := l.Log(ctx, ev); err == nil {
				t.Errorf("Sync Log: no error")
			}
			ev.Action = audit.ActionResourceRead
			if err := l.Log(ctx, ev); err != nil {
				t.Errorf("Async Log: %v", err)
			}
			l.Close(ctx)
			mu.Lock()
			defer mu.Unlock()
			var de *audit.DeliveryError
			found := false
			for _, err := range reported {
				if errors.As(err, &de) && slices.ContainsFunc(de.Records, func(r audit.Record) bool { return r.Action == audit.ActionResourceRead }) {
					found = true
				}
			}
			if st := l.Stats(); !found || st.Failed < 1 {
				t.Errorf("the Async record was not reported: reported %v, stats %+v", reported, st)
			}
		})
	}
}

// newStoreAt opens the store at path, closed at the end of the test.
func newStoreAt(t *testing.T, path string, opts *Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}
