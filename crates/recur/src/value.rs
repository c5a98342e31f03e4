//! The three forms of an iCalendar date or date-time value.

use std::fmt;

use jiff::ZonedDateTime;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use crate::error::ValueError;

/// A DTSTART, RDATE, EXDATE, UNTIL or occurrence value in one of the forms
/// RFC 5545 allows (§3.3.4, §3.3.5).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DateOrTime {
    /// A date without a time (`VALUE=DATE`), such as an all-day event.
    Date(Date),
    /// A local date-time bound to no zone, read in whatever zone the reader
    /// is in.
    Floating(DateTime),
    /// A date-time in a zone: `TZID=...`, or UTC for values ending in `Z`.
    Zoned(ZonedDateTime),
}

impl DateOrTime {
    /// Parses the iCalendar text forms `YYYYMMDD`, `YYYYMMDDTHHMMSS` and
    /// `YYYYMMDDTHHMMSSZ`.
    ///
    /// A local date-time becomes `Zoned` in `zone` when one is given, as
    /// with a `TZID` parameter, and `Floating` otherwise. A local time that
    /// the zone skips (a DST gap) moves forward by the length of the gap and
    /// a repeated one means its first occurrence, as RFC 5545 §3.3.5
    /// requires. Dates stay dates, and `Z` values are UTC whatever `zone` is.
    pub fn parse(text: &str, zone: Option<&TimeZone>) -> Result<DateOrTime, ValueError> {
        let invalid = |reason: &str| ValueError::new(text, reason);
        let bytes = text.as_bytes();
        let digits = |range: std::ops::Range<usize>| -> Result<i64, ValueError> {
            let part = bytes.get(range).ok_or_else(|| invalid("it is too short"))?;
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(invalid("expected digits"));
            }
            Ok(part
                .iter()
                .fold(0, |value, digit| value * 10 + i64::from(digit - b'0')))
        };
        if !matches!(bytes.len(), 8 | 15 | 16) {
            return Err(invalid(
                "expected YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ",
            ));
        }

        let (year, month, day) = (digits(0..4)?, digits(4..6)?, digits(6..8)?);
        let date = Date::new(year as i16, month as i8, day as i8)
            .map_err(|_| invalid("the date does not exist"))?;
        if bytes.len() == 8 {
            return Ok(DateOrTime::Date(date));
        }

        if bytes[8] != b'T' {
            return Err(invalid("expected T between the date and the time"));
        }
        let (hour, minute, second) = (digits(9..11)?, digits(11..13)?, digits(13..15)?);
        if hour > 23 || minute > 59 || second > 59 {
            return Err(invalid("the time must be 000000 to 235959"));
        }
        let datetime = date.at(hour as i8, minute as i8, second as i8, 0);
        match bytes.get(15) {
            Some(b'Z') => {
                let zoned = datetime
                    .to_zoned_datetime(TimeZone::UTC)
                    .map_err(|_| invalid("the instant is out of range"))?;
                Ok(DateOrTime::Zoned(zoned))
            }
            Some(_) => Err(invalid("only Z may follow the time")),
            None => match zone {
                Some(zone) => {
                    let zoned = zone
                        .to_ambiguous_zoned_datetime(datetime)
                        .compatible()
                        .map_err(|_| invalid("the instant is out of range"))?;
                    Ok(DateOrTime::Zoned(zoned))
                }
                None => Ok(DateOrTime::Floating(datetime)),
            },
        }
    }

    /// Returns the local date-time: a date at midnight, a floating value as
    /// it is, and a zoned value on the clock of its zone.
    pub fn local(&self) -> DateTime {
        match self {
            DateOrTime::Date(date) => date.to_datetime(jiff::civil::Time::midnight()),
            DateOrTime::Floating(datetime) => *datetime,
            DateOrTime::Zoned(zoned) => zoned.datetime(),
        }
    }

    /// Returns the instant, reading dates and floating values in
    /// `floating_zone` (a date means the start of its day).
    pub fn to_timestamp(&self, floating_zone: &TimeZone) -> jiff::Timestamp {
        match self {
            DateOrTime::Zoned(zoned) => zoned.timestamp(),
            other => floating_zone
                .to_ambiguous_timestamp(other.local())
                .compatible()
                .unwrap_or(jiff::Timestamp::MAX),
        }
    }

    pub(crate) fn form_name(&self) -> &'static str {
        match self {
            DateOrTime::Date(_) => "a date (YYYYMMDD)",
            DateOrTime::Floating(_) => "a local date-time (YYYYMMDDTHHMMSS)",
            DateOrTime::Zoned(zoned) if zoned.time_zone() == &TimeZone::UTC => {
                "a UTC date-time (YYYYMMDDTHHMMSSZ)"
            }
            DateOrTime::Zoned(_) => "a date-time with a time zone",
        }
    }
}

/// Formats the value in its iCalendar text form. A zoned value outside UTC
/// prints its local time and loses its zone, like a property value printed
/// without its `TZID` parameter.
impl fmt::Display for DateOrTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DateOrTime::Date(date) => write!(f, "{}", date.strftime("%Y%m%d")),
            DateOrTime::Floating(datetime) => write!(f, "{}", datetime.strftime("%Y%m%dT%H%M%S")),
            DateOrTime::Zoned(zoned) if zoned.time_zone() == &TimeZone::UTC => {
                write!(f, "{}", zoned.strftime("%Y%m%dT%H%M%SZ"))
            }
            DateOrTime::Zoned(zoned) => write!(f, "{}", zoned.strftime("%Y%m%dT%H%M%S")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_three_forms() {
        let date = DateOrTime::parse("20240229", None).unwrap();
        assert_eq!(date, DateOrTime::Date(jiff::civil::date(2024, 2, 29)));

        let floating = DateOrTime::parse("20240229T090000", None).unwrap();
        let expected = jiff::civil::date(2024, 2, 29).at(9, 0, 0, 0);
        assert_eq!(floating, DateOrTime::Floating(expected));

        let utc = DateOrTime::parse("20240229T090000Z", None).unwrap();
        assert_eq!(utc.to_string(), "20240229T090000Z");
    }

    #[test]
    fn parse_moves_gap_time_forward() {
        let london = TimeZone::get("Europe/London").unwrap();
        let value = DateOrTime::parse("20240331T013000", Some(&london)).unwrap();
        let DateOrTime::Zoned(zoned) = value else {
            panic!("expected a zoned value, got {value:?}");
        };
        assert_eq!(
            zoned.datetime(),
            jiff::civil::date(2024, 3, 31).at(2, 30, 0, 0)
        );
    }

    #[test]
    fn parse_rejects_bad_text() {
        for text in [
            "2024022",
            "20240230",
            "20240229X090000",
            "20240229T250000",
            "2024O229",
        ] {
            let error = DateOrTime::parse(text, None).unwrap_err();
            assert!(error.to_string().contains(text), "{error}");
        }
    }
}
