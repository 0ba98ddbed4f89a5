-- The hash chain of audit.Sealer: the order in which records are sealed,
-- the seals, and the signed checkpoints.
--
-- Written for {{.Name}}.

-- xid is the transaction that inserted the record. The sealer takes
-- records in (xid, id) order, and only from transactions older than every
-- transaction still running (pg_snapshot_xmin): a record that commits late
-- can never land before one already sealed, and a rolled-back record
-- leaves no gap. Records written before this migration get 0: they are
-- sealed first.
ALTER TABLE {{.Table}} ADD COLUMN xid xid8 NOT NULL DEFAULT '0';
ALTER TABLE {{.Table}} ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX {{.XidIndex}} ON {{.Table}} (xid, id);

-- One seal per record, in chain order. event_xid is where the next sealing
-- step continues.
CREATE TABLE {{.Seals}} (
    seq        bigint      PRIMARY KEY CHECK (seq > 0),
    event_id   uuid        NOT NULL,
    event_time timestamptz NOT NULL,
    event_xid  xid8        NOT NULL,
    digest     bytea       NOT NULL,
    key_id     text        NOT NULL,
    hash       bytea       NOT NULL,
    sealed_at  timestamptz NOT NULL
);
CREATE INDEX {{.SealEventIndex}} ON {{.Seals}} (event_id, event_time);

-- Signed checkpoints. event_xid and event_id (of the seal at seq) let
-- sealing continue after retention removed every seal.
CREATE TABLE {{.Checkpoints}} (
    seq           bigint      NOT NULL CHECK (seq >= 0),
    hash          bytea       NOT NULL,
    at            timestamptz NOT NULL,
    purged_before timestamptz,
    boundary      boolean     NOT NULL DEFAULT false,
    signer_id     text        NOT NULL,
    signature     bytea       NOT NULL,
    event_xid     xid8,
    event_id      uuid,
    PRIMARY KEY (seq, at)
);

-- Seals and checkpoints are append-only too. A seal may be deleted only
-- inside {{.PurgeSealsName}}, as the owner, up to the sequence number that
-- function was given; checkpoints never.
CREATE FUNCTION {{.ChainGuard}}() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    through text;
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = {{.TableLit}} || '_seals' THEN
        through := current_setting('trailmark.purge_seals_through', true);
        IF through IS NOT NULL AND through <> ''
           AND OLD.seq <= through::bigint
           AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit: % on %.% refused: the audit chain is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old seals are removed by {{.PurgeSealsName}}, below a checkpoint.';
END
$fn$;

CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {{.Seals}}
    FOR EACH ROW EXECUTE FUNCTION {{.ChainGuard}}();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {{.Seals}}
    FOR EACH STATEMENT EXECUTE FUNCTION {{.ChainGuard}}();
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {{.Checkpoints}}
    FOR EACH ROW EXECUTE FUNCTION {{.ChainGuard}}();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {{.Checkpoints}}
    FOR EACH STATEMENT EXECUTE FUNCTION {{.ChainGuard}}();

-- purge_seals deletes the seals up to and including seq through, and
-- returns how many it deleted. A retention checkpoint (boundary) must be at
-- through, and every seal it deletes must be of a record older than that
-- checkpoint's purged_before. It takes the sealing lock, so that it never
-- runs within a sealing step.
CREATE FUNCTION {{.PurgeSeals}}(through bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n      bigint;
    before timestamptz;
BEGIN
    PERFORM pg_advisory_xact_lock({{.LockSeal}});
    SELECT max(purged_before) INTO before FROM {{.Checkpoints}}
    WHERE seq = through AND boundary AND purged_before IS NOT NULL;
    IF before IS NULL THEN
        RAISE EXCEPTION 'audit: no retention checkpoint at seal %: purging the seals before it would break the chain', through
            USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM {{.Seals}} WHERE seq <= through AND event_time >= before) THEN
        RAISE EXCEPTION 'audit: seals up to % include records younger than the retention cutoff %', through, before
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM set_config('trailmark.purge_seals_through', through::text, true);
    DELETE FROM {{.Seals}} WHERE seq <= through;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('trailmark.purge_seals_through', '', true);
    RETURN n;
END
$fn$;

REVOKE ALL ON FUNCTION {{.PurgeSeals}}(bigint) FROM PUBLIC;
