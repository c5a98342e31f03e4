//! iCalendar import and export (RFC 5545, with the iTIP methods of RFC 5546).
//!
//! This crate hides the iCalendar format: content lines, folding, TEXT escaping, property
//! parameters, VTIMEZONE and the many ways real files name time zones. Callers see a
//! [`Calendar`] of [`CalendarEvent`]s whose times are jiff values, call [`parse`] or
//! [`parse_bytes`] to read a file and [`write`] to produce one. It depends on no other
//! Convene crate; the Scheduler maps its events to and from these types.
//!
//! Reading is lenient where files in the wild differ from the RFC and strict where a guess
//! could move an event: a VEVENT with an unknown time zone or an invalid date is left out
//! and listed in [`Imported::skipped`] with the line and the reason, never read as
//! something else.
//!
//! Layout:
//! - `lines`: unfolding and the split of a content line into name, parameters and value.
//! - `tree`: BEGIN/END nesting and the [`Limits`] on size and component count.
//! - `values`: TEXT, DATE-TIME, DURATION and RRULE values.
//! - `zone`, `windows_zones`: TZID resolution to IANA zones or to a VTIMEZONE's rules.
//! - `import`: VEVENT to [`CalendarEvent`].
//! - `export`, `vtimezone`: the writer and the VTIMEZONEs it generates from jiff's rules.

mod error;
mod export;
mod import;
mod lines;
mod model;
mod tree;
mod values;
mod vtimezone;
mod windows_zones;
mod zone;

pub use error::{ImportError, Skipped};
pub use export::{PRODUCT_ID, write};
pub use import::{Imported, parse, parse_bytes};
pub use model::{
    Attendee, Calendar, CalendarEvent, EventTime, Method, PartStat, Person, Role, Status, Zone,
};
pub use tree::Limits;
