//! The examples of RFC 5545 §3.8.5.3, with expected values written from the
//! RFC text, and the zone, EXDATE, BYSETPOS and budget rules of §3.3.10.

use convene_recur::{Budget, DateOrTime, ExpandError, Recurrence, Rule, StartInstance};
use jiff::Timestamp;
use jiff::tz::TimeZone;

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).unwrap()
}

fn recurrence(zone_name: Option<&str>, start: &str, rule: &str) -> Recurrence {
    let zone = zone_name.map(zone);
    let start = DateOrTime::parse(start, zone.as_ref()).unwrap();
    let mut recurrence = Recurrence::new(start);
    recurrence.rules.push(Rule::parse(rule).unwrap());
    recurrence
}

/// Returns the first `limit` occurrences as local times (`YYYYMMDDTHHMMSS`).
fn first(recurrence: &Recurrence, limit: usize) -> Vec<String> {
    recurrence
        .occurrences()
        .take(limit)
        .map(|occurrence| occurrence.unwrap().to_string())
        .collect()
}

/// Checks a rule from a New York DTSTART against the RFC's list: all of it
/// when the rule ends, its start otherwise.
fn check_new_york(start: &str, rule: &str, expected: &[&str]) {
    let recurrence = recurrence(Some("America/New_York"), start, rule);
    let ends = rule.contains("COUNT") || rule.contains("UNTIL");
    let limit = if ends {
        expected.len() + 1
    } else {
        expected.len()
    };
    assert_eq!(first(&recurrence, limit), expected, "{rule}");
}

fn days(year_month: &str, days: &[u32]) -> Vec<String> {
    days.iter()
        .map(|day| format!("{year_month}{day:02}T090000"))
        .collect()
}

#[test]
fn rfc_daily_examples() {
    check_new_york(
        "19970902T090000",
        "FREQ=DAILY;COUNT=10",
        &days("199709", &[2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    check_new_york(
        "19970902T090000",
        "FREQ=DAILY;INTERVAL=10;COUNT=5",
        &[
            "19970902T090000",
            "19970912T090000",
            "19970922T090000",
            "19971002T090000",
            "19971012T090000",
        ],
    );

    let until = recurrence(
        Some("America/New_York"),
        "19970902T090000",
        "FREQ=DAILY;UNTIL=19971224T000000Z",
    );
    let all = first(&until, 200);
    assert_eq!(all.len(), 113);
    assert_eq!(all.last().unwrap(), "19971223T090000");
}

#[test]
fn rfc_weekly_examples() {
    check_new_york(
        "19970902T090000",
        "FREQ=WEEKLY;COUNT=10",
        &[
            "19970902T090000",
            "19970909T090000",
            "19970916T090000",
            "19970923T090000",
            "19970930T090000",
            "19971007T090000",
            "19971014T090000",
            "19971021T090000",
            "19971028T090000",
            "19971104T090000",
        ],
    );
    check_new_york(
        "19970902T090000",
        "FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH",
        &[
            "19970902T090000",
            "19970904T090000",
            "19970909T090000",
            "19970911T090000",
            "19970916T090000",
            "19970918T090000",
            "19970923T090000",
            "19970925T090000",
            "19970930T090000",
            "19971002T090000",
        ],
    );
    let every_other = recurrence(
        Some("America/New_York"),
        "19970901T090000",
        "FREQ=WEEKLY;INTERVAL=2;UNTIL=19971224T000000Z;WKST=SU;BYDAY=MO,WE,FR",
    );
    let mut expected = days("199709", &[1, 3, 5, 15, 17, 19, 29]);
    expected.extend(days("199710", &[1, 3, 13, 15, 17, 27, 29, 31]));
    expected.extend(days("199711", &[10, 12, 14, 24, 26, 28]));
    expected.extend(days("199712", &[8, 10, 12, 22]));
    assert_eq!(first(&every_other, 100), expected);
}

#[test]
fn rfc_week_start_examples() {
    check_new_york(
        "19970805T090000",
        "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=MO",
        &[
            "19970805T090000",
            "19970810T090000",
            "19970819T090000",
            "19970824T090000",
        ],
    );
    check_new_york(
        "19970805T090000",
        "FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU;WKST=SU",
        &[
            "19970805T090000",
            "19970817T090000",
            "19970819T090000",
            "19970831T090000",
        ],
    );
}

#[test]
fn rfc_monthly_examples() {
    check_new_york(
        "19970905T090000",
        "FREQ=MONTHLY;COUNT=10;BYDAY=1FR",
        &[
            "19970905T090000",
            "19971003T090000",
            "19971107T090000",
            "19971205T090000",
            "19980102T090000",
            "19980206T090000",
            "19980306T090000",
            "19980403T090000",
            "19980501T090000",
            "19980605T090000",
        ],
    );
    check_new_york(
        "19970907T090000",
        "FREQ=MONTHLY;INTERVAL=2;COUNT=10;BYDAY=1SU,-1SU",
        &[
            "19970907T090000",
            "19970928T090000",
            "19971102T090000",
            "19971130T090000",
            "19980104T090000",
            "19980125T090000",
            "19980301T090000",
            "19980329T090000",
            "19980503T090000",
            "19980531T090000",
        ],
    );
    check_new_york(
        "19970922T090000",
        "FREQ=MONTHLY;COUNT=6;BYDAY=-2MO",
        &[
            "19970922T090000",
            "19971020T090000",
            "19971117T090000",
            "19971222T090000",
            "19980119T090000",
            "19980216T090000",
        ],
    );
    check_new_york(
        "19970928T090000",
        "FREQ=MONTHLY;BYMONTHDAY=-3",
        &[
            "19970928T090000",
            "19971029T090000",
            "19971128T090000",
            "19971229T090000",
            "19980129T090000",
            "19980226T090000",
        ],
    );
    check_new_york(
        "19970930T090000",
        "FREQ=MONTHLY;COUNT=10;BYMONTHDAY=1,-1",
        &[
            "19970930T090000",
            "19971001T090000",
            "19971031T090000",
            "19971101T090000",
            "19971130T090000",
            "19971201T090000",
            "19971231T090000",
            "19980101T090000",
            "19980131T090000",
            "19980201T090000",
        ],
    );
    let mut eighteen = days("199709", &[10, 11, 12, 13, 14, 15]);
    eighteen.extend(days("199903", &[10, 11, 12, 13]));
    let eighteen: Vec<&str> = eighteen.iter().map(String::as_str).collect();
    check_new_york(
        "19970910T090000",
        "FREQ=MONTHLY;INTERVAL=18;COUNT=10;BYMONTHDAY=10,11,12,13,14,15",
        &eighteen,
    );

    let mut tuesdays = days("199709", &[2, 9, 16, 23, 30]);
    tuesdays.extend(days("199711", &[4, 11, 18, 25]));
    tuesdays.extend(days("199801", &[6, 13, 20, 27]));
    tuesdays.extend(days("199803", &[3, 10, 17, 24, 31]));
    let tuesdays: Vec<&str> = tuesdays.iter().map(String::as_str).collect();
    check_new_york(
        "19970902T090000",
        "FREQ=MONTHLY;INTERVAL=2;BYDAY=TU",
        &tuesdays,
    );
}

#[test]
fn rfc_yearly_examples() {
    check_new_york(
        "19970610T090000",
        "FREQ=YEARLY;COUNT=10;BYMONTH=6,7",
        &[
            "19970610T090000",
            "19970710T090000",
            "19980610T090000",
            "19980710T090000",
            "19990610T090000",
            "19990710T090000",
            "20000610T090000",
            "20000710T090000",
            "20010610T090000",
            "20010710T090000",
        ],
    );
    check_new_york(
        "19970310T090000",
        "FREQ=YEARLY;INTERVAL=2;COUNT=10;BYMONTH=1,2,3",
        &[
            "19970310T090000",
            "19990110T090000",
            "19990210T090000",
            "19990310T090000",
            "20010110T090000",
            "20010210T090000",
            "20010310T090000",
            "20030110T090000",
            "20030210T090000",
            "20030310T090000",
        ],
    );
    check_new_york(
        "19970101T090000",
        "FREQ=YEARLY;INTERVAL=3;COUNT=10;BYYEARDAY=1,100,200",
        &[
            "19970101T090000",
            "19970410T090000",
            "19970719T090000",
            "20000101T090000",
            "20000409T090000",
            "20000718T090000",
            "20030101T090000",
            "20030410T090000",
            "20030719T090000",
            "20060101T090000",
        ],
    );
    check_new_york(
        "19970519T090000",
        "FREQ=YEARLY;BYDAY=20MO",
        &["19970519T090000", "19980518T090000", "19990517T090000"],
    );
    check_new_york(
        "19970512T090000",
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        &["19970512T090000", "19980511T090000", "19990517T090000"],
    );
    let mut march = days("199703", &[13, 20, 27]);
    march.extend(days("199803", &[5, 12, 19, 26]));
    march.extend(days("199903", &[4, 11, 18, 25]));
    let march: Vec<&str> = march.iter().map(String::as_str).collect();
    check_new_york("19970313T090000", "FREQ=YEARLY;BYMONTH=3;BYDAY=TH", &march);

    let mut summer = days("199706", &[5, 12, 19, 26]);
    summer.extend(days("199707", &[3, 10, 17, 24, 31]));
    summer.extend(days("199708", &[7, 14, 21, 28]));
    summer.extend(days("199806", &[4, 11, 18, 25]));
    let summer: Vec<&str> = summer.iter().map(String::as_str).collect();
    check_new_york(
        "19970605T090000",
        "FREQ=YEARLY;BYDAY=TH;BYMONTH=6,7,8",
        &summer,
    );

    check_new_york(
        "19961105T090000",
        "FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8",
        &["19961105T090000", "20001107T090000", "20041102T090000"],
    );
}

#[test]
fn rfc_friday_13th_excludes_start() {
    let new_york = zone("America/New_York");
    let mut recurrence = recurrence(
        Some("America/New_York"),
        "19970902T090000",
        "FREQ=MONTHLY;BYDAY=FR;BYMONTHDAY=13",
    );
    recurrence
        .exdates
        .push(DateOrTime::parse("19970902T090000", Some(&new_york)).unwrap());

    assert_eq!(
        first(&recurrence, 5),
        [
            "19980213T090000",
            "19980313T090000",
            "19981113T090000",
            "19990813T090000",
            "20001013T090000"
        ]
    );
}

#[test]
fn rfc_set_position_examples() {
    check_new_york(
        "19970913T090000",
        "FREQ=MONTHLY;BYDAY=SA;BYMONTHDAY=7,8,9,10,11,12,13",
        &[
            "19970913T090000",
            "19971011T090000",
            "19971108T090000",
            "19971213T090000",
            "19980110T090000",
            "19980207T090000",
            "19980307T090000",
            "19980411T090000",
            "19980509T090000",
            "19980613T090000",
        ],
    );
    check_new_york(
        "19970904T090000",
        "FREQ=MONTHLY;COUNT=3;BYDAY=TU,WE,TH;BYSETPOS=3",
        &["19970904T090000", "19971007T090000", "19971106T090000"],
    );
    check_new_york(
        "19970929T090000",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2",
        &[
            "19970929T090000",
            "19971030T090000",
            "19971127T090000",
            "19971230T090000",
            "19980129T090000",
            "19980226T090000",
            "19980330T090000",
        ],
    );
}

#[test]
fn rfc_time_examples() {
    check_new_york(
        "19970902T090000",
        "FREQ=MINUTELY;INTERVAL=15;COUNT=6",
        &[
            "19970902T090000",
            "19970902T091500",
            "19970902T093000",
            "19970902T094500",
            "19970902T100000",
            "19970902T101500",
        ],
    );
    check_new_york(
        "19970902T090000",
        "FREQ=MINUTELY;INTERVAL=90;COUNT=4",
        &[
            "19970902T090000",
            "19970902T103000",
            "19970902T120000",
            "19970902T133000",
        ],
    );
    check_new_york(
        "19970902T090000",
        "FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40",
        &[
            "19970902T090000",
            "19970902T092000",
            "19970902T094000",
            "19970902T100000",
            "19970902T102000",
        ],
    );
    let every_twenty = recurrence(
        Some("America/New_York"),
        "19970902T090000",
        "FREQ=DAILY;BYHOUR=9,10,11,12,13,14,15,16;BYMINUTE=0,20,40",
    );
    let first_day: Vec<String> = first(&every_twenty, 25).into_iter().take(24).collect();
    assert_eq!(first_day.last().unwrap(), "19970902T164000");
    assert_eq!(first(&every_twenty, 25)[24], "19970903T090000");
}

#[test]
fn invalid_dates_are_skipped_not_counted() {
    let recurrence = recurrence(
        None,
        "20070115T090000",
        "FREQ=MONTHLY;BYMONTHDAY=15,30;COUNT=5",
    );

    assert_eq!(
        first(&recurrence, 10),
        [
            "20070115T090000",
            "20070130T090000",
            "20070215T090000",
            "20070315T090000",
            "20070330T090000"
        ]
    );
}

fn in_london(recurrence: &Recurrence, from: &str, to: &str) -> Vec<String> {
    let from: Timestamp = from.parse().unwrap();
    let to: Timestamp = to.parse().unwrap();
    recurrence
        .between(from, to, &TimeZone::UTC, Budget::DEFAULT)
        .unwrap()
        .into_iter()
        .map(|value| match value {
            DateOrTime::Zoned(zoned) => zoned.strftime("%H:%M%:z").to_string(),
            other => panic!("expected a zoned value, got {other:?}"),
        })
        .collect()
}

#[test]
fn gap_times_are_skipped_and_fold_times_occur_once() {
    let rule = "FREQ=DAILY;BYHOUR=0,1,2,3,4;BYMINUTE=0,30";
    let recurrence = recurrence(Some("Europe/London"), "20240301T000000", rule);

    assert_eq!(
        in_london(&recurrence, "2024-03-31T00:00:00Z", "2024-03-31T12:00:00Z"),
        [
            "00:00+00:00",
            "00:30+00:00",
            "02:00+01:00",
            "02:30+01:00",
            "03:00+01:00",
            "03:30+01:00",
            "04:00+01:00",
            "04:30+01:00"
        ]
    );
    assert_eq!(
        in_london(&recurrence, "2024-10-26T23:00:00Z", "2024-10-27T12:00:00Z"),
        [
            "00:00+01:00",
            "00:30+01:00",
            "01:00+01:00",
            "01:30+01:00",
            "02:00+00:00",
            "02:30+00:00",
            "03:00+00:00",
            "03:30+00:00",
            "04:00+00:00",
            "04:30+00:00",
        ]
    );

    // The same days read lazily from DTSTART: ten instances a day, eight on
    // the day of the gap.
    let per_day = |day: &str| {
        recurrence
            .occurrences()
            .map(Result::unwrap)
            .take_while(|value| value.to_string().as_str() < "20241028")
            .filter(|value| value.to_string().starts_with(day))
            .count()
    };
    assert_eq!(per_day("20240330"), 10);
    assert_eq!(per_day("20240331"), 8);
    assert_eq!(per_day("20241027"), 10);
}

#[test]
fn gap_times_are_not_counted() {
    let recurrence = recurrence(
        Some("Europe/London"),
        "20240330T013000",
        "FREQ=DAILY;COUNT=3",
    );

    assert_eq!(
        first(&recurrence, 5),
        ["20240330T013000", "20240401T013000", "20240402T013000"]
    );
}

#[test]
fn start_in_gap_moves_forward() {
    let recurrence = recurrence(
        Some("Europe/London"),
        "20240331T013000",
        "FREQ=DAILY;COUNT=2",
    );

    let values: Vec<DateOrTime> = recurrence.occurrences().map(Result::unwrap).collect();
    let DateOrTime::Zoned(start) = &values[0] else {
        panic!("expected a zoned start, got {:?}", values[0]);
    };
    assert_eq!(start.timestamp().to_string(), "2024-03-31T01:30:00Z");
    assert_eq!(values.len(), 2);
}

#[test]
fn start_in_gap_keeps_written_time() {
    let mut recurrence = recurrence(
        Some("Europe/London"),
        "20240331T013000",
        "FREQ=DAILY;COUNT=3",
    );
    recurrence.written_start = Some(jiff::civil::date(2024, 3, 31).at(1, 30, 0, 0));

    // DTSTART itself moves forward to 02:30 and counts; later days keep
    // the written 01:30.
    assert_eq!(
        first(&recurrence, 4),
        ["20240331T023000", "20240401T013000", "20240402T013000"]
    );

    let from: Timestamp = "2024-03-30T00:00:00Z".parse().unwrap();
    let to: Timestamp = "2024-04-03T00:00:00Z".parse().unwrap();
    let found: Vec<String> = recurrence
        .between(from, to, &TimeZone::UTC, Budget::DEFAULT)
        .unwrap()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        ["20240331T023000", "20240401T013000", "20240402T013000"]
    );
}

#[test]
fn until_in_utc_is_inclusive_for_zoned_start() {
    let recurrence = recurrence(
        Some("Europe/London"),
        "20260105T090000",
        "FREQ=DAILY;UNTIL=20260107T090000Z",
    );

    assert_eq!(
        first(&recurrence, 5),
        ["20260105T090000", "20260106T090000", "20260107T090000"]
    );
}

#[test]
fn until_must_match_start_form() {
    let cases = [
        (
            Some("Europe/London"),
            "20260105T090000",
            "FREQ=DAILY;UNTIL=20260107T090000",
        ),
        (None, "20260105T090000", "FREQ=DAILY;UNTIL=20260107T090000Z"),
        (None, "20260105T090000", "FREQ=DAILY;UNTIL=20260107"),
        (None, "20260105", "FREQ=DAILY;UNTIL=20260107T090000"),
    ];
    for (zone_name, start, rule) in cases {
        let recurrence = recurrence(zone_name, start, rule);
        let error = recurrence.occurrences().next().unwrap().unwrap_err();
        assert!(
            matches!(error, ExpandError::UntilForm { .. }),
            "{rule}: {error}"
        );
        assert!(error.to_string().contains("UNTIL"), "{error}");
    }
}

#[test]
fn date_start_rejects_time_parts() {
    let recurrence = recurrence(None, "20260105", "FREQ=DAILY;BYHOUR=9");

    let error = recurrence.occurrences().next().unwrap().unwrap_err();
    assert!(error.to_string().contains("BYHOUR"), "{error}");
}

#[test]
fn zoned_exdate_removes_same_instant() {
    let mut recurrence = recurrence(
        Some("Europe/London"),
        "20260105T090000",
        "FREQ=DAILY;COUNT=4",
    );
    // 04:00 in New York is 09:00 in London on 2026-01-06.
    recurrence
        .exdates
        .push(DateOrTime::parse("20260106T040000", Some(&zone("America/New_York"))).unwrap());
    // 09:00 in New York is another instant, so it removes nothing.
    recurrence
        .exdates
        .push(DateOrTime::parse("20260107T090000", Some(&zone("America/New_York"))).unwrap());

    assert_eq!(
        first(&recurrence, 5),
        ["20260105T090000", "20260107T090000", "20260108T090000"]
    );
}

#[test]
fn date_exdate_removes_whole_day() {
    let mut recurrence = recurrence(None, "20260105T090000", "FREQ=DAILY;BYHOUR=9,17;COUNT=6");
    recurrence
        .exdates
        .push(DateOrTime::parse("20260106", None).unwrap());

    assert_eq!(
        first(&recurrence, 10),
        [
            "20260105T090000",
            "20260105T170000",
            "20260107T090000",
            "20260107T170000"
        ]
    );
}

#[test]
fn rdates_merge_in_order_without_duplicates() {
    let mut recurrence = recurrence(None, "20260105T090000", "FREQ=WEEKLY;COUNT=3");
    recurrence
        .rdates
        .push(DateOrTime::parse("20260107T120000", None).unwrap());
    recurrence
        .rdates
        .push(DateOrTime::parse("20260112T090000", None).unwrap());

    assert_eq!(
        first(&recurrence, 10),
        [
            "20260105T090000",
            "20260107T120000",
            "20260112T090000",
            "20260119T090000"
        ]
    );
}

#[test]
fn weekly_set_position_counts_days_before_start() {
    // 2026-01-07 is a Wednesday. The first position of its week is Monday
    // the 5th, which lies before DTSTART and is not emitted.
    let mut recurrence = recurrence(
        None,
        "20260107T090000",
        "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYSETPOS=1",
    );
    recurrence.start_instance = StartInstance::WhenGenerated;
    assert_eq!(
        first(&recurrence, 2),
        ["20260112T090000", "20260119T090000"]
    );

    recurrence.start_instance = StartInstance::Always;
    assert_eq!(
        first(&recurrence, 2),
        ["20260107T090000", "20260112T090000"]
    );
}

#[test]
fn never_matching_rule_ends() {
    let recurrence = recurrence(
        None,
        "20260101T090000",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30",
    );

    let mut occurrences = recurrence.occurrences();
    assert_eq!(
        occurrences.next().unwrap().unwrap().to_string(),
        "20260101T090000"
    );
    assert_eq!(occurrences.next(), None);

    let from: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    let to: Timestamp = "2031-01-01T00:00:00Z".parse().unwrap();
    let result = recurrence.between(from, to, &TimeZone::UTC, Budget::DEFAULT);
    assert!(
        result.is_ok(),
        "a window without instances is not an error: {result:?}"
    );
}

#[test]
fn never_matching_rules_end_without_instances() {
    // Each case: DTSTART, and a rule that generates no instance from it.
    let cases = [
        // 2026-01-31: no February has a 31st.
        ("20260131T235959", "FREQ=MONTHLY;BYMONTH=2"),
        // March plus an even number of months is never February.
        (
            "20260302T000000",
            "FREQ=MONTHLY;INTERVAL=2;BYMONTH=2;BYDAY=2MO",
        ),
        // 2026-07-02 is a Thursday, and so is every seventh day after it.
        ("20260702T083000", "FREQ=DAILY;BYDAY=SU;INTERVAL=7"),
        // A week has one Monday and one Tuesday, so no third candidate.
        ("20260702T083000", "FREQ=WEEKLY;BYDAY=MO,TU;BYSETPOS=3"),
        ("20260105T090000", "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6"),
        ("20260105T090000", "FREQ=DAILY;BYHOUR=9,10;BYSETPOS=3"),
        ("20260105T090000", "FREQ=DAILY;UNTIL=20260104T090000"),
        (
            "20260105",
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29;UNTIL=20260101",
        ),
        ("20260105T090000", "FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=30"),
        // Periods start on even minutes only.
        ("20260105T090000", "FREQ=MINUTELY;INTERVAL=2;BYMINUTE=1"),
        // Every seventh hour: Mondays always see 01:00, 08:00, 15:00 and
        // 22:00 (2026-01-05 is a Monday), never midnight.
        (
            "20260105T010000",
            "FREQ=HOURLY;INTERVAL=7;BYDAY=MO;BYHOUR=0",
        ),
        (
            "20260105T010000",
            "FREQ=SECONDLY;INTERVAL=25200;BYDAY=MO;BYHOUR=0",
        ),
    ];
    for (start, rule) in cases {
        let mut recurrence = recurrence(None, start, rule);
        recurrence.start_instance = StartInstance::WhenGenerated;
        let first = recurrence.occurrences().next();
        assert_eq!(first, None, "DTSTART {start} {rule}");
    }
}

#[test]
fn rare_rule_exhausts_small_budget() {
    // The next 29 February after 2097-03-01 is in 2104, seven years and
    // more than 2,500 candidate days away.
    let mut recurrence = recurrence(
        None,
        "20970301T090000",
        "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    );
    recurrence.start_instance = StartInstance::WhenGenerated;

    let error = recurrence
        .occurrences_with_budget(Budget::new(1_000))
        .next()
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(error, ExpandError::BudgetExhausted { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("BYMONTHDAY=29"), "{error}");

    let next = recurrence.occurrences().next().unwrap().unwrap();
    assert_eq!(next.to_string(), "21040229T090000");
}

#[test]
fn ordinal_below_monthly_is_ignored() {
    // Each case: the rule with an ordinal, and the same rule without it.
    let cases = [
        ("FREQ=WEEKLY;BYDAY=-1SU", "FREQ=WEEKLY;BYDAY=SU"),
        ("FREQ=DAILY;BYDAY=2MO,TU", "FREQ=DAILY;BYDAY=MO,TU"),
        (
            "FREQ=HOURLY;BYDAY=1FR;BYHOUR=9",
            "FREQ=HOURLY;BYDAY=FR;BYHOUR=9",
        ),
    ];
    for (with_ordinal, without) in cases {
        let rule = Rule::parse(with_ordinal).unwrap();
        assert_eq!(
            Rule::parse(&rule.to_string()).unwrap(),
            rule,
            "{with_ordinal} keeps its ordinal in text"
        );
        let expanded = first(&recurrence(None, "20260105T090000", with_ordinal), 6);
        let plain = first(&recurrence(None, "20260105T090000", without), 6);
        assert_eq!(expanded, plain, "{with_ordinal}");
    }
}

#[test]
fn window_beyond_count_exhausts_budget() {
    let recurrence = recurrence(None, "20260101T000000", "FREQ=SECONDLY;COUNT=1000000000");
    let from: Timestamp = "2030-01-01T00:00:00Z".parse().unwrap();
    let to: Timestamp = "2030-01-02T00:00:00Z".parse().unwrap();

    let error = recurrence
        .between(from, to, &TimeZone::UTC, Budget::new(10_000))
        .unwrap_err();
    assert!(
        matches!(error, ExpandError::BudgetExhausted { .. }),
        "{error}"
    );
}

#[test]
fn between_does_not_walk_from_start() {
    let recurrence = recurrence(None, "19700101T000000", "FREQ=MINUTELY");
    let from: Timestamp = "2030-06-01T10:00:00Z".parse().unwrap();
    let to: Timestamp = "2030-06-01T11:00:00Z".parse().unwrap();

    // A walk from 1970 would examine about 31 million minutes.
    let found = recurrence
        .between(from, to, &TimeZone::UTC, Budget::new(10_000))
        .unwrap();
    assert_eq!(found.len(), 60);
    assert_eq!(found[0].to_string(), "20300601T100000");
}

#[test]
fn rule_parse_rejects_invalid_parts() {
    // Each case: the rule, and the part its error must name.
    let cases = [
        ("BYDAY=MO", "FREQ"),
        ("FREQ=FORTNIGHTLY", "FREQ"),
        ("FREQ=DAILY;FREQ=WEEKLY", "FREQ"),
        ("FREQ=DAILY;INTERVAL=0", "INTERVAL"),
        ("FREQ=DAILY;COUNT=-1", "COUNT"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20260101T000000Z", "COUNT"),
        ("FREQ=DAILY;UNTIL=2026", "UNTIL"),
        ("FREQ=MINUTELY;BYSECOND=61", "BYSECOND"),
        ("FREQ=HOURLY;BYMINUTE=60", "BYMINUTE"),
        ("FREQ=DAILY;BYHOUR=24", "BYHOUR"),
        ("FREQ=WEEKLY;BYDAY=XX", "BYDAY"),
        ("FREQ=MONTHLY;BYDAY=0MO", "BYDAY"),
        ("FREQ=YEARLY;BYWEEKNO=1;BYDAY=1MO", "BYDAY"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY"),
        ("FREQ=YEARLY;BYYEARDAY=367", "BYYEARDAY"),
        ("FREQ=MONTHLY;BYYEARDAY=1", "BYYEARDAY"),
        ("FREQ=YEARLY;BYWEEKNO=54", "BYWEEKNO"),
        ("FREQ=MONTHLY;BYWEEKNO=1", "BYWEEKNO"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=0", "BYSETPOS"),
        ("FREQ=WEEKLY;WKST=XX", "WKST"),
        ("FREQ=WEEKLY;RSCALE=GREGORIAN", "RSCALE"),
        ("FREQ=WEEKLY;BYDAY=", "BYDAY"),
        // The last two bytes split the two-byte character U+051E.
        ("FREQ=WEEKLY;BYDAY=MM\u{51e}E", "BYDAY"),
        ("RRULE:FREQ=WEEKLY", "RRULE"),
        // The first six bytes, checked for an `RRULE:` prefix, split the character U+00E9.
        ("FREQ=\u{e9}", "FREQ"),
    ];
    for (text, part) in cases {
        let error = Rule::parse(text).unwrap_err();
        assert_eq!(error.part(), part, "{text}: {error}");
        assert!(error.to_string().contains(part), "{text}: {error}");
    }
}

#[test]
fn rule_parse_rejects_non_ascii_text() {
    // Each case: the rule, and the part its error must name. Multi-byte characters fall
    // where the parser looks for the `RRULE:` prefix or a BYDAY weekday.
    let cases = [
        ("\u{800}\u{10000}", "\u{800}\u{10000}"),
        ("Ày´😀", "Ày´😀"),
        ("RRULÉ:FREQ=DAILY", "RRULÉ:FREQ"),
        ("FREQ=WEEKLY;BYDAY=aÖb", "BYDAY"),
        ("FREQ=WEEKLY;BYDAY=1Ö", "BYDAY"),
        ("FREQ=WEEKLY;BYDAY=Ö", "BYDAY"),
    ];
    for (text, part) in cases {
        let error = Rule::parse(text).unwrap_err();
        assert_eq!(error.part(), part, "{text}: {error}");
    }
}

#[test]
fn rule_display_round_trips() {
    let texts = [
        "FREQ=DAILY",
        "freq=monthly;byday=-1fr;count=6",
        "FREQ=YEARLY;INTERVAL=4;BYMONTH=11;BYDAY=TU;BYMONTHDAY=2,3,4,5,6,7,8",
        "FREQ=WEEKLY;UNTIL=19971007T000000Z;WKST=SU;BYDAY=TU,TH",
        "FREQ=YEARLY;BYWEEKNO=20,-1;BYDAY=MO;BYHOUR=9;BYMINUTE=0,30;BYSECOND=0",
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-2;UNTIL=20260101",
        "FREQ=YEARLY;BYYEARDAY=1,-1;INTERVAL=1;WKST=MO;",
    ];
    for text in texts {
        let rule = Rule::parse(text).unwrap();
        let canonical = rule.to_string();
        assert!(canonical.starts_with("FREQ="), "{canonical}");
        assert_eq!(
            Rule::parse(&canonical).unwrap(),
            rule,
            "{text} -> {canonical}"
        );
    }
    assert_eq!(
        Rule::parse("byday=-1fr;count=6;freq=monthly")
            .unwrap()
            .to_string(),
        "FREQ=MONTHLY;COUNT=6;BYDAY=-1FR"
    );
}

/// RFC 5545 §3.3.10: "The DTSTART property value always counts as the first occurrence",
/// so a DTSTART that the rule does not generate takes one of COUNT's places.
#[test]
fn unmatched_start_takes_one_count_place() {
    use convene_recur::{DateOrTime, Recurrence, Rule, StartInstance};
    let start = DateOrTime::parse("20280305T100000Z", None).unwrap();
    let mut recurrence = Recurrence::new(start);
    recurrence
        .rules
        .push(Rule::parse("FREQ=MONTHLY;BYMONTHDAY=6;COUNT=3").unwrap());
    let texts = |recurrence: &Recurrence| -> Vec<String> {
        recurrence
            .occurrences()
            .map(|occurrence| occurrence.unwrap().to_string())
            .collect()
    };
    assert_eq!(
        texts(&recurrence),
        ["20280305T100000Z", "20280306T100000Z", "20280406T100000Z"]
    );
    let window = recurrence
        .between(
            "2028-01-01T00:00:00Z".parse().unwrap(),
            "2029-01-01T00:00:00Z".parse().unwrap(),
            &jiff::tz::TimeZone::UTC,
            convene_recur::Budget::DEFAULT,
        )
        .unwrap();
    assert_eq!(window.len(), 3);

    // A start that the rule generates counts once.
    let mut matched = Recurrence::new(DateOrTime::parse("20280306T100000Z", None).unwrap());
    matched.rules = recurrence.rules.clone();
    assert_eq!(
        texts(&matched),
        ["20280306T100000Z", "20280406T100000Z", "20280506T100000Z"]
    );

    // The consensus form leaves the unmatched start out and generates COUNT instances.
    recurrence.start_instance = StartInstance::WhenGenerated;
    assert_eq!(
        texts(&recurrence),
        ["20280306T100000Z", "20280406T100000Z", "20280506T100000Z"]
    );
}
