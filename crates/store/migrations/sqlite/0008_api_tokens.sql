-- API tokens: bearer secrets that authenticate a user's requests. As with feeds, only a
-- SHA-256 hash of each secret is stored, so a copy of the database gives no one a token.
CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at_us INTEGER NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

-- Lists a person's events page by page, in id order.
CREATE INDEX attendees_user_event ON attendees (user_id, event_id);
