-- The complete schema of the PostgreSQL store: the tables and columns of the SQLite schema
-- after all of its migrations, with native types where they differ. Identifiers are UUIDs,
-- flags are booleans and message bytes are BYTEA. Times stay microseconds since the Unix
-- epoch, UTC, and every integer is a BIGINT, so that both stores encode values alike and
-- read them as the same Rust types.

CREATE TABLE users (
    id UUID PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    time_zone TEXT,
    -- Working hours in WorkingHours' text form ("monday 09:00-17:00, ..."); NULL means the
    -- default, so that a later change of the default reaches everyone who never set their own.
    working_hours TEXT,
    -- A telephone number (E.164) for SMS, default reminders (offsets separated by spaces,
    -- NULL for none) and reminder channels (names separated by spaces, NULL for e-mail alone).
    phone TEXT,
    reminders TEXT,
    channels TEXT
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE events (
    id UUID PRIMARY KEY,
    title TEXT NOT NULL,
    description TEXT,
    location TEXT,
    -- The first occurrence.
    start_us BIGINT NOT NULL,
    end_us BIGINT NOT NULL CHECK (end_us > start_us),
    time_zone TEXT NOT NULL,
    organizer UUID NOT NULL REFERENCES users (id),
    -- The iCalendar SEQUENCE, and whether the event still takes place. A cancelled event
    -- keeps its rows so that its cancellation can be shown, but is no longer busy time.
    sequence BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'cancelled')),
    all_day BOOLEAN NOT NULL DEFAULT false,
    -- RRULE values, one a line; rdates and exdates are instants as comma-separated
    -- microseconds. All three are NULL for a single event.
    rrules TEXT,
    rdates TEXT,
    exdates TEXT,
    -- The UID of an event imported from another calendar.
    external_uid TEXT
);
-- Importing a calendar again replaces the events imported before with the same UID.
CREATE INDEX events_imported ON events (organizer, external_uid) WHERE external_uid IS NOT NULL;

CREATE TABLE event_reminders (
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    before TEXT NOT NULL,
    PRIMARY KEY (event_id, position)
);

-- One row per attendee, the organizer included. start_us copies the event's first start and
-- end_us the end of the whole series (the last occurrence's end, or the largest BIGINT for a
-- series without end), so that a busy-time lookup finds every event that may overlap a
-- window with one index range scan, and expands only the recurring ones.
CREATE TABLE attendees (
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id),
    position BIGINT NOT NULL,
    start_us BIGINT NOT NULL,
    end_us BIGINT NOT NULL,
    -- needs-action until the attendee replies, and again after the event moves, because a
    -- new time asks everyone anew (RFC 5546, section 2.1.4).
    answer TEXT NOT NULL DEFAULT 'needs-action'
        CHECK (answer IN ('needs-action', 'accepted', 'declined', 'tentative')),
    PRIMARY KEY (event_id, user_id)
);
CREATE INDEX attendees_busy ON attendees (user_id, start_us);
-- Lists a person's events page by page, in id order.
CREATE INDEX attendees_user_event ON attendees (user_id, event_id);

-- The durable mail queue. A message is stored with its complete bytes before the first
-- attempt; each recipient has its own state, retry time and lease, so one recipient's retry
-- never resends to the others.
CREATE TABLE mail_messages (
    id UUID PRIMARY KEY,
    sender TEXT NOT NULL,
    data BYTEA NOT NULL,
    created_us BIGINT NOT NULL,
    expires_us BIGINT NOT NULL
);

CREATE TABLE deliveries (
    id UUID PRIMARY KEY,
    event_id UUID NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id),
    before TEXT NOT NULL,
    -- Reminders travel by e-mail, SMS, Web Push or webhook, one delivery per channel.
    channel TEXT NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'sms', 'push', 'webhook')),
    due_us BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    not_before_us BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until_us BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- A pending delivery with a message is queued: the mail queue owns it and the Notifier
    -- no longer claims it.
    message_id UUID REFERENCES mail_messages (id),
    -- 'due' once a delivery has failed permanently and its organizer has not been told;
    -- then the identifier of the message that told them, or 'none' when the organizer could
    -- not be written to.
    notice TEXT,
    UNIQUE (event_id, user_id, before, channel)
);
-- The claim reads the deliveries that wait for the Notifier in this order, so the index
-- holds only those and the claim stops after its LIMIT without sorting.
CREATE INDEX deliveries_due ON deliveries (not_before_us, id)
    WHERE state = 'pending' AND message_id IS NULL;
CREATE INDEX deliveries_notice ON deliveries (due_us, id) WHERE notice = 'due';

CREATE TABLE delivery_attempts (
    delivery_id UUID NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt BIGINT NOT NULL,
    at_us BIGINT NOT NULL,
    outcome TEXT NOT NULL
        CHECK (outcome IN ('delivered', 'temporary_failure', 'permanent_failure')),
    destination TEXT,
    tls BOOLEAN NOT NULL,
    tls_version TEXT,
    tls_cipher TEXT,
    reply_code BIGINT,
    reply_text TEXT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);

CREATE TABLE mail_recipients (
    message_id UUID NOT NULL REFERENCES mail_messages (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    address TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'delivered', 'failed')),
    not_before_us BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until_us BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    -- The reminder delivery this recipient carries. UNIQUE makes handing a delivery to the
    -- queue idempotent.
    delivery_id UUID UNIQUE REFERENCES deliveries (id) ON DELETE SET NULL,
    PRIMARY KEY (message_id, position)
);
-- Like deliveries_due: the recipients that wait, in the order the claim reads them.
CREATE INDEX mail_recipients_due ON mail_recipients (not_before_us, message_id, position)
    WHERE state = 'queued';

CREATE TABLE mail_attempts (
    message_id UUID NOT NULL,
    position BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    at_us BIGINT NOT NULL,
    outcome TEXT NOT NULL
        CHECK (outcome IN ('delivered', 'temporary_failure', 'permanent_failure')),
    destination TEXT,
    tls BOOLEAN NOT NULL,
    tls_version TEXT,
    tls_cipher TEXT,
    reply_code BIGINT,
    reply_text TEXT NOT NULL,
    PRIMARY KEY (message_id, position, attempt),
    FOREIGN KEY (message_id, position)
        REFERENCES mail_recipients (message_id, position) ON DELETE CASCADE
);

-- Calendar feeds and API tokens. Only a SHA-256 hash of each secret is stored, so a copy of
-- the database gives no one a feed URL or a token.
CREATE TABLE feeds (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    revoked BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX feeds_user ON feeds (user_id, id);

CREATE TABLE api_tokens (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at_us BIGINT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX api_tokens_user ON api_tokens (user_id, id);

-- The Web Push subscriptions of a person's browsers. An endpoint belongs to one browser,
-- so registering it again replaces its keys.
CREATE TABLE push_subscriptions (
    id UUID PRIMARY KEY,
    user_id UUID NOT NULL REFERENCES users (id),
    endpoint TEXT NOT NULL,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created_at_us BIGINT NOT NULL,
    UNIQUE (user_id, endpoint)
);
