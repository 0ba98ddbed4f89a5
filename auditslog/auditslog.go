// Package auditslog mirrors audit records into a service's structured
// logs (log/slog), for those who read their logs first. It is opt-in, and
// never the only copy: the mirror logs a record only after the primary
// store accepted it, and a log line proves nothing — the audit log is the
// store, with its seals.
//
//	mirror, err := auditslog.Mirror(store, slog.Default(), nil)
//	…
//	logger, err := audit.New(mirror, nil)
//
// What is logged is what the Logger wrote: Details and Changes are
// already redacted and cleaned by it (see audit.Redaction). The mirror
// adds no redaction of its own, so records appended to it directly, not
// through an audit.Logger, are logged as given.
package auditslog

import (
	"context"
	"errors"
	"log/slog"

	"github.com/trailmark/audit"
)

// Options configures a Mirror. The zero value (and nil) means the
// defaults.
type Options struct {
	// Level is the level of the log lines. Default slog.LevelInfo.
	Level slog.Leveler
	// Message is the message of the log lines. Default "audit".
	Message string
}

// Store is an audit.Store that appends to a primary store and, once the
// primary accepted the records, logs each one. It is safe for concurrent
// use when the primary and the slog.Handler are.
type Store struct {
	primary audit.Store
	logger  *slog.Logger
	level   slog.Leveler
	msg     string
}

var _ audit.Store = (*Store)(nil)

// Mirror returns a Store that writes to primary and mirrors what primary
// accepted to logger, one line per record (see Store.Append). opts may be
// nil. It returns an error if primary or logger is nil. Give the Mirror
// to audit.New; query, seal and export the primary.
func Mirror(primary audit.Store, logger *slog.Logger, opts *Options) (*Store, error) {
	if primary == nil || logger == nil {
		return nil, errors.New("audit: auditslog: Mirror needs a primary store and a logger")
	}
	s := &Store{primary: primary, logger: logger, level: slog.LevelInfo, msg: "audit"}
	if opts != nil {
		if opts.Level != nil {
			s.level = opts.Level
		}
		if opts.Message != "" {
			s.msg = opts.Message
		}
	}
	return s, nil
}

// Append appends rs to the primary store and returns its result
// unchanged. Only when it succeeded, it logs each record at the Level,
// with its non-empty fields as attributes in a group "audit", named as in
// the record's JSON form: id, timestamp (OccurredAt), user_id,
// user_email, ip_address, user_agent, action, resource_type, resource_id,
// details and changes (JSON text), request_id, session_id, status,
// error_message, tenant_id, trace_id, span_id. A retried batch may be
// logged twice (the store ignores the duplicate; the log cannot).
func (s *Store) Append(ctx context.Context, rs ...audit.Record) error {
	if err := s.primary.Append(ctx, rs...); err != nil {
		return err
	}
	level := s.level.Level()
	if !s.logger.Enabled(ctx, level) {
		return nil
	}
	for i := range rs {
		s.logger.LogAttrs(ctx, level, s.msg, slog.Attr{Key: "audit", Value: slog.GroupValue(attrs(&rs[i])...)})
	}
	return nil
}

// Unwrap returns the primary store.
func (s *Store) Unwrap() audit.Store { return s.primary }

func attrs(r *audit.Record) []slog.Attr {
	as := make([]slog.Attr, 0, 18)
	str := func(k, v string) {
		if v != "" {
			as = append(as, slog.String(k, v))
		}
	}
	as = append(as, slog.String("id", r.ID.String()), slog.Time("timestamp", r.OccurredAt))
	str("user_id", r.UserID)
	str("user_email", r.UserEmail)
	if r.IPAddress.IsValid() {
		str("ip_address", r.IPAddress.String())
	}
	str("user_agent", r.UserAgent)
	str("action", string(r.Action))
	str("resource_type", r.ResourceType)
	str("resource_id", r.ResourceID)
	str("details", string(r.Details))
	str("changes", string(r.Changes))
	str("request_id", r.RequestID)
	str("session_id", r.SessionID)
	str("status", string(r.Status))
	str("error_message", r.ErrorMessage)
	str("tenant_id", r.TenantID)
	str("trace_id", r.TraceID)
	str("span_id", r.SpanID)
	return as
}
