-- An event's iCalendar SEQUENCE and whether it still takes place. A cancelled event keeps
-- its rows so that its cancellation can be shown, but is no longer busy time.
ALTER TABLE events ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN status TEXT NOT NULL DEFAULT 'confirmed'
    CHECK (status IN ('confirmed', 'cancelled'));
