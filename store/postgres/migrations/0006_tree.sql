-- The Merkle tree over the seals (issue 22): a leaf per seal, in chain
-- order (its salted commitment, public, and the salt, secret), the stored
-- hashes of the tree in the order of golang.org/x/mod/sumdb/tlog, and the
-- signed checkpoints of the tree (C2SP signed notes). All insert-only,
-- under the chain's guard: retention removes none of it, so that the tree
-- keeps proving the records that remain, and that the log only grew. The
-- sealer role needs INSERT on both tables (see the package
-- documentation).
--
-- Written for {{.Name}}.

-- hashes are the stored hashes the leaf added to the tree, 32 bytes each,
-- concatenated: tlog's stored hash i is in the row of the leaf that added
-- it. The record's ID is its seal's (event_id, the seals' index).
CREATE TABLE {{.TreeLeaves}} (
    seq        bigint PRIMARY KEY CHECK (seq > 0),
    salt       bytea  CHECK (length(salt) = 32),
    commitment bytea  NOT NULL CHECK (length(commitment) = 32),
    hashes     bytea  NOT NULL CHECK (length(hashes) % 32 = 0 AND length(hashes) > 0)
);

CREATE TABLE {{.TreeCheckpoints}} (
    size bigint PRIMARY KEY CHECK (size > 0),
    note text   NOT NULL
);

CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {{.TreeLeaves}}
    FOR EACH ROW EXECUTE FUNCTION {{.ChainGuard}}();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {{.TreeLeaves}}
    FOR EACH STATEMENT EXECUTE FUNCTION {{.ChainGuard}}();
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {{.TreeCheckpoints}}
    FOR EACH ROW EXECUTE FUNCTION {{.ChainGuard}}();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {{.TreeCheckpoints}}
    FOR EACH STATEMENT EXECUTE FUNCTION {{.ChainGuard}}();

REVOKE ALL ON {{.TreeLeaves}}, {{.TreeCheckpoints}} FROM PUBLIC;
