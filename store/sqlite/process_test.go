package sqlite

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/storetest"
)

// The child processes of the multi-process tests are this test binary run
// again with childEnv set to their role.
const childEnv = "TRAILMARK_SQLITE_CHILD"

// TestMain runs a child's role instead of the tests when childEnv is set.
func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		if err := child(role, os.Getenv("TRAILMARK_SQLITE_PATH")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child runs one role against the file at path:
//   - append N: appends N batches of 50 records, printing each batch as
//     "send <json>" before Append and "ack" after it returns;
//   - seal: seals until its standard input closes, then seals once more.
func child(role, path string) error {
	ctx := context.Background()
	s, err := Open(ctx, path, nil)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	name, arg, _ := strings.Cut(role, " ")
	switch name {
	case "append":
		batches, err := strconv.Atoi(arg)
		if err != nil {
			return err
		}
		out := bufio.NewWriter(os.Stdout)
		for b := 0; batches < 0 || b < batches; b++ {
			recs := storetest.Records(b*50, b*50+50)
			line, err := json.Marshal(recs)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "send %s\n", line)
			out.Flush()
			if err := s.Append(ctx, recs...); err != nil {
				return err
			}
			fmt.Fprintln(out, "ack")
			out.Flush()
		}
		return nil
	case "seal":
		sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{SigningKey: &testSigner, BatchSize: 100})
		if err != nil {
			return err
		}
		done := make(chan struct{})
		go func() { io.Copy(io.Discard, os.Stdin); close(done) }()
		for {
			if _, err := sl.SealOnce(ctx); err != nil {
				return err
			}
			select {
			case <-done:
				_, err := sl.Checkpoint(ctx, time.Time{})
				return err
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return fmt.Errorf("unknown role %q", role)
}

// startChild starts this test binary in role on path.
func startChild(t *testing.T, role, path string) (*exec.Cmd, io.Reader, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "TRAILMARK_SQLITE_PATH="+path)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, stdout, stdin
}

// transcript reads a child's "send"/"ack" lines: the batches it sent and
// how many of them were acknowledged. With stop, it calls stop once
// after the given number of acknowledgements.
func transcript(t *testing.T, r io.Reader, stopAfter int, stop func()) (sent [][]audit.Record, acked int) {
	t.Helper()
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		switch kind {
		case "send":
			var recs []audit.Record
			if err := json.Unmarshal([]byte(rest), &recs); err != nil {
				t.Fatal(err)
			}
			sent = append(sent, recs)
		case "ack":
			acked++
			if acked == stopAfter && stop != nil {
				stop()
			}
		}
	}
	return sent, acked
}

// checkFile opens the file and checks that it holds each of want once
// and nothing else, and that its chain verifies after sealing the rest.
func checkFile(t *testing.T, path string, want []audit.Record) {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	var n, distinct int
	if err := s.reader.QueryRow("SELECT count(*), count(DISTINCT id) FROM audit_logs").Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != len(want) || distinct != len(want) {
		t.Errorf("got %d records (%d distinct), want %d", n, distinct, len(want))
	}
	for _, r := range want {
		if _, err := s.Get(ctx, r.ID); err != nil {
			t.Fatalf("record %s: %v", r.ID, err)
		}
	}
	var ok string
	if err := s.reader.Get(&ok, "PRAGMA integrity_check"); err != nil || ok != "ok" {
		t.Errorf("integrity_check: %q, %v", ok, err)
	}
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{SigningKey: &testSigner})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.SealOnce(ctx); err != nil {
		t.Fatal(err)
	}
	rep, err := chain.Verify(ctx, s, verifyOptions())
	if err != nil || !rep.OK() || rep.Records != uint64(len(want)) {
		t.Errorf("verify: %d records checked of %d, %v, %v", rep.Records, len(want), err, rep.Problems)
	}
}

// TestTwoProcessesAppendOneSeals runs two processes appending to one file
// while a third seals it.
func TestTwoProcessesAppendOneSeals(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.db")
	if s, err := Open(context.Background(), path, nil); err != nil { // created once, so that the children race on data only
		t.Fatal(err)
	} else {
		s.Close(context.Background())
	}
	const batches = 20
	sealer, _, sealIn := startChild(t, "seal", path)
	type result struct{ sent [][]audit.Record }
	results := make(chan result, 2)
	var cmds []*exec.Cmd
	for range 2 {
		cmd, out, _ := startChild(t, "append "+strconv.Itoa(batches), path)
		cmds = append(cmds, cmd)
		go func() {
			sent, _ := transcript(t, out, 0, nil)
			results <- result{sent}
		}()
	}
	var want []audit.Record
	for range 2 {
		r := <-results
		for _, b := range r.sent {
			want = append(want, b...)
		}
	}
	for _, cmd := range cmds {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("appender: %v", err)
		}
	}
	sealIn.Close()
	if err := sealer.Wait(); err != nil {
		t.Fatalf("sealer: %v", err)
	}
	if len(want) != 2*batches*50 {
		t.Fatalf("the appenders sent %d records, want %d", len(want), 2*batches*50)
	}
	checkFile(t, path, want)
}

// TestKilledMidBatch kills a process that appends without pause, after it
// acknowledged a few batches, then retries its last batch as the Logger
// would: every acknowledged record is there, none twice.
func TestKilledMidBatch(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.db")
	cmd, out, _ := startChild(t, "append -1", path)
	sent, acked := transcript(t, out, 8, func() { cmd.Process.Signal(syscall.SIGKILL) })
	cmd.Wait()
	if acked < 8 || len(sent) < acked {
		t.Fatalf("%d batches sent, %d acknowledged", len(sent), acked)
	}
	t.Logf("killed after %d batches acknowledged, %d sent", acked, len(sent))
	var want []audit.Record
	for _, b := range sent {
		want = append(want, b...)
	}
	s, err := Open(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range sent[:acked] {
		for _, r := range b {
			if _, err := s.Get(context.Background(), r.ID); err != nil {
				t.Fatalf("acknowledged record %s: %v", r.ID, err)
			}
		}
	}
	// the batch in flight is there whole or not at all
	var n int
	if err := s.reader.Get(&n, "SELECT count(*) FROM audit_logs"); err != nil {
		t.Fatal(err)
	}
	if n != acked*50 && n != len(sent)*50 {
		t.Errorf("after the kill: %d records, want %d or %d", n, acked*50, len(sent)*50)
	}
	// the retry of the batch in flight (and of the acknowledged ones, harmlessly)
	for _, b := range sent {
		if err := s.Append(context.Background(), b...); err != nil {
			t.Fatal(err)
		}
	}
	s.Close(context.Background())
	checkFile(t, path, want)
}
