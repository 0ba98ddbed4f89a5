// Package checkpoint formats, parses, signs and verifies transparency log
// checkpoints as specified by C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint)
// and C2SP signed-note (c2sp.org/signed-note): the signed statement "the log
// named origin holds size records, and the RFC 6962 Merkle tree over them
// has this root hash".
//
// A checkpoint body is three lines and optional extension lines:
//
//	example.com/audit
//	1234
//	CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
//
// Sign turns a Checkpoint into a signed note with one or more
// golang.org/x/mod/sumdb/note signers; Open checks a signed note against
// the log's verifier and parses its body. NewSigner, NewVerifier,
// SignerKey and VerifierKey build the Ed25519 keys of signed-note from an
// ed25519 key pair and a key name, which for a log should be its origin.
// What Sign produces is read unchanged by golang.org/x/mod/sumdb/note and
// by github.com/transparency-dev/formats/log.
//
// Parse is strict: it accepts only the canonical encoding of a body (no
// leading zeros, canonical base64, a final newline, no empty extension
// line, no control characters, at most MaxBodySize bytes), so one tree
// head has exactly one body and one set of signed bytes.
//
// What can be forged: everything in a note that Open did not verify.
// Parse alone reads a body without any signature check; trust a
// Checkpoint only when it came from Open (or from a note you verified
// with note.Open yourself).
//
// All functions are safe for concurrent use; a Checkpoint is a plain value.
package checkpoint
