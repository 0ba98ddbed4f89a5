-- Tenants and trace correlation: the organisation, workspace or account
-- of a record, and the W3C trace-context ids of the request it happened
-- in. The columns are nullable (records written before have none), so
-- adding them rewrites nothing. The indexes lead with the tenant where a
-- tenant-scoped query needs it: a tenant's page of records, and a tenant's
-- records of one user, each in ("timestamp", id) order for keyset pages.
-- A trace id is looked up alone, like a request id. On a large table the
-- indexes take a while to build and block writes meanwhile: see the
-- package documentation for building them ahead, partition by partition.
--
-- Written for {{.Name}}.

ALTER TABLE {{.Table}}
    ADD COLUMN tenant_id text COLLATE "C",
    ADD COLUMN trace_id  text COLLATE "C",
    ADD COLUMN span_id   text COLLATE "C";

CREATE INDEX IF NOT EXISTS {{.TenantIndex}} ON {{.Table}} (tenant_id, "timestamp", id);
CREATE INDEX IF NOT EXISTS {{.TenantUserIndex}} ON {{.Table}} (tenant_id, user_id, "timestamp", id);
CREATE INDEX IF NOT EXISTS {{.TraceIndex}} ON {{.Table}} (trace_id);

-- The roles that migration 3 (or the documentation) allowed to insert the
-- application's columns may insert the new ones too. A role that holds
-- INSERT on the whole table needs nothing more.
DO $do$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT DISTINCT a.grantee
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_attribute att ON att.attrelid = c.oid AND att.attname = 'action'
        CROSS JOIN LATERAL pg_catalog.aclexplode(att.attacl) a
        WHERE c.oid = {{.TableQLit}}::pg_catalog.regclass
          AND a.privilege_type = 'INSERT' AND a.grantee <> c.relowner
    LOOP
        EXECUTE pg_catalog.format('GRANT INSERT (%s) ON %s TO %s', {{.NewColumnsLit}}, {{.TableQLit}},
            CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END);
    END LOOP;
END
$do$;
