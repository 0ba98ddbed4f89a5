// Package jetstream carries audit records from many service instances
// through a NATS JetStream stream into one store, usually PostgreSQL:
//
//	service ─► audit.Logger ─► Store (publisher) ─► stream (R3, dedup window)
//	                                                   │ durable pull consumer
//	                                     Loader ×N ◄───┘ ack after commit; dead letters
//	                                         │
//	                                         ▼
//	                                  audit.Store (PostgreSQL) ─► Sealer ─► Verify
//
// The stream decouples the services from the database: a slow or
// failing-over database delays the Loaders, not the services, and events
// no longer die with the process that queued them once Append returned.
//
// # Publisher
//
// Store is an audit.Store: give it to audit.New. Its Append publishes each
// record as JSON (the form of chain.ExportChain's records, without HTML
// escaping) to Options.Subject with the header Nats-Msg-Id set to the
// record's ID, pipelines the publishes of one call (at most
// Options.MaxInFlight awaiting their acknowledgement) and returns once the
// stream acknowledged all of them.
//
// What "Append returned nil" means: every record is stored in the stream;
// with file storage it survives a server restart, and with 3 replicas
// (Options.Replicas, 3 by default) it is on a quorum of servers and
// survives the loss of any one. TestClusterFailover checks this on a
// 3-node cluster on loopback: it kills the stream's leader during a load
// of producers and Loaders, then another node, and finds every
// acknowledged record loaded once and the chain verifying. New needs a
// cluster for the default: against a single server it fails, and it
// refuses an existing stream of fewer replicas, until Options.Replicas is
// set to 1 on purpose (development; a lost disk then loses acknowledged
// records). An error means some may be stored and some
// not: the Logger retries the whole call, and the stream drops the records
// it already holds by their Nats-Msg-Id, as long as the retry comes within
// the stream's duplicate window. That is why New refuses a stream whose
// duplicate window is shorter than Options.RetryHorizon (the Logger's
// AsyncOptions.RetryFor plus WriteTimeout, 2m10s by default). A record the
// server refuses as too large is a permanent error (storekit.Permanent); every
// other error is transient.
//
// Failure semantics, with the Logger in front:
//   - NATS unreachable: Sync Log fails within Policy.SyncTimeout
//     (fail-closed). Async batches are retried for AsyncOptions.RetryFor,
//     then reported to OnError and counted in Stats.Failed, as
//     with any store; the queue fills meanwhile (back-pressure).
//   - A connection lost mid-publish: the publishes without an
//     acknowledgement fail, the Logger retries them, the duplicate window
//     absorbs those that had been stored. Nothing accepted is lost, nothing
//     is stored twice.
//   - The process dies: what the Logger still queued is lost, as with any
//     store; what Append acknowledged is in the stream.
//
// # Stream settings
//
// New creates the stream if it is missing (see Options.StreamConfig) and
// otherwise checks it, refusing a stream that cannot keep the promises
// above: memory storage, fewer replicas than Options.Replicas, a duplicate
// window shorter than RetryHorizon, MaxAge shorter than MinMaxAge (records
// would expire before an outage of the loaders ends), size or count limits
// with the DiscardOld policy (which drops unloaded records silently;
// DiscardNew makes publishing fail visibly instead), interest retention,
// NoAck, or a sealed stream. For production:
//
//	subjects     audit.records (Options.Subject)
//	storage      file
//	replicas     3
//	retention    limits
//	discard      new
//	duplicates   10m (at least the Logger's retry horizon)
//	max age      7d (at least MinMaxAge, 24h)
//	max bytes    7 days of records, with room
//	deny delete  true
//
// or let New create it with Options{MaxBytes: …} (3 replicas by default). MaxAge bounds
// how long the loaders may be down; MaxBytes bounds the disk, and when it
// is reached publishing fails and the Logger's retries and drops take over.
//
// # Loader
//
// A Loader consumes the stream through a durable pull consumer
// (LoaderOptions.Consumer) with explicit acknowledgement, writes batches of
// up to BatchSize records into its target with one Append each, and
// acknowledges the records only after Append returned nil, that is after
// the target committed them. If a Loader dies between the commit and the
// acknowledgement, the server redelivers the records after AckWait, and
// the target's idempotent Append (a record it holds is a no-op) absorbs
// them: the effect is exactly once. A lost acknowledgement ends the same
// way, so acknowledgements are not confirmed one by one (no DoubleAck).
//
// To scale out, run N Loaders (processes, or the same one with more
// Workers) with the same Stream and Consumer: they share the consumer, and
// the server hands each batch to one of them. MaxAckPending (default 4 ×
// Workers × BatchSize) bounds the records out for loading at once across
// all of them. Each PostgreSQL Loader holds Workers connections.
//
// Failures: a transient target error (a lost connection, a failover) is
// retried with backoff, without acknowledging, while the Loader tells the
// server it is still working on the batch (so that AckWait does not
// expire); the lag grows. A record the target refuses for good
// (storekit.IsPermanent) or a message that does not decode as a record is
// isolated by halving the batch, as audit.Logger does, and published to
// LoaderOptions.DeadLetterSubject with the headers HeaderReason,
// HeaderStreamSeq and HeaderSubject, then terminated in the consumer: it
// is counted in LoaderStats.DeadLettered, reported to OnError, and never
// blocks the records behind it. The Loader creates a stream Stream+"_DLQ"
// for the dead letters unless one already captures the subject; read it
// with any NATS client, fix the cause, and republish the records to
// Options.Subject (their Nats-Msg-Id makes that safe). The consumer's
// MaxDeliver is unlimited: the server never drops a record on its own.
//
// Stats gives the lag as last read (every LagInterval): records not yet
// delivered (Pending), delivered and not acknowledged (AckPending), and the
// age of the oldest record not acknowledged. Alert on a growing
// OldestPendingAge, and on DeadLettered.
//
// On shutdown (Run's context ends) a Loader stops fetching, asks the
// server to redeliver at once the batches it had not written, and
// returns; a batch being written finishes its write first.
//
// A Loader that dies (SIGKILL, a lost machine) cannot hand its batches
// back: the server redelivers them AckWait after their delivery (10s by
// default), to the other Loaders; the server does not redeliver on a
// disconnect. That is why the default AckWait is short, and why a Loader
// writing a batch tells the server every AckWait/3 that it is still
// working on it (for WriteTimeout at most): a slow write is not
// redelivered, and a write stuck past its timeout is.
// TestLoaderKilledRedelivery kills a Loader holding a batch, and
// TestLoaderSIGKILL a loader process, under backend faults; both require
// every record loaded within AckWait + 5s of the death, and measured
// AckWait + 0.8s at most.
//
// Server versions: the tests run against nats-server 2.9.10 (the Debian
// package, at AUDIT_TEST_NATS_URL) and 2.15.3, embedded from its Go
// module: those two tests against both, the cluster tests against 2.15.3
// only. Fault runs against 2.9.10 saw 1–2 records wait 2 × AckWait after a
// loader was killed; the two tests did not reproduce that on either
// version. Run a cluster on 2.15.3 or later; a single 2.9.10 passes the
// tests here, but 2.9 is out of support: prefer a current release.
//
// The Sealer keeps one chain over the target table, whatever the number of
// producers and loaders: it seals in commit order in the database.
//
// Store and Loader are safe for concurrent use. The connection (*nats.Conn)
// belongs to the caller: close it after the Logger or after Run returned.
// Everything in the stream is as the producers wrote it: a producer with
// publish rights on the subject can forge any field of a record, so
// restrict publish permissions on Options.Subject to the services.
package jetstream
