-- Dynamic client registration (issue 15; oauth21.md §5, RFC 7591 / 7592) and Client ID Metadata
-- Documents. See the SQLite twin for the meaning of each column; SQLite rebuilds `apps` to drop
-- the NOT NULL of `owner_id`, PostgreSQL alters it in place.
ALTER TABLE apps ALTER COLUMN owner_id DROP NOT NULL;
ALTER TABLE apps ADD COLUMN grant_types TEXT NOT NULL DEFAULT 'authorization_code';
ALTER TABLE apps ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT 'client_secret_basic'
    CHECK (token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none'));
ALTER TABLE apps ADD COLUMN registration TEXT NOT NULL DEFAULT 'manual'
    CHECK (registration IN ('manual', 'dynamic', 'metadata_document'));
CREATE INDEX apps_unclaimed ON apps (registration, created_at) WHERE owner_id IS NULL;

CREATE TABLE client_registrations (
    app_id               BIGINT PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    access_token_digest  BYTEA,
    scope                TEXT,
    contacts             TEXT NOT NULL DEFAULT '',
    response_types       TEXT NOT NULL DEFAULT 'code',
    metadata_url         TEXT,
    metadata_expires_at  BIGINT,
    CONSTRAINT client_registrations_metadata_url_key UNIQUE (metadata_url)
);

CREATE TABLE registration_tokens (
    digest      BYTEA PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
