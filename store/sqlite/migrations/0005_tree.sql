-- The Merkle tree over the seals (issue 22): a leaf per seal, in chain
-- order (its salted commitment, public, and the salt, secret), the stored
-- hashes of the tree in the order of golang.org/x/mod/sumdb/tlog, and the
-- signed checkpoints of the tree (C2SP signed notes). All insert-only:
-- retention removes none of it, so that the tree keeps proving the
-- records that remain, and that the log only grew.

-- hashes are the stored hashes the leaf added to the tree, 32 bytes each,
-- concatenated: tlog's stored hash i is in the row of the leaf that added
-- it. The record's ID is its seal's (event_id, the seals' index).
CREATE TABLE audit_tree_leaves (
    seq        INTEGER PRIMARY KEY CHECK (seq > 0),
    salt       BLOB    CHECK (salt IS NULL OR length(salt) = 32),
    commitment BLOB    NOT NULL CHECK (length(commitment) = 32),
    hashes     BLOB    NOT NULL CHECK (length(hashes) % 32 = 0 AND length(hashes) > 0)
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
CREATE TRIGGER audit_tree_checkpoints_no_update BEFORE UPDATE ON audit_tree_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit: UPDATE on audit_tree_checkpoints refused: the Merkle tree is append-only');
END;
CREATE TRIGGER audit_tree_checkpoints_no_delete BEFORE DELETE ON audit_tree_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit: DELETE on audit_tree_checkpoints refused: the Merkle tree is append-only');
END;
