// Package strictjson refuses JSON that readers may read differently: an
// object with two members of one name, or members whose names differ
// only in case outside the free-form values (Details and Changes).
//
// encoding/json matches an object's members to a struct's fields
// regardless of case, and the last match wins: given
// {"user_id":"mallory","User_Id":"u-42"} it reads user_id as "u-42",
// while jq, JavaScript and Python show "mallory". A proof or an evidence
// bundle handed to a verifier is checked as Go reads it and shown as
// those read it; so that the two cannot differ, a verifier refuses such
// a document before it decodes it.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// maxDepth bounds nesting as encoding/json does (10000): Check refuses no
// document that encoding/json reads. Stored rows may nest deeper than the
// canonical form allows (unsealable records), and their exports do.
const maxDepth = 10000

// Check returns an error naming the first ambiguous member of the JSON
// document b: a name that appears twice in one object, or, in an object
// that is not within a member named in free, a name that differs from
// another only in case (as strings.EqualFold tells, which is how
// encoding/json matches fields). It does not otherwise validate b:
// decode it afterwards as usual.
func Check(b []byte, free ...string) error {
	var names [16][]byte
	c := checker{b: b, free: free, names: names[:0]}
	c.skipSpace()
	if err := c.value(0, false); err != nil {
		return err
	}
	return nil
}

type checker struct {
	b     []byte
	i     int
	free  []string
	names [][]byte // the names of the objects being read, innermost last
}

// ErrAmbiguous is wrapped by the errors of Check that name an ambiguous
// member.
var ErrAmbiguous = errors.New("audit: JSON that readers read differently")

var errSyntax = errors.New("audit: not JSON")

func (c *checker) skipSpace() {
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case ' ', '\t', '\n', '\r':
			c.i++
		default:
			return
		}
	}
}

// value checks the value at c.i; freeForm is set within a free member.
func (c *checker) value(depth int, freeForm bool) error {
	if depth > maxDepth {
		return errors.New("audit: JSON nested too deep")
	}
	if c.i >= len(c.b) {
		return errSyntax
	}
	switch c.b[c.i] {
	case '{':
		return c.object(depth, freeForm)
	case '[':
		c.i++
		c.skipSpace()
		if c.i < len(c.b) && c.b[c.i] == ']' {
			c.i++
			return nil
		}
		for {
			c.skipSpace()
			if err := c.value(depth+1, freeForm); err != nil {
				return err
			}
			if end, err := c.after(']'); end || err != nil {
				return err
			}
		}
	case '"':
		_, err := c.str()
		return err
	default:
		// a number or a literal: up to the next delimiter
		for c.i < len(c.b) {
			switch c.b[c.i] {
			case ',', ']', '}', ' ', '\t', '\n', '\r':
				return nil
			}
			c.i++
		}
		return nil
	}
}

func (c *checker) object(depth int, freeForm bool) error {
	c.i++ // {
	// the names by key, once there are more than pairwise
	var seen map[string][]byte
	base := len(c.names)
	defer func() { c.names = c.names[:base] }()
	for first := true; ; first = false {
		c.skipSpace()
		if c.i >= len(c.b) {
			return errSyntax
		}
		if c.b[c.i] == '}' && first {
			c.i++
			return nil
		}
		if c.b[c.i] != '"' {
			return errSyntax
		}
		name, err := c.str()
		if err != nil {
			return err
		}
		if seen == nil && len(c.names)-base >= pairwise {
			// many members: by map, so that a hostile object of many
			// thousands costs linear time, not quadratic
			seen = make(map[string][]byte, 2*pairwise)
			for _, n := range c.names[base:] {
				seen[c.key(n, freeForm)] = n
			}
		}
		if seen != nil {
			if n, dup := seen[c.key(name, freeForm)]; dup {
				return ambiguous(n, name)
			}
			seen[c.key(name, freeForm)] = name
		} else {
			for _, n := range c.names[base:] {
				if bytes.Equal(n, name) || !freeForm && bytes.EqualFold(n, name) {
					return ambiguous(n, name)
				}
			}
		}
		c.names = append(c.names, name)
		c.skipSpace()
		if c.i >= len(c.b) || c.b[c.i] != ':' {
			return errSyntax
		}
		c.i++
		c.skipSpace()
		inner := freeForm
		if !inner {
			for _, f := range c.free {
				if string(name) == f {
					inner = true
				}
			}
		}
		if err := c.value(depth+1, inner); err != nil {
			return err
		}
		if end, err := c.after('}'); end || err != nil {
			return err
		}
	}
}

// pairwise is how many members of an object are compared pair by pair;
// past it, by map.
const pairwise = 16

// ambiguous returns the error of two names of one object, n first.
func ambiguous(n, name []byte) error {
	if bytes.Equal(n, name) {
		return fmt.Errorf("%w: the member %q appears twice in one object", ErrAmbiguous, name)
	}
	return fmt.Errorf("%w: the members %q and %q differ only in case", ErrAmbiguous, n, name)
}

// key returns what two names of one object must not share: the name
// itself within a free member, else its case folding, each rune the least
// of its unicode.SimpleFold orbit (two names have one key exactly when
// bytes.EqualFold says they are equal).
func (c *checker) key(name []byte, freeForm bool) string {
	if freeForm {
		return string(name)
	}
	k := make([]rune, 0, len(name))
	for _, r := range string(name) {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		k = append(k, least)
	}
	return string(k)
}

// after reads what follows a member or an element: a comma, or close,
// which ends the container (end).
func (c *checker) after(close byte) (end bool, err error) {
	c.skipSpace()
	if c.i >= len(c.b) {
		return false, errSyntax
	}
	switch c.b[c.i] {
	case ',':
		c.i++
		return false, nil
	case close:
		c.i++
		return true, nil
	}
	return false, errSyntax
}

// str reads the string at c.i and returns its value: a slice of c.b
// when it holds no escape.
func (c *checker) str() ([]byte, error) {
	start := c.i
	c.i++ // "
	escaped := false
	for c.i < len(c.b) {
		switch c.b[c.i] {
		case '\\':
			escaped = true
			c.i += 2
			continue
		case '"':
			c.i++
			raw := c.b[start:c.i]
			if !escaped && utf8.Valid(raw) {
				return raw[1 : len(raw)-1], nil
			}
			// as encoding/json reads it: escapes undone, each invalid
			// byte U+FFFD
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, errSyntax
			}
			return []byte(s), nil
		}
		c.i++
	}
	return nil, errSyntax
}

// Unmarshal checks data (see Check) and decodes it into v with
// encoding/json.
func Unmarshal(data []byte, v any, free ...string) error {
	if err := Check(data, free...); err != nil {
		return err
	}
	return json.Unmarshal(bytes.TrimSpace(data), v)
}
