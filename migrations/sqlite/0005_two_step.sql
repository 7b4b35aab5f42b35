-- 2-step authentication and application passwords (oauth2.md §7, security.md PW05, PW08, BR11).
-- The TOTP seed itself lives in users.totp_secret_enc (0001), sealed with the server key.

-- The last RFC 6238 time step accepted for this user: a code is accepted only for a later step, so
-- each code works once.
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

-- Recovery codes: an HMAC (under the server key) of the normalised code, never the code itself.
CREATE TABLE recovery_codes (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    digest      BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- Application passwords: an argon2id PHC string of the 16 characters (PW08), and their first four
-- characters in `lookup`, so a check verifies one hash rather than every one of the user's.
CREATE TABLE app_passwords (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    lookup        TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX app_passwords_user ON app_passwords (user_id, lookup);

-- The application password a password-grant token was issued with: revoking the application
-- password deletes the grant, and with it the token.
ALTER TABLE grants ADD COLUMN app_password_id INTEGER REFERENCES app_passwords (id) ON DELETE CASCADE;
CREATE INDEX grants_app_password ON grants (app_password_id);
