-- Calendar feeds: secret URLs that serve a person's events to calendar applications. Only a
-- SHA-256 hash of each token is stored, so a copy of the database gives no one the URLs.
CREATE TABLE feeds (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX feeds_user ON feeds (user_id);
