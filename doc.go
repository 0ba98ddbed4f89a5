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
// Every constructor of the module takes its optional settings in a
// pointer to a plain options struct whose nil and zero value mean the
// defaults (Options, SealerOptions, RetentionOptions, VerifyOptions); the
// clock is always a field Now and the error hook a field OnError, which
// prints to standard error when nil.
//
// # Delivery
//
// Each action is delivered Sync or Async (see Policy). Sync writes the
// record before Log returns and returns the store's error: fail-closed,
// the default for logins, password changes, account deletion, permission
// and key changes, and reads of the audit log (SecurityActions). Async
// queues the record and a batcher writes it: fail-open, never silent.
// What can be lost, and how you find out, is listed on Logger; Stats
// counts it and OnError hears of it. Logger.LogTo writes inside
// the application's own transaction instead.
//
// # Stores
//
// Store is one method, Append, idempotent. Querier, Getter and Purger add
// reading and retention; SealStore adds the hash chain. The packages
// store/memory, store/postgres and store/sqlite implement all of them,
// and storetest checks any implementation (storetest.Run,
// storetest.RunChain). What only a store's author needs (query cursors,
// filter matching, canonical JSON) is in package storekit.
//
// # Tamper evidence
//
// A Sealer links every stored record into a chain of HMAC-SHA256 seals,
// keyed outside the database, and signs checkpoints with Ed25519; Verify
// checks a store, or an export of it (ExportChain, NewExportSource), and
// reports every record changed, removed, inserted or reordered, and
// removal of the newest records when given a checkpoint kept off the
// database. Retention removes old records without breaking the chain. The
// command cmd/auditctl runs all of it from the shell; ReadKeyFile reads
// the key file its keygen writes, so that a service and auditctl share
// keys.
//
// # Concurrency
//
// Logger, Sealer, Retention and the stores of this module are safe for
// concurrent use. Wrap and Wrap1 return functions that are as safe as the
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
