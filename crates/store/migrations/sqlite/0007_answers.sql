-- Each attendee's answer to the invitation: needs-action until they answer, and again after
-- the event moves, because a new time asks everyone anew (RFC 5546, section 2.1.4).
ALTER TABLE attendees ADD COLUMN answer TEXT NOT NULL DEFAULT 'needs-action'
    CHECK (answer IN ('needs-action', 'accepted', 'declined', 'tentative'));
