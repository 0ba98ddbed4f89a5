package storekit_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// FuzzDecodeCursor checks that cursors round-trip and garbage is refused
// with an error wrapping ErrInvalidFilter, as Filter.Validate refuses it.
func FuzzDecodeCursor(f *testing.F) {
	f.Add("AQAF8JtH6kYAAAAAAAAAAAAAAAAAAAAAAA")
	f.Add("")
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return // no cursor: the caller does not decode it
		}
		c, err := storekit.DecodeCursor(s)
		verr := (&audit.Filter{Cursor: s}).Validate()
		if (err == nil) != (verr == nil) {
			t.Fatalf("DecodeCursor(%q): %v, but Validate: %v", s, err, verr)
		}
		if err != nil {
			if !errors.Is(err, audit.ErrInvalidFilter) {
				t.Fatalf("DecodeCursor(%q): got %v, want an error wrapping ErrInvalidFilter", s, err)
			}
			return
		}
		if again, err := storekit.DecodeCursor(c.String()); err != nil || !again.OccurredAt.Equal(c.OccurredAt) || again.ID != c.ID ||
			!bytes.Equal(again.Horizon, c.Horizon) || again.String() != s {
			t.Fatalf("cursor %q does not round-trip", s)
		}
	})
}

// FuzzDecodeTail checks that tails round-trip and garbage is refused with
// an error wrapping ErrInvalidFilter, as Filter.Validate refuses it; a
// cursor is not a tail.
func FuzzDecodeTail(f *testing.F) {
	f.Add(storekit.Tail([]byte{1, 2, 3}))
	f.Add(storekit.Cursor{OccurredAt: time.Unix(1, 0), Horizon: []byte{1}}.String())
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return // no tail: the caller does not decode it
		}
		h, err := storekit.DecodeTail(s)
		verr := (&audit.Filter{After: s}).Validate()
		if (err == nil) != (verr == nil) {
			t.Fatalf("DecodeTail(%q): %v, but Validate: %v", s, err, verr)
		}
		if err != nil {
			if !errors.Is(err, audit.ErrInvalidFilter) {
				t.Fatalf("DecodeTail(%q): got %v, want an error wrapping ErrInvalidFilter", s, err)
			}
			return
		}
		if storekit.Tail(h) != s {
			t.Fatalf("tail %q does not round-trip", s)
		}
		if _, err := storekit.DecodeCursor(s); err == nil {
			t.Fatalf("tail %q decodes as a cursor", s)
		}
	})
}

// TestCursorHorizon: a cursor carries its walk's horizon, up to
// MaxHorizon bytes, and a tail is not a cursor nor a cursor a tail.
func TestCursorHorizon(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	for _, h := range [][]byte{nil, {0}, bytes.Repeat([]byte{7}, storekit.MaxHorizon)} {
		c := storekit.Cursor{OccurredAt: at, ID: uuid.UUID{9}, Horizon: h}
		got, err := storekit.DecodeCursor(c.String())
		if err != nil || !got.OccurredAt.Equal(at) || got.ID != c.ID || !bytes.Equal(got.Horizon, h) {
			t.Errorf("horizon of %d bytes: got %+v, %v", len(h), got, err)
		}
		if _, err := storekit.DecodeTail(c.String()); err == nil {
			t.Errorf("a cursor with a horizon of %d bytes decodes as a tail", len(h))
		}
	}
	if _, err := storekit.DecodeCursor(storekit.Tail([]byte{1})); err == nil {
		t.Error("a tail decodes as a cursor")
	}
	long := storekit.Cursor{OccurredAt: at, Horizon: make([]byte, storekit.MaxHorizon+1)}
	defer func() {
		if recover() == nil {
			t.Error("a horizon longer than MaxHorizon: no panic")
		}
	}()
	_ = long.String()
}

func TestCursorOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	a, b := uuid.UUID{1}, uuid.UUID{2}
	c := storekit.CursorAfter(&audit.Record{OccurredAt: t0, ID: b})
	tests := []struct {
		name string
		r    audit.Record
		want bool
	}{
		{"older", audit.Record{OccurredAt: t0.Add(-time.Microsecond), ID: b}, true},
		{"newer", audit.Record{OccurredAt: t0.Add(time.Microsecond), ID: a}, false},
		{"same time, smaller ID", audit.Record{OccurredAt: t0, ID: a}, true},
		{"the cursor's record", audit.Record{OccurredAt: t0, ID: b}, false},
	}
	for _, tt := range tests {
		if got := c.Precedes(&tt.r); got != tt.want {
			t.Errorf("%s: Precedes got %v, want %v", tt.name, got, tt.want)
		}
	}
	if got := storekit.CompareIDs(a, b); got != -1 {
		t.Errorf("CompareIDs(a, b): got %d, want -1", got)
	}
}

func TestPageSizeAndMatch(t *testing.T) {
	if got := storekit.PageSize(&audit.Filter{}); got != audit.DefaultLimit {
		t.Errorf("PageSize of the zero Filter: got %d, want %d", got, audit.DefaultLimit)
	}
	if got := storekit.PageSize(&audit.Filter{Limit: 7}); got != 7 {
		t.Errorf("PageSize: got %d, want 7", got)
	}
	r := &audit.Record{Action: "user.login", UserID: "u1"}
	if !storekit.Match(&audit.Filter{ActionPrefix: "user."}, r) || storekit.Match(&audit.Filter{UserID: "u2"}, r) {
		t.Errorf("Match: prefix or user mismatch")
	}
}

func TestHashOwner(t *testing.T) {
	t.Parallel()
	x := int64(0)
	for n := int64(0); n < 5000; n++ {
		k := tlog.StoredHashCount(n+1) - tlog.StoredHashCount(n)
		for j := range int(k) {
			if leaf, at := storekit.HashOwner(x); leaf != n || at != j {
				t.Fatalf("HashOwner(%d) = %d, %d; want %d, %d", x, leaf, at, n, j)
			}
			x++
		}
	}
}
