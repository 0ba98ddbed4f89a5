// Package chain makes an audit log tamper-evident, and proves it: a
// Sealer links each record a store holds to the one before it in a hash
// chain, and signs checkpoints of the chain with Ed25519; Verify checks
// a chain, online from the store or offline from an export, and reports
// what was modified, deleted, inserted, reordered or cut short; the
// chain's side of retention (Sealer.Retain) keeps a chain verifiable
// after audit.Retention removes old records.
//
// Every stored record gets a position in one sequence and a seal. A seal
// links the record to the one before it:
//
//	digest_n = SHA-256(canonical(record_n))
//	hash_n   = HMAC-SHA256(key, hash_{n-1} ‖ seq_n ‖ id_n ‖ time_n ‖ digest_n)
//
// with hash_0 all zeros. The key lives outside the database; whoever can
// change the database but not read the key cannot change, remove, insert
// or reorder a record without breaking the chain. Checkpoints (a sequence
// number and its hash) are signed with Ed25519 and kept off the database
// too, so that removing the newest records and their seals is detected
// as well.
//
// Stores that keep a chain implement storekit.SealStore; the stores of
// this module (memory, SQLite, PostgreSQL) do. Keys come from a key file
// (ReadKeyFile, written by auditctl keygen):
//
//	f, err := os.Open("audit-keys.json")
//	…
//	keys, err := chain.ReadKeyFile(f)
//	…
//	sealer, err := chain.NewSealer(store, keys.Current(), keys.SealerOptions())
//	…
//	go sealer.Run(ctx)
//	defer sealer.Close(ctx) // after the Logger's Close
//	…
//	report, err := chain.Verify(ctx, store, keys.VerifyOptions())
//
// # Proofs anyone can check
//
// Over a storekit.TreeStore, the Sealer also keeps an RFC 6962 Merkle tree
// over the sealed sequence (leaf i for seal i+1, a salted commitment to
// the record: LeafCommitment), in the same transaction as the seals, and
// signs a C2SP checkpoint of it (origin SealerOptions.Origin) at every
// step that grew it. Prove and ProveConsistency read proofs from the
// store; VerifyInclusion and VerifyConsistency check them with the log's
// public key only (LogVerifier, or note.NewVerifier of VerifierKey's
// text), never the HMAC secret. TilesHandler serves the tree as C2SP
// tlog-tiles. The proof code is golang.org/x/mod/sumdb/tlog's.
//
// WriteTenantEvidence writes a tenant's evidence: one signed checkpoint
// and each of the tenant's records with its salt and inclusion proof
// against it (format EvidenceFormat); VerifyTenantEvidence checks it with
// the public key alone, and CompareTenantEvidence against evidence kept
// from before (a record removed, a history rewritten). It holds nothing
// of another tenant's records but hashes, which their salts keep from
// confirming a guess.
//
// A Sealer and Verify are safe for concurrent use; so are Prove,
// WriteTenantEvidence and the Verify functions. See docs/tamper-evidence.md.
package chain
