-- Housekeeping finds expired tokens by index (issue 7). Partial: code-flow tokens never expire, so
-- the index costs their inserts nothing.
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at) WHERE expires_at IS NOT NULL;
