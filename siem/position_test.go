package siem

import (
	"testing"
	"time"
)

// FuzzParsePosition: a saved position is read back from a store, where
// anyone with write access to the positions table may have changed it:
// parsePosition never panics, and what it accepts saves and parses back
// to the same position.
func FuzzParsePosition(f *testing.F) {
	for _, p := range []position{
		{Since: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)},
		{After: "AwE"},
		{After: "AwE", Cursor: "AgAGB", Tail: "AwI"},
		{Since: time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC), Cursor: "AgAGB", Tail: "AwI"},
	} {
		f.Add(p.String())
	}
	f.Add(`{"cursor":"x"}`)
	f.Add(`{"since":"not a time"}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parsePosition(s)
		if err != nil {
			return
		}
		q, err := parsePosition(p.String())
		if err != nil || !q.Since.Equal(p.Since) || q.After != p.After || q.Cursor != p.Cursor || q.Tail != p.Tail {
			t.Errorf("parsePosition(%q) = %+v, which saves as %q and parses back as %+v, %v", s, p, p.String(), q, err)
		}
	})
}
