-- Stream positions (storekit.PositionStore): where each named reader of
-- the log, such as a SIEM stream, got to, so that it resumes there after
-- a restart. One row per name, replaced on each save. The table is not
-- part of the audit log: no guard, no seals. A role that can change it
-- can make a stream send records again or skip them, never change or
-- remove a record; the chain and the primary store stay the system of
-- record.
--
-- Written for {{.Name}}.

CREATE TABLE {{.StreamPositions}} (
    name     text COLLATE "C" PRIMARY KEY,
    position text NOT NULL,
    saved_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON {{.StreamPositions}} FROM PUBLIC;

-- The roles that may append records (the application's, see the package
-- documentation) may save the positions of their streams.
DO $do$
DECLARE
    g record;
BEGIN
    FOR g IN
        SELECT a.grantee
        FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
        WHERE c.oid = {{.TableQLit}}::pg_catalog.regclass
          AND a.privilege_type = 'INSERT' AND a.grantee <> c.relowner AND a.grantee <> 0
        UNION
        SELECT a.grantee
        FROM pg_catalog.pg_class c
        JOIN pg_catalog.pg_attribute att ON att.attrelid = c.oid AND att.attname = 'action'
        CROSS JOIN LATERAL pg_catalog.aclexplode(att.attacl) a
        WHERE c.oid = {{.TableQLit}}::pg_catalog.regclass
          AND a.privilege_type = 'INSERT' AND a.grantee <> c.relowner AND a.grantee <> 0
    LOOP
        EXECUTE pg_catalog.format('GRANT SELECT, INSERT, UPDATE ON %s TO %I', {{.StreamPositionsQLit}},
            pg_catalog.pg_get_userbyid(g.grantee));
    END LOOP;
END
$do$;
