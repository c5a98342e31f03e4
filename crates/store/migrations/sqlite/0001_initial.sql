-- Times are microseconds since the Unix epoch, UTC. Identifiers are UUID text.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    time_zone TEXT
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    title TEXT NOT NULL,
    description TEXT,
    location TEXT,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL CHECK (end_us > start_us),
    time_zone TEXT NOT NULL,
    organizer TEXT NOT NULL REFERENCES users (id)
);

CREATE TABLE event_reminders (
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    before TEXT NOT NULL,
    PRIMARY KEY (event_id, position)
);

-- One row per attendee, the organizer included. start_us and end_us copy
-- the event's interval so that a busy-time lookup is one index range scan.
CREATE TABLE attendees (
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    position INTEGER NOT NULL,
    start_us INTEGER NOT NULL,
    end_us INTEGER NOT NULL,
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX attendees_busy ON attendees (user_id, start_us);

CREATE TABLE deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    before TEXT NOT NULL,
    due_us INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    not_before_us INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until_us INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    UNIQUE (event_id, user_id, before)
);
CREATE INDEX deliveries_due ON deliveries (state, not_before_us);

CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'temporary_failure', 'permanent_failure')),
    destination TEXT,
    tls INTEGER NOT NULL,
    reply_code INTEGER,
    reply_text TEXT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
