-- What a write made stale in the validation cache, for the other processes on this database file
-- (the CLI revoking while `serve` runs): the SQLite counterpart of PostgreSQL's LISTEN/NOTIFY
-- (store::cache). Rows are appended in the writing transaction and purged after an hour by gc.
CREATE TABLE revocation_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    payload    TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
