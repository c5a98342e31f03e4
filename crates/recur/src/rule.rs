//! The RRULE value: parsing, the checks RFC 5545 §3.3.10 requires, and the
//! canonical text.

use std::fmt;
use std::str::FromStr;

use jiff::civil::Weekday;

use crate::error::RuleError;
use crate::value::DateOrTime;

/// The FREQ rule part, ordered from the shortest period to the longest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Frequency {
    Secondly,
    Minutely,
    Hourly,
    Daily,
    Weekly,
    Monthly,
    Yearly,
}

impl Frequency {
    const NAMES: [(&'static str, Frequency); 7] = [
        ("SECONDLY", Frequency::Secondly),
        ("MINUTELY", Frequency::Minutely),
        ("HOURLY", Frequency::Hourly),
        ("DAILY", Frequency::Daily),
        ("WEEKLY", Frequency::Weekly),
        ("MONTHLY", Frequency::Monthly),
        ("YEARLY", Frequency::Yearly),
    ];

    /// Returns the RFC 5545 name, such as `WEEKLY`.
    pub fn name(self) -> &'static str {
        Frequency::NAMES[self as usize].0
    }
}

/// One BYDAY entry: a weekday, with an ordinal such as the 1 in `1MO` or
/// the -1 in `-1SU` that picks one weekday of the month or year. Rules with
/// a frequency shorter than MONTHLY keep the ordinal in their text but
/// expand as if it were absent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WeekdayNum {
    /// 1 to 53 counts from the start of the month or year, -1 to -53 from
    /// its end, and `None` means every such weekday.
    pub ordinal: Option<i8>,
    pub weekday: Weekday,
}

const WEEKDAY_NAMES: [(&str, Weekday); 7] = [
    ("MO", Weekday::Monday),
    ("TU", Weekday::Tuesday),
    ("WE", Weekday::Wednesday),
    ("TH", Weekday::Thursday),
    ("FR", Weekday::Friday),
    ("SA", Weekday::Saturday),
    ("SU", Weekday::Sunday),
];

fn weekday_name(weekday: Weekday) -> &'static str {
    WEEKDAY_NAMES[weekday.to_monday_zero_offset() as usize].0
}

fn parse_weekday(text: &str) -> Option<Weekday> {
    WEEKDAY_NAMES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(text))
        .map(|&(_, weekday)| weekday)
}

impl fmt::Display for WeekdayNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(ordinal) = self.ordinal {
            write!(f, "{ordinal}")?;
        }
        f.write_str(weekday_name(self.weekday))
    }
}

/// One RRULE value, parsed and checked (RFC 5545 §3.3.10).
///
/// Numeric lists are kept sorted and free of duplicates, and BYDAY keeps
/// its given order without duplicates, so two rules that mean the same
/// compare equal more often than their texts do. The rule alone has no
/// start: [`crate::Recurrence`] pairs it with DTSTART.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    frequency: Frequency,
    interval: u32,
    count: Option<u32>,
    until: Option<DateOrTimeKey>,
    by_second: Vec<u8>,
    by_minute: Vec<u8>,
    by_hour: Vec<u8>,
    by_day: Vec<WeekdayNum>,
    by_month_day: Vec<i8>,
    by_year_day: Vec<i16>,
    by_week_no: Vec<i8>,
    by_month: Vec<u8>,
    by_set_pos: Vec<i16>,
    week_start: Weekday,
}

/// UNTIL with `Hash`, which `DateOrTime` lacks because of its zone.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DateOrTimeKey(DateOrTime);

impl std::hash::Hash for DateOrTimeKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_string().hash(state);
    }
}

impl Rule {
    /// Parses an RRULE value such as `FREQ=MONTHLY;BYDAY=-1FR;COUNT=6`,
    /// without the `RRULE:` prefix. Names are matched without regard to
    /// case, and one trailing semicolon is allowed.
    pub fn parse(value: &str) -> Result<Rule, RuleError> {
        let mut builder = Builder::default();
        // `get` rather than slicing: byte 6 may fall inside a multi-byte character.
        if value
            .get(..6)
            .is_some_and(|prefix| prefix.eq_ignore_ascii_case("RRULE:"))
        {
            return Err(RuleError::new(
                "RRULE",
                format!(
                    "the RRULE value {value:?} starts with the property name; pass only the part after \"RRULE:\""
                ),
            ));
        }
        let value = value.strip_suffix(';').unwrap_or(value);
        for part in value.split(';') {
            let Some((name, text)) = part.split_once('=') else {
                return Err(RuleError::new(
                    part,
                    format!(
                        "RRULE part {part:?} has no '='; write each part as NAME=VALUE, separated by ';'"
                    ),
                ));
            };
            builder.set(&name.to_ascii_uppercase(), text)?;
        }
        builder.build()
    }

    pub fn frequency(&self) -> Frequency {
        self.frequency
    }

    /// Returns INTERVAL: the number of periods of the frequency from one
    /// period with instances to the next, 1 when absent.
    pub fn interval(&self) -> u32 {
        self.interval
    }

    pub fn count(&self) -> Option<u32> {
        self.count
    }

    /// Returns UNTIL, an inclusive bound.
    pub fn until(&self) -> Option<&DateOrTime> {
        self.until.as_ref().map(|key| &key.0)
    }

    pub fn by_second(&self) -> &[u8] {
        &self.by_second
    }

    pub fn by_minute(&self) -> &[u8] {
        &self.by_minute
    }

    pub fn by_hour(&self) -> &[u8] {
        &self.by_hour
    }

    pub fn by_day(&self) -> &[WeekdayNum] {
        &self.by_day
    }

    pub fn by_month_day(&self) -> &[i8] {
        &self.by_month_day
    }

    pub fn by_year_day(&self) -> &[i16] {
        &self.by_year_day
    }

    pub fn by_week_no(&self) -> &[i8] {
        &self.by_week_no
    }

    pub fn by_month(&self) -> &[u8] {
        &self.by_month
    }

    pub fn by_set_pos(&self) -> &[i16] {
        &self.by_set_pos
    }

    /// Returns WKST, the first day of the week, which is Monday when absent.
    pub fn week_start(&self) -> Weekday {
        self.week_start
    }
}

impl FromStr for Rule {
    type Err = RuleError;

    fn from_str(value: &str) -> Result<Rule, RuleError> {
        Rule::parse(value)
    }
}

/// Formats the rule in canonical text: FREQ first, then the other parts in
/// the order of RFC 5545's grammar, leaving out INTERVAL=1 and WKST=MO.
/// Parsing the text gives an equal rule.
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn list<T: fmt::Display>(values: &[T]) -> String {
            let texts: Vec<String> = values.iter().map(ToString::to_string).collect();
            texts.join(",")
        }

        write!(f, "FREQ={}", self.frequency.name())?;
        if let Some(until) = self.until() {
            write!(f, ";UNTIL={until}")?;
        }
        if let Some(count) = self.count {
            write!(f, ";COUNT={count}")?;
        }
        if self.interval != 1 {
            write!(f, ";INTERVAL={}", self.interval)?;
        }
        let parts = [
            ("BYSECOND", list(&self.by_second)),
            ("BYMINUTE", list(&self.by_minute)),
            ("BYHOUR", list(&self.by_hour)),
            ("BYDAY", list(&self.by_day)),
            ("BYMONTHDAY", list(&self.by_month_day)),
            ("BYYEARDAY", list(&self.by_year_day)),
            ("BYWEEKNO", list(&self.by_week_no)),
            ("BYMONTH", list(&self.by_month)),
            ("BYSETPOS", list(&self.by_set_pos)),
        ];
        for (name, values) in parts {
            if !values.is_empty() {
                write!(f, ";{name}={values}")?;
            }
        }
        if self.week_start != Weekday::Monday {
            write!(f, ";WKST={}", weekday_name(self.week_start))?;
        }
        Ok(())
    }
}

/// The parts seen so far, each at most once.
#[derive(Default)]
struct Builder {
    frequency: Option<Frequency>,
    interval: Option<u32>,
    count: Option<u32>,
    until: Option<DateOrTime>,
    by_second: Option<Vec<u8>>,
    by_minute: Option<Vec<u8>>,
    by_hour: Option<Vec<u8>>,
    by_day: Option<Vec<WeekdayNum>>,
    by_month_day: Option<Vec<i8>>,
    by_year_day: Option<Vec<i16>>,
    by_week_no: Option<Vec<i8>>,
    by_month: Option<Vec<u8>>,
    by_set_pos: Option<Vec<i16>>,
    week_start: Option<Weekday>,
}

fn set_once<T>(slot: &mut Option<T>, name: &str, value: T) -> Result<(), RuleError> {
    if slot.is_some() {
        return Err(RuleError::new(
            name,
            format!("RRULE part {name} appears more than once; keep one {name}"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

fn parse_positive(name: &str, text: &str) -> Result<u32, RuleError> {
    match text.parse::<u32>() {
        Ok(value) if value >= 1 && !text.starts_with('+') => Ok(value),
        _ => Err(RuleError::new(
            name,
            format!(
                "RRULE part {name}={text} is invalid; {name} must be a whole number of at least 1"
            ),
        )),
    }
}

/// Parses a comma-separated list of integers, each in `min..=max` and,
/// when `signed`, also in `-max..=-min`.
fn parse_numbers(
    name: &str,
    text: &str,
    min: i64,
    max: i64,
    signed: bool,
) -> Result<Vec<i64>, RuleError> {
    let range = if signed {
        format!("{min} to {max} or -{max} to -{min}")
    } else {
        format!("{min} to {max}")
    };
    let invalid = |item: &str| {
        RuleError::new(
            name,
            format!("RRULE part {name}={text} is invalid at {item:?}; each value must be {range}"),
        )
    };
    let mut values = Vec::new();
    for item in text.split(',') {
        let value: i64 = item.parse().map_err(|_| invalid(item))?;
        let magnitude = value.abs();
        let in_range = (min..=max).contains(&magnitude) && (signed || value >= 0);
        if !in_range || (value == 0 && min > 0) {
            return Err(invalid(item));
        }
        values.push(value);
    }
    values.sort_unstable();
    values.dedup();
    Ok(values)
}

fn parse_by_day(text: &str) -> Result<Vec<WeekdayNum>, RuleError> {
    let mut entries = Vec::new();
    for item in text.split(',') {
        let invalid = || {
            RuleError::new(
                "BYDAY",
                format!(
                    "RRULE part BYDAY={text} is invalid at {item:?}; each value is a weekday (MO, TU, WE, TH, FR, SA, SU), optionally preceded by 1 to 53 or -1 to -53"
                ),
            )
        };
        // The weekday is the last two bytes, which must not split a character.
        let (number, name) = item
            .len()
            .checked_sub(2)
            .and_then(|at| item.split_at_checked(at))
            .ok_or_else(invalid)?;
        let weekday = parse_weekday(name).ok_or_else(invalid)?;
        let ordinal = if number.is_empty() {
            None
        } else {
            let value: i8 = number.parse().map_err(|_| invalid())?;
            if value == 0 || !(-53..=53).contains(&value) {
                return Err(invalid());
            }
            Some(value)
        };
        let entry = WeekdayNum { ordinal, weekday };
        if !entries.contains(&entry) {
            entries.push(entry);
        }
    }
    Ok(entries)
}

fn narrow<T: TryFrom<i64>>(values: Vec<i64>) -> Vec<T> {
    values
        .into_iter()
        .filter_map(|value| T::try_from(value).ok())
        .collect()
}

impl Builder {
    fn set(&mut self, name: &str, text: &str) -> Result<(), RuleError> {
        if text.is_empty() {
            return Err(RuleError::new(
                name,
                format!("RRULE part {name} has an empty value; give a value or remove the part"),
            ));
        }
        match name {
            "FREQ" => {
                let frequency = Frequency::NAMES
                    .iter()
                    .find(|(known, _)| known.eq_ignore_ascii_case(text))
                    .map(|&(_, frequency)| frequency)
                    .ok_or_else(|| {
                        RuleError::new(
                            name,
                            format!(
                                "RRULE part FREQ={text} is invalid; use SECONDLY, MINUTELY, HOURLY, DAILY, WEEKLY, MONTHLY or YEARLY"
                            ),
                        )
                    })?;
                set_once(&mut self.frequency, name, frequency)
            }
            "INTERVAL" => set_once(&mut self.interval, name, parse_positive(name, text)?),
            "COUNT" => set_once(&mut self.count, name, parse_positive(name, text)?),
            "UNTIL" => {
                let until = DateOrTime::parse(text, None).map_err(|error| {
                    RuleError::new(name, format!("RRULE part UNTIL={text} is invalid: {error}"))
                })?;
                set_once(&mut self.until, name, until)
            }
            "BYSECOND" => {
                // 60 is a leap second, which the RFC allows and which jiff's
                // civil times never contain, so it matches nothing.
                let values = parse_numbers(name, text, 0, 60, false)?;
                set_once(&mut self.by_second, name, narrow(values))
            }
            "BYMINUTE" => {
                let values = parse_numbers(name, text, 0, 59, false)?;
                set_once(&mut self.by_minute, name, narrow(values))
            }
            "BYHOUR" => {
                let values = parse_numbers(name, text, 0, 23, false)?;
                set_once(&mut self.by_hour, name, narrow(values))
            }
            "BYDAY" => set_once(&mut self.by_day, name, parse_by_day(text)?),
            "BYMONTHDAY" => {
                let values = parse_numbers(name, text, 1, 31, true)?;
                set_once(&mut self.by_month_day, name, narrow(values))
            }
            "BYYEARDAY" => {
                let values = parse_numbers(name, text, 1, 366, true)?;
                set_once(&mut self.by_year_day, name, narrow(values))
            }
            "BYWEEKNO" => {
                let values = parse_numbers(name, text, 1, 53, true)?;
                set_once(&mut self.by_week_no, name, narrow(values))
            }
            "BYMONTH" => {
                let values = parse_numbers(name, text, 1, 12, false)?;
                set_once(&mut self.by_month, name, narrow(values))
            }
            "BYSETPOS" => {
                let values = parse_numbers(name, text, 1, 366, true)?;
                set_once(&mut self.by_set_pos, name, narrow(values))
            }
            "WKST" => {
                let weekday = parse_weekday(text).ok_or_else(|| {
                    RuleError::new(
                        name,
                        format!(
                            "RRULE part WKST={text} is invalid; use MO, TU, WE, TH, FR, SA or SU"
                        ),
                    )
                })?;
                set_once(&mut self.week_start, name, weekday)
            }
            _ => Err(RuleError::new(
                name,
                format!(
                    "unknown RRULE part {name:?}; RFC 5545 defines FREQ, UNTIL, COUNT, INTERVAL, BYSECOND, BYMINUTE, BYHOUR, BYDAY, BYMONTHDAY, BYYEARDAY, BYWEEKNO, BYMONTH, BYSETPOS and WKST"
                ),
            )),
        }
    }

    /// Checks the combinations RFC 5545 §3.3.10 forbids and builds the rule.
    fn build(self) -> Result<Rule, RuleError> {
        let Some(frequency) = self.frequency else {
            return Err(RuleError::new(
                "FREQ",
                "the RRULE has no FREQ part; add one, such as FREQ=WEEKLY",
            ));
        };
        let forbid = |present: bool, part: &str, reason: &str| -> Result<(), RuleError> {
            if present {
                return Err(RuleError::new(part, format!("RRULE part {part} {reason}")));
            }
            Ok(())
        };
        let freq = frequency.name();
        forbid(
            self.count.is_some() && self.until.is_some(),
            "COUNT",
            "cannot be combined with UNTIL; keep one of them",
        )?;
        forbid(
            self.by_week_no.is_some() && frequency != Frequency::Yearly,
            "BYWEEKNO",
            &format!(
                "is only allowed with FREQ=YEARLY, not FREQ={freq}; remove BYWEEKNO or use FREQ=YEARLY"
            ),
        )?;
        forbid(
            self.by_year_day.is_some()
                && matches!(
                    frequency,
                    Frequency::Daily | Frequency::Weekly | Frequency::Monthly
                ),
            "BYYEARDAY",
            &format!("is not allowed with FREQ={freq}; remove BYYEARDAY or use FREQ=YEARLY"),
        )?;
        forbid(
            self.by_month_day.is_some() && frequency == Frequency::Weekly,
            "BYMONTHDAY",
            "is not allowed with FREQ=WEEKLY; remove BYMONTHDAY or use FREQ=MONTHLY",
        )?;
        // RFC 5545 forbids a BYDAY ordinal with frequencies shorter than
        // MONTHLY, but python-dateutil 2.9 and libical 3.0 accept such rules
        // and calendar files contain them, so the expander ignores the
        // ordinal there instead of rejecting the rule.
        let by_day = self.by_day.unwrap_or_default();
        let has_ordinal = by_day.iter().any(|entry| entry.ordinal.is_some());
        forbid(
            has_ordinal && self.by_week_no.is_some(),
            "BYDAY",
            "has an ordinal (such as -1SU), which is not allowed together with BYWEEKNO; drop the number or BYWEEKNO",
        )?;
        Ok(Rule {
            frequency,
            interval: self.interval.unwrap_or(1),
            count: self.count,
            until: self.until.map(DateOrTimeKey),
            by_second: self.by_second.unwrap_or_default(),
            by_minute: self.by_minute.unwrap_or_default(),
            by_hour: self.by_hour.unwrap_or_default(),
            by_day,
            by_month_day: self.by_month_day.unwrap_or_default(),
            by_year_day: self.by_year_day.unwrap_or_default(),
            by_week_no: self.by_week_no.unwrap_or_default(),
            by_month: self.by_month.unwrap_or_default(),
            by_set_pos: self.by_set_pos.unwrap_or_default(),
            week_start: self.week_start.unwrap_or(Weekday::Monday),
        })
    }
}
