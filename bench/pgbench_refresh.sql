-- The storage ceiling of a refresh (issue 15): the statements one rotation at /oauth2-1/token runs
-- (`Store::refresh` and `Tx::issue21`, the success path), in one transaction, one round trip each
-- as the server sends them: the conditional claim of the refresh token (the row lock that decides
-- a race; the server's returns the id only), the read of its row and grant, the inserts of the new
-- access and refresh tokens, the grant's last use, and the link to the successor. Each
-- transaction takes the next pre-seeded token (digest sha256('pgbench-refresh-N')), each under a
-- grant of its own as the benchmark seeds them.
SELECT nextval('pgbench_refresh_seq') AS n \gset
BEGIN;
UPDATE refresh_tokens SET rotated_at = :now WHERE digest = sha256(convert_to('pgbench-refresh-' || :n, 'UTF8')) AND app_id = :app_id AND rotated_at IS NULL AND expires_at > :now RETURNING id, grant_id, user_id \gset
SELECT r.id, r.grant_id, r.app_id, r.user_id, g.site_id, r.scope, r.resources, r.expires_at, r.created_at AS issued_at, r.rotated_at, r.successor_id, EXISTS (SELECT 1 FROM site_members m WHERE m.site_id = g.site_id AND m.user_id = g.user_id AND m.role = 'administrator') AS site_admin FROM refresh_tokens r JOIN grants g ON g.id = r.grant_id WHERE r.digest = sha256(convert_to('pgbench-refresh-' || :n, 'UTF8')) AND r.app_id = :app_id;
INSERT INTO access_tokens (digest, app_id, user_id, grant_id, site_id, scope, origin, created_at, expires_at, audiences) VALUES (sha256(convert_to('pgbench-refresh-access-' || :n, 'UTF8')), :app_id, :user_id, :grant_id, NULL, 'global', 'refresh', :now, :now + 3600, NULL) RETURNING id AS access_id \gset
INSERT INTO refresh_tokens (digest, grant_id, app_id, user_id, scope, resources, access_token_id, created_at, expires_at) VALUES (sha256(convert_to('pgbench-refresh-next-' || :n, 'UTF8')), :grant_id, :app_id, :user_id, 'global', NULL, :access_id, :now, :now + 86400) RETURNING id AS next_id \gset
UPDATE grants SET last_used_at = :now WHERE id = :grant_id;
UPDATE refresh_tokens SET successor_id = :next_id WHERE id = :id;
END;
