-- The claims read waiting deliveries and mail recipients in the order of these indexes,
-- so each claim stops after its LIMIT. The earlier indexes on (state, not_before_us) also
-- held deliveries already handed to the mail queue, and sorted every row due at the same
-- instant by id before the LIMIT applied: with many reminders due at once, each claim
-- read all of them. These hold only the rows that wait, in claim order, as the
-- PostgreSQL schema does.
DROP INDEX deliveries_due;
CREATE INDEX deliveries_due ON deliveries (not_before_us, id)
    WHERE state = 'pending' AND message_id IS NULL;
DROP INDEX mail_recipients_due;
CREATE INDEX mail_recipients_due ON mail_recipients (not_before_us, message_id, position)
    WHERE state = 'queued';
