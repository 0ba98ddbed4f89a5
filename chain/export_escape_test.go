package chain_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/chain"
	"github.com/trailmark/audit/store/memory"
)

// TestExportChainEscapesControls: a chain export holds no raw C1 or bidi
// control (a terminal showing it is not steered), and still verifies: the
// escapes change neither the values nor their hashes.
func TestExportChainEscapesControls(t *testing.T) {
	ctx := context.Background()
	s := memory.New(nil)
	l := newLogger(t, s, nil)
	e := ev(audit.ActionUserLogin)
	e.UserID = "u\u202eevil" // an identity holds no control character, but may hold bidi controls
	e.UserEmail = "u\u009b2J@example.com"
	e.UserAgent = "agent\u2066x\u2069\u0085"
	e.Details = map[string]any{"note\u202e": "a\u009bb", "n": []any{"\u2067"}}
	e.Changes = map[string]audit.Change{"title": {Before: "x\u202a", After: "y\u0080"}}
	if err := l.Log(ctx, e); err != nil {
		t.Fatal(err)
	}
	sl, err := chain.NewSealer(s, testKey, &chain.SealerOptions{SigningKey: &testSigner})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sl.Checkpoint(ctx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := chain.ExportChain(ctx, s, &buf); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"\u009b", "\u0085", "\u0080", "\u202e", "\u202a", "\u2066", "\u2067", "\u2069"} {
		if bytes.Contains(buf.Bytes(), []byte(bad)) {
			t.Errorf("export carries %q raw", bad)
		}
	}
	if !bytes.Contains(buf.Bytes(), []byte(`\u009b`)) {
		t.Errorf("export lost the escaped control: %s", buf.Bytes())
	}
	export := buf.Bytes()
	src := chain.NewExportSource(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(export)), nil })
	rep, err := chain.Verify(ctx, src, testVerifyOpts())
	if err != nil || !rep.OK() || rep.Records != 1 {
		t.Errorf("Verify of the export: %+v, %v; want OK with 1 record", rep, err)
	}
}
