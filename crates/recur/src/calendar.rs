//! Proleptic Gregorian arithmetic on day numbers.
//!
//! The expander works on plain integers because it visits every day of a
//! yearly period: a day is counted from 1970-01-01 (day 0) and a local time
//! is `day * 86_400 + second_of_day`. Weekdays are numbered from Monday (0)
//! to Sunday (6), as in jiff's `to_monday_zero_offset`.

pub(crate) const SECONDS_PER_DAY: i64 = 86_400;

/// Returns the day number of a valid date.
pub(crate) fn day_from_date(year: i64, month: u8, day: u8) -> i64 {
    // Count years from March, so that the leap day ends the counted year.
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (i64::from(month) + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Returns the year, month and day of a day number.
pub(crate) fn date_from_day(day_number: i64) -> (i64, u8, u8) {
    let shifted = day_number + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u8, day as u8)
}

pub(crate) fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

pub(crate) fn days_in_year(year: i64) -> i64 {
    if is_leap_year(year) { 366 } else { 365 }
}

pub(crate) fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Returns the weekday of a day number, Monday being 0.
pub(crate) fn weekday(day_number: i64) -> u8 {
    // 1970-01-01 was a Thursday.
    (day_number + 3).rem_euclid(7) as u8
}

/// Returns the first day of the week that contains `day_number`, for weeks
/// that start on `week_start`.
pub(crate) fn start_of_week(day_number: i64, week_start: u8) -> i64 {
    let days_since_start = (i64::from(weekday(day_number)) - i64::from(week_start)).rem_euclid(7);
    day_number - days_since_start
}

/// Returns the first day of week 1 of `year`: the week, starting on
/// `week_start`, that contains at least four days of that year (RFC 5545,
/// BYWEEKNO; ISO 8601 when the week starts on Monday).
pub(crate) fn first_day_of_week_one(year: i64, week_start: u8) -> i64 {
    start_of_week(day_from_date(year, 1, 4), week_start)
}

/// Returns the week number of a day and the number of weeks in the year the
/// week belongs to, which can differ from the day's calendar year in the
/// first and last days of a year.
pub(crate) fn week_number(day_number: i64, week_start: u8) -> (i64, i64) {
    let (year, _, _) = date_from_day(day_number);
    let mut week_year = year;
    if day_number < first_day_of_week_one(year, week_start) {
        week_year = year - 1;
    } else if day_number >= first_day_of_week_one(year + 1, week_start) {
        week_year = year + 1;
    }
    let first = first_day_of_week_one(week_year, week_start);
    let weeks_in_year = (first_day_of_week_one(week_year + 1, week_start) - first) / 7;
    ((day_number - first) / 7 + 1, weeks_in_year)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_numbers_round_trip() {
        for day_number in -800_000..800_000 {
            let (year, month, day) = date_from_day(day_number);
            assert_eq!(day_from_date(year, month, day), day_number);
        }
    }

    #[test]
    fn day_numbers_match_jiff() {
        let cases = [
            (1970, 1, 1),
            (2000, 2, 29),
            (2024, 12, 31),
            (1600, 3, 1),
            (9999, 12, 31),
        ];
        for (year, month, day) in cases {
            let date = jiff::civil::date(year, month, day);
            let epoch = jiff::civil::date(1970, 1, 1);
            let expected = date.since(epoch).unwrap().get_days();
            let number = day_from_date(i64::from(year), month as u8, day as u8);
            assert_eq!(number, i64::from(expected), "{date}");
            assert_eq!(
                i64::from(weekday(number)),
                i64::from(date.weekday().to_monday_zero_offset()),
                "{date}"
            );
        }
    }

    #[test]
    fn week_numbers_follow_iso_8601() {
        // 2026-01-01 is a Thursday, so it starts ISO week 1 of 2026. 2020
        // has 53 ISO weeks and 2021-01-03 still belongs to week 53.
        assert_eq!(week_number(day_from_date(2026, 1, 1), 0), (1, 53));
        assert_eq!(week_number(day_from_date(2021, 1, 3), 0), (53, 53));
        assert_eq!(week_number(day_from_date(2021, 1, 4), 0), (1, 52));
        assert_eq!(week_number(day_from_date(2024, 12, 30), 0), (1, 52));
    }

    #[test]
    fn week_numbers_follow_week_start() {
        // With weeks starting on Sunday, week 1 of 2026 starts on Sunday
        // 2026-01-04, so 2026-01-03 ends week 53 of 2025.
        assert_eq!(week_number(day_from_date(2026, 1, 4), 6).0, 1);
        assert_eq!(week_number(day_from_date(2026, 1, 3), 6), (53, 53));
    }
}
