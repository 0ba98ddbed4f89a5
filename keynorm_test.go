package audit

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// defaultIgnorables returns the code points of the Default_Ignorable_Code_Point
// property listed in the official data of testdata/unicode.
func defaultIgnorables(t *testing.T) []rune {
	t.Helper()
	f, err := os.Open("testdata/unicode/DerivedCoreProperties-15.0.0-Default_Ignorable_Code_Point.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rs []rune
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		cps, prop, ok := strings.Cut(line, ";")
		if !ok || strings.TrimSpace(prop) != "Default_Ignorable_Code_Point" {
			continue
		}
		lo, hi, isRange := strings.Cut(strings.TrimSpace(cps), "..")
		if !isRange {
			hi = lo
		}
		from, err1 := strconv.ParseUint(lo, 16, 32)
		to, err2 := strconv.ParseUint(hi, 16, 32)
		if err1 != nil || err2 != nil {
			t.Fatalf("line %q does not parse", sc.Text())
		}
		for r := rune(from); r <= rune(to); r++ {
			rs = append(rs, r)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4174 { // "# Total code points: 4174"
		t.Fatalf("read %d code points, want the file's 4174", len(rs))
	}
	return rs
}

// TestKeyNormDropsDefaultIgnorable: every Default_Ignorable_Code_Point
// (Unicode 15.0.0's list, and the property as derived from Go's tables,
// which may be newer) is dropped from a key, so that an invisible
// character cannot split "password" or "pin". Before, the Hangul fillers
// (U+115F, U+1160, U+3164, U+FFA0), which are letters, were kept.
func TestKeyNormDropsDefaultIgnorable(t *testing.T) {
	// Default_Ignorable_Code_Point as DerivedCoreProperties.txt derives
	// it: Other_Default_Ignorable_Code_Point + Cf + Variation_Selector -
	// White_Space - FFF9..FFFB - the Egyptian hieroglyph format controls -
	// Prepended_Concatenation_Mark. Dropping a few more (the removed ones
	// are format characters too) is harmless for matching keys.
	derived := func(r rune) bool {
		return unicode.In(r, unicode.Other_Default_Ignorable_Code_Point, unicode.Cf, unicode.Variation_Selector) &&
			!unicode.In(r, unicode.White_Space, unicode.Prepended_Concatenation_Mark) &&
			!(0xFFF9 <= r && r <= 0xFFFB) && !(0x13430 <= r && r <= 0x1343F)
	}
	rs := defaultIgnorables(t)
	listed := map[rune]bool{}
	for _, r := range rs {
		listed[r] = true
		if !derived(r) {
			t.Errorf("U+%04X is listed as Default_Ignorable_Code_Point, not derived from Go's tables", r)
		}
	}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if derived(r) && !listed[r] {
			rs = append(rs, r) // newer than Unicode 15.0.0
		}
	}
	var n keyNorm
	for _, r := range rs {
		c := string(r)
		if n.normalize("pass" + c + "word"); string(n.text) != "password" {
			t.Errorf("U+%04X: pass·word normalised to %q, want password", r, n.text)
		}
		if n.normalize("user_p" + c + "in"); string(n.text) != "userpin" || len(n.words) != 2 || n.words[1] != 4 {
			t.Errorf("U+%04X: user_p·in normalised to %q, words at %v; want userpin, words at [0 4]", r, n.text, n.words)
		}
	}
	// letters that are not ignorable stay: a Hangul letter, a Hangul
	// syllable, the Egyptian format controls the property leaves out
	for _, r := range []rune{0x1100, 0xAC00, 0x13430, 0xFFFB} {
		if n.normalize("pass" + string(r) + "word"); string(n.text) == "password" && unicode.IsLetter(r) {
			t.Errorf("U+%04X, a letter, was dropped", r)
		}
	}
}
