// Package api is the HTTP API for reading an audit log: queries, single
// records and streamed exports, for administrators and auditors.
//
//	GET /audit-logs?user_id=&action=&resource_type=&resource_id=&status=&request_id=&trace_id=&since=&until=&limit=&cursor=&after=
//	GET /audit-logs/users/{user_id}?days=30&limit=&cursor=&after=
//	GET /audit-logs/{id}
//	GET /audit-logs/export?format=ndjson|csv|ocsf&<the filters of /audit-logs>&cursor=
//	GET /audit-logs/{id}/proof
//	GET /audit-logs/checkpoint
//	GET /audit-logs/consistency?from=&to=
//	GET /audit-logs/evidence?tenant_id=&since=&until=
//
// The last four answer from the Merkle tree a storekit.TreeStore keeps
// (501 for another store): a record's inclusion proof with the record
// (chain.InclusionProof; readable, and out of scope answered, exactly as
// /{id}), the newest signed tree checkpoint (a C2SP signed note, as
// text/plain), the proof that the tree of from records is a prefix
// of the tree of the checkpoint at to, the newest by default
// (chain.ConsistencyProof), and a tenant's evidence (NDJSON,
// chain.WriteTenantEvidence): a caller scoped to a tenant gets its own
// and is refused (403) any other, a caller scoped to less than a tenant
// is refused, an unscoped caller names the tenant; it is recorded as an
// export. Checking them needs the log's public key only: see package
// chain and docs/tamper-evidence.md.
//
// The paths are under Options.BasePath, /audit-logs by default:
//
//	h, err := api.New(store, logger, api.AllowActor(mayReadAuditLog), &api.Options{
//		BasePath: "/admin/audit",
//	})
//	mux.Handle("/admin/audit", h)
//	mux.Handle("/admin/audit/", h)
//
// Lists answer {"items": [...], "next_cursor": "...", "tail": "..."},
// newest first; each
// item is an audit.Record in its JSON form, every field present. action
// matches exactly, or by prefix when it ends in "." or "*" ("user." and
// "user.*" match every user action). since and until are RFC 3339
// timestamps bounding the time of the event, start inclusive, end
// exclusive. limit is 1 to 1000, default 100; pass next_cursor back as
// cursor for the next page. days is 1 to 90, default 30. tenant_id (lists
// and exports) selects the records of one tenant.
//
// The pages of one walk (a first page and those that follow by cursor)
// read the records committed when the first page was read: records that
// commit later, in any order and whatever their time, are for the next
// walk. A list's tail names that set: a walk with after= the tail of an
// earlier walk reads the records committed since that walk began. A
// poller that walks with after= the tail of its previous walk reads each
// record exactly once, which since= cannot promise (see
// audit.Filter.After, and docs/api.md, "Walks and tails"). A tail carries
// a MAC over the caller's scope, as a cursor does.
//
// # Errors
//
// Every error is an RFC 9457 problem document (application/problem+json;
// see ProblemDetails). A bad query — an unknown or repeated parameter, an empty
// value, a date that does not parse, an end before the start, a limit out
// of range, a cursor this API did not issue, an unknown format, an id that
// is not an identity (over audit.MaxIDBytes, invalid UTF-8, a control
// character: see audit.CheckID; it is refused, never cut) — is a 400
// whose "parameter" member names the parameter. Input never causes a 500.
//
// # Authorization
//
// New refuses to build a Handler without an Authorizer. Every request
// goes through it, after routing and before anything else is looked at:
// an error wrapping ErrUnauthenticated is answered 401, ErrForbidden 403,
// and every refusal is recorded as an event (action audit_log.read or
// audit_log.export, status failure) naming the caller when known. Rate
// limit the API in front if unauthenticated callers can reach it: each
// refusal is a write to the audit store.
//
// Behind package middleware, the request given to the Authorizer already
// carries the caller that middleware's Options.Identify found (and that a
// handler may have changed with audit.SetActor): it can read
// audit.ActorFrom(r.Context()) rather than parse the token again.
// AllowActor makes such an Authorizer of a permission check.
//
// An Authorizer returns a Caller: the Actor the reads are recorded under and
// a Scope. A scoped caller — a customer holding a viewer token, say —
// sees only the records that match its Scope: it is ANDed into every
// list, per-user list and export (asking for records outside it answers an
// empty list), and a record outside it is a 404 on /{id}, answered and
// recorded exactly as an id that does not exist. The scope is recorded
// with each of the caller's requests.
//
// Scope.TenantID isolates the tenants of a multi-tenant service: a caller
// scoped to a tenant sees its tenant's records and nothing else; a
// tenant_id= of another tenant answers an empty list (as any filter
// outside the scope), and its reads are recorded in its own tenant. Every
// cursor the API returns carries a MAC over the caller's scope and the
// position (Options.CursorKey; a random key per Handler by default): a
// cursor presented by a caller with another scope, altered or forged, is
// a 400 naming the parameter cursor, the same answer whatever its origin.
// Services running several instances behind one address must give them
// the same CursorKey. See docs/tenants.md.
//
// # Reading the log leaves a trace
//
// Every answered request is recorded with the Logger, attributed to the
// caller Authorize returned: reads as audit_log.read (the query, the
// number of records returned), exports as audit_log.export (the query, the
// format, and at the end the row count). A read is recorded after the
// store has answered and before the answer is sent; if the record cannot
// be written the read fails closed: 503, no data. With the default Policy
// both actions are delivered Sync, so this holds; a Policy that makes them
// Async makes reads fail open instead (they succeed once the record is
// queued). Bad requests and refusals are recorded too, but a failure to
// record them does not change the answer. A refused request's parameters
// are recorded by name under details.query, never as the raw query
// string, so that the Logger's Redaction removes the values of secrets a
// client put in the URL (access_token, password, api_key, …).
//
// An export is recorded twice: phase "start" before the first record is
// read (fail closed, as above) and phase "end" with the row count and
// outcome, linked by start_event_id. The export is streamed a page at a
// time (constant memory, whatever its size) and flushed as it goes. If the
// store fails after the response has started, the connection is aborted,
// so that the client sees a broken transfer, not a short file.
//
// NDJSON is exact: one record's JSON per line, with C1 controls (U+0080–
// U+009F) and bidi controls (U+202A–U+202E, U+2066–U+2069) written as
// \uXXXX escapes, which decode to the same values; the list endpoint does
// the same. CSV has a header row and every field; control characters
// (ESC, CR, LF, C1, bidi) are replaced by U+FFFD and cells that a
// spreadsheet would evaluate as formulas, also after leading blanks or
// invisible characters, are prefixed with a quote (see SafeCell), so CSV
// is for people and NDJSON for programs. format=ocsf is NDJSON too
// (application/x-ndjson), one OCSF event per line as package ocsf maps a
// record with its default options, for a SIEM; it is escaped as NDJSON
// is.
//
// # What a client can forge
//
// Query parameters are the caller's and are validated, never trusted; the
// caller's identity is what Authorize says. The records themselves hold
// values that clients of the audited application chose (user agents,
// request ids, resource ids, details): they are served as JSON, with
// Content-Type set and X-Content-Type-Options: nosniff, never as HTML.
//
// # Concurrency
//
// A Handler is safe for concurrent use. Authorize and OnError are called
// concurrently.
package api
