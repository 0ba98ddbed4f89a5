package audit

import (
	"errors"
	"fmt"
	"os"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrClosed is returned by Log after Close.
	ErrClosed = errors.New("audit: logger closed")
	// ErrInvalidEvent is wrapped by the errors Log returns for an event it
	// refuses; the error is a *FieldError that names the field.
	ErrInvalidEvent = errors.New("audit: invalid event")
	// ErrInvalidFilter is wrapped by the errors returned for a Filter that
	// is not valid; the error is a *FieldError that names the field.
	ErrInvalidFilter = errors.New("audit: invalid filter")
	// ErrNotFound is returned by Getter.Get for an unknown ID.
	ErrNotFound = errors.New("audit: not found")
	// ErrQueueFull is returned by Log for an asynchronous event that found
	// the queue full (after waiting, with OverflowBlock). The event was not
	// accepted.
	ErrQueueFull = errors.New("audit: queue full")
	// ErrNotRecorded is wrapped by the error a wrapped function (see Wrap)
	// returns when it ran but its audit record could not be written.
	ErrNotRecorded = errors.New("audit: operation not recorded")
)

// FieldError says which field of an event or filter is wrong and why.
type FieldError struct {
	Field string // the field, as named in JSON ("resource_type")
	Msg   string // what is wrong with it
	kind  error  // ErrInvalidEvent or ErrInvalidFilter
}

// Error names the field and says what is wrong with it.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%v: %s %s", e.kind, e.Field, e.Msg)
}

// Unwrap returns ErrInvalidEvent or ErrInvalidFilter.
func (e *FieldError) Unwrap() error { return e.kind }

// DeliveryError reports records that the Logger accepted but could not
// deliver: they failed for good, or were still queued when Close gave up.
// The Logger hands it to OnError with the records, so that an
// application can keep them elsewhere; nothing is lost silently.
type DeliveryError struct {
	Reason  DropReason // why the records were not written
	Records []Record   // the records, cleaned, as the store would have had them
	Err     error      // the last store error, if any
}

// Error says how many records were not written, and why.
func (e *DeliveryError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("audit: %d record(s) not written: %s", len(e.Records), e.Reason)
	}
	return fmt.Sprintf("audit: %d record(s) not written: %s: %v", len(e.Records), e.Reason, e.Err)
}

// Unwrap returns the store error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// isPermanent reports whether err, or an error it wraps, has a method
// Permanent() bool that returns true: storekit.Permanent marks a store's
// errors that retrying cannot fix so.
func isPermanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

// printError is the default error hook: it prints err to standard error.
func printError(err error) { fmt.Fprintln(os.Stderr, err) }
