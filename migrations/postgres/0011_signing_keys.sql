-- OpenID Connect signing keys (issue 15, oauth21.md §6): RSA keys that sign ID tokens, shared by every
-- instance. The private key (PKCS#8 DER) is sealed with the server key; the public modulus and
-- exponent (base64url, as in a JWK) are what the JWKS publishes. Exactly one key is current
-- (`is_current` = 1; NULL otherwise, and the unique constraint allows many NULLs), so two instances
-- making the first key at once, or two rotations at once, cannot both win. A rotated-out key keeps
-- `retired_at` and stays in the JWKS for `oauth21.key_overlap_secs` after it.
CREATE TABLE signing_keys (
    kid             TEXT PRIMARY KEY,
    alg             TEXT NOT NULL,
    private_key_enc BYTEA NOT NULL,
    public_n        TEXT NOT NULL,
    public_e        TEXT NOT NULL,
    is_current      INTEGER CHECK (is_current = 1),
    created_at      BIGINT NOT NULL,
    retired_at      BIGINT,
    CONSTRAINT signing_keys_one_current UNIQUE (is_current)
);
