-- Retention per tenant: each seal carries the keyed tag of its record's
-- tenant (NULL for no tenant, and in the seals made before), and a
-- checkpoint the signed retention cutoffs of the tenants that have their
-- own, as JSON (NULL for none).
ALTER TABLE audit_seals ADD COLUMN tenant_tag BLOB;
ALTER TABLE audit_checkpoints ADD COLUMN tenant_cutoffs TEXT;
