-- The Merkle tree over the seals (issue 22): a leaf per seal, in chain
-- order (its salted commitment, public, and the salt, secret), the stored
-- hashes of the tree in the order of golang.org/x/mod/sumdb/tlog, and the
-- signed checkpoints of the tree (C2SP signed notes). All insert-only:
-- retention removes none of it, so that the tree keeps proving the
-- records that remain, and that the log only grew.
CREATE TABLE audit_tree_leaves (
    seq        INTEGER PRIMARY KEY CHECK (seq > 0),
    event_id   BLOB,
    salt       BLOB,
    commitment BLOB NOT NULL CHECK (length(commitment) = 32)
) STRICT;
CREATE INDEX audit_tree_leaves_event ON audit_tree_leaves (event_id);

CREATE TABLE audit_tree_hashes (
    idx  INTEGER PRIMARY KEY CHECK (idx >= 0),
    hash BLOB    NOT NULL CHECK (length(hash) = 32)
) STRICT;

CREATE TABLE audit_tree_checkpoints (
    size INTEGER PRIMARY KEY CHECK (size > 0),
    note TEXT    NOT NULL
) STRICT;

CREATE TRIGGER audit_tree_leaves_no_update BEFORE UPDATE ON audit_tree_leaves
BEGIN
    SELECT RAISE(ABORT, 'audit: UPDATE on audit_tree_leaves refused: the Merkle tree is append-only');
END;
CREATE TRIGGER audit_tree_leaves_no_delete BEFORE DELETE ON audit_tree_leaves
BEGIN
    SELECT RAISE(ABORT, 'audit: DELETE on audit_tree_leaves refused: the Merkle tree is append-only');
END;
CREATE TRIGGER audit_tree_hashes_no_update BEFORE UPDATE ON audit_tree_hashes
BEGIN
    SELECT RAISE(ABORT, 'audit: UPDATE on audit_tree_hashes refused: the Merkle tree is append-only');
END;
CREATE TRIGGER audit_tree_hashes_no_delete BEFORE DELETE ON audit_tree_hashes
BEGIN
    SELECT RAISE(ABORT, 'audit: DELETE on audit_tree_hashes refused: the Merkle tree is append-only');
END;
CREATE TRIGGER audit_tree_checkpoints_no_update BEFORE UPDATE ON audit_tree_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit: UPDATE on audit_tree_checkpoints refused: the Merkle tree is append-only');
END;
CREATE TRIGGER audit_tree_checkpoints_no_delete BEFORE DELETE ON audit_tree_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit: DELETE on audit_tree_checkpoints refused: the Merkle tree is append-only');
END;
