//! Expansion of iCalendar recurrences (RFC 5545 RRULE, RDATE and EXDATE)
//! into occurrences.
//!
//! This crate hides the expansion algorithm: how each period of a rule is
//! turned into candidates, how the BY parts expand or limit them, and how
//! generated local times are placed in a time zone. Callers see a parsed
//! [`Rule`], a [`Recurrence`] that pairs rules with DTSTART, RDATE and
//! EXDATE, and two ways to read it: [`Recurrence::occurrences`], lazily from
//! DTSTART, and [`Recurrence::between`], the occurrences in a window without
//! walking from DTSTART.
//!
//! A rule that will never produce another instance ends, as one that
//! reaches COUNT or UNTIL does. UNTIL before DTSTART ends it at once.
//! Otherwise the expander uses that the Gregorian calendar repeats every
//! 400 years (146,097 days, a whole number of weeks): a rule whose periods
//! have gone through that cycle without a candidate never finds one. Rules
//! shorter than a day decide this from the times of day their periods can
//! reach. Every search is still bounded by a [`Budget`], and a rule that
//! finds nothing within it, but might later, stops with
//! [`ExpandError::BudgetExhausted`], so a stored rule can never hang a
//! caller.
//!
//! Times follow RFC 5545 §3.3.10 and §3.3.5. Instances are computed in local
//! civil time and then placed in DTSTART's zone. A generated local time that
//! the zone skips (a DST gap) is dropped and not counted, a repeated one
//! means its first occurrence, and a date that does not exist (February 30)
//! is dropped and not counted. UNTIL with a zoned DTSTART is compared as an
//! instant and is inclusive. A zoned DTSTART that falls in a DST gap is the
//! first occurrence at its moved time, and the rules repeat the time of day
//! as written when [`Recurrence::written_start`] is set.
//!
//! RFC 5545 forbids a BYDAY ordinal (such as `-1SU`) with FREQ=WEEKLY and
//! shorter frequencies. Calendar files contain such rules, and with
//! FREQ=DAILY and FREQ=WEEKLY python-dateutil 2.9 and libical 3.0.20 expand
//! them as if the ordinal were absent. This crate accepts them and ignores
//! the ordinal with every frequency shorter than MONTHLY. It still rejects
//! an ordinal with BYWEEKNO and every value outside the RFC's ranges.
//!
//! RECURRENCE-ID overrides need nothing from this crate: the caller adds the
//! overridden instance's start to [`Recurrence::exdates`] and keeps the
//! override as an event of its own. RDATE values of type PERIOD are passed
//! as their start.
//!
//! The crate depends on no other Convene crate and performs no I/O; zones
//! come from jiff's bundled database.
//!
//! ```
//! use convene_recur::{DateOrTime, Recurrence, Rule};
//!
//! let start = DateOrTime::parse("20260126T090000", None).unwrap();
//! let mut recurrence = Recurrence::new(start);
//! recurrence.rules.push(Rule::parse("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1;COUNT=3").unwrap());
//! let texts: Vec<String> = recurrence
//!     .occurrences()
//!     .map(|occurrence| occurrence.unwrap().to_string())
//!     .collect();
//! assert_eq!(texts, ["20260126T090000", "20260223T090000", "20260330T090000"]);
//! ```
//!
//! Layout:
//! - `rule`: [`Rule`], parsing, the RFC's checks and the canonical text.
//! - `value`: [`DateOrTime`] and its iCalendar text forms.
//! - `expand`: the expansion of one rule, period by period.
//! - `recurrence`: [`Recurrence`], merging rules with RDATE and EXDATE.
//! - `calendar`: day numbers, weekdays and week numbers.

mod calendar;
mod error;
mod expand;
mod recurrence;
mod rule;
mod value;

pub use crate::error::{ExpandError, RuleError, ValueError};
pub use crate::recurrence::{Budget, Occurrences, Recurrence, StartInstance};
pub use crate::rule::{Frequency, Rule, WeekdayNum};
pub use crate::value::DateOrTime;
