-- The key check (issue 13): an HMAC-SHA256 of a fixed label under the server key, recorded by the
-- first process that opens this database with a key. A process holding another key (a CLI run
-- without the server's LATCHKEY_SECRET_KEY) is stopped before it seals a secret no server can
-- open. One row at most; it reveals nothing about the key.
CREATE TABLE key_check (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    mac        TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
