package api

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/trailmark/audit"
)

// paramError is a bad query parameter: the 400 problem names it.
type paramError struct {
	Param string // as the client wrote it ("until"), or "query"
	Msg   string
}

func (e *paramError) Error() string { return "audit: api: parameter " + e.Param + ": " + e.Msg }

func badParam(param, format string, args ...any) *paramError {
	return &paramError{Param: param, Msg: fmt.Sprintf(format, args...)}
}

// endpoint says which parameters a route takes.
type endpoint uint8

const (
	endpointList endpoint = iota
	endpointExport
	endpointUser
	endpointGet // /{id}, /{id}/proof and /checkpoint: no parameter
	endpointConsistency
	endpointEvidence
)

// Export formats.
const (
	formatNDJSON = "ndjson"
	formatCSV    = "csv"
	formatOCSF   = "ocsf"
)

// Days of history /users/{user_id} returns: ?days=, 1 to maxDays.
const (
	defaultDays = 30
	maxDays     = 90
)

// accepts reports whether e takes parameter p.
func (e endpoint) accepts(p string) bool {
	switch p {
	case "since", "until", "tenant_id":
		return e == endpointList || e == endpointExport || e == endpointEvidence
	case "user_id", "action", "resource_type", "resource_id", "status", "request_id", "trace_id":
		return e == endpointList || e == endpointExport
	case "limit":
		return e == endpointList || e == endpointUser
	case "cursor":
		return e != endpointGet && e != endpointConsistency && e != endpointEvidence
	case "from", "to":
		return e == endpointConsistency
	case "after":
		return e == endpointList || e == endpointUser
	case "format":
		return e == endpointExport
	case "days":
		return e == endpointUser
	}
	return false
}

// query is a parsed, validated request.
type query struct {
	filter audit.Filter
	cursor string            // as the client sent it: opened by Handler.parse
	after  string            // likewise
	format string            // export only
	days   int               // /users only
	from   int64             // /consistency only
	to     int64             // likewise; 0 for the newest checkpoint
	params map[string]string // what the client asked, for the audit record
}

// parseQuery parses the raw query of a request to endpoint e. now is the
// time /users counts days back from. Every parameter may be given once;
// empty values, unknown names and values that do not parse are errors. The
// filter it returns passes Filter.Validate.
func parseQuery(e endpoint, rawQuery string, now time.Time) (query, *paramError) {
	var q query
	vals, err := url.ParseQuery(rawQuery)
	if err != nil {
		return q, badParam("query", "does not parse: %s", clip(err.Error()))
	}
	q.params = make(map[string]string, len(vals))
	for _, name := range slices.Sorted(maps.Keys(vals)) { // the first bad one, always the same
		vs := vals[name]
		if name == "" {
			return q, badParam("query", "has a value without a parameter name")
		}
		if !e.accepts(name) {
			if name == "limit" && e == endpointExport {
				return q, badParam(name, "is not supported by export, which returns every matching record")
			}
			return q, badParam(clip(name), "is not a known parameter")
		}
		if len(vs) != 1 {
			return q, badParam(name, "is given %d times; give it once", len(vs))
		}
		if vs[0] == "" {
			return q, badParam(name, "is empty; leave it out to match everything")
		}
		q.params[name] = vs[0]
	}
	f := &q.filter
	for _, name := range slices.Sorted(maps.Keys(q.params)) {
		v := q.params[name]
		var perr *paramError
		switch name {
		case "user_id":
			f.UserID = v
		case "action":
			perr = parseAction(f, v)
		case "resource_type":
			f.ResourceType = v
		case "resource_id":
			f.ResourceID = v
		case "status":
			if f.Status = audit.Status(v); !f.Status.Valid() {
				perr = badParam(name, "must be success, failure or error")
			}
		case "request_id":
			f.RequestID = v
		case "trace_id":
			if !validTraceID(v) {
				perr = badParam(name, "must be a W3C trace id: 32 lowercase hex digits, not all zeros")
			}
			f.TraceID = v
		case "tenant_id":
			f.TenantID = v
		case "since":
			f.Since, perr = parseDate(name, v)
		case "until":
			f.Until, perr = parseDate(name, v)
		case "limit":
			f.Limit, perr = parseInt(name, v, 1, audit.MaxLimit)
		case "cursor":
			q.cursor = v // checked against the caller's scope by Handler.parse
		case "after":
			q.after = v // likewise
		case "format":
			if v != formatNDJSON && v != formatCSV && v != formatOCSF {
				perr = badParam(name, "must be ndjson, csv or ocsf")
			}
			q.format = v
		case "days":
			q.days, perr = parseInt(name, v, 1, maxDays)
		case "from":
			q.from, perr = parseInt64(name, v)
		case "to":
			q.to, perr = parseInt64(name, v)
		}
		if perr != nil {
			return q, perr
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return q, badParam("until", "must be after since")
	}
	if e == endpointExport && q.format == "" {
		q.format = formatNDJSON
	}
	if e == endpointUser {
		if q.days == 0 {
			q.days = defaultDays
		}
		f.Since = now.Add(-time.Duration(q.days) * 24 * time.Hour)
	}
	if err := f.Validate(); err != nil {
		return q, filterParamError(err)
	}
	return q, nil
}

// parseAction sets an exact action, or a prefix for "user." and "user.*".
func parseAction(f *audit.Filter, v string) *paramError {
	switch {
	case strings.HasSuffix(v, "*"):
		v = strings.TrimSuffix(v, "*")
		if v == "" {
			return badParam("action", "* alone matches everything; leave action out instead")
		}
		f.ActionPrefix = v
	case strings.HasSuffix(v, "."):
		f.ActionPrefix = v
	default:
		f.Action = audit.Action(v)
	}
	if strings.Contains(v, "*") {
		return badParam("action", "may contain * only at its end, as in user.*")
	}
	return nil
}

func parseDate(name, v string) (time.Time, *paramError) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		if strings.Contains(v, " ") {
			return t, badParam(name, "must be an RFC 3339 timestamp such as 2025-01-31T00:00:00Z (write + as %%2B in a URL)")
		}
		return t, badParam(name, "must be an RFC 3339 timestamp such as 2025-01-31T00:00:00Z")
	}
	if t.Year() < 1 || t.Year() > 9999 {
		return t, badParam(name, "is out of range")
	}
	return t, nil
}

func parseInt(name, v string, lo, hi int) (int, *paramError) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badParam(name, "must be an integer from %d to %d", lo, hi)
	}
	return n, nil
}

// parseInt64 parses a tree size: a positive decimal integer without
// leading zeros or sign.
func parseInt64(name, v string) (int64, *paramError) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 || strconv.FormatInt(n, 10) != v {
		return 0, badParam(name, "must be a tree size: a positive integer")
	}
	return n, nil
}

// filterParamError turns an error of Filter.Validate or of a store into a
// paramError naming the query parameter.
func filterParamError(err error) *paramError {
	var fe *audit.FieldError
	if !errors.As(err, &fe) {
		return badParam("query", "is not a valid filter")
	}
	param := fe.Field
	switch param {
	case "action_prefix":
		param = "action"
	}
	return badParam(param, "%s", fe.Msg)
}

// clip shortens s for an error message, so that a client's huge value is
// not echoed back whole.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// validTraceID reports whether v is a W3C trace id as records store it:
// 32 lowercase hex digits, not all zeros.
func validTraceID(v string) bool {
	if len(v) != 32 || strings.Count(v, "0") == len(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
