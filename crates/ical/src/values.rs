//! Property values: TEXT escaping, DATE and DATE-TIME, DURATION and RRULE (RFC 5545 §3.3).

use jiff::SignedDuration;
use jiff::civil;

/// Decodes the backslash escapes of a TEXT value: `\\`, `\;`, `\,` and `\n` or `\N`.
///
/// A backslash before any other character is dropped and the character kept, which is what
/// most readers do with escapes such as `\:` that some writers add.
pub(crate) fn unescape_text(value: &str) -> String {
    let mut text = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            text.push(ch);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => text.push('\n'),
            Some(other) => text.push(other),
            None => text.push('\\'),
        }
    }
    text
}

/// Escapes a TEXT value: backslash, semicolon, comma and newline. A CR, alone or before LF,
/// becomes part of a single newline, because TEXT has no escape for CR.
pub(crate) fn escape_text(text: &str) -> String {
    let mut value = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => value.push_str("\\\\"),
            ';' => value.push_str("\\;"),
            ',' => value.push_str("\\,"),
            '\n' => value.push_str("\\n"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                value.push_str("\\n");
            }
            _ => value.push(ch),
        }
    }
    value
}

/// A DATE or DATE-TIME value before any TZID is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawTime {
    Date(civil::Date),
    Local(civil::DateTime),
    Utc(civil::DateTime),
}

/// Parses `YYYYMMDD`, `YYYYMMDDTHHMMSS` or `YYYYMMDDTHHMMSSZ`.
///
/// Dashes and colons are removed first, so the extended ISO 8601 form that some writers use
/// (`2024-03-01T09:00:00Z`) is read too. A time without seconds (`T0900`) is read as `T090000`.
pub(crate) fn parse_time(value: &str) -> Result<RawTime, String> {
    let compact: String = value
        .trim()
        .chars()
        .filter(|ch| *ch != '-' && *ch != ':')
        .collect();
    let invalid = || {
        format!(
            "invalid date or date-time {value:?}; expected YYYYMMDD, YYYYMMDDTHHMMSS or YYYYMMDDTHHMMSSZ"
        )
    };

    let (date_part, time_part) = match compact.split_once(['T', 't']) {
        Some((date, time)) => (date, Some(time)),
        None => (compact.as_str(), None),
    };
    if date_part.len() != 8 || !date_part.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid());
    }
    let year: i16 = date_part[0..4].parse().map_err(|_| invalid())?;
    let month: i8 = date_part[4..6].parse().map_err(|_| invalid())?;
    let day: i8 = date_part[6..8].parse().map_err(|_| invalid())?;
    let date = civil::Date::new(year, month, day).map_err(|_| invalid())?;

    let Some(time_part) = time_part else {
        return Ok(RawTime::Date(date));
    };
    let (digits, utc) = match time_part.strip_suffix(['Z', 'z']) {
        Some(digits) => (digits, true),
        None => (time_part, false),
    };
    if !(digits.len() == 6 || digits.len() == 4)
        || !digits.bytes().all(|byte| byte.is_ascii_digit())
    {
        return Err(invalid());
    }
    let hour: i8 = digits[0..2].parse().map_err(|_| invalid())?;
    let minute: i8 = digits[2..4].parse().map_err(|_| invalid())?;
    let second: i8 = match digits.get(4..6) {
        Some(seconds) => seconds.parse().map_err(|_| invalid())?,
        None => 0,
    };
    // RFC 5545 allows second 60 for a leap second; jiff has none, so it becomes 59.
    let time = civil::Time::new(hour, minute, second.min(59), 0).map_err(|_| invalid())?;
    let local = civil::DateTime::from_parts(date, time);
    Ok(if utc {
        RawTime::Utc(local)
    } else {
        RawTime::Local(local)
    })
}

/// A DURATION value: nominal days (weeks count as seven) and an exact time part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Duration {
    pub days: i64,
    pub exact: SignedDuration,
}

/// Parses a DURATION value such as `P1W`, `PT1H30M`, `-P1DT2H` or `P1D`.
pub(crate) fn parse_duration(value: &str) -> Result<Duration, String> {
    let invalid =
        || format!("invalid duration {value:?}; expected a form such as P1D, PT1H30M or P1W");
    let text = value.trim().to_ascii_uppercase();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, text.strip_prefix('+').unwrap_or(&text).to_string()),
    };
    let body = text.strip_prefix('P').ok_or_else(invalid)?;
    if body.is_empty() {
        return Err(invalid());
    }

    let mut days: i64 = 0;
    let mut seconds: i64 = 0;
    let mut in_time = false;
    let mut number = String::new();
    let mut saw_unit = false;
    for ch in body.chars() {
        match ch {
            '0'..='9' => number.push(ch),
            'T' if !in_time && number.is_empty() => in_time = true,
            'W' | 'D' | 'H' | 'M' | 'S' => {
                let amount: i64 = number.parse().map_err(|_| invalid())?;
                number.clear();
                saw_unit = true;
                let add = |total: &mut i64, factor: i64| -> Result<(), String> {
                    *total = amount
                        .checked_mul(factor)
                        .and_then(|part| total.checked_add(part))
                        .ok_or_else(invalid)?;
                    Ok(())
                };
                match (ch, in_time) {
                    ('W', false) => add(&mut days, 7)?,
                    ('D', false) => add(&mut days, 1)?,
                    ('H', true) => add(&mut seconds, 3600)?,
                    ('M', true) => add(&mut seconds, 60)?,
                    ('S', true) => add(&mut seconds, 1)?,
                    _ => return Err(invalid()),
                }
            }
            _ => return Err(invalid()),
        }
    }
    if !number.is_empty() || !saw_unit {
        return Err(invalid());
    }
    // About 27,000 years, far beyond any event but safely inside jiff's span limits.
    if days > 10_000_000 || seconds > 10_000_000 * 86_400 {
        return Err(invalid());
    }
    let sign = if negative { -1 } else { 1 };
    Ok(Duration {
        days: sign * days,
        exact: SignedDuration::from_secs(sign * seconds),
    })
}

/// Normalizes an RRULE value: upper case, no spaces or control characters, no empty parts,
/// and checks that it names a valid FREQ and that each part is NAME=VALUE.
pub(crate) fn normalize_rrule(value: &str) -> Result<String, String> {
    // `write` drops the same characters, so a rule reads the same after a round trip.
    let compact: String = value
        .chars()
        .filter(|ch| !ch.is_whitespace() && !ch.is_control())
        .collect::<String>()
        .to_ascii_uppercase();
    let parts: Vec<&str> = compact.split(';').filter(|part| !part.is_empty()).collect();
    let mut frequency = None;
    for part in &parts {
        let Some((name, rule_value)) = part.split_once('=') else {
            return Err(format!(
                "invalid RRULE part {part:?}; each part is NAME=VALUE"
            ));
        };
        if name.is_empty() || rule_value.is_empty() {
            return Err(format!(
                "invalid RRULE part {part:?}; each part is NAME=VALUE"
            ));
        }
        if name == "FREQ" {
            frequency = Some(rule_value);
        }
    }
    match frequency {
        Some("SECONDLY" | "MINUTELY" | "HOURLY" | "DAILY" | "WEEKLY" | "MONTHLY" | "YEARLY") => {
            Ok(parts.join(";"))
        }
        Some(other) => Err(format!(
            "invalid RRULE FREQ {other:?}; expected DAILY, WEEKLY, MONTHLY, YEARLY or another RFC 5545 frequency"
        )),
        None => Err(format!("RRULE {value:?} has no FREQ part")),
    }
}

/// Returns the year of the RRULE's UNTIL, if it has one.
pub(crate) fn rrule_until_year(rule: &str) -> Option<i16> {
    let until = rule
        .split(';')
        .find_map(|part| part.strip_prefix("UNTIL="))?;
    match parse_time(until).ok()? {
        RawTime::Date(date) => Some(date.year()),
        RawTime::Local(local) | RawTime::Utc(local) => Some(local.year()),
    }
}

/// Formats a date as `YYYYMMDD`.
pub(crate) fn format_date(date: civil::Date) -> String {
    format!("{:04}{:02}{:02}", date.year(), date.month(), date.day())
}

/// Formats a date-time as `YYYYMMDDTHHMMSS`.
pub(crate) fn format_datetime(local: civil::DateTime) -> String {
    format!(
        "{}T{:02}{:02}{:02}",
        format_date(local.date()),
        local.hour(),
        local.minute(),
        local.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escaping_round_trips() {
        let text = "a, b; c\\d\nsecond line";
        let escaped = escape_text(text);
        assert_eq!(escaped, "a\\, b\\; c\\\\d\\nsecond line");
        assert_eq!(unescape_text(&escaped), text);
    }

    #[test]
    fn text_unescape_reads_capital_n_and_stray_escapes() {
        assert_eq!(unescape_text("one\\Ntwo\\:three"), "one\ntwo:three");
    }

    #[test]
    fn text_escape_turns_crlf_into_one_newline() {
        assert_eq!(escape_text("a\r\nb\rc"), "a\\nb\\nc");
    }

    #[test]
    fn time_forms() {
        assert_eq!(
            parse_time("20240301").unwrap(),
            RawTime::Date(civil::date(2024, 3, 1))
        );
        assert_eq!(
            parse_time("20240301T090000").unwrap(),
            RawTime::Local(civil::date(2024, 3, 1).at(9, 0, 0, 0))
        );
        assert_eq!(
            parse_time("20240301T090000Z").unwrap(),
            RawTime::Utc(civil::date(2024, 3, 1).at(9, 0, 0, 0))
        );
        assert_eq!(
            parse_time("2024-03-01T09:00:00Z").unwrap(),
            RawTime::Utc(civil::date(2024, 3, 1).at(9, 0, 0, 0))
        );
    }

    #[test]
    fn time_rejects_invalid_values() {
        for value in [
            "2024030",
            "20240231",
            "20240301T250000",
            "20240301T0900001",
            "tomorrow",
        ] {
            let error = parse_time(value).unwrap_err();
            assert!(error.contains("YYYYMMDD"), "{value}: {error}");
        }
    }

    #[test]
    fn duration_forms() {
        let cases = [
            ("P1W", 7, 0),
            ("P2D", 2, 0),
            ("PT1H30M", 0, 5400),
            ("P1DT2H", 1, 7200),
            ("-PT15M", 0, -900),
            ("+PT10S", 0, 10),
        ];
        for (value, days, seconds) in cases {
            let duration = parse_duration(value).unwrap();
            assert_eq!(duration.days, days, "{value}");
            assert_eq!(duration.exact.as_secs(), seconds, "{value}");
        }
    }

    #[test]
    fn duration_rejects_invalid_values() {
        for value in ["", "P", "1H", "PT", "P1H", "PT1D", "P1.5D", "PT5"] {
            assert!(parse_duration(value).is_err(), "{value:?} was accepted");
        }
    }

    #[test]
    fn rrule_is_normalized() {
        let rule = normalize_rrule("freq=weekly; byday=MO,we;;").unwrap();
        assert_eq!(rule, "FREQ=WEEKLY;BYDAY=MO,WE");
    }

    #[test]
    fn rrule_without_freq_is_rejected() {
        let error = normalize_rrule("BYDAY=MO").unwrap_err();
        assert!(error.contains("FREQ"), "{error}");
        assert!(normalize_rrule("FREQ=SOMETIMES").is_err());
    }

    #[test]
    fn rrule_until_year_is_read() {
        assert_eq!(
            rrule_until_year("FREQ=DAILY;UNTIL=20301231T000000Z"),
            Some(2030)
        );
        assert_eq!(rrule_until_year("FREQ=DAILY;COUNT=3"), None);
    }
}
