package chain_test

import (
	"context"
	"testing"
	"time"

	"github.com/trailmark/audit"
)

// newLogger returns a Logger without lifecycle events; opts may be nil.
func newLogger(t *testing.T, s audit.Store, opts *audit.Options) *audit.Logger {
	t.Helper()
	var o audit.Options
	if opts != nil {
		o = *opts
	}
	o.NoLifecycleEvents = true
	l, err := audit.New(s, &o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}
func ev(action audit.Action) audit.Event {
	return audit.Event{Action: action, ResourceType: "document", ResourceID: "d1", Status: audit.StatusSuccess}
}
func fastAsync() audit.AsyncOptions {
	return audit.AsyncOptions{FlushInterval: 5 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}
}
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}
