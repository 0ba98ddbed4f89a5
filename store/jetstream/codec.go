package jetstream

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/trailmark/audit"
)

// encode returns the JSON form of r that the chain export (NDJSON) of
// package audit uses, without HTML escaping so that Details and Changes
// keep their exact bytes.
func encode(buf *bytes.Buffer, r *audit.Record) ([]byte, error) {
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, fmt.Errorf("audit: jetstream: encode record %s: %w", r.ID, err)
	}
	b := buf.Bytes()
	return bytes.Clone(b[:len(b)-1]), nil // without the newline
}

// decode reads a record encode wrote.
func decode(data []byte) (audit.Record, error) {
	var r audit.Record
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("audit: jetstream: decode record: %w", err)
	}
	// encoding/json leaves a null RawMessage as the text null: a record
	// without Details or Changes has them nil.
	if string(r.Details) == "null" {
		r.Details = nil
	}
	if string(r.Changes) == "null" {
		r.Changes = nil
	}
	if r.ID == [16]byte{} {
		return r, fmt.Errorf("audit: jetstream: decode record: no id")
	}
	// the record contract every store keeps: a record that breaks it is
	// dead-lettered with the reason, never stored unsealable
	if err := r.Validate(); err != nil {
		return r, fmt.Errorf("audit: jetstream: decode record %s: %w", r.ID, err)
	}
	return r, nil
}
