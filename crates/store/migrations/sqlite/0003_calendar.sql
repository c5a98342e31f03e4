-- Working hours in WorkingHours' text form ("monday 09:00-17:00, ..."); NULL means the
-- default, Monday to Friday 09:00-17:00, so that a later change of the default reaches
-- everyone who never set their own.
ALTER TABLE users ADD COLUMN working_hours TEXT;
