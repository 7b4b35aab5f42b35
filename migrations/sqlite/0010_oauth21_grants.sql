-- The OAuth 2.1 grant pipeline (spec/oauth21.md §2–§4).
--
-- access_tokens is rebuilt (SQLite cannot alter a column or a CHECK): a client_credentials token
-- stands for the app alone, so user_id becomes nullable; origin gains 'refresh' (a token from a
-- refresh token) and 'client' (client_credentials); audiences holds the token's resource
-- indicators (RFC 8707), space-separated, NULL for none (the REST API only). No table references
-- access_tokens, so the rebuild keeps every foreign key intact.
CREATE TABLE access_tokens_new (
    id          INTEGER PRIMARY KEY,
    digest      BLOB NOT NULL,
    app_id      INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id     INTEGER REFERENCES users (id) ON DELETE CASCADE,
    grant_id    INTEGER REFERENCES grants (id) ON DELETE CASCADE,
    site_id     INTEGER,
    scope       TEXT NOT NULL,
    origin      TEXT NOT NULL CHECK (origin IN ('code', 'implicit', 'password', 'refresh', 'client')),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    audiences   TEXT,
    CONSTRAINT access_tokens_digest_key UNIQUE (digest)
);
INSERT INTO access_tokens_new (id, digest, app_id, user_id, grant_id, site_id, scope, origin,
                               created_at, expires_at)
    SELECT id, digest, app_id, user_id, grant_id, site_id, scope, origin, created_at, expires_at
    FROM access_tokens;
DROP TABLE access_tokens;
ALTER TABLE access_tokens_new RENAME TO access_tokens;
CREATE INDEX access_tokens_user_app ON access_tokens (user_id, app_id);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at) WHERE expires_at IS NOT NULL;
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);

-- A grant of the 2.1 server is bound to its audiences (resource indicators, space-separated).
ALTER TABLE grants ADD COLUMN resources TEXT;

-- A 2.1 code: redeemable only at /oauth2-1/token (and legacy codes only at /oauth2/token), with
-- what the ID token needs (nonce, when the user authenticated) and the grant's audiences.
ALTER TABLE auth_codes ADD COLUMN oauth21 INTEGER NOT NULL DEFAULT 0;
ALTER TABLE auth_codes ADD COLUMN resources TEXT;
ALTER TABLE auth_codes ADD COLUMN nonce TEXT;
ALTER TABLE auth_codes ADD COLUMN auth_time INTEGER;

-- Refresh tokens (§3): digests only; the family is the grant. A used token keeps its row
-- (rotated_at, successor_id) until it expires, so a reuse is recognised and ends the family.
CREATE TABLE refresh_tokens (
    id              INTEGER PRIMARY KEY,
    digest          BLOB NOT NULL,
    grant_id        INTEGER NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    app_id          INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    scope           TEXT NOT NULL,
    resources       TEXT,
    -- The access token issued beside it, ended with it when a grace repeat replaces the pair.
    access_token_id INTEGER,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    rotated_at      INTEGER,
    successor_id    INTEGER,
    CONSTRAINT refresh_tokens_digest_key UNIQUE (digest)
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
