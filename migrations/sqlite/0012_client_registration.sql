-- Dynamic client registration (issue 15; oauth21.md §5, RFC 7591 / 7592) and Client ID Metadata
-- Documents.
--
-- Apps registered by a client itself have no owner until a user connects them, so `apps.owner_id`
-- becomes nullable. SQLite cannot drop a NOT NULL constraint in place: the table is rebuilt the way
-- https://sqlite.org/lang_altertable.html §7 prescribes (create the new table, copy, drop the old,
-- rename). `Store::migrate` runs the migrations with `PRAGMA foreign_keys = OFF` (and checks
-- `PRAGMA foreign_key_check` afterwards), so dropping the old `apps` does not cascade into grants,
-- codes, tokens and icons, whose `REFERENCES apps` then resolve to the rebuilt table.
--
-- The rebuild names every column `apps` has at this version: a migration numbered below 0012 that
-- added a column to `apps` must be added here too.
--
-- New `apps` columns, with defaults so every existing insert stays valid:
--   grant_types                 the grants the client may use, space-separated (RFC 7591 §2)
--   token_endpoint_auth_method  `client_secret_basic`, `client_secret_post` or `none` (public)
--   registration                who registered it: `manual` (an owner, by page or CLI), `dynamic`
--                               (RFC 7591) or `metadata_document` (its client_id is a URL)
CREATE TABLE apps_rebuilt (
    id                          INTEGER PRIMARY KEY,
    owner_id                    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    name                        TEXT NOT NULL,
    description                 TEXT NOT NULL DEFAULT '',
    website                     TEXT NOT NULL DEFAULT '',
    icon_url                    TEXT NOT NULL DEFAULT '',
    app_type                    TEXT NOT NULL CHECK (app_type IN ('web', 'native')),
    redirect_uris               TEXT NOT NULL,
    js_origins                  TEXT NOT NULL DEFAULT '',
    secret_digest               BLOB NOT NULL,
    allow_implicit              INTEGER NOT NULL DEFAULT 1,
    oauth1_key                  TEXT,
    oauth1_secret_enc           BLOB,
    oauth1_callback             TEXT,
    created_at                  INTEGER NOT NULL,
    grant_types                 TEXT NOT NULL DEFAULT 'authorization_code',
    token_endpoint_auth_method  TEXT NOT NULL DEFAULT 'client_secret_basic'
        CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')),
    registration                TEXT NOT NULL DEFAULT 'manual'
        CHECK (registration IN ('manual', 'dynamic', 'metadata_document')),
    CONSTRAINT apps_oauth1_key_key UNIQUE (oauth1_key)
);
INSERT INTO apps_rebuilt (id, owner_id, name, description, website, icon_url, app_type,
    redirect_uris, js_origins, secret_digest, allow_implicit, oauth1_key, oauth1_secret_enc,
    oauth1_callback, created_at)
SELECT id, owner_id, name, description, website, icon_url, app_type, redirect_uris, js_origins,
    secret_digest, allow_implicit, oauth1_key, oauth1_secret_enc, oauth1_callback, created_at
FROM apps;
DROP TABLE apps;
ALTER TABLE apps_rebuilt RENAME TO apps;
CREATE INDEX apps_owner ON apps (owner_id);
-- The housekeeping job looks for clients nobody has connected yet.
CREATE INDEX apps_unclaimed ON apps (registration, created_at) WHERE owner_id IS NULL;

-- What a self-registered client registered beyond the `apps` columns (client_name → name,
-- client_uri → website, logo_uri → icon_url), and how it manages its registration.
--   access_token_digest  SHA-256 of the RFC 7592 registration access token (NULL for a
--                        metadata-document client, which has none)
--   metadata_url         the client_id URL of a metadata-document client
--   metadata_expires_at  when the fetched document must be fetched again
CREATE TABLE client_registrations (
    app_id               INTEGER PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    access_token_digest  BLOB,
    scope                TEXT,
    contacts             TEXT NOT NULL DEFAULT '',
    response_types       TEXT NOT NULL DEFAULT 'code',
    metadata_url         TEXT,
    metadata_expires_at  INTEGER,
    CONSTRAINT client_registrations_metadata_url_key UNIQUE (metadata_url)
);

-- Initial access tokens (`latchkey app registration-token`) for `oauth21.registration = "token"`:
-- each allows one registration before it expires.
CREATE TABLE registration_tokens (
    digest      BLOB PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER
);
