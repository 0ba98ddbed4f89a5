-- The audit table, its indexes, and the append-only guard.
--
-- row is the order of arrival: SQLite has one writer at a time, so rows
-- committed later always get a larger row (AUTOINCREMENT never reuses a
-- value, even after retention deleted the largest). The sealer seals in
-- that order. ts and recorded_at are Unix microseconds in UTC; id is the
-- 16 bytes of the UUID, so that byte order is audit.CompareIDs order.
-- Empty strings are stored as NULL. details and changes are canonical
-- JSON (audit.CanonicalJSON) or NULL.
CREATE TABLE audit_logs (
    row           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            BLOB    NOT NULL UNIQUE CHECK (length(id) = 16),
    ts            INTEGER NOT NULL,
    recorded_at   INTEGER NOT NULL,
    user_id       TEXT,
    user_email    TEXT,
    ip_address    TEXT,
    user_agent    TEXT,
    action        TEXT    NOT NULL CHECK (action <> ''),
    resource_type TEXT    NOT NULL CHECK (resource_type <> ''),
    resource_id   TEXT,
    details       TEXT,
    changes       TEXT,
    request_id    TEXT,
    session_id    TEXT,
    status        TEXT    NOT NULL CHECK (status IN ('success', 'failure', 'error')),
    error_message TEXT
) STRICT;

-- Each index ends in (ts, id), so that a filtered page is one range of
-- one index read newest first, with keyset pagination.
CREATE INDEX audit_logs_time ON audit_logs (ts, id);
CREATE INDEX audit_logs_user ON audit_logs (user_id, ts, id);
CREATE INDEX audit_logs_action ON audit_logs (action, ts, id);
CREATE INDEX audit_logs_resource ON audit_logs (resource_type, resource_id, ts, id);
CREATE INDEX audit_logs_resource_id ON audit_logs (resource_id, ts, id);
CREATE INDEX audit_logs_status ON audit_logs (status, ts, id);
CREATE INDEX audit_logs_request ON audit_logs (request_id);

-- The retention permit. Purge inserts a row here inside its own
-- transaction, deletes, and removes the row before it commits: no
-- committed state ever holds one. Anyone who can write the file can do
-- the same; the guard stops mistakes and programs that go through SQL
-- without knowing it, not an attacker with the file (see the package
-- documentation: the hash chain is what detects that).
CREATE TABLE audit_retention (
    target TEXT    PRIMARY KEY CHECK (target IN ('records', 'seals')),
    bound  INTEGER NOT NULL
) STRICT;

CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs
BEGIN
    SELECT RAISE(ABORT, 'audit: UPDATE on audit_logs refused: the audit log is append-only');
END;

CREATE TRIGGER audit_logs_no_delete BEFORE DELETE ON audit_logs
WHEN NOT EXISTS (SELECT 1 FROM audit_retention WHERE target = 'records' AND OLD.ts < bound)
BEGIN
    SELECT RAISE(ABORT, 'audit: DELETE on audit_logs refused: the audit log is append-only; old records are removed by retention');
END;
