-- Tenants and trace correlation: the organisation, workspace or account
-- of a record, and the W3C trace-context ids of the request it happened
-- in; NULL in the records written before. The tenant indexes serve a
-- tenant's page of records and a tenant's records of one user, each in
-- (ts, id) order for keyset pages; a trace id is looked up alone.
ALTER TABLE audit_logs ADD COLUMN tenant_id TEXT;
ALTER TABLE audit_logs ADD COLUMN trace_id TEXT;
ALTER TABLE audit_logs ADD COLUMN span_id TEXT;

CREATE INDEX audit_logs_tenant ON audit_logs (tenant_id, ts, id);
CREATE INDEX audit_logs_tenant_user ON audit_logs (tenant_id, user_id, ts, id);
CREATE INDEX audit_logs_trace ON audit_logs (trace_id);
