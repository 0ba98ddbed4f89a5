-- Hardening after a security review: every function pins its search_path
-- and names the catalog explicitly (a temporary view named pg_class must
-- not make the guard take a role for the owner); the retention functions
-- refuse cutoffs younger than a minimum retention that only the owner
-- sets; purge_seals deletes only the seals of records retention already
-- removed; the application's roles may insert only the columns the
-- application writes.
--
-- Written for {{.Name}}.

-- The minimum retention: purge_rows, drop_partitions and purge_seals
-- refuse a cutoff later than now() minus it. One row; only the owner may
-- change it (UPDATE {{.SettingsName}} SET min_retention = '30 days').
CREATE TABLE {{.Settings}} (
    singleton     boolean  PRIMARY KEY DEFAULT true CHECK (singleton),
    min_retention interval NOT NULL CHECK (min_retention >= interval '0')
);
INSERT INTO {{.Settings}} (min_retention) VALUES (interval '90 days');
REVOKE ALL ON {{.Settings}} FROM PUBLIC;

-- retention_floor returns the latest cutoff the retention functions
-- accept: now() minus the minimum retention (90 days if the row is gone).
CREATE FUNCTION {{.RetentionFloor}}() RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT pg_catalog.now() - COALESCE((SELECT min_retention FROM {{.Settings}}), interval '90 days')
$fn$;

CREATE OR REPLACE FUNCTION {{.Guard}}() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    cutoff text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        cutoff := pg_catalog.current_setting('trailmark.purge_before', true);
        IF cutoff IS NOT NULL AND cutoff <> ''
           AND OLD."timestamp" < cutoff::timestamptz
           AND current_user = (SELECT pg_catalog.pg_get_userbyid(c.relowner)
                               FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit: % on %.% refused: the audit log is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old records are removed by {{.PurgeRowsName}} and {{.DropPartitionsName}}.';
END
$fn$;

CREATE OR REPLACE FUNCTION {{.ChainGuard}}() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    through text;
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME = {{.TableLit}} || '_seals' THEN
        through := pg_catalog.current_setting('trailmark.purge_seals_through', true);
        IF through IS NOT NULL AND through <> ''
           AND OLD.seq <= through::bigint
           AND current_user = (SELECT pg_catalog.pg_get_userbyid(c.relowner)
                               FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID) THEN
            RETURN OLD;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit: % on %.% refused: the audit chain is append-only', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Old seals are removed by {{.PurgeSealsName}}, below a checkpoint.';
END
$fn$;

-- ensure_partitions now refuses what no Store asks for: a NULL month, a
-- month before year 1 (a BC date would make a partition named like a real
-- month), more than 100 years back or 10 years ahead, more than 1332 months
-- in one call.
CREATE OR REPLACE FUNCTION {{.EnsurePartitions}}(months date[]) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    m        date;
    lo       timestamptz;
    hi       timestamptz;
    part     text;
    old      text := {{.TableLit}} || '_default_old';
    waiting  boolean;
    created  integer := 0;
    cur      date := pg_catalog.date_trunc('month', pg_catalog.now() AT TIME ZONE 'UTC')::date;
BEGIN
    IF months IS NULL OR pg_catalog.cardinality(months) > 1332 THEN
        RAISE EXCEPTION 'audit: ensure_partitions: want at most 1332 months, got %', pg_catalog.cardinality(months)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH m IN ARRAY months LOOP
        IF m IS NULL OR m < date '0001-01-01' OR m < cur - interval '100 years' OR m >= cur + interval '121 months' THEN
            RAISE EXCEPTION 'audit: ensure_partitions: month % is outside the 100 years before and the 10 years after the current month', m
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END LOOP;
    PERFORM pg_catalog.pg_advisory_xact_lock({{.LockPartitions}});
    FOREACH m IN ARRAY months LOOP
        m    := pg_catalog.date_trunc('month', m)::date;
        part := {{.TableLit}} || '_p' || pg_catalog.to_char(m, 'YYYYMM');
        CONTINUE WHEN pg_catalog.to_regclass(pg_catalog.format('%I.%I', {{.SchemaLit}}, part)) IS NOT NULL;
        lo := m::timestamp AT TIME ZONE 'UTC';
        hi := (m + interval '1 month')::timestamp AT TIME ZONE 'UTC';
        EXECUTE pg_catalog.format('SELECT EXISTS (SELECT 1 FROM %s WHERE "timestamp" >= $1 AND "timestamp" < $2)', {{.DefaultQLit}})
            INTO waiting USING lo, hi;
        IF waiting THEN
            -- Rebuild the default partition around the new one, and route
            -- its records again.
            EXECUTE pg_catalog.format('ALTER TABLE %s DETACH PARTITION %s', {{.TableQLit}}, {{.DefaultQLit}});
            EXECUTE pg_catalog.format('ALTER TABLE %s RENAME TO %I', {{.DefaultQLit}}, old);
            EXECUTE pg_catalog.format('CREATE TABLE %s PARTITION OF %s DEFAULT', {{.DefaultQLit}}, {{.TableQLit}});
            EXECUTE pg_catalog.format('CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                           {{.DefaultQLit}}, {{.GuardQLit}});
        END IF;
        EXECUTE pg_catalog.format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                       {{.SchemaLit}}, part, {{.TableQLit}});
        -- A constraint that proves the range lets ATTACH skip its scan.
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I ADD CONSTRAINT audit_month CHECK ("timestamp" >= %L AND "timestamp" < %L)',
                       {{.SchemaLit}}, part, lo, hi);
        EXECUTE pg_catalog.format('CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON %I.%I FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                       {{.SchemaLit}}, part, {{.GuardQLit}});
        EXECUTE pg_catalog.format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                       {{.TableQLit}}, {{.SchemaLit}}, part, lo, hi);
        EXECUTE pg_catalog.format('ALTER TABLE %I.%I DROP CONSTRAINT audit_month', {{.SchemaLit}}, part);
        IF pg_catalog.to_regclass(pg_catalog.format('%I.%I', {{.SchemaLit}}, old)) IS NOT NULL THEN
            EXECUTE pg_catalog.format('INSERT INTO %s SELECT * FROM %I.%I', {{.TableQLit}}, {{.SchemaLit}}, old);
            EXECUTE pg_catalog.format('DROP TABLE %I.%I', {{.SchemaLit}}, old);
        END IF;
        created := created + 1;
    END LOOP;
    RETURN created;
END
$fn$;

-- drop_partitions and purge_rows refuse a cutoff later than
-- retention_floor(): 'infinity' no longer removes every record.
CREATE OR REPLACE FUNCTION {{.DropPartitions}}(cutoff timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    r      record;
    n      bigint;
    total  bigint := 0;
    locked boolean := false;
    allowed  timestamptz := {{.RetentionFloor}}();
BEGIN
    IF cutoff IS NULL OR cutoff > allowed THEN
        RAISE EXCEPTION 'audit: cutoff % is later than % allowed by the minimum retention of {{.Name}}', cutoff, allowed
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The table owner sets it in {{.SettingsName}}.';
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock({{.LockPurge}});
    FOR r IN
        SELECT c.relname,
               (pg_catalog.to_date(pg_catalog.right(c.relname, 6), 'YYYYMM') + interval '1 month')::timestamp AT TIME ZONE 'UTC' AS hi
        FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = {{.TableQLit}}::pg_catalog.regclass
          AND c.relname OPERATOR(pg_catalog.~) ('^' || {{.TableLit}} || '_p[0-9]{6}$')
        ORDER BY 2
    LOOP
        EXIT WHEN r.hi > cutoff;
        IF NOT locked THEN
            EXECUTE pg_catalog.format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', {{.TableQLit}});
            locked := true;
        END IF;
        EXECUTE pg_catalog.format('SELECT count(*) FROM %I.%I', {{.SchemaLit}}, r.relname) INTO n;
        EXECUTE pg_catalog.format('DROP TABLE %I.%I', {{.SchemaLit}}, r.relname);
        total := total + n;
    END LOOP;
    RETURN total;
END
$fn$;

CREATE OR REPLACE FUNCTION {{.PurgeRows}}(cutoff timestamptz, max_rows integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n     bigint;
    allowed timestamptz := {{.RetentionFloor}}();
BEGIN
    IF cutoff IS NULL OR cutoff > allowed THEN
        RAISE EXCEPTION 'audit: cutoff % is later than % allowed by the minimum retention of {{.Name}}', cutoff, allowed
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The table owner sets it in {{.SettingsName}}.';
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock({{.LockPurge}});
    PERFORM pg_catalog.set_config('trailmark.purge_before', cutoff::text, true);
    DELETE FROM {{.Table}}
    WHERE "timestamp" < cutoff
      AND ("timestamp", id) IN (SELECT "timestamp", id FROM {{.Table}} WHERE "timestamp" < cutoff LIMIT max_rows);
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM pg_catalog.set_config('trailmark.purge_before', '', true);
    RETURN n;
END
$fn$;

-- purge_seals no longer takes any boundary row at its word: the
-- checkpoint at through must carry the hash of the seal at through, its
-- cutoff must respect the minimum retention, every seal it deletes must be
-- of a record older than that cutoff, and no such record may still be
-- stored (retention removes the records first). A forged boundary row can
-- therefore remove at most the seals of records that retention removed.
CREATE OR REPLACE FUNCTION {{.PurgeSeals}}(through bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n         bigint;
    before    timestamptz;
    seal_hash bytea;
    allowed     timestamptz := {{.RetentionFloor}}();
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock({{.LockSeal}});
    SELECT s.hash INTO seal_hash FROM {{.Seals}} s WHERE s.seq = through;
    IF seal_hash IS NULL THEN
        IF EXISTS (SELECT 1 FROM {{.Seals}} s WHERE s.seq <= through) THEN
            RAISE EXCEPTION 'audit: no seal at %: the chain has a gap', through
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN 0; -- purged already
    END IF;
    SELECT max(c.purged_before) INTO before FROM {{.Checkpoints}} c
    WHERE c.seq = through AND c.boundary AND c.purged_before IS NOT NULL AND c.hash = seal_hash;
    IF before IS NULL THEN
        RAISE EXCEPTION 'audit: no retention checkpoint at seal %: purging the seals before it would break the chain', through
            USING ERRCODE = 'check_violation';
    END IF;
    IF before > allowed THEN
        RAISE EXCEPTION 'audit: the retention checkpoint at seal % has cutoff %, later than % allowed by the minimum retention', through, before, allowed
            USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM {{.Seals}} s WHERE s.seq <= through AND s.event_time >= before) THEN
        RAISE EXCEPTION 'audit: seals up to % include records younger than the retention cutoff %', through, before
            USING ERRCODE = 'check_violation';
    END IF;
    IF EXISTS (SELECT 1 FROM {{.Seals}} s JOIN {{.Table}} e ON e.id = s.event_id AND e."timestamp" = s.event_time
               WHERE s.seq <= through) THEN
        RAISE EXCEPTION 'audit: seals up to % are of records still stored: purge the records first', through
            USING ERRCODE = 'check_violation';
    END IF;
    PERFORM pg_catalog.set_config('trailmark.purge_seals_through', through::text, true);
    DELETE FROM {{.Seals}} WHERE seq <= through;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM pg_catalog.set_config('trailmark.purge_seals_through', '', true);
    RETURN n;
END
$fn$;

REVOKE ALL ON FUNCTION {{.RetentionFloor}}() FROM PUBLIC;

-- Roles granted INSERT on the whole audit table could set recorded_at and
-- xid, which the database must set. Each such grant (the owner's aside)
-- becomes a grant of the columns the application writes.
DO $do$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT DISTINCT a.grantee
        FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
        WHERE c.oid = {{.TableQLit}}::pg_catalog.regclass
          AND a.privilege_type = 'INSERT' AND a.grantee <> c.relowner
    LOOP
        EXECUTE pg_catalog.format('REVOKE INSERT ON %s FROM %s', {{.TableQLit}},
            CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END);
        EXECUTE pg_catalog.format('GRANT INSERT (%s) ON %s TO %s', {{.InsertColumnsLit}}, {{.TableQLit}},
            CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END);
    END LOOP;
END
$do$;
