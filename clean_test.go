package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/trailmark/audit/internal/canonical"
)

func validEvent() Event {
	return Event{
		Action: ActionResourceUpdate, ResourceType: "document", ResourceID: "7",
		Status: StatusSuccess, OccurredAt: time.Date(2026, 1, 2, 3, 4, 5, 678901234, time.UTC),
	}
}

func mustClean(t *testing.T, c *cleaner, ev Event) Record {
	t.Helper()
	r, err := c.clean(&ev, nil)
	if err != nil {
		t.Fatalf("clean: %v", err)
	}
	return r
}

func defaultCleaner() *cleaner { return newCleaner(Redaction{}, Limits{}.withDefaults()) }

func TestCleanRequiredFields(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Event)
		field string
	}{
		{"no action", func(e *Event) { e.Action = "" }, "action"},
		{"blank action", func(e *Event) { e.Action = "  \t" }, "action"},
		{"no resource type", func(e *Event) { e.ResourceType = "" }, "resource_type"},
		{"no status", func(e *Event) { e.Status = "" }, "status"},
		{"bad status", func(e *Event) { e.Status = "ok" }, "status"},
		{"year 0", func(e *Event) { e.OccurredAt = time.Date(0, 12, 31, 0, 0, 0, 0, time.UTC) }, "timestamp"},
		{"year 10000", func(e *Event) { e.OccurredAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "timestamp"},
	}
	c := defaultCleaner()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := validEvent()
			tt.edit(&ev)
			_, err := c.clean(&ev, nil)
			var fe *FieldError
			if !errors.Is(err, ErrInvalidEvent) || !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("got %v, want ErrInvalidEvent naming %q", err, tt.field)
			}
			if !strings.Contains(err.Error(), tt.field) || !strings.HasPrefix(err.Error(), "audit: ") {
				t.Errorf("error %q does not start with audit: and name %q", err, tt.field)
			}
		})
	}
}

func TestCleanScalars(t *testing.T) {
	c := newCleaner(Redaction{}, Limits{MaxFieldBytes: 64}.withDefaults())
	ev := validEvent()
	ev.UserEmail = "bad\xffutf8\x00nul"
	ev.UserAgent = strings.Repeat("é", 100) // 200 bytes, under 4×64
	ev.ResourceID = strings.Repeat("x", 100)
	ev.ErrorMessage = strings.Repeat("€", 200) // 600 bytes, over 4×64
	ev.IPAddress = netip.MustParseAddr("::ffff:192.0.2.7")
	r := mustClean(t, c, ev)
	if r.UserEmail != "bad\uFFFDutf8\uFFFDnul" {
		t.Errorf("UserEmail = %q, want invalid UTF-8 and NUL replaced", r.UserEmail)
	}
	if r.UserAgent != ev.UserAgent {
		t.Errorf("UserAgent under the cap was changed")
	}
	if r.ResourceID != ev.ResourceID {
		t.Errorf("ResourceID = %q (%d bytes), want it whole: an identity is never cut", r.ResourceID, len(r.ResourceID))
	}
	if len(r.ErrorMessage) > 256 || !utf8.ValidString(r.ErrorMessage) || !strings.HasSuffix(r.ErrorMessage, truncMarker) {
		t.Errorf("ErrorMessage = %q: want ≤ 256 valid bytes ending in the marker", r.ErrorMessage)
	}
	if r.IPAddress != netip.MustParseAddr("192.0.2.7") {
		t.Errorf("IPAddress = %v, want the unmapped IPv4 address", r.IPAddress)
	}
	if want := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC); !r.OccurredAt.Equal(want) || r.OccurredAt.Location() != time.UTC {
		t.Errorf("OccurredAt = %v, want %v (UTC, µs)", r.OccurredAt, want)
	}
	// an action longer than MaxFieldBytes is an identity: kept whole
	ev = validEvent()
	ev.Action = Action(strings.Repeat("a", 100))
	if r := mustClean(t, c, ev); r.Action != ev.Action {
		t.Errorf("long action: got %q", r.Action)
	}
}

func details(t *testing.T, r Record) map[string]any {
	t.Helper()
	m, err := r.DecodeDetails()
	if err != nil {
		t.Fatalf("DecodeDetails(%s): %v", r.Details, err)
	}
	return m
}

func TestCanonicalEncoding(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"sorted keys", map[string]any{"b": 1, "a": 2, "C": 3}, `{"C":3,"a":2,"b":1}`},
		{"nested", map[string]any{"x": map[string]any{"z": []any{true, nil, "s"}, "y": map[string]string{"k": "v"}}}, `{"x":{"y":{"k":"v"},"z":[true,null,"s"]}}`},
		{"ints", map[string]any{"a": int8(-8), "b": uint64(math.MaxUint64), "c": int64(math.MinInt64)}, `{"a":-8,"b":18446744073709551615,"c":-9223372036854775808}`},
		{"floats", map[string]any{"a": 1.5, "b": 100.0, "c": 1e21, "d": 1e-7, "e": math.Copysign(0, -1), "f": float32(0.1)}, `{"a":1.5,"b":100,"c":1000000000000000000000,"d":0.0000001,"e":0,"f":0.1}`},
		{"json numbers", map[string]any{"a": json.Number("1.50"), "b": json.Number("1e2"), "c": json.Number("-0.0"), "d": json.Number("12.5e-1"), "e": json.Number("0.05")}, `{"a":1.5,"b":100,"c":0,"d":1.25,"e":0.05}`},
		{"escapes", map[string]any{"s": "q\"b\\n\nt\tc\x01 é 🙂 \u2028"}, `{"s":"q\"b\\n\nt\tc\u0001 é 🙂 ` + "\u2028" + `"}`},
		{"time", map[string]any{"t": time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))}, `{"t":"2026-01-02T02:04:05.000000006Z"}`},
		{"raw", map[string]any{"r": json.RawMessage(` { "b" : 1.0 , "a" : [ ] } `)}, `{"r":{"a":[],"b":1}}`},
		{"bytes", map[string]any{"b": []byte("hi")}, `{"b":"aGk="}`},
		{"struct", map[string]any{"s": struct {
			Name string `json:"name"`
			Age  int    `json:"age,omitempty"`
		}{Name: "n"}}, `{"s":{"name":"n"}}`},
		{"addr", map[string]any{"ip": netip.MustParseAddr("192.0.2.1")}, `{"ip":"192.0.2.1"}`},
		{"error", map[string]any{"err": errors.New("boom")}, `{"err":"boom"}`},
		{"typed nil", map[string]any{"m": map[string]any(nil), "s": []any(nil), "p": (*int)(nil)}, `{"m":null,"p":null,"s":null}`},
	}
	c := defaultCleaner()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := validEvent()
			ev.Details = tt.in.(map[string]any)
			r := mustClean(t, c, ev)
			if string(r.Details) != tt.want {
				t.Errorf("got  %s\nwant %s", r.Details, tt.want)
			}
			again, err := canonical.JSON(r.Details)
			if err != nil || !bytes.Equal(again, r.Details) {
				t.Errorf("not a fixed point: CanonicalJSON gives %s, %v", again, err)
			}
		})
	}
}

func TestRedaction(t *testing.T) {
	in := map[string]any{
		"Password":      "hunter2",
		"user":          map[string]any{"api_key": "k", "name": "ada", "X-Auth-Token": 42},
		"headers":       map[string]string{"Authorization": "Bearer x", "Accept": "*/*"},
		"list":          []any{map[string]any{"client_secret": "s"}},
		"session_id":    "kept",
		"tokenizer_ver": 3, // over-redaction is the safe side
		"creditCard":    "4111",
	}
	c := defaultCleaner()
	ev := validEvent()
	ev.Details = in
	ev.Changes = map[string]Change{"password": {Before: "old", After: "new"}, "email": {Before: "a@x", After: "b@x"}}
	r := mustClean(t, c, ev)
	want := `{"Password":"[REDACTED]","creditCard":"[REDACTED]","headers":{"Accept":"*/*","Authorization":"[REDACTED]"},"list":[{"client_secret":"[REDACTED]"}],"session_id":"kept","tokenizer_ver":"[REDACTED]","user":{"X-Auth-Token":"[REDACTED]","api_key":"[REDACTED]","name":"ada"}}`
	if string(r.Details) != want {
		t.Errorf("details:\ngot  %s\nwant %s", r.Details, want)
	}
	if want := `{"email":{"after":"b@x","before":"a@x"},"password":{"after":"[REDACTED]","before":"[REDACTED]"}}`; string(r.Changes) != want {
		t.Errorf("changes:\ngot  %s\nwant %s", r.Changes, want)
	}
	if in["Password"] != "hunter2" {
		t.Errorf("the caller's map was changed")
	}

	// extra keys, no defaults
	c = newCleaner(Redaction{Keys: []string{"SSN"}, NoDefaults: true}, Limits{}.withDefaults())
	ev.Details = map[string]any{"password": "p", "user_ssn": "1"}
	ev.Changes = nil
	if r := mustClean(t, c, ev); string(r.Details) != `{"password":"p","user_ssn":"[REDACTED]"}` {
		t.Errorf("custom keys: got %s", r.Details)
	}
}

func TestRedactionKeyedHash(t *testing.T) {
	c := newCleaner(Redaction{HashKey: []byte("k1")}, Limits{}.withDefaults())
	enc := func(v any) string {
		ev := validEvent()
		ev.Details = map[string]any{"token": v}
		return string(mustClean(t, c, ev).Details)
	}
	a, b, other := enc("abc"), enc("abc"), enc("abd")
	if a != b || a == other {
		t.Errorf("keyed hashes: equal values %s / %s, different value %s", a, b, other)
	}
	if !strings.Contains(a, `"hmac-sha256:`) || strings.Contains(a, "abc") {
		t.Errorf("hash form: %s", a)
	}
	c2 := newCleaner(Redaction{HashKey: []byte("k2")}, Limits{}.withDefaults())
	ev := validEvent()
	ev.Details = map[string]any{"token": "abc"}
	if string(mustClean(t, c2, ev).Details) == a {
		t.Errorf("hash does not depend on the key")
	}
	// structured values hash by their canonical form
	if enc(map[string]any{"a": 1, "b": 2}) != enc(map[string]any{"b": 2.0, "a": json.Number("1")}) {
		t.Errorf("equal structured values hash differently")
	}
}

func TestUnencodableValues(t *testing.T) {
	cyc := map[string]any{"name": "loop"}
	cyc["self"] = cyc
	slice := []any{1}
	slice = append(slice, nil)
	slice[1] = slice
	type node struct {
		Next *node `json:"next"`
	}
	n := &node{}
	n.Next = n
	tests := []struct {
		name, key string
		v         any
	}{
		{"map cycle", "m", cyc},
		{"slice cycle", "s", slice},
		{"pointer cycle", "p", n},
		{"NaN", "f", math.NaN()},
		{"Inf", "f", math.Inf(-1)},
		{"chan", "c", make(chan int)},
		{"func", "fn", func() {}},
		{"complex", "z", complex(1, 2)},
		{"bad json.Number", "n", json.Number("12abc")},
		{"bad RawMessage", "r", json.RawMessage(`{"a":`)},
		{"panicking marshaler", "pm", panicky{}},
		{"huge exponent", "h", json.Number("1e999999")},
	}
	c := defaultCleaner()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := validEvent()
			ev.Details = map[string]any{tt.key: tt.v, "ok": "kept"}
			r, err := c.clean(&ev, nil)
			if err != nil {
				t.Fatalf("clean: %v (an unencodable value must not lose the event)", err)
			}
			d := details(t, r)
			if d["ok"] != "kept" {
				t.Errorf("other details lost: %s", r.Details)
			}
			meta, _ := d[MetaKey].(map[string]any)
			notes, _ := meta["notes"].([]any)
			if len(notes) == 0 || !strings.Contains(notes[0].(string), "details."+tt.key) {
				t.Errorf("no note naming details.%s: %s", tt.key, r.Details)
			}
			if again, _ := canonical.JSON(r.Details); !bytes.Equal(again, r.Details) {
				t.Errorf("annotated details not canonical: %s", r.Details)
			}
		})
	}
}

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("no") }

func TestLimitsTruncate(t *testing.T) {
	c := newCleaner(Redaction{}, Limits{MaxStringBytes: 100, MaxJSONBytes: 16 << 10}.withDefaults())
	ev := validEvent()
	ev.Details = map[string]any{"long": strings.Repeat("x", 1000), "short": "s"}
	r := mustClean(t, c, ev)
	d := details(t, r)
	if s := d["long"].(string); len(s) > 100 || !strings.HasSuffix(s, truncMarker) {
		t.Errorf("long string: %d bytes %q", len(s), s)
	}
	if d["short"] != "s" {
		t.Errorf("short string changed")
	}

	// 1 MB of details: kept under the cap, with the keys that fit and a note
	big := map[string]any{}
	for i := range 1024 {
		big["k"+strconv.Itoa(i)] = strings.Repeat("v", 90)
	}
	big["a_first"] = "fits"
	ev.Details = big
	r = mustClean(t, c, ev)
	if len(r.Details) > 16<<10 {
		t.Errorf("details %d bytes, over the 16 KiB cap", len(r.Details))
	}
	d = details(t, r)
	meta, _ := d[MetaKey].(map[string]any)
	if d["a_first"] != "fits" || meta == nil || len(meta["omitted"].([]any)) == 0 {
		t.Errorf("truncated details lack kept keys or the omitted list: %.300s", r.Details)
	}
	if again, _ := canonical.JSON(r.Details); !bytes.Equal(again, r.Details) {
		t.Errorf("truncated details not canonical")
	}

	// a value that alone is too big is omitted, the rest kept
	ev.Details = map[string]any{"huge": []string{strings.Repeat("a", 90), strings.Repeat("b", 90)}, "z": 1}
	for range 9 {
		ev.Details["huge"] = append(ev.Details["huge"].([]string), ev.Details["huge"].([]string)...)
	}
	r = mustClean(t, c, ev)
	if d := details(t, r); d["z"] == nil || d["huge"] != nil {
		t.Errorf("oversized value: got %.200s", r.Details)
	}
}

func TestReservedMetaKey(t *testing.T) {
	c := defaultCleaner()
	ev := validEvent()
	ev.Details = map[string]any{MetaKey: "mine", "x": math.NaN()}
	d := details(t, mustClean(t, c, ev))
	if d[MetaKey+"_app"] != "mine" {
		t.Errorf("application's %s not kept as %s_app: %v", MetaKey, MetaKey, d)
	}
	if _, ok := d[MetaKey].(map[string]any); !ok {
		t.Errorf("logger notes missing: %v", d)
	}
}

func TestDetailsNotRetained(t *testing.T) {
	c := defaultCleaner()
	ev := validEvent()
	m := map[string]any{"a": "before"}
	ev.Details = m
	ev.Changes = map[string]Change{"f": {Before: 1, After: 2}}
	r := mustClean(t, c, ev)
	m["a"] = "after"
	ev.Changes["f"] = Change{Before: 3, After: 4}
	if string(r.Details) != `{"a":"before"}` || string(r.Changes) != `{"f":{"after":2,"before":1}}` {
		t.Errorf("record changed with the caller's maps: %s %s", r.Details, r.Changes)
	}
}

func TestCanonicalJSONErrors(t *testing.T) {
	for _, in := range []string{`{`, `{"a":1}x`, `{"a":1} {"b":2}`} {
		if _, err := canonical.JSON([]byte(in)); err == nil {
			t.Errorf("canonical.JSON(%q): no error", in)
		}
	}
	if b, err := canonical.JSON([]byte("  ")); b != nil || err != nil {
		t.Errorf("canonical.JSON(blank) = %q, %v; want nil, nil", b, err)
	}
}

func TestIsJSONNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-0": true, "1.5": true, "1e5": true, "1E+5": true, "-1.5e-3": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "1e": false, "1e+": false, "+1": false, "NaN": false, "0x10": false,
	} {
		if got := canonical.IsNumber(s); got != want {
			t.Errorf("canonical.IsNumber(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestCleanAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are not meaningful under -race")
	}
	c := defaultCleaner()
	ev := validEvent()
	ev.UserID, ev.UserAgent, ev.RequestID = "u", "agent", "r"
	ev.Details = map[string]any{"title": "x", "size": 3, "tags": []string{"a"}}
	ev.Changes = map[string]Change{"title": {Before: "a", After: "b"}}
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := c.clean(&ev, nil); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("clean allocates %v times per event, want at most 1", allocs)
	}
	ev.Details, ev.Changes = nil, nil
	if allocs := testing.AllocsPerRun(1000, func() { c.clean(&ev, nil) }); allocs != 0 {
		t.Errorf("clean of an event without details allocates %v times, want 0", allocs)
	}
}

// TestCanonicalJSONDeep: deeply nested input is an error, not a stack
// overflow that kills the process (8 MB of '[' did).
func TestCanonicalJSONDeep(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		wantErr bool
	}{
		{"8 MB of [", bytes.Repeat([]byte("["), 8<<20), true},
		{"8 MB of {\"a\":", bytes.Repeat([]byte(`{"a":`), 8<<20/5), true},
		{"1001 levels, valid", []byte(strings.Repeat("[", 1001) + strings.Repeat("]", 1001)), true},
		{"1001 levels, not canonical", []byte(strings.Repeat("[ ", 1001) + strings.Repeat("]", 1001)), true},
		{"1000 levels", []byte(strings.Repeat("[", 1000) + strings.Repeat("]", 1000)), false},
		{"1000 levels, not canonical", []byte(strings.Repeat(`{"a": `, 1000) + "1" + strings.Repeat("}", 1000)), false},
		{"brackets in a string", []byte(`["` + strings.Repeat("[", 5000) + `"]`), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := canonical.JSON(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("CanonicalJSON: got error %v, want error: %v", err, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "nested") {
				t.Errorf("got error %q, want one that says the input is nested too deep", err)
			}
			if err == nil && !json.Valid(got) {
				t.Errorf("invalid output %.80q", got)
			}
		})
	}
}

// TestCleanKeysSameOnceRepairedAreDeterministic: of two keys the same once
// repaired (NUL and U+FFFD) or capped (a shared 256-byte prefix), the
// member kept is always the same, whatever the order of Go's map.
func TestCleanKeysSameOnceRepairedAreDeterministic(t *testing.T) {
	long := strings.Repeat("k", 300)
	c := defaultCleaner()
	var first string
	for i := range 200 {
		ev := validEvent()
		ev.Details = map[string]any{"a\x00": 1, "a\uFFFD": 2, "a\xff": 3, long + "x": 4, long + "y": 5}
		got := string(mustClean(t, c, ev).Details)
		if i == 0 {
			first = got
			continue
		}
		if got != first {
			t.Fatalf("%s, then %s", first, got)
		}
	}
	if !strings.Contains(first, "\"a\uFFFD\":1") || !strings.HasSuffix(first, "[truncated]\":4}") {
		t.Errorf("the least key as given was not kept: %s", first)
	}
}

// TestSortPairsOrdersAsCmpPair: the insertion sort of small objects puts
// members in cmpPair's order, ties on the key as written broken by the key
// as given, at every size either side of where it hands over to
// slices.SortFunc.
func TestSortPairsOrdersAsCmpPair(t *testing.T) {
	keys := []string{"a", "b", "\ufffd", "ab", "", "b\x00"}
	for n := range 20 {
		for trial := range 50 {
			ps := make([]pair[any], n)
			for i := range ps {
				k := keys[(i*7+trial*3+i*i)%len(keys)]
				ps[i] = pair[any]{k: strings.ToUpper(k[:min(len(k), 1)]), orig: k + strconv.Itoa((trial+i)%3)}
			}
			want := slices.Clone(ps)
			slices.SortFunc(want, cmpPair[any])
			sortPairs(ps)
			for i := range ps {
				if ps[i].k != want[i].k || ps[i].orig != want[i].orig {
					t.Fatalf("n=%d trial %d: member %d is %q/%q, want %q/%q", n, trial, i, ps[i].k, ps[i].orig, want[i].k, want[i].orig)
				}
			}
		}
	}
}

// TestPrintableEveryByte holds printable's eight-bytes-at-a-time check to
// the byte-by-byte definition: every byte value, at every position of
// strings of 1 to 17 bytes, among printable neighbours at both ends of
// the range.
func TestPrintableEveryByte(t *testing.T) {
	want := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] > 0x7e {
				return false
			}
		}
		return true
	}
	for _, fill := range []byte{' ', 'a', '~'} {
		for n := 1; n <= 17; n++ {
			for at := range n {
				for c := range 256 {
					b := bytes.Repeat([]byte{fill}, n)
					b[at] = byte(c)
					if s := string(b); printable(s) != want(s) {
						t.Fatalf("printable(%q) = %v", s, !want(s))
					}
				}
			}
		}
	}
	if !printable("") {
		t.Error(`printable("") = false`)
	}
}
