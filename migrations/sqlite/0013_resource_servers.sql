-- Resource servers (issue 15; oauth21.md §2, §4): an app registers the URIs of the APIs it serves
-- (`latchkey app update --resource`). Any client may then ask for tokens bound to such a URI
-- (`resource`, RFC 8707), and the app that registered it may introspect those tokens (RFC 7662)
-- though another client holds them. A URI belongs to one app; it goes with the app.
CREATE TABLE app_resources (
    uri         TEXT NOT NULL,
    app_id      INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    CONSTRAINT app_resources_uri_key PRIMARY KEY (uri)
);
CREATE INDEX app_resources_app ON app_resources (app_id);
