-- The hash chain of audit.Sealer: the seals, in chain order, and the
-- signed checkpoints. event_row is the row of the sealed record, where
-- the next sealing step continues; a checkpoint keeps it too, so that
-- sealing continues after retention removed every seal.
CREATE TABLE audit_seals (
    seq        INTEGER PRIMARY KEY CHECK (seq > 0),
    event_id   BLOB    NOT NULL,
    event_time INTEGER NOT NULL,
    event_row  INTEGER NOT NULL,
    digest     BLOB    NOT NULL,
    key_id     TEXT    NOT NULL,
    hash       BLOB    NOT NULL,
    sealed_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_seals_event ON audit_seals (event_id, event_time);

CREATE TABLE audit_checkpoints (
    seq           INTEGER NOT NULL CHECK (seq >= 0),
    hash          BLOB    NOT NULL,
    at            INTEGER NOT NULL,
    purged_before INTEGER,
    boundary      INTEGER NOT NULL DEFAULT 0,
    signer_id     TEXT    NOT NULL,
    signature     BLOB    NOT NULL,
    event_row     INTEGER,
    PRIMARY KEY (seq, at)
) STRICT;

-- Seals are append-only but for retention, which may remove the seals up
-- to a retention checkpoint; checkpoints are never changed or removed.
CREATE TRIGGER audit_seals_no_update BEFORE UPDATE ON audit_seals
BEGIN
    SELECT RAISE(ABORT, 'audit: UPDATE on audit_seals refused: the audit chain is append-only');
END;

CREATE TRIGGER audit_seals_no_delete BEFORE DELETE ON audit_seals
WHEN NOT EXISTS (SELECT 1 FROM audit_retention WHERE target = 'seals' AND OLD.seq <= bound)
BEGIN
    SELECT RAISE(ABORT, 'audit: DELETE on audit_seals refused: the audit chain is append-only; old seals are removed by retention');
END;

CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit: UPDATE on audit_checkpoints refused: checkpoints are append-only');
END;

CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit: DELETE on audit_checkpoints refused: checkpoints are append-only');
END;
