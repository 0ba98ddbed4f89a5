// Package tiles serves a transparency log read-only over HTTP as C2SP
// tlog-tiles (c2sp.org/tlog-tiles), so that any tlog client, monitor or
// witness can follow it, fetch entries and check inclusion and
// consistency proofs without code of ours:
//
//	GET /checkpoint                    the latest signed checkpoint
//	GET /tile/<L>/<N>[.p/<W>]          Merkle tree tiles of height 8
//	GET /tile/entries/<N>[.p/<W>]      entry bundles
//
// N is written in 3-digit path elements, all but the last prefixed with
// "x" (1234067 is x001/x234/067); only that canonical form is served.
// A full tile holds 256 hashes (8,192 bytes); a partial tile ".p/<W>"
// the first W. An entry bundle is the entries of a level-0 tile, each a
// big-endian uint16 length and its bytes.
//
// The Handler reads everything from a Source: the signed checkpoint, the
// stored hashes of the tree in golang.org/x/mod/sumdb/tlog's storage
// order (what tlog.StoredHashes returned as the records were appended),
// and the entries. Nothing past the tree size of the current checkpoint
// is served (404). Full tiles and bundles are immutable and cached for a
// year; partial ones for a minute; the checkpoint not at all. Entry
// bundles are not compressed: when the entries are salted commitments,
// they are incompressible.
//
// A Handler is safe for concurrent use if its Source is. It adds no
// authentication: everything it serves is public by design, which is why
// a log's entries should be commitments that reveal nothing (see the
// chain package) rather than records.
package tiles
