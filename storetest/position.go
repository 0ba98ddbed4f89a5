package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/trailmark/audit/storekit"
)

// testPositions: a storekit.PositionStore returns "" for a name never
// saved, the last position saved under each name, names kept apart, the
// longest position whole, and refuses what is out of its limits.
func testPositions(t *testing.T, newStore Factory) {
	s := newStore(t)
	ps, ok := s.(storekit.PositionStore)
	if !ok {
		t.Skipf("%T does not implement storekit.PositionStore", s)
	}
	load := func(name string) string {
		t.Helper()
		p, err := ps.LoadPosition(ctx(t), name)
		if err != nil {
			t.Fatalf("LoadPosition(%q): %v", name, err)
		}
		return p
	}
	if got := load("siem/never"); got != "" {
		t.Errorf("LoadPosition of a name never saved: got %q, want \"\"", got)
	}
	long := strings.Repeat("p", storekit.MaxPositionLen)
	steps := []struct{ name, pos string }{
		{"siem/a", `{"after":"AwE"}`},
		{"siem/b", "b1"},
		{"siem/a", `{"after":"AwI","cursor":"x","tail":"y"}`},
		{"siem/é 名前", "unicode"},
		{strings.Repeat("n", storekit.MaxPositionName), long},
		{"siem/empty", ""},
	}
	want := map[string]string{}
	for _, st := range steps {
		if err := ps.SavePosition(ctx(t), st.name, st.pos); err != nil {
			t.Fatalf("SavePosition(%q): %v", st.name, err)
		}
		want[st.name] = st.pos
		for name, pos := range want {
			if got := load(name); got != pos {
				t.Errorf("after saving %q: LoadPosition(%q) = %.40q…, want %.40q…", st.name, name, got, pos)
			}
		}
	}
	for _, bad := range []struct{ name, pos string }{
		{"", "x"},
		{strings.Repeat("n", storekit.MaxPositionName+1), "x"},
		{"siem/a", long + "p"},
		{"siem/a", "nul\x00"},
		{"siem/\xff", "x"},
	} {
		if err := ps.SavePosition(ctx(t), bad.name, bad.pos); err == nil {
			t.Errorf("SavePosition(%.20q, %.20q): nil, want an error", bad.name, bad.pos)
		}
	}
	if got := load("siem/a"); got != want["siem/a"] {
		t.Errorf("after refused saves: LoadPosition(siem/a) = %q, want %q", got, want["siem/a"])
	}
	// concurrent saves under one name: the last to return is kept, and
	// no save fails
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := ps.SavePosition(ctx(t), "siem/race", fmt.Sprint(i)); err != nil {
				t.Errorf("concurrent SavePosition: %v", err)
			}
		})
	}
	wg.Wait()
	if got := load("siem/race"); len(got) != 1 {
		t.Errorf("after concurrent saves: %q, want one of them", got)
	}
}
