// Package siem forwards audit records to SIEMs and webhooks over HTTP,
// beside the store that keeps them.
//
// A Tee is an audit.Store: give it to audit.New in place of the primary
// store. It writes to the primary exactly as before and, once the primary
// has accepted the records, feeds copies to each Stream through the
// stream's own bounded queue and goroutine. An HTTPSink posts each batch
// to an endpoint: native NDJSON, OCSF NDJSON or Splunk HEC events,
// gzipped, signed and with an idempotency key.
//
//	sink, err := siem.NewHTTP("https://siem.example.com/ingest", &siem.HTTPOptions{
//		Format: siem.FormatOCSF,
//		Secret: secret, // HMAC key shared with the receiver
//	})
//	tee, err := siem.NewTee(primary, []siem.Stream{{Name: "siem", Sink: sink}}, nil)
//	logger, err := audit.New(tee, nil)
//	…
//	logger.Close(ctx); tee.Close(ctx); sink.Close(ctx) // in this order
//
// # Formats
//
//   - FormatNDJSON (default): one audit.Record per line, the JSON of the
//     API's NDJSON export; Content-Type application/x-ndjson.
//   - FormatOCSF: one OCSF 1.8.0 event per line, mapped by package ocsf
//     (HTTPOptions.Mapper for a custom mapping).
//   - FormatSplunk: one Splunk HTTP Event Collector event per line,
//     {"time":<epoch seconds.millis>,"sourcetype":"trailmark:audit",
//     "event":<the record>} (plus host, source and index when set), for
//     POST /services/collector/event with "Authorization: Splunk <token>"
//     (HTTPOptions.SplunkToken).
//
// Bodies are gzipped (Content-Encoding: gzip) unless HTTPOptions.NoGzip.
//
// # Signature
//
// With HTTPOptions.Secret set (at least MinSecretLen, 32, bytes; NewHTTP
// refuses a shorter one, an empty one included), every request carries
//
//	Trailmark-Signature: t=<unix seconds>,v2=<hex HMAC-SHA256(secret, "<t>.<key>." + body)>
//
// where key is the request's Idempotency-Key and body is the request body
// exactly as sent, gzipped when it is gzipped. The key is signed because
// it is what a receiver dedupes on: a captured request sent again under a
// fresh key no longer verifies. A receiver verifies it before decoding
// anything (so that an unauthenticated body is never decompressed):
//
//  1. read the raw body (without undoing Content-Encoding) and the
//     Idempotency-Key header (1 to 128 ASCII letters, digits, '-' or '_';
//     refuse anything else, so that no byte can move between key and
//     body);
//  2. split the signature header on "," into t= and v2= parts;
//  3. compute HMAC-SHA256 with the shared secret over the ASCII t, a ".",
//     the key, a "." and the body, and compare it with each v2 in
//     constant time;
//  4. reject the request if none matches, or if t is more than a few
//     minutes (DefaultTolerance) from its own clock: a replay of an old,
//     validly signed request fails there;
//  5. within the tolerance, drop a request whose key it has already
//     accepted (remember keys for at least twice the tolerance): a replay
//     carries its own signed key.
//
// In Go, steps 1 to 4 are one call:
//
//	raw, _ := io.ReadAll(r.Body)
//	key := r.Header.Get(siem.IdempotencyHeader)
//	err := siem.VerifySignature(secret, r.Header.Get(siem.SignatureHeader), key, raw, time.Now(), 0)
//	// err == nil: dedupe on key
//
// Each attempt is signed afresh (a new t); the body and the idempotency
// key stay the same. Several v2 parts are accepted, for secret rotation.
// (The v1 scheme of earlier versions, HMAC over "<t>." + body, left the
// key unsigned; VerifySignature no longer accepts it.) The secret, a
// SplunkToken and the values of HTTPOptions.Header never appear in
// errors, and neither does the URL beyond its scheme and host: errors
// name the endpoint as scheme://host/…, since a webhook URL may carry a
// token in its path or query.
//
// # Idempotency
//
// Every request carries Idempotency-Key: IdempotencyKey of its batch, a
// hash of the batch's record IDs, covered by the signature. A batch keeps
// its key across all its retries, so a receiver that remembers keys
// processes each batch once. Batches are cut anew after a restart or a
// Backfill, so the robust dedupe is by record ID (the record's "id", OCSF
// metadata.uid), which never changes.
//
// # Failure semantics: what "delivered to the SIEM" promises
//
// The primary store is the system of record. A stream is a best-effort,
// at-least-once copy of it:
//
//   - Append returns the primary's result, unchanged; nothing about a
//     stream can fail or block it. Only records the primary accepted are
//     queued for the streams; a record the primary refused reaches none.
//   - A record queued for a stream is sent at least once while the process
//     lives: a 2xx response is delivery; a network error, a timeout, 408,
//     429 or 5xx is retried with exponential backoff and jitter, waiting
//     at least what a Retry-After header asks. The receiver may see a
//     batch more than once (an acknowledgement lost on the way back):
//     dedupe by Idempotency-Key or record ID.
//   - A record is dropped from a stream, counted in Stats and reported to
//     OnError as a *DropError, when the stream's queue is full (count or
//     bytes), when the sink refuses its batch (another 4xx, a redirect:
//     ReasonRejected, not retried), when retries outlast Retry.RetryFor, or
//     when Close's context ends first (ReasonShutdown). Queue-full drops
//     are reported by the stream's goroutine as they happen, one
//     DropError per run of them, also while it waits out a retry
//     backoff; not while a Send is in flight (at most the sink's
//     timeout).
//   - Records queued when the process dies are lost to the stream, never
//     to the primary (unless the stream is durable: see Resuming). The recovery is Backfill from the primary (an
//     audit.Querier) since the last time the SIEM is known to be complete,
//     or since DropError.Oldest.
//   - Order is not promised across batches and retries; sort by
//     timestamp, or by the seal sequence of the primary.
//
// Records fed to a stream carry RecordedAt from the Tee's clock, stamped
// after the primary accepted them.
//
// # Resuming
//
// With TeeOptions.Positions (package trail sets it when the store keeps
// positions: memory, SQLite, PostgreSQL), a stream is durable: it keeps
// no queue of its own, and reads the records from the primary instead,
// walking it with Filter.After from the tail of the last walk it
// delivered (see audit.Filter.After: every record committed after a
// walk is in the next one, whatever its OccurredAt). After each page
// the sink accepted, it saves its position — the walk's tail and cursor
// — in the PositionStore, under "siem/" + Stream.Name. So:
//
//   - Nothing the primary accepted is dropped for want of room: an
//     outage of any length leaves the records in the primary, and the
//     stream catches up when the sink is back, up to Stream.InFlight
//     pages at once. A batch that reaches the sink wakes the others from
//     their backoff. Transient failures are retried until they succeed
//     (Retry.RetryFor is ignored); only a batch the sink refuses
//     (ReasonRejected) is dropped, reported and skipped.
//   - After a restart, or a Close whose context ended first, a new Tee
//     over the same store resumes from the saved position by itself.
//     Delivery is at least once: the pages sent after the last saved
//     position (at most InFlight pages of audit.MaxLimit records) are
//     sent again, in batches cut
//     the same way when the store's walk is the same (so with the same
//     Idempotency-Key, mostly) — dedupe by Idempotency-Key, and by record
//     ID to be sure.
//   - A durable stream sends every record committed to the primary,
//     whoever wrote it (another process, a transaction of the
//     application). When the PositionStore is a storekit.PositionLocker
//     (the PostgreSQL store), one process at a time runs each stream:
//     the others wait, Stats().Streams[i].Standby, and one takes over
//     when it stops. Otherwise (several processes on one SQLite file),
//     run the stream in one process, or each sends everything.
//   - A stream without a saved position starts with the records that
//     occurred at or after Stream.Since (default: when NewTee ran) and
//     those committed after its first walk.
//   - The stream reads the primary once per FlushInterval when idle, and
//     as soon as a batch's worth was appended through the Tee.
//
// # Concurrency
//
// Tee, HTTPSink and their methods are safe for concurrent use. A Tee runs
// one goroutine per stream (and a durable stream one per page in flight),
// which Close stops; it owns neither the
// primary nor the sinks. Everything a receiver reads came from the
// application's records: a signature proves that the holder of the
// secret sent the batch, not that the record's user, IP address or
// details are true.
package siem
