package audit

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// keyNorm is an object key in the form redaction matches (see Redaction):
// its letters and digits, case-folded, and where its words start. An
// encoder keeps one, so that matching an ASCII key does not allocate.
type keyNorm struct {
	text  []byte // letters and digits, folded, separators removed
	words []int  // offsets in text where a word starts
	runes []rune // scratch: the key's runes, separators as ' '
}

// Classes of the runes of a key, for splitting it into words.
const (
	clsSep = iota
	clsLower
	clsUpper
	clsDigit
)

// latinLookalikes pairs letters of the Cyrillic and Greek scripts (and a
// few Latin variants NFKD keeps) with the Latin letter they imitate, in
// the same case. NFKD does not map them: they are letters of their own
// script. It is a small explicit subset of Unicode's confusables
// (UTS #39), enough for the letters of the redacted words.
const latinLookalikes = "" +
	"аaеeіiјjкkоoрpсcуyхxѕsԁdԛqԝwһhӏl" + // Cyrillic lower case
	"АAВBЕEКKМMНHОOРPСCТTХXУYЅSІIЈJԚQԜWҺHӀI" + // Cyrillic upper case
	"αaοoρpνvιiκkτtυuϲcχx" + // Greek lower case
	"ΑAΒBΕEΖZΗHΙIΚKΜMΝNΟOΡPΤTΥYΧXϹC" + // Greek upper case
	"ıiɑaɡgʟLɪIʀR" // Latin variants

func latinLookalike(r rune) rune {
	from := true
	found := false
	for _, c := range latinLookalikes {
		switch {
		case found:
			return c
		case from && c == r:
			found = true
		}
		from = !from
	}
	return r
}

// normalize sets n to the normal form of k.
func (n *keyNorm) normalize(k string) {
	n.text, n.words, n.runes = n.text[:0], n.words[:0], n.runes[:0]
	ascii := true
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		for i := 0; i < len(k); i++ {
			n.runes = append(n.runes, rune(k[i]))
		}
	} else {
		for _, r := range norm.NFKD.String(k) {
			if r == utf8.RuneError || ignorable(r) {
				continue // invalid UTF-8, marks, invisible characters
			}
			n.runes = append(n.runes, latinLookalike(r))
		}
	}
	prev := clsSep
	for i, r := range n.runes {
		cls := runeClass(r)
		if cls == clsSep {
			prev = cls
			continue
		}
		next := clsSep
		if i+1 < len(n.runes) {
			next = runeClass(n.runes[i+1])
		}
		if prev == clsSep || cls == clsUpper && prev == clsLower ||
			cls == clsUpper && prev == clsUpper && next == clsLower ||
			(cls == clsDigit) != (prev == clsDigit) {
			n.words = append(n.words, len(n.text))
		}
		n.text = utf8.AppendRune(n.text, foldRune(r))
		prev = cls
	}
}

// ignorable reports whether r is dropped from a key: a mark (Mn, Me) or
// a character that is invisible by default. Every
// Default_Ignorable_Code_Point is: the Unicode property is derived from
// Other_Default_Ignorable_Code_Point, Cf and Variation_Selector (which
// are Mn), less a few format characters that are dropped here all the
// same. Other_Default_Ignorable_Code_Point holds the Hangul fillers
// (U+115F, U+1160, U+3164, U+FFA0), which are letters, and code points
// reserved as ignorable, which would otherwise split a key into words.
func ignorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Other_Default_Ignorable_Code_Point)
}

func runeClass(r rune) int {
	switch {
	case 'a' <= r && r <= 'z':
		return clsLower
	case 'A' <= r && r <= 'Z':
		return clsUpper
	case '0' <= r && r <= '9':
		return clsDigit
	case r < utf8.RuneSelf:
		return clsSep
	case unicode.IsUpper(r):
		return clsUpper
	case unicode.IsLetter(r):
		return clsLower
	case unicode.IsNumber(r):
		return clsDigit
	}
	return clsSep
}

// foldRune returns r in lower case, or the ASCII letter of its case-fold
// orbit when it has one (the Kelvin sign is k, the long s is s).
func foldRune(r rune) rune {
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return r
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return unicode.ToLower(f)
		}
	}
	return unicode.ToLower(r)
}
