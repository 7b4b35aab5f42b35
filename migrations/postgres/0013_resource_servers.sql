-- Resource servers (issue 15; oauth21.md §2, §4). See the SQLite twin for the meaning.
CREATE TABLE app_resources (
    uri         TEXT NOT NULL,
    app_id      BIGINT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    CONSTRAINT app_resources_uri_key PRIMARY KEY (uri)
);
CREATE INDEX app_resources_app ON app_resources (app_id);
