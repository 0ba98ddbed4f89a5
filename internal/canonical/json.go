// Package canonical writes JSON in the canonical form the Logger stores
// and hashes: sorted object keys, no insignificant white space, numbers
// in plain decimal notation, invalid UTF-8 and NUL replaced by U+FFFD.
package canonical

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// JSON re-encodes JSON text in canonical form. Input nested more than
// MaxDepth levels deep is an error. nil or blank input yields nil. The
// result never shares memory with raw.
func JSON(raw []byte) ([]byte, error) {
	c, err := Bytes(raw)
	if err != nil || len(c) == 0 || &c[0] != &raw[0] {
		return c, err
	}
	return bytes.Clone(c), nil
}

// Bytes is JSON, returning raw itself when it is canonical already.
func Bytes(raw []byte) ([]byte, error) {
	if IsCanonical(raw) {
		return raw, nil
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	if c, ok := canonicalize(raw); ok {
		return c, nil
	}
	if d := Depth(raw); d > MaxDepth {
		return nil, fmt.Errorf("audit: canonical JSON: arrays and objects nested %d deep, deeper than %d", d, MaxDepth)
	}
	var v any
	if err := Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("audit: canonical JSON: %w", err)
	}
	var scratch []byte
	return appendValue(nil, v, &scratch), nil
}

// Unmarshal decodes one JSON value into v, keeping numbers as
// json.Number; data after it is an error.
func Unmarshal(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("unexpected data after JSON value")
	}
	return nil
}

// appendValue writes a value decoded by Unmarshal.
func appendValue(buf []byte, v any, scratch *[]byte) []byte {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...)
	case bool:
		if v {
			return append(buf, "true"...)
		}
		return append(buf, "false"...)
	case string:
		buf, _ = AppendString(buf, v)
		return buf
	case json.Number:
		b, reason := AppendNumber(buf, string(v), scratch)
		if reason != "" {
			b, _ = AppendString(buf, string(v))
		}
		return b
	case []any:
		buf = append(buf, '[')
		for i, x := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendValue(buf, x, scratch)
		}
		return append(buf, ']')
	case map[string]any:
		type kv struct {
			k, orig string
			v       any
		}
		ms := make([]kv, 0, len(v))
		for k, x := range v {
			ms = append(ms, kv{Repair(k), k, x})
		}
		// Keys the same once repaired (a NUL and a U+FFFD) are ordered by
		// the key as given, so that the one kept does not depend on the
		// map's order: the same value always has the same digest.
		slices.SortFunc(ms, func(a, b kv) int {
			if c := strings.Compare(a.k, b.k); c != 0 {
				return c
			}
			return strings.Compare(a.orig, b.orig)
		})
		buf = append(buf, '{')
		for i, m := range ms {
			if i > 0 && m.k == ms[i-1].k {
				continue // two keys the same once repaired: the least as given is kept
			}
			if i > 0 {
				buf = append(buf, ',')
			}
			buf, _ = AppendString(buf, m.k)
			buf = append(buf, ':')
			buf = appendValue(buf, m.v, scratch)
		}
		return append(buf, '}')
	}
	panic(fmt.Sprintf("canonical: unexpected %T", v))
}
