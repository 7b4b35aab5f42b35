-- Content behind the REST API (oauth2.md §6): posts of a site by an author, likes of posts and
-- follows of sites. SQLite flavour; times are Unix seconds from the server's injected clock.

CREATE TABLE posts (
    id          INTEGER PRIMARY KEY,
    site_id     INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    author_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    content     TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('publish', 'draft', 'pending', 'private')),
    created_at  INTEGER NOT NULL
);
CREATE INDEX posts_site_newest ON posts (site_id, created_at DESC, id DESC);
CREATE INDEX posts_author ON posts (author_id);

CREATE TABLE likes (
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    post_id     INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    CONSTRAINT likes_user_post_key UNIQUE (user_id, post_id)
);
CREATE INDEX likes_post ON likes (post_id);

CREATE TABLE follows (
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site_id     INTEGER NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    CONSTRAINT follows_user_site_key UNIQUE (user_id, site_id)
);
CREATE INDEX follows_site ON follows (site_id);
