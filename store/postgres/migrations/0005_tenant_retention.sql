-- Retention per tenant (audit.RetentionOptions.TenantMaxAge): each seal
-- carries the keyed tag of its record's tenant (NULL for no tenant, and in
-- the seals made before), and a checkpoint the signed retention cutoffs of
-- the tenants that have their own (NULL for none). Adding nullable columns
-- rewrites nothing.
--
-- Written for {{.Name}}.

ALTER TABLE {{.Seals}} ADD COLUMN tenant_tag bytea;
ALTER TABLE {{.Checkpoints}} ADD COLUMN tenant_cutoffs jsonb;

-- purge_tenant_rows deletes up to max_rows records that occurred before
-- the cutoff of their tenant: cutoffs[i] for tenants[i], def for every
-- other record (those without a tenant too). Each cutoff must respect the
-- minimum retention, as purge_rows' does. The listed tenants' records go
-- first, through the tenant index, then the others'.
CREATE FUNCTION {{.PurgeTenantRows}}(def timestamptz, tenants text[], cutoffs timestamptz[], max_rows integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n       bigint;
    total   bigint := 0;
    latest  timestamptz := def;
    allowed timestamptz := {{.RetentionFloor}}();
    i       integer;
BEGIN
    IF def IS NULL OR tenants IS NULL OR cutoffs IS NULL
       OR pg_catalog.cardinality(tenants) <> pg_catalog.cardinality(cutoffs)
       OR pg_catalog.array_position(tenants, NULL) IS NOT NULL OR pg_catalog.array_position(cutoffs, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'audit: purge per tenant: want a default cutoff and one cutoff per tenant, none NULL'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. pg_catalog.cardinality(cutoffs) LOOP
        IF cutoffs[i] > latest THEN
            latest := cutoffs[i];
        END IF;
    END LOOP;
    IF latest > allowed THEN
        RAISE EXCEPTION 'audit: cutoff % is later than % allowed by the minimum retention of {{.Name}}', latest, allowed
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'The table owner sets it in {{.SettingsName}}.';
    END IF;
    PERFORM pg_catalog.pg_advisory_xact_lock({{.LockPurge}});
    PERFORM pg_catalog.set_config('trailmark.purge_before', latest::text, true);
    FOR i IN 1 .. pg_catalog.cardinality(tenants) LOOP
        EXIT WHEN total >= max_rows;
        DELETE FROM {{.Table}}
        WHERE tenant_id = tenants[i] AND "timestamp" < cutoffs[i]
          AND ("timestamp", id) IN (SELECT "timestamp", id FROM {{.Table}}
                                   WHERE tenant_id = tenants[i] AND "timestamp" < cutoffs[i] LIMIT max_rows - total);
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END LOOP;
    IF total < max_rows THEN
        DELETE FROM {{.Table}}
        WHERE "timestamp" < def AND (tenant_id IS NULL OR tenant_id <> ALL (tenants))
          AND ("timestamp", id) IN (SELECT "timestamp", id FROM {{.Table}}
                                   WHERE "timestamp" < def AND (tenant_id IS NULL OR tenant_id <> ALL (tenants))
                                   LIMIT max_rows - total);
        GET DIAGNOSTICS n = ROW_COUNT;
        total := total + n;
    END IF;
    PERFORM pg_catalog.set_config('trailmark.purge_before', '', true);
    RETURN total;
END
$fn$;
REVOKE ALL ON FUNCTION {{.PurgeTenantRows}}(timestamptz, text[], timestamptz[], integer) FROM PUBLIC;

-- purge_seals takes the latest cutoff a retention checkpoint states, its
-- tenants' included: a tenant whose retention is shorter than the default
-- has its records removed, and their seals may go, sooner.
CREATE OR REPLACE FUNCTION {{.PurgeSeals}}(through bigint) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    n         bigint;
    before    timestamptz;
    seal_hash bytea;
    allowed   timestamptz := {{.RetentionFloor}}();
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
    SELECT max(GREATEST(c.purged_before,
                        (SELECT max((e.value OPERATOR(pg_catalog.->>) 'purged_before')::timestamptz)
                         FROM pg_catalog.jsonb_array_elements(
                             CASE WHEN pg_catalog.jsonb_typeof(c.tenant_cutoffs) = 'array' THEN c.tenant_cutoffs ELSE '[]'::jsonb END) e)))
    INTO before FROM {{.Checkpoints}} c
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

-- The roles that may run purge_rows may run purge_tenant_rows too.
DO $do$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT DISTINCT a.grantee
        FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
        WHERE p.oid = ({{.PurgeRowsQLit}} || '(timestamptz, integer)')::pg_catalog.regprocedure
          AND a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s(timestamptz, text[], timestamptz[], integer) TO %s', {{.PurgeTenantRowsQLit}},
            CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END);
    END LOOP;
END
$do$;
