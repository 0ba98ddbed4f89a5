package postgres

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/trailmark/audit"
	"github.com/trailmark/audit/storekit"
)

// permanentCode reports whether a PostgreSQL error blames the data:
// class 22 (data exception), 23 (integrity constraint violation) or 54
// (program limit exceeded, such as an index entry too large). The package
// documentation explains the classification.
func permanentCode(e *pq.Error) bool {
	switch e.Code.Class() {
	case "22", "23", "54":
		return true
	}
	return false
}

// classify marks wrapped as permanent when cause blames the records.
func classify(wrapped, cause error) error {
	var re *RecordError
	if errors.As(cause, &re) {
		return storekit.Permanent(wrapped)
	}
	if pe := pq.As(cause); pe != nil && permanentCode(pe) {
		return storekit.Permanent(wrapped)
	}
	return wrapped
}

// RecordError reports a record that Append refuses before sending it:
// one whose fields PostgreSQL cannot store. Append returns it wrapped and
// marked with storekit.Permanent. Records cleaned by an audit.Logger never
// cause one.
type RecordError struct {
	Index int       // position of the record in the Append call
	ID    uuid.UUID // the record's ID
	Field string    // the field, as named in JSON ("user_id")
	Msg   string    // what is wrong with it
}

// Error names the record, its index in the batch and the field.
func (e *RecordError) Error() string {
	return fmt.Sprintf("record %d (id %s): %s %s", e.Index, e.ID, e.Field, e.Msg)
}

// Unwrap returns audit.ErrInvalidEvent: the record breaks the record
// contract (audit.Record.Validate).
func (e *RecordError) Unwrap() error { return audit.ErrInvalidEvent }

// appendErr wraps an error of Append of records, naming the record at
// fault when PostgreSQL says which line of the COPY of rows (records in
// the order they were sent) it was.
func appendErr(err error, records, rows []audit.Record) error {
	what := fmt.Sprintf("append %d records", len(records))
	if len(records) == 1 {
		what = fmt.Sprintf("append record %s", records[0].ID)
	} else if pe := pq.As(err); pe != nil {
		if line, ok := copyLine(pe); ok && line < len(rows) {
			id := rows[line].ID
			i := slices.IndexFunc(records, func(r audit.Record) bool { return r.ID == id })
			what += fmt.Sprintf(": record %d (id %s)", i, id)
		}
	}
	return classify(fmt.Errorf("audit: postgres: %s: %w", what, err), err)
}

var copyLineRE = regexp.MustCompile(`(?m)^COPY [^,]*, line (\d+)`)

// copyLine returns the index of the record a COPY error is about.
func copyLine(e *pq.Error) (int, bool) {
	m := copyLineRE.FindStringSubmatch(e.Where)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n - 1, err == nil && n > 0
}
