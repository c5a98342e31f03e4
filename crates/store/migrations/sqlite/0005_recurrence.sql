-- Recurring and all-day events. start_us and end_us stay the first occurrence; rrules
-- holds the RRULE values, one a line, and rdates and exdates hold instants as
-- comma-separated microseconds. external_uid is the UID of an event imported from another
-- calendar.
--
-- attendees.end_us now holds the end of the whole series: the last occurrence's end, or the
-- largest integer for a series without end. The busy-time lookup still finds every event
-- that may overlap a window with one index range scan, and expands the recurring ones.
ALTER TABLE events ADD COLUMN all_day INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN rrules TEXT;
ALTER TABLE events ADD COLUMN rdates TEXT;
ALTER TABLE events ADD COLUMN exdates TEXT;
ALTER TABLE events ADD COLUMN external_uid TEXT;

-- Importing a calendar again replaces the events imported before with the same UID.
CREATE INDEX events_imported ON events (organizer, external_uid) WHERE external_uid IS NOT NULL;
