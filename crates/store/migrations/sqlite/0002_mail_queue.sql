-- The durable mail queue. A message is stored with its complete bytes
-- before the first attempt; each recipient has its own state, retry time
-- and lease, so one recipient's retry never resends to the others.

CREATE TABLE mail_messages (
    id TEXT PRIMARY KEY NOT NULL,
    sender TEXT NOT NULL,
    data BLOB NOT NULL,
    created_us INTEGER NOT NULL,
    expires_us INTEGER NOT NULL
);

CREATE TABLE mail_recipients (
    message_id TEXT NOT NULL REFERENCES mail_messages (id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    address TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'failed')),
    not_before_us INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until_us INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    -- The reminder delivery this recipient carries. UNIQUE makes handing a
    -- delivery to the queue idempotent.
    delivery_id TEXT UNIQUE REFERENCES deliveries (id) ON DELETE SET NULL,
    PRIMARY KEY (message_id, position)
);
CREATE INDEX mail_recipients_due ON mail_recipients (state, not_before_us);

CREATE TABLE mail_attempts (
    message_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'temporary_failure', 'permanent_failure')),
    destination TEXT,
    tls INTEGER NOT NULL,
    tls_version TEXT,
    tls_cipher TEXT,
    reply_code INTEGER,
    reply_text TEXT NOT NULL,
    PRIMARY KEY (message_id, position, attempt),
    FOREIGN KEY (message_id, position)
        REFERENCES mail_recipients (message_id, position) ON DELETE CASCADE
);

-- A pending delivery with a message is queued: the mail queue owns it and
-- the Notifier no longer claims it.
ALTER TABLE deliveries ADD COLUMN message_id TEXT REFERENCES mail_messages (id);
-- 'due' once a delivery has failed permanently and its organizer has not
-- been told; then the identifier of the message that told them, or 'none'
-- when the organizer could not be written to.
ALTER TABLE deliveries ADD COLUMN notice TEXT;
CREATE INDEX deliveries_notice ON deliveries (notice) WHERE notice = 'due';

ALTER TABLE delivery_attempts ADD COLUMN tls_version TEXT;
ALTER TABLE delivery_attempts ADD COLUMN tls_cipher TEXT;
