//! Reading requested times, dates and recurrences in an event's time zone.

use convene_domain::user::validate_time_zone;
use convene_domain::{EventRecurrence, RecurrenceRequest, TimeOrDate, ValidationError};
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

/// Returns the zone named `name`, or an error naming `time_zone`.
pub(crate) fn zone(name: &str) -> Result<TimeZone, ValidationError> {
    let name = validate_time_zone("time_zone", name)?;
    TimeZone::get(&name).map_err(|_| ValidationError::new("time_zone", "is not a known zone"))
}

/// Reads a requested start and end in `zone`: two instants for a timed event, or two dates
/// for an all-day one, the end date being the first day after the event. Returns the
/// instants and whether the event is all-day.
pub(crate) fn resolve_span(
    start: TimeOrDate,
    end: TimeOrDate,
    zone: &TimeZone,
) -> Result<(Timestamp, Timestamp, bool), ValidationError> {
    match (start, end) {
        (TimeOrDate::Time(start), TimeOrDate::Time(end)) => Ok((start, end, false)),
        (TimeOrDate::Date(start), TimeOrDate::Date(end)) => {
            if end <= start {
                return Err(ValidationError::new(
                    "end",
                    format!(
                        "must be after the start date ({start}), but is {end}; the end date of \
                         an all-day event is the first day after it"
                    ),
                ));
            }
            Ok((
                midnight(start, zone, "start")?,
                midnight(end, zone, "end")?,
                true,
            ))
        }
        (TimeOrDate::Date(_), TimeOrDate::Time(_)) => Err(ValidationError::new(
            "end",
            "must be a date such as 2030-01-16, like the start, for an all-day event",
        )),
        (TimeOrDate::Time(_), TimeOrDate::Date(_)) => Err(ValidationError::new(
            "end",
            "must be a time with an offset, like the start, such as 2030-01-15T10:00:00Z",
        )),
    }
}

/// Reads a requested recurrence for an event that is all-day or not, in `zone`.
///
/// RDATEs and EXDATEs of an all-day event may be dates or times, a time meaning its local
/// day. Those of a timed event must be times, because a date names no instance of it.
pub(crate) fn resolve_recurrence(
    request: RecurrenceRequest,
    zone: &TimeZone,
    all_day: bool,
) -> Result<EventRecurrence, ValidationError> {
    let resolve =
        |name: &str, values: Vec<TimeOrDate>| -> Result<Vec<Timestamp>, ValidationError> {
            values
                .into_iter()
                .enumerate()
                .map(|(index, value)| {
                    let field = format!("recurrence/{name}/{index}");
                    match value {
                        TimeOrDate::Time(instant) if all_day => {
                            midnight(instant.to_zoned_datetime(zone.clone()).date(), zone, &field)
                        }
                        TimeOrDate::Time(instant) => Ok(instant),
                        TimeOrDate::Date(date) if all_day => midnight(date, zone, &field),
                        TimeOrDate::Date(_) => Err(ValidationError::new(
                            field,
                            "must be a time with an offset, such as 2030-01-15T09:00:00Z, because \
                         the event is not all-day",
                        )),
                    }
                })
                .collect()
        };
    let rdates = resolve("rdates", request.rdates)?;
    let exdates = resolve("exdates", request.exdates)?;
    EventRecurrence::new("recurrence", request.rules, rdates, exdates)
}

/// Returns the start of `date` in `zone`.
pub(crate) fn midnight(
    date: Date,
    zone: &TimeZone,
    field: &str,
) -> Result<Timestamp, ValidationError> {
    zone.to_ambiguous_timestamp(date.to_datetime(Time::midnight()))
        .compatible()
        .map_err(|_| ValidationError::new(field, format!("{date} is out of range")))
}

/// Returns how a stored instant reads as a requested value: its local date for an all-day
/// event, and the instant itself otherwise.
pub(crate) fn as_requested(instant: Timestamp, zone: &TimeZone, all_day: bool) -> TimeOrDate {
    if all_day {
        TimeOrDate::Date(instant.to_zoned_datetime(zone.clone()).date())
    } else {
        TimeOrDate::Time(instant)
    }
}
