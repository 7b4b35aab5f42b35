-- App icons (issue 13): the image at the app's icon URL, fetched by Latchkey when the app is
-- registered or its icon URL changes, and served from /apps/{id}/icon so that the consent page loads
-- no third-party image. `source_url` is the icon URL the bytes came from; `content_type` is one of
-- the raster types Latchkey serves (checked against the bytes' signature).
CREATE TABLE app_icons (
    app_id       INTEGER PRIMARY KEY REFERENCES apps (id) ON DELETE CASCADE,
    source_url   TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    fetched_at   INTEGER NOT NULL
);
