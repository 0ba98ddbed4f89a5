package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// manyKeys returns an object of n members k0, k1, …, then last, if set.
func manyKeys(n int, last string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	if last != "" {
		b.WriteString(last + ":0,")
	}
	return strings.TrimSuffix(b.String(), ",") + "}"
}

func TestCheck(t *testing.T) {
	for _, tt := range []struct {
		doc  string
		free []string
		bad  string // a word of the error, or "" for none
	}{
		{`{"user_id":"u","details":{"a":1,"A":2}}`, []string{"details"}, ""},
		{`{"user_id":"mallory","User_Id":"u-42"}`, nil, "differ only in case"},
		{`{"record":{"action":"x","ACTION":"y"}}`, nil, "differ only in case"},
		{`{"a":1,"a":2}`, nil, "twice"},
		{`{"details":{"note":"forged","note":"sealed"}}`, []string{"details"}, "twice"},
		{`{"details":{"n":{"k":1,"k":2}}}`, []string{"details"}, "twice"},
		{`{"details":{"A":{"b":1,"B":2}}}`, []string{"details"}, ""},
		{`{"\u0075ser_id":"x","user_id":"y"}`, nil, "twice"},
		{`{"Kelvin":1,"\u212aelvin":2}`, nil, "differ only in case"},
		{"{\"a\xff\":1,\"a\\u0000\xfe\":2}", nil, ""},
		{"{\"\\u0061\xff\xfe\":1,\"a\xff\xfe\":2}", nil, "twice"},
		{`[{"a":1},{"a":1}]`, nil, ""},
		// past pairwise members, by map
		{manyKeys(40, `"k7"`), nil, "twice"},
		{manyKeys(40, `"K7"`), nil, "differ only in case"},
		{manyKeys(40, `"\u212a7"`), nil, "differ only in case"},
		{`{"details":` + manyKeys(40, `"K7"`) + `}`, []string{"details"}, ""},
		{`{"details":` + manyKeys(40, `"k7"`) + `}`, []string{"details"}, "twice"},
		{manyKeys(100000, ""), nil, ""},
		{` { "a" : [ 1 , "}" , { "b" : null } ] , "c" : "\"a\"" } `, nil, ""},
		{`{"a":1`, nil, "not JSON"},
		{`{"a" 1}`, nil, "not JSON"},
		{strings.Repeat("[", 5001) + strings.Repeat("]", 5001), nil, ""},
		{strings.Repeat("[", 10002) + strings.Repeat("]", 10002), nil, "deep"},
	} {
		err := Check([]byte(tt.doc), tt.free...)
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("%.200q: %v, want nil", tt.doc, err)
		case tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)):
			t.Errorf("%.200q: %v, want an error saying %q", tt.doc, err, tt.bad)
		}
	}
}

// refAmbiguous reads one value from d, as encoding/json reads it, and
// reports whether one of its objects has two names that fold together.
func refAmbiguous(d *json.Decoder) (bool, error) {
	tok, err := d.Token()
	if err != nil {
		return false, err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return false, nil
	}
	amb := false
	if delim == '{' {
		var names []string
		for d.More() {
			kt, err := d.Token()
			if err != nil {
				return false, err
			}
			k, _ := kt.(string)
			for _, n := range names {
				amb = amb || strings.EqualFold(n, k)
			}
			names = append(names, k)
			a, err := refAmbiguous(d)
			if err != nil {
				return false, err
			}
			amb = amb || a
		}
	} else {
		for d.More() {
			a, err := refAmbiguous(d)
			if err != nil {
				return false, err
			}
			amb = amb || a
		}
	}
	_, err = d.Token() // the closing delimiter
	return amb, err
}

// FuzzCheck: Check refuses a valid document exactly when one of its
// objects has two names that encoding/json would match to one field.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1,"A":2}`, `{"a":{"b":[1,{"c":2,"C":3}]}}`, `{"x":"\u0041"}`, `{"\u0041":1,"a":2}`, `[]`, `{}`, `"s"`, "{\"a\xff\":1,\"a\xfe\":2}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) || strings.Count(string(b), "[")+strings.Count(string(b), "{") > 9000 {
			return
		}
		amb, err := refAmbiguous(json.NewDecoder(strings.NewReader(string(b))))
		if err != nil {
			t.Skip()
		}
		got := Check(b)
		if amb != (got != nil) {
			t.Fatalf("Check(%q) = %v; encoding/json finds ambiguous names: %v", b, got, amb)
		}
	})
}

// BenchmarkCheckManyMembers: an object of 100 000 members (a hostile
// evidence line) costs linear time.
func BenchmarkCheckManyMembers(b *testing.B) {
	doc := []byte(manyKeys(100000, ""))
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := Check(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// TestKeyIsEqualFold: two names share a key exactly when bytes.EqualFold
// says they are equal, over the Basic Multilingual Plane's case orbits.
func TestKeyIsEqualFold(t *testing.T) {
	var c checker
	for r := rune(0); r < 0x10000; r++ {
		if 0xd800 <= r && r < 0xe000 {
			continue
		}
		a := []byte(string(r))
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if c.key(a, false) != c.key([]byte(string(f)), false) {
				t.Fatalf("%U and %U fold together but have two keys", r, f)
			}
		}
		for _, o := range []rune{r + 1, r + 32, r - 32, unicode.ToUpper(r), unicode.ToLower(r)} {
			if o < 0 || 0xd800 <= o && o < 0xe000 {
				continue
			}
			b := []byte(string(o))
			if (c.key(a, false) == c.key(b, false)) != bytes.EqualFold(a, b) {
				t.Fatalf("%U and %U: one key %v, EqualFold %v", r, o, c.key(a, false) == c.key(b, false), bytes.EqualFold(a, b))
			}
		}
	}
}
