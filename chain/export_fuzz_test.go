package chain_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
	"github.com/trailmark/audit/storetest"
)

// goodExport returns the export of a small sealed chain with a checkpoint.
func goodExport(t testing.TB) []byte {
	ctx := context.Background()
	s := memory.New(nil)
	storetest.LoggedRecords(t, s, time.Now().Add(-time.Hour))
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{SigningKey: &testSigner})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.Checkpoint(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, storetest.Records(0, 1)...); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := chain.ExportChain(ctx, s, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzVerifyExport feeds Verify hostile exports: whatever a file holds,
// Verify returns a report or an error, and never panics; an export that
// only has its values changed (valid lines) always yields a report.
func FuzzVerifyExport(f *testing.F) {
	good := goodExport(f)
	f.Add(good)
	lines := strings.SplitAfter(string(good), "\n")
	header, seal := lines[0], lines[2]
	hostile := []string{
		`"seq":0,`, `"seq":18446744073709551615,`, `"seq":9000000000000000000,`,
	}
	for _, h := range hostile {
		f.Add([]byte(header + strings.Replace(seal, `"seq":2,`, h, 1)))
		f.Add([]byte(strings.Replace(header, `"seq":6,`, h, 1) + seal))
	}
	for _, r := range []struct{ old, new string }{
		{`"purged_before"`, `"x"`},
		{`"boundary"`, `"x"`},
		{`"record":{`, `"record":null,"x":{`},
		{`"details":null`, `"details":[[[[[[[[[[[[]]]]]]]]]]]]`},
		{`"hash":"`, `"hash":"AA`},
		{`"event_time":"`, `"event_time":"9999-12-31T23:59:59.999999Z","x":"`},
		{`"key_id":"k1"`, `"key_id":""`},
	} {
		f.Add([]byte(header + strings.ReplaceAll(strings.Join(lines[1:], ""), r.old, r.new)))
	}
	f.Add([]byte(strings.Replace(header, `"at":"`, `"purged_before":"9999-12-31T23:59:59.999999Z","boundary":true,"at":"`, 1) + strings.Join(lines[1:], "")))
	f.Add([]byte(header))
	f.Add([]byte(header + `{"type":"seal"}` + "\n"))
	f.Add([]byte(header + `{"type":"unsealed","record":{}}` + "\n"))
	opts := testVerifyOpts()
	f.Fuzz(func(t *testing.T, b []byte) {
		src := chain.NewExportSource(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		type result struct {
			rep chain.Report
			err error
		}
		done := make(chan result, 1)
		go func() {
			rep, err := chain.Verify(context.Background(), src, opts)
			done <- result{rep, err}
		}()
		var res result
		select {
		case res = <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("Verify still running after 10s on %q", b)
		}
		rep, err := res.rep, res.err
		if err != nil {
			return
		}
		if uint64(len(rep.Problems)) > rep.ProblemCount {
			t.Errorf("%d problems listed, %d counted", len(rep.Problems), rep.ProblemCount)
		}
		if bytes.Equal(b, good) && !rep.OK() {
			t.Errorf("the untouched export: %v", rep.Problems)
		}
	})
}
