package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/trailmark/audit/internal/canonical"
)

// Diff returns the field-level changes from before to after: for every
// field whose value differs, its value before and after. Fields are the
// keys of a map[string]any or the JSON fields of a struct (honouring json
// tags); a nil before (a creation) or after (a deletion) has no fields.
// Values compare by their canonical JSON, so 1 and 1.0 are equal.
// Nested objects are compared whole. Diff returns nil when nothing
// changed.
//
// A field present only after has a nil Before; one present only before, a
// nil After.
func Diff(before, after any) (map[string]Change, error) {
	b, err := fields(before)
	if err != nil {
		return nil, fmt.Errorf("audit: diff: before: %w", err)
	}
	a, err := fields(after)
	if err != nil {
		return nil, fmt.Errorf("audit: diff: after: %w", err)
	}
	var changes map[string]Change
	add := func(k string, c Change) {
		if changes == nil {
			changes = make(map[string]Change)
		}
		changes[k] = c
	}
	for k, bv := range b {
		av, ok := a[k]
		if !ok {
			add(k, Change{Before: bv})
			continue
		}
		eq, err := equalJSON(bv, av)
		if err != nil {
			return nil, fmt.Errorf("audit: diff: field %q: %w", k, err)
		}
		if !eq {
			add(k, Change{Before: bv, After: av})
		}
	}
	for k, av := range a {
		if _, ok := b[k]; !ok {
			add(k, Change{After: av})
		}
	}
	return changes, nil
}

// fields returns the fields of v as a map.
func fields(v any) (map[string]any, error) {
	if v == nil {
		return nil, nil
	}
	if m, ok := v.(map[string]any); ok {
		return m, nil
	}
	if rv := reflect.ValueOf(v); (rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Map) && rv.IsNil() {
		return nil, nil
	}
	raw, err := safeMarshal(v)
	if err != nil {
		return nil, err
	}
	if raw = bytes.TrimSpace(raw); len(raw) == 0 || raw[0] != '{' {
		return nil, fmt.Errorf("%T is not a struct or map", v)
	}
	var m map[string]any
	if err := canonical.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func equalJSON(x, y any) (bool, error) {
	cx, err := canonicalAny(x)
	if err != nil {
		return false, err
	}
	cy, err := canonicalAny(y)
	if err != nil {
		return false, err
	}
	return bytes.Equal(cx, cy), nil
}

// canonicalAny encodes any value canonically, failing on values that JSON
// cannot represent.
func canonicalAny(v any) ([]byte, error) {
	switch v.(type) {
	case nil, string, bool, json.Number, float64, int, int64, map[string]any, []any:
	default:
		raw, err := safeMarshal(v)
		if err != nil {
			return nil, err
		}
		return canonical.JSON(raw)
	}
	return canonicalValue(v)
}
