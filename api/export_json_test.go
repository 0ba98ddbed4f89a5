package api

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storetest"
)

// rawJSONString quotes s as a JSON string the way a store may hold it:
// only '"', '\' and the C0 controls escaped, everything else (DEL, C1,
// bidi controls, U+2028, U+2029) raw.
func rawJSONString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// hostileRunes are the characters an export must not change or pass raw,
// with some plain ones.
var hostileRunes = []rune{
	'a', 'Z', '0', ' ', '"', '\\', '=', '+', '-', '@', ',', ';', '\t', '\n', '\r', 0x1b, 0x00,
	0x7f, 0x80, 0x85, 0x9b, 0x9f, 0xa0, 'é', 0x061c, 0x200b, 0x200d, 0x200e, 0x200f,
	0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069, 0xfeff, 0xfffd, 0xff1d, '🙂',
}

// randomString is a short string of hostileRunes.
func randomString(rng *rand.Rand) string {
	var b strings.Builder
	for range rng.IntN(8) {
		b.WriteRune(hostileRunes[rng.IntN(len(hostileRunes))])
	}
	return b.String()
}

// randomJSON is a random JSON value (nested at most depth deep) written
// as a store may hold it, with insignificant white space.
func randomJSON(rng *rand.Rand, depth int) string {
	switch k := rng.IntN(7); {
	case depth > 0 && k == 0:
		var parts []string
		for range rng.IntN(4) {
			parts = append(parts, randomJSON(rng, depth-1))
		}
		return "[ " + strings.Join(parts, " , ") + " ]"
	case depth > 0 && k <= 2:
		var parts []string
		for range rng.IntN(4) {
			parts = append(parts, rawJSONString(randomString(rng))+" : "+randomJSON(rng, depth-1))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case k == 3:
		return []string{"true", "false", "null", "0", "-1.5e3", "12345678901234567890"}[rng.IntN(6)]
	}
	return rawJSONString(randomString(rng))
}

// randomObject is a random JSON object, as Details and Changes are.
func randomObject(rng *rand.Rand) json.RawMessage {
	var parts []string
	for range 1 + rng.IntN(4) {
		parts = append(parts, rawJSONString(randomString(rng))+": "+randomJSON(rng, 3))
	}
	return json.RawMessage("{" + strings.Join(parts, ", ") + "}")
}

// checkJSONCellsMatchNDJSON exports records as NDJSON and as CSV through
// the HTTP API and checks that each record's details and changes cells,
// read with encoding/csv and parsed with encoding/json, hold the same
// values as its NDJSON line.
func checkJSONCellsMatchNDJSON(t *testing.T, records []audit.Record) {
	t.Helper()
	e := newEnv(t, records)
	ndjson := map[string]audit.Record{}
	sc := exportLines(t, e.openExport(exportQuery), "application/x-ndjson", "ndjson")
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("NDJSON line %q: %v", sc.Bytes(), err)
		}
		ndjson[r.ID.String()] = r
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(e.openExport(exportQuery + "&format=csv").Body)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(records)+1 || len(ndjson) != len(records) {
		t.Fatalf("got %d CSV rows and %d NDJSON lines, want a header, %d and %d", len(rows), len(ndjson), len(records)+1, len(records))
	}
	for _, row := range rows[1:] {
		want, ok := ndjson[row[0]]
		if !ok {
			t.Fatalf("CSV row of %s: no NDJSON line", row[0])
		}
		for _, c := range []struct {
			col  int
			name string
			want json.RawMessage
		}{{10, "details", want.Details}, {11, "changes", want.Changes}} {
			var got, exp any
			if err := json.Unmarshal([]byte(row[c.col]), &got); err != nil {
				t.Errorf("record %s: %s cell %q does not parse: %v", row[0], c.name, row[c.col], err)
				continue
			}
			if err := json.Unmarshal(c.want, &exp); err != nil {
				t.Fatalf("record %s: NDJSON %s %q: %v", row[0], c.name, c.want, err)
			}
			if !reflect.DeepEqual(got, exp) {
				t.Errorf("record %s: %s cell %q parses to %#v, want %#v as in the NDJSON export (%q)", row[0], c.name, row[c.col], got, exp, c.want)
			}
		}
	}
}

// TestExportJSONCellsMatchNDJSON is a property test: for random Details
// and Changes holding DEL, C0 and C1 controls, bidi controls and line
// separators, the CSV details and changes cells parse to the same values
// as the NDJSON export. Before compact escaped DEL, U+2028 and U+2029,
// SafeCell replaced them with U+FFFD inside the JSON.
func TestExportJSONCellsMatchNDJSON(t *testing.T) {
	t.Parallel()
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 20))
	records := make([]audit.Record, 300)
	for i := range records {
		records[i] = storetest.Record(i)
		records[i].Details, records[i].Changes = randomObject(rng), randomObject(rng)
	}
	// fixed cases: one per character the cell used to change
	for i, s := range []string{"a\x7fb", "a\u2028b", "a\u2029b", "a\u200eb\u200fc\u061cd", "\u202emoc.elpmaxe@ecila"} {
		records[i].Details = json.RawMessage(`{"k": ` + rawJSONString(s) + `, ` + rawJSONString(s) + `: 1}`)
	}
	checkJSONCellsMatchNDJSON(t, records)
}

// FuzzExportJSONCells checks the same property for one string, placed
// raw in a Details key and value and a Changes value.
func FuzzExportJSONCells(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x7fb", "a\u2028b\u2029", "\u202e\u200f\u061c", "\u0085\u009b", "=1+1", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		r := storetest.Record(0)
		q := rawJSONString(s)
		r.Details = json.RawMessage(`{"v": ` + q + `, ` + q + `: [` + q + `]}`)
		r.Changes = json.RawMessage(`{"f": {"before": ` + q + `, "after": null}}`)
		checkJSONCellsMatchNDJSON(t, []audit.Record{r})
	})
}
