-- Latchkey schema, SQLite flavour. Times are Unix seconds (INTEGER), computed with the server's
-- injected clock. Every bearer secret is stored as a SHA-256 digest (BLOB), never in plain text.

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    username        TEXT NOT NULL,
    email           TEXT NOT NULL,
    display_name    TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    language        TEXT NOT NULL DEFAULT 'en',
    totp_secret_enc BLOB,
    created_at      INTEGER NOT NULL,
    CONSTRAINT users_username_key UNIQUE (username),
    CONSTRAINT users_email_key UNIQUE (email)
);

CREATE TABLE sites (
    id          INTEGER PRIMARY KEY,
    url         TEXT NOT NULL,
    url_key     TEXT NOT NULL,
    name        TEXT NOT NULL,
    is_jetpack  INTEGER NOT NULL DEFAULT 0,
    owner_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    CONSTRAINT sites_url_key_key UNIQUE (url_key)
);

CREATE TABLE site_members (
    site_id     INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL CHECK (role IN ('administrator', 'editor', 'author', 'subscriber')),
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (site_id, user_id)
);
CREATE INDEX site_members_user ON site_members (user_id);

CREATE TABLE apps (
    id                  INTEGER PRIMARY KEY,
    owner_id            INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name                TEXT NOT NULL,
    description         TEXT NOT NULL DEFAULT '',
    website             TEXT NOT NULL DEFAULT '',
    icon_url            TEXT NOT NULL DEFAULT '',
    app_type            TEXT NOT NULL CHECK (app_type IN ('web', 'native')),
    redirect_uris       TEXT NOT NULL,
    js_origins          TEXT NOT NULL DEFAULT '',
    secret_digest       BLOB NOT NULL,
    allow_implicit      INTEGER NOT NULL DEFAULT 1,
    oauth1_key          TEXT,
    oauth1_secret_enc   BLOB,
    oauth1_callback     TEXT,
    created_at          INTEGER NOT NULL,
    CONSTRAINT apps_oauth1_key_key UNIQUE (oauth1_key)
);
CREATE INDEX apps_owner ON apps (owner_id);

CREATE TABLE grants (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    site_id      INTEGER REFERENCES sites (id) ON DELETE CASCADE,
    scope        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX grants_user_app ON grants (user_id, app_id);

CREATE TABLE auth_codes (
    digest          BLOB PRIMARY KEY,
    app_id          INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    grant_id        INTEGER NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    site_id         INTEGER,
    scope           TEXT NOT NULL,
    redirect_uri    TEXT NOT NULL,
    code_challenge  TEXT,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    token_id        INTEGER
);
CREATE INDEX auth_codes_expiry ON auth_codes (expires_at);

CREATE TABLE access_tokens (
    id          INTEGER PRIMARY KEY,
    digest      BLOB NOT NULL,
    app_id      INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    grant_id    INTEGER REFERENCES grants (id) ON DELETE CASCADE,
    site_id     INTEGER,
    scope       TEXT NOT NULL,
    origin      TEXT NOT NULL CHECK (origin IN ('code', 'implicit', 'password')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    CONSTRAINT access_tokens_digest_key UNIQUE (digest)
);
CREATE INDEX access_tokens_user_app ON access_tokens (user_id, app_id);

CREATE TABLE sessions (
    digest      BLOB PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    user_id     INTEGER,
    app_id      INTEGER,
    peer        TEXT,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_events_at ON audit_events (at);
