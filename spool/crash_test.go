package spool_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/spool"
	"github.com/trailmark/audit/store/sqlite"
)

// The child processes of the SIGKILL tests are this test binary run
// again with childEnv set (to the spool directory, if any), childDB to
// the SQLite file and childRole to the role.
const (
	childEnv  = "TRAILMARK_SPOOL_CHILD"
	childDB   = "TRAILMARK_SPOOL_DB"
	childRole = "TRAILMARK_SPOOL_ROLE" // "sealer": childSealer
)

// childSealer logs Async events without a spool, with the default
// options, about 3,000 a second from one goroutine (batches do not fill:
// FlushInterval decides when they are written), to the SQLite store,
// beside a Sealer, until it is killed; it prints the ID (a UUIDv7, made
// just before Log) of each event whose Log returned nil.
func childSealer() error {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, os.Getenv(childDB), nil)
	if err != nil {
		return err
	}
	l, err := audit.New(store, nil)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- runSealer(ctx, store) }()
	out := bufio.NewWriterSize(os.Stdout, 1024)
	for n := 0; ; n++ {
		select {
		case err := <-errc:
			return err
		default:
		}
		if n%3 == 2 {
			time.Sleep(time.Millisecond)
		}
		id := uuid.Must(uuid.NewV7())
		if err := l.Log(ctx, audit.Event{ID: id, Action: audit.ActionResourceRead, ResourceType: "document", ResourceID: "d-1", Status: audit.StatusSuccess}); err != nil {
			return err
		}
		out.WriteString(id.String())
		out.WriteByte('\n')
		if out.Buffered() > 700 {
			if err := out.Flush(); err != nil {
				return err
			}
		}
	}
}

// child logs Async events from 4 goroutines (at most childBurst each per
// 10ms), through a spool, to the SQLite store until it is killed, and prints the ID of each event whose
// Log returned nil, after Log returned.
func child() error {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, os.Getenv(childDB), nil)
	if err != nil {
		return err
	}
	sp, err := spool.Open(os.Getenv(childEnv), nil)
	if err != nil {
		return err
	}
	l, err := audit.New(store, &audit.Options{Async: audit.AsyncOptions{Spool: sp}})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	out := bufio.NewWriterSize(os.Stdout, 4096)
	errc := make(chan error, 4)
	for range 4 {
		go func() {
			for n := 0; ; n++ {
				if n%childBurst == childBurst-1 {
					time.Sleep(10 * time.Millisecond) // below the store's rate, so that a backlog does not grow from kill to kill
				}
				id := uuid.Must(uuid.NewV7())
				err := l.Log(ctx, audit.Event{ID: id, Action: audit.ActionResourceRead, ResourceType: "document", ResourceID: "d-1", Status: audit.StatusSuccess})
				if errors.Is(err, audit.ErrQueueFull) {
					continue // the store is behind: not accepted, not printed
				}
				if err != nil {
					errc <- err
					return
				}
				mu.Lock()
				out.WriteString(id.String())
				out.WriteByte('\n')
				if out.Buffered() > 3000 {
					err = out.Flush()
				}
				mu.Unlock()
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	return <-errc
}

// TestSIGKILLLossWithoutSpool measures what the documented bound is
// about: a child logging Async to SQLite without a spool, with a Sealer
// in the same process (the two share SQLite's one writer) and the
// default settings, is killed 10 times; the events it loses were logged
// at most FlushInterval (or the write in progress) plus their own write
// before the kill. Before each child, 20,000 unsealed records are added,
// as after a pause of the sealer: the child's Sealer seals them in
// transactions of 1000 records back to back, which its Logger's writes
// wait for. It logs how many events were lost and how old the oldest was.
func TestSIGKILLLossWithoutSpool(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("starts and kills processes; measures times, which -race stretches")
	}
	db := filepath.Join(t.TempDir(), "audit.db")
	ctx := context.Background()
	store, err := sqlite.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	var oldest time.Duration
	var total int
	for kill := range 10 {
		for range 20 {
			backlog := make([]audit.Record, 1000)
			for i := range backlog {
				backlog[i] = audit.Record{ID: uuid.Must(uuid.NewV7()), OccurredAt: time.Now().UTC().Truncate(time.Microsecond),
					Action: audit.ActionResourceRead, ResourceType: "document", Status: audit.StatusSuccess}
			}
			if err := store.Append(ctx, backlog...); err != nil {
				t.Fatal(err)
			}
		}
		ids, killed := runChild(t, kill, "sealer", "", db, time.Duration(500+rng.IntN(700))*time.Millisecond)
		stored := storedIDs(t, db)
		lost, age := 0, time.Duration(0)
		for _, id := range ids {
			if !stored[id] {
				lost++
				sec, nsec := id.Time().UnixTime()
				age = max(age, killed.Sub(time.Unix(sec, nsec)))
			}
		}
		t.Logf("kill %d: %d of %d events lost, the oldest logged %v before the kill", kill, lost, len(ids), age.Round(time.Millisecond))
		oldest, total = max(oldest, age), total+lost
	}
	t.Logf("%d events lost in 10 kills, the oldest logged %v before its kill (FlushInterval 100ms)", total, oldest.Round(time.Millisecond))
	if oldest > time.Second {
		t.Errorf("an event logged %v before the kill was lost, want at most FlushInterval and a write", oldest)
	}
}

// TestSIGKILLLosesNothing starts a child that logs to SQLite through a
// spool, kills it with SIGKILL at a random moment, 10 times, each child
// replaying what the last one left, then replays the spool once more in
// this process: every event whose Log returned nil in a child is in the
// store.
func TestSIGKILLLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	dir := t.TempDir()
	spoolDir, db := filepath.Join(dir, "spool"), filepath.Join(dir, "audit.db")
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	accepted := map[uuid.UUID]bool{}
	deadline := time.Now().Add(40 * time.Second)
	for kill := range 10 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d kills in 40s", kill)
		}
		ids, _ := runChild(t, kill, "", spoolDir, db, time.Duration(200+rng.IntN(1000))*time.Millisecond)
		for _, id := range ids {
			accepted[id] = true
		}
		t.Logf("child %d: %d events accepted", kill, len(ids))
	}

	// the last replay, here
	ctx := context.Background()
	store, err := sqlite.Open(ctx, db, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close(context.Background())
	sp, err := spool.Open(spoolDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close(context.Background())
	l, err := audit.New(store, &audit.Options{NoLifecycleEvents: true, Async: audit.AsyncOptions{Spool: sp}})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("replayed by this process: %d", l.Stats().Written)

	stored := storedIDs(t, db)
	lost := 0
	for id := range accepted {
		if !stored[id] {
			lost++
			if lost <= 5 {
				t.Errorf("accepted event %v is not in the store", id)
			}
		}
	}
	t.Logf("%d events accepted and printed, %d stored, %d lost", len(accepted), len(stored), lost)
	if lost > 0 {
		t.Errorf("%d accepted events lost, want 0", lost)
	}
	if len(accepted) == 0 {
		t.Error("no event was accepted")
	}
}

// runChild starts a child with role ("" for the spool's) on spoolDir and
// db, kills it with SIGKILL after life, and returns the IDs it printed
// and when it was killed.
func runChild(t *testing.T, n int, role, spoolDir, db string, life time.Duration) ([]uuid.UUID, time.Time) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+spoolDir, childDB+"="+db, childRole+"="+role)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan []uuid.UUID)
	go func() {
		var ids []uuid.UUID
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if id, err := uuid.Parse(sc.Text()); err == nil { // the last line may be cut
				ids = append(ids, id)
			}
		}
		io.Copy(io.Discard, out)
		read <- ids
	}()
	time.Sleep(life)
	killed := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ids := <-read
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child %d: %v, want killed by SIGKILL; stderr: %s", n, err, stderr.String())
	}
	return ids, killed
}

// storedIDs returns the IDs of the records in the SQLite file at path.
func storedIDs(t *testing.T, path string) map[uuid.UUID]bool {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT id FROM audit_logs")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	ids := map[uuid.UUID]bool{}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		id, err := uuid.FromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		ids[id] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}
