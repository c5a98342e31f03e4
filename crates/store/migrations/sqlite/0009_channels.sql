-- no-transaction
-- Reminders travel by e-mail, SMS, Web Push or webhook, one delivery per channel, so the
-- uniqueness of a delivery now includes its channel. SQLite cannot change a table's UNIQUE
-- constraint in place: the table is rebuilt as SQLite's documentation describes, with
-- foreign key enforcement off (it can only change outside a transaction) so that dropping
-- the old table neither deletes attempts nor detaches mail recipients. References to
-- `deliveries` in other tables then name the new table.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;

-- A person's telephone number (E.164) for SMS, default reminders (offsets separated by
-- spaces, NULL for none) and reminder channels (names separated by spaces, NULL for e-mail
-- alone). These come first: a second process that runs this file after the first
-- has committed fails here, before it touches anything.
ALTER TABLE users ADD COLUMN phone TEXT;
ALTER TABLE users ADD COLUMN reminders TEXT;
ALTER TABLE users ADD COLUMN channels TEXT;

CREATE TABLE deliveries_new (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id),
    before TEXT NOT NULL,
    channel TEXT NOT NULL DEFAULT 'email'
        CHECK (channel IN ('email', 'sms', 'push', 'webhook')),
    due_us INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    not_before_us INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until_us INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    message_id TEXT REFERENCES mail_messages (id),
    notice TEXT,
    UNIQUE (event_id, user_id, before, channel)
);
INSERT INTO deliveries_new (id, event_id, user_id, before, due_us, state, not_before_us,
                            lease_owner, lease_until_us, attempts, message_id, notice)
    SELECT id, event_id, user_id, before, due_us, state, not_before_us,
           lease_owner, lease_until_us, attempts, message_id, notice
    FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries (state, not_before_us);
CREATE INDEX deliveries_notice ON deliveries (notice) WHERE notice = 'due';


-- The Web Push subscriptions of a person's browsers. An endpoint belongs to one browser,
-- so registering it again replaces its keys.
CREATE TABLE push_subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    endpoint TEXT NOT NULL,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created_at_us INTEGER NOT NULL,
    UNIQUE (user_id, endpoint)
);

COMMIT;
PRAGMA foreign_keys = ON;
