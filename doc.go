// Package audit records who did what, to which resource, from where, when
// and with what result — and lets you prove later that nobody changed the
// record.
//
// An application logs an Event with a Logger:
//
//	logger, err := audit.New(store, nil) // store: postgres.Open(…), memory.New(nil), …
//	…
//	err = logger.Log(r.Context(), audit.Event{
//		Action: audit.ActionPermissionGrant, ResourceType: "user", ResourceID: "u-7",
//		Status: audit.StatusSuccess, Details: map[string]any{"role": "admin"},
//	})
//
// The Logger fills the ID (a UUIDv7) and the time, takes the actor and
// the request's id, client address, user agent and session from the
// context (see WithActor, WithRequestInfo, and the middleware package),
// validates the event, cleans it (secrets redacted, strings repaired and
// capped, Details and Changes encoded as canonical JSON) and delivers it
// to the Store as a Record. Every New records ActionAuditLoggerStart and
// every Close ActionAuditLoggerStop in the store (Options.NoLifecycleEvents
// turns them off).
//
// Every constructor of the module takes what it requires as arguments
// and its optional settings in a pointer to a plain options struct whose
// nil and zero value mean the defaults (Options, RetentionOptions,
// chain.SealerOptions, …); the clock is always a field Now and the error
// hook a field OnError, which prints to standard error when nil.
//
// # Delivery
//
// Each action is delivered Sync or Async (see Policy). Sync writes the
// record before Log returns and returns the store's error: fail-closed,
// the default for logins, password changes, account deletion, permission
// and key changes, and reads of the audit log (SecurityActions). Async
// queues the record and a batcher writes it: fail-open, never silent.
// What can be lost, and how you find out, is listed on Logger; Stats
// counts it and OnError hears of it. An AsyncOptions.Spool (package
// spool) keeps Async records on local disk until the store has them, so
// that a killed process loses none. Logger.LogTo writes inside the
// application's own transaction instead.
//
// # Stores
//
// Store is one method, Append, idempotent. Querier and Getter add
// reading. The packages
// store/sqlite (embedded, durable, no server), store/postgres, store/memory
// and store/jetstream (many instances through NATS JetStream into one
// database) implement them, and storetest checks any implementation
// (storetest.Run, storetest.RunChain). What only a store's author needs
// (purging, the hash chain's storage, query cursors, filter matching,
// canonical bytes, permanent errors) is in package storekit, as
// database/sql/driver is to database/sql.
//
// # Wrapping a function, and changes
//
// Wrap turns a function into one whose every call is recorded:
// its outcome, its error, and the changes between Operation.Before and Operation.After
// (see Diff); a panic is recorded, then re-raised. LogResourceChange and
// Diff record field-level changes directly.
//
// # Redaction and limits
//
// Keys that name secrets (password, token, api_key, pin, …; see
// Redaction) are redacted in Details and Changes, at any depth, before
// anything is stored; keys are compared in a normal form, so look-alike
// letters and invisible characters do not get a secret past it.
// Redaction.HashKey replaces a secret by a keyed hash instead, so that two
// records can be matched without storing the value. Limits caps sizes
// with a visible marker, never dropping who, what or when.
//
// # Tenants and traces
//
// WithTenant puts an organisation, workspace or account id in the context;
// the Logger stores it in Event.TenantID, and every store filters and
// indexes by it. RequestInfo carries W3C trace and span ids (the
// middleware reads traceparent), and Options.TraceFrom takes them from an
// active span (otelaudit.TraceFrom), so that a record joins the trace of
// its request. Options.Observer lets package otelaudit count what the
// Logger does.
//
// # Tamper evidence
//
// Package chain links every stored record into a chain of HMAC-SHA256
// seals, keyed outside the database, signs checkpoints with Ed25519, and
// verifies a store, or an export of it, reporting every record changed,
// removed, inserted or reordered. On shutdown, close the Logger first,
// then the Sealer, which seals the Logger's last records.
//
// # Retention
//
// Retention removes records older than its MaxAge, after handing them to
// an Archive that must be durable before it returns. For a store that
// keeps a hash chain, NewRetention takes the chain's Sealer
// (RetentionChain), which writes a signed retention checkpoint first, so
// that Verify still passes afterwards.
//
// # Concurrency
//
// Logger, Retention and the stores of this module are safe for
// concurrent use. Wrap returns functions that are as safe as the
// functions they wrap.
//
// # What a client can forge
//
// Whatever the client of the audited application sends is what it says,
// not what is true: the user agent, a request id it supplied, a session
// id, and — unless the middleware is told which proxies to trust — any
// forwarded address. The middleware takes the client address from the
// TCP peer by default. UserID and UserEmail are whatever the application
// puts in the context or the event: take them from authentication, never
// from the request. The Logger cleans every string so that it is safe to
// store and to display as text, but does not make it true.
package audit
