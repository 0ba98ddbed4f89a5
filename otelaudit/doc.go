// Package otelaudit exports the audit pipeline's health as OpenTelemetry
// metrics and joins audit records to OpenTelemetry traces. The root
// package audit imports no telemetry library: this package adapts its
// hooks (audit.Observer, audit.Options.TraceFrom) and Stats.
//
// Wire it up in three steps:
//
//	m, err := otelaudit.New(&otelaudit.Options{MeterProvider: mp})
//	logger, err := audit.New(store, &audit.Options{Observer: m, TraceFrom: otelaudit.TraceFrom})
//	err = m.Register(otelaudit.Sources{Logger: logger, Sealer: sealer, Retention: retention})
//
// and call m.RecordVerify with each chain.Verify result.
//
// # Instruments
//
// Counted as they happen (through audit.Observer), with the attributes
// audit.delivery ("sync" or "async") and audit.action.class (the action's
// part before its first ".", one of Options.ActionClasses or "other", so
// that a service logging any number of distinct actions makes at most
// 2 × (classes+1) attribute sets per counter):
//
//	audit.events.accepted     {event}  counter    Log accepted the event
//	audit.events.written      {event}  counter    the store confirmed it
//	audit.events.failed       {event}  counter    + audit.reason: rejected | retries_exhausted
//	audit.events.invalid      {event}  counter    Log refused it as invalid
//	audit.events.dropped      {event}  counter    + audit.reason: queue_full | shutdown
//	audit.sync.duration       s        histogram  a Sync write as Log's caller waits (+ error.type on failure)
//	audit.store.write.duration s       histogram  each Store.Append (audit.delivery, + error.type)
//	audit.store.batch.size    {event}  histogram  records per Store.Append (audit.delivery)
//
// Read from Stats at each collection (Register):
//
//	audit.queue.depth, audit.queue.capacity {event}, audit.queue.size By,
//	audit.sync.active {write}, audit.store.retries {call}, audit.store.down {state}  (Logger)
//	audit.seal.lag s, audit.seal.unsealed {record}, audit.seal.last_run.time s,
//	audit.seal.records {record}, audit.seal.checkpoints, audit.seal.errors,
//	audit.seal.unsealable {record}                                            (Sealer)
//	audit.retention.runs {run}, audit.retention.purged {record},
//	audit.retention.archived {record}, audit.retention.errors {run},
//	audit.retention.last_run.time s                                            (Retention)
//	audit.stream.queue.depth {record}, audit.stream.queue.size By,
//	audit.stream.sent {record}, audit.stream.retries {call},
//	audit.stream.dropped {record} (+ audit.reason), audit.stream.lag s          (siem.Tee, by audit.stream)
//	audit.loader.pending {record}, audit.loader.lag s                         (jetstream Loader)
//	audit.verify.last_run.time s, audit.verify.last_result {result},
//	audit.verify.problems {problem}, audit.verify.records {record}              (RecordVerify)
//
// Times (*.time) are seconds since the Unix epoch; they are absent until
// the first run. docs/observability.md maps them to Kubernetes'
// apiserver_audit_* metrics and shows a Prometheus setup.
//
// Metrics is safe for concurrent use. On Log's path it costs one atomic
// addition per event (about 14 ns, no allocation: BenchmarkEvents); the
// event counts are reported at each collection.
package otelaudit
