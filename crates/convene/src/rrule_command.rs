//! `convene rrule`: prints the occurrences of an RRULE from a DTSTART, for
//! checking a rule before it is stored.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Args;
use convene_recur::{Budget, DateOrTime, ExpandError, Recurrence, Rule, StartInstance};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::config::SettingsError;

/// Occurrences printed when neither `--count` nor a closed window is given.
const DEFAULT_COUNT: usize = 12;

/// Arguments of `convene rrule`.
#[derive(Debug, Clone, Args)]
pub struct RruleArgs {
    /// DTSTART as a local date-time (YYYYMMDDTHHMMSS) or a date (YYYYMMDD).
    #[arg(long, value_name = "DTSTART")]
    pub dtstart: String,

    /// IANA time zone of DTSTART, such as Europe/London. Occurrences then print in
    /// RFC 3339 with their UTC offset; without it they print in DTSTART's form.
    #[arg(long, value_name = "ZONE")]
    pub tz: Option<String>,

    /// Print occurrences at or after this instant (RFC 3339, such as
    /// 2026-01-01T00:00:00Z). Without --tz, local times are read as UTC.
    #[arg(long, value_name = "INSTANT")]
    pub from: Option<String>,

    /// Print occurrences before this instant (RFC 3339).
    #[arg(long, value_name = "INSTANT")]
    pub to: Option<String>,

    /// Maximum number of occurrences to print. Default: 12, or every occurrence in
    /// the window when both --from and --to are given.
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,

    /// The RRULE value without the `RRULE:` prefix, such as
    /// `FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10`. DTSTART is printed only when the rule
    /// generates it, as python-dateutil and libical do, so the output can be
    /// compared with theirs. RFC 5545 makes DTSTART the first instance even when
    /// the rule does not match it, which the output leaves out.
    #[arg(value_name = "RRULE")]
    pub rule: String,
}

/// Prints the occurrences and exits with status 0 once the expansion ends,
/// also when the rule has no instance at all. Invalid arguments return a
/// [`SettingsError`], which exits with status 2. A rule that finds no
/// further instance within the default budget, without proving that none
/// exists, prints what it found and then fails with status 1.
pub fn run(args: &RruleArgs) -> anyhow::Result<ExitCode> {
    let zone = args.tz.as_deref().map(parse_zone).transpose()?;
    let start = DateOrTime::parse(&args.dtstart, zone.as_ref()).map_err(|error| {
        SettingsError::new(format!(
            "invalid --dtstart: {error}; use YYYYMMDDTHHMMSS or YYYYMMDD"
        ))
    })?;
    let rule = Rule::parse(&args.rule)
        .map_err(|error| SettingsError::new(format!("invalid RRULE argument: {error}")))?;
    let from = args
        .from
        .as_deref()
        .map(|text| parse_instant("--from", text))
        .transpose()?;
    let to = args
        .to
        .as_deref()
        .map(|text| parse_instant("--to", text))
        .transpose()?;
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(SettingsError::new(format!(
            "--from {from} is not before --to {to}; give a window whose start comes first"
        ))
        .into());
    }

    let mut recurrence = Recurrence::new(start);
    // A DTSTART in a DST gap moves forward; the rule keeps the written time
    // of day on other days.
    if zone.is_some()
        && let Ok(DateOrTime::Floating(written)) = DateOrTime::parse(&args.dtstart, None)
    {
        recurrence.written_start = Some(written);
    }
    recurrence.rules.push(rule);
    recurrence.start_instance = StartInstance::WhenGenerated;
    let floating_zone = zone.clone().unwrap_or(TimeZone::UTC);

    let values: Vec<Result<DateOrTime, ExpandError>> = match (from, to) {
        (Some(from), Some(to)) => {
            let found = recurrence
                .between(from, to, &floating_zone, Budget::DEFAULT)
                .map_err(to_anyhow)?;
            let limit = args.count.unwrap_or(usize::MAX);
            found.into_iter().take(limit).map(Ok).collect()
        }
        (from, to) => {
            // Without an end the window is open, so the count bounds the output.
            let limit = args.count.unwrap_or(if to.is_some() {
                usize::MAX
            } else {
                DEFAULT_COUNT
            });
            let instant = |value: &DateOrTime| value.to_timestamp(&floating_zone);
            recurrence
                .occurrences()
                .filter(|occurrence| match (occurrence, from) {
                    (Ok(value), Some(from)) => instant(value) >= from,
                    _ => true,
                })
                .take_while(|occurrence| match (occurrence, to) {
                    (Ok(value), Some(to)) => instant(value) < to,
                    _ => true,
                })
                .take(limit)
                .collect()
        }
    };

    // Occurrences found before a budget ran out are printed before the error.
    let mut out = io::stdout().lock();
    for value in values {
        let value = value.map_err(to_anyhow)?;
        writeln!(out, "{}", format_value(&value, args.tz.is_some()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn parse_zone(name: &str) -> Result<TimeZone, SettingsError> {
    TimeZone::get(name).map_err(|_| {
        SettingsError::new(format!(
            "invalid --tz {name:?}: not a time zone in the IANA database; use a name such as Europe/London or UTC"
        ))
    })
}

fn parse_instant(flag: &str, text: &str) -> Result<Timestamp, SettingsError> {
    text.parse().map_err(|_| {
        SettingsError::new(format!(
            "invalid {flag} {text:?}: expected an RFC 3339 instant with an offset, such as 2026-01-01T00:00:00Z"
        ))
    })
}

/// Turns an expansion error into the command's error: a rule that does not
/// fit DTSTART is invalid input (exit status 2), a budget that ran out is
/// not.
fn to_anyhow(error: ExpandError) -> anyhow::Error {
    match error {
        ExpandError::BudgetExhausted { .. } => anyhow::Error::new(error),
        other => SettingsError::new(format!("invalid RRULE argument: {other}")).into(),
    }
}

/// Formats an occurrence: RFC 3339 with the offset when `--tz` is given,
/// and DTSTART's iCalendar form otherwise.
fn format_value(value: &DateOrTime, zoned_output: bool) -> String {
    match value {
        DateOrTime::Zoned(zoned) if zoned_output => {
            zoned.strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
        }
        DateOrTime::Date(date) if zoned_output => date.strftime("%Y-%m-%d").to_string(),
        other => other.to_string(),
    }
}
