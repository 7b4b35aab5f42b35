-- OAuth 1.0a (spec/oauth1.md): temporary credentials, token credentials and nonces. Token keys are
-- stored as SHA-256 digests and looked up by the digest of the presented `oauth_token`; token
-- secrets are sealed with the server key (domain::crypto), because they are HMAC keys the server
-- must read back. Verifiers are checked against a digest; a sealed copy lets the approving user
-- see the verifier again.

CREATE TABLE oauth1_request_tokens (
    id                INTEGER PRIMARY KEY,
    digest            BLOB NOT NULL,
    secret_enc        BLOB NOT NULL,
    app_id            INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    callback          TEXT NOT NULL,
    -- Set together when the user approves.
    verifier_digest   BLOB,
    -- The verifier sealed under the server key, so the approving user can be shown it again.
    verifier_enc      BLOB,
    user_id           INTEGER REFERENCES users (id) ON DELETE CASCADE,
    site_id           INTEGER REFERENCES sites (id) ON DELETE CASCADE,
    approved_at       INTEGER,
    failed_verifiers  INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    CONSTRAINT oauth1_request_tokens_digest_key UNIQUE (digest)
);
CREATE INDEX oauth1_request_tokens_expiry ON oauth1_request_tokens (expires_at);

-- Access tokens hang off a grant, so revoking the app for the user (or deleting the app or the
-- user) removes them with the OAuth2 tokens. They do not expire.
CREATE TABLE oauth1_access_tokens (
    id          INTEGER PRIMARY KEY,
    digest      BLOB NOT NULL,
    secret_enc  BLOB NOT NULL,
    app_id      INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site_id     INTEGER REFERENCES sites (id) ON DELETE CASCADE,
    grant_id    INTEGER NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    CONSTRAINT oauth1_access_tokens_digest_key UNIQUE (digest)
);
CREATE INDEX oauth1_access_tokens_grant ON oauth1_access_tokens (grant_id);

-- One row per accepted (consumer, token, oauth_timestamp, nonce); `token` is the token key's digest, or
-- empty at /oauth1/request. Inserted with ON CONFLICT DO NOTHING after the signature verifies.
CREATE TABLE oauth1_nonces (
    consumer_key  TEXT NOT NULL,
    token         BLOB NOT NULL,
    oauth_timestamp INTEGER NOT NULL,
    nonce         TEXT NOT NULL,
    expires_at    INTEGER NOT NULL,
    CONSTRAINT oauth1_nonces_key UNIQUE (consumer_key, token, oauth_timestamp, nonce)
);
CREATE INDEX oauth1_nonces_expiry ON oauth1_nonces (expires_at);
