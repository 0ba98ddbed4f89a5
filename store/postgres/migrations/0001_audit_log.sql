-- The audit table, range-partitioned by month on the event time, with a
-- default partition for events outside the managed months; the
-- append-only guard; the privileged functions that create partitions and
-- remove old records.
--
-- Written for {{.Name}}.

CREATE TABLE {{.Table}} (
    id            uuid        NOT NULL,
    "timestamp"   timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id       text COLLATE "C",
    user_email    text,
    ip_address    inet,
    user_agent    text,
    action        text COLLATE "C" NOT NULL,
    resource_type text COLLATE "C" NOT NULL,
    resource_id   text COLLATE "C",
    details       jsonb,
    changes       jsonb,
    request_id    text COLLATE "C",
    session_id    text,
    status        text COLLATE "C" NOT NULL,
    error_message text,
    -- A primary key of a partitioned table must hold the partition column:
    -- records are unique by (timestamp, id). See the package documentation.
    CONSTRAINT {{.PKey}} PRIMARY KEY ("timestamp", id),
    CONSTRAINT audit_required CHECK (action <> '' AND resource_type <> ''),
    CONSTRAINT audit_status CHECK (status IN ('success', 'failure', 'error')),
    CONSTRAINT audit_details_object CHECK (details IS NULL OR jsonb_typeof(details) = 'object'),
    CONSTRAINT audit_changes_object CHECK (changes IS NULL OR jsonb_typeof(changes) = 'object')
) PARTITION BY RANGE ("timestamp");

COMMENT ON TABLE {{.Table}} IS
    'Trailmark audit log. Append-only: UPDATE, DELETE and TRUNCATE are refused; old records go through {{.PurgeRowsName}} and {{.DropPartitionsName}}.';

-- The indexes of the reference design, each ending in ("timestamp", id)
-- so that a filtered page is read in order, newest first, with keyset
-- pagination. The resource index leads with resource_id, so that it
-- serves a resource id alone as well as with its type; a resource type
-- alone has few values and is served by the primary key. Text columns
-- that are compared, not displayed, use the C collation: byte order makes
-- LIKE 'prefix%' an index range and comparisons cheap.
CREATE INDEX {{.UserIndex}} ON {{.Table}} (user_id, "timestamp", id);
CREATE INDEX {{.ActionIndex}} ON {{.Table}} (action, "timestamp", id);
CREATE INDEX {{.ResourceIndex}} ON {{.Table}} (resource_id, resource_type, "timestamp", id);
CREATE INDEX {{.RequestIndex}} ON {{.Table}} (request_id);
CREATE INDEX {{.IDIndex}} ON {{.Table}} (id);

-- Events of months without a partition of their own (far past, far
-- future) land here, so that an insert never fails for want of a partition.
CREATE TABLE {{.Default}} PARTITION OF {{.Table}} DEFAULT;

-- The append-only guard. It refuses UPDATE and TRUNCATE always, and DELETE
-- unless it runs inside {{.PurgeRowsName}} (as the table owner, with
-- trailmark.purge_before set for the transaction) on a record older than
-- the purge cutoff. A role that owns the table can still disable the
-- triggers: the guard stops mistakes and roles without ownership, not the
-- owner or a superuser.
CREATE FUNCTION {{.Guard}}() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    cutoff text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        cutoff := current_setting('trailmark.purge_before', true);
        IF cutoff IS NOT NULL AND cutoff <> ''
           AND OLD."timestamp" < cutoff::timestamptz
           AND current_user = (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = TG_RELID) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit: % on %.% refused: the audit log is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old records are removed by {{.PurgeRowsName}} and {{.DropPartitionsName}}.';
END
$fn$;

-- Row triggers on a partitioned table are cloned to every partition,
-- present and future. Statement triggers are not: each partition gets its
-- own TRUNCATE trigger when it is created.
CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON {{.Table}}
    FOR EACH ROW EXECUTE FUNCTION {{.Guard}}();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {{.Table}}
    FOR EACH STATEMENT EXECUTE FUNCTION {{.Guard}}();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {{.Default}}
    FOR EACH STATEMENT EXECUTE FUNCTION {{.Guard}}();

-- ensure_partitions creates the monthly partitions of the given months
-- (any day of the month) that do not exist yet, and returns how many it
-- created. Records of such a month already in the default partition are
-- moved into the new one. Concurrent calls are serialized.
CREATE FUNCTION {{.EnsurePartitions}}(months date[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    m        date;
    lo       timestamptz;
    hi       timestamptz;
    part     text;
    old      text := {{.TableLit}} || '_default_old';
    waiting  boolean;
    created  integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock({{.LockPartitions}});
    FOREACH m IN ARRAY months LOOP
        m    := date_trunc('month', m)::date;
        part := {{.TableLit}} || '_p' || to_char(m, 'YYYYMM');
        CONTINUE WHEN to_regclass(format('%I.%I', {{.SchemaLit}}, part)) IS NOT NULL;
        lo := m::timestamp AT TIME ZONE 'UTC';
        hi := (m + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE "timestamp" >= $1 AND "timestamp" < $2)', {{.DefaultQLit}})
            INTO waiting USING lo, hi;
        IF waiting THEN
            -- Rebuild the default partition around the new one, and route
            -- its records again.
            EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', {{.TableQLit}}, {{.DefaultQLit}});
            EXECUTE format('ALTER TABLE %s RENAME TO %I', {{.DefaultQLit}}, old);
            EXECUTE format('CREATE TABLE %s PARTITION OF %s DEFAULT', {{.DefaultQLit}}, {{.TableQLit}});
            EXECUTE format('CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                           {{.DefaultQLit}}, {{.GuardQLit}});
        END IF;
        EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       {{.SchemaLit}}, part, {{.TableQLit}});
        -- A constraint that proves the range lets ATTACH skip its scan.
        EXECUTE format('ALTER TABLE %I.%I ADD CONSTRAINT audit_month CHECK ("timestamp" >= %L AND "timestamp" < %L)',
                       {{.SchemaLit}}, part, lo, hi);
        EXECUTE format('CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                       {{.SchemaLit}}, part, {{.GuardQLit}});
        EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                       {{.TableQLit}}, {{.SchemaLit}}, part, lo, hi);
        EXECUTE format('ALTER TABLE %I.%I DROP CONSTRAINT audit_month', {{.SchemaLit}}, part);
        IF to_regclass(format('%I.%I', {{.SchemaLit}}, old)) IS NOT NULL THEN
            EXECUTE format('INSERT INTO %s SELECT * FROM %I.%I', {{.TableQLit}}, {{.SchemaLit}}, old);
            EXECUTE format('DROP TABLE %I.%I', {{.SchemaLit}}, old);
        END IF;
        created := created + 1;
    END LOOP;
    RETURN created;
END
$fn$;

-- drop_partitions drops the monthly partitions that hold only records
-- older than cutoff, and returns how many records they held. It locks the
-- table for the count and the drop, so that no record slips in between.
CREATE FUNCTION {{.DropPartitions}}(cutoff timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    r      record;
    n      bigint;
    total  bigint := 0;
    locked boolean := false;
BEGIN
    PERFORM pg_advisory_xact_lock({{.LockPurge}});
    FOR r IN
        SELECT c.relname,
               (to_date(right(c.relname, 6), 'YYYYMM') + interval '1 month')::timestamp AT TIME ZONE 'UTC' AS hi
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = {{.TableQLit}}::regclass
          AND c.relname ~ ('^' || {{.TableLit}} || '_p[0-9]{6}$')
        ORDER BY 2
    LOOP
        EXIT WHEN r.hi > cutoff;
        IF NOT locked THEN
            EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', {{.TableQLit}});
            locked := true;
        END IF;
        EXECUTE format('SELECT count(*) FROM %I.%I', {{.SchemaLit}}, r.relname) INTO n;
        EXECUTE format('DROP TABLE %I.%I', {{.SchemaLit}}, r.relname);
        total := total + n;
    END LOOP;
    RETURN total;
END
$fn$;

-- purge_rows deletes at most max_rows records older than cutoff, from the
-- partitions that also hold newer ones and from the default partition, and
-- returns how many it deleted. Call it until it returns less than max_rows.
CREATE FUNCTION {{.PurgeRows}}(cutoff timestamptz, max_rows integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n bigint;
BEGIN
    PERFORM pg_advisory_xact_lock({{.LockPurge}});
    PERFORM set_config('trailmark.purge_before', cutoff::text, true);
    DELETE FROM {{.Table}}
    WHERE "timestamp" < cutoff
      AND ("timestamp", id) IN (SELECT "timestamp", id FROM {{.Table}} WHERE "timestamp" < cutoff LIMIT max_rows);
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM set_config('trailmark.purge_before', '', true);
    RETURN n;
END
$fn$;

-- The three functions run with the owner's rights: only roles granted
-- EXECUTE may call them (see the package documentation).
REVOKE ALL ON FUNCTION {{.EnsurePartitions}}(date[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION {{.DropPartitions}}(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION {{.PurgeRows}}(timestamptz, integer) FROM PUBLIC;
