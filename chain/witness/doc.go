// Package witness is a transparency log witness and its clients, per C2SP
// tlog-witness (c2sp.org/tlog-witness) and tlog-cosignature
// (c2sp.org/tlog-cosignature).
//
// A log that signs its checkpoints can still show two histories: one
// checkpoint to one reader, a rewritten one to another, each validly
// signed by the log's key. A witness closes that door. It cosigns a log's
// new checkpoint only with a consistency proof (RFC 6962) from the last
// checkpoint it cosigned for that log, and never cosigns two different
// trees of one size. A reader who requires k cosignatures from witnesses
// run by other parties (VerifyCosignatures) is then shown one history or
// none, even by an operator who holds every key of the log.
//
// The pieces:
//
//   - Witness serves POST /add-checkpoint (and GET /<origin hash>/checkpoint
//     for monitors), checks the log's signature and the proof with
//     golang.org/x/mod/sumdb/tlog.CheckTree, keeps the last cosigned tree
//     head of each log in a state file written atomically (temporary file,
//     fsync, rename, fsync of the directory) before it answers, and
//     refuses with the specification's status codes.
//   - NewSigner, NewVerifier and VerifierKey make and check cosignature/v1
//     signatures: Ed25519 over "cosignature/v1\ntime <t>\n" and the
//     checkpoint body, carried as an 8-byte timestamp and the 64-byte
//     signature, under key ID SHA-256(name || "\n" || 0x04 || key)[:4].
//   - Client is what a log uses to submit a checkpoint and get the
//     cosignature back; Cosign also recovers when the log does not know the
//     witness's size.
//   - VerifyCosignatures checks a cosigned checkpoint for the log's
//     signature and k-of-n witness cosignatures.
//
// A Witness reads at most Options.MaxRequestSize bytes of a request; the
// http.Server that serves it should set ReadHeaderTimeout and ReadTimeout
// so that a slow client cannot hold a connection open. A Witness, a
// Client and the functions are safe for concurrent use.
//
// What a client could have forged: everything in a request until
// AddCheckpoint has verified the log's signature; the origin line is read
// unverified only to pick the log's key. The witness makes no statement
// about extension lines, and timestamps are its own clock's.
package witness
