-- Stream positions (storekit.PositionStore): where each named reader of
-- the log, such as a SIEM stream, got to, so that it resumes there after
-- a restart. One row per name, replaced on each save; not part of the
-- audit log, so neither guarded nor sealed.
CREATE TABLE audit_stream_positions (
    name     TEXT PRIMARY KEY NOT NULL,
    position TEXT NOT NULL,
    saved_at INTEGER NOT NULL -- Unix microseconds
) WITHOUT ROWID;
