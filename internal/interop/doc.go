// Package interop tests the chain's formats against clients written by
// others: golang.org/x/mod/sumdb/note, github.com/transparency-dev/formats
// (checkpoint parser, cosignature verifier, witness policies) and
// filippo.io/torchwood (C2SP tlog-tiles client, cosignature signer). It is
// a module of its own so that those libraries are test dependencies of
// nothing a user imports.
package interop
