-- The storage ceiling (performance.md, "The references"): the statements of one code exchange —
-- the conditional claim of the code and the insert of its token — in one transaction. Each
-- transaction takes the next pre-seeded code (digest sha256('pgbench-code-N')).
SELECT nextval('pgbench_code_seq') AS n \gset
BEGIN;
UPDATE auth_codes SET used_at = :now WHERE digest = sha256(convert_to('pgbench-code-' || :n, 'UTF8')) AND used_at IS NULL AND expires_at > :now RETURNING app_id, user_id, grant_id \gset
INSERT INTO access_tokens (digest, app_id, user_id, grant_id, site_id, scope, origin, created_at, expires_at) VALUES (sha256(convert_to('pgbench-token-' || :n, 'UTF8')), :app_id, :user_id, :grant_id, NULL, 'global', 'code', :now, NULL) RETURNING id;
END;
