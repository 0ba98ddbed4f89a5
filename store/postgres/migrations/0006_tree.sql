-- The Merkle tree over the seals (issue 22): a leaf per seal, in chain
-- order (its salted commitment, public, and the salt, secret), the stored
-- hashes of the tree in the order of golang.org/x/mod/sumdb/tlog, and the
-- signed checkpoints of the tree (C2SP signed notes). All insert-only,
-- under the chain's guard: retention removes none of it, so that the tree
-- keeps proving the records that remain, and that the log only grew. The
-- sealer role needs INSERT on the three tables (see the package
-- documentation).
--
-- Written for {{.Name}}.

CREATE TABLE {{.TreeLeaves}} (
    seq        bigint PRIMARY KEY CHECK (seq > 0),
    event_id   uuid,
    salt       bytea,
    commitment bytea  NOT NULL CHECK (length(commitment) = 32)
);
CREATE INDEX {{.TreeLeafEventIndex}} ON {{.TreeLeaves}} (event_id);

CREATE TABLE {{.TreeHashes}} (
    idx  bigint PRIMARY KEY CHECK (idx >= 0),
    hash bytea  NOT NULL CHECK (length(hash) = 32)
);

CREATE TABLE {{.TreeCheckpoints}} (
    size bigint PRIMARY KEY CHECK (size > 0),
    note text   NOT NULL
);

CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {{.TreeLeaves}}
    FOR EACH ROW EXECUTE FUNCTION {{.ChainGuard}}();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {{.TreeLeaves}}
    FOR EACH STATEMENT EXECUTE FUNCTION {{.ChainGuard}}();
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {{.TreeHashes}}
    FOR EACH ROW EXECUTE FUNCTION {{.ChainGuard}}();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {{.TreeHashes}}
    FOR EACH STATEMENT EXECUTE FUNCTION {{.ChainGuard}}();
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {{.TreeCheckpoints}}
    FOR EACH ROW EXECUTE FUNCTION {{.ChainGuard}}();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {{.TreeCheckpoints}}
    FOR EACH STATEMENT EXECUTE FUNCTION {{.ChainGuard}}();

REVOKE ALL ON {{.TreeLeaves}}, {{.TreeHashes}}, {{.TreeCheckpoints}} FROM PUBLIC;
