package ocsf

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/trailmark/audit"
)

// Encoder writes records as OCSF events to a stream, one JSON object per
// line (NDJSON). It is not safe for concurrent use.
type Encoder struct {
	m   *Mapper
	enc *json.Encoder
}

// NewEncoder returns an Encoder that writes to w, mapping with m; a nil m
// means New(nil).
func NewEncoder(w io.Writer, m *Mapper) *Encoder {
	if m == nil {
		m, _ = New(nil) // the zero Options never fail
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &Encoder{m: m, enc: enc}
}

// Encode writes the OCSF event of rec and a newline. Its only errors are
// the writer's.
func (e *Encoder) Encode(rec *audit.Record) error {
	if err := e.enc.Encode(e.m.Map(rec)); err != nil {
		return fmt.Errorf("audit: ocsf: encode: %w", err)
	}
	return nil
}
