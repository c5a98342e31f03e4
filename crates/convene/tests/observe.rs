//! Health, readiness, metrics, request ids and JSON logs of a real `convene serve`.

mod support;

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};
use support::Convene;
use support::cli::run;

/// Starts `convene serve` on a SQLite file. The poll interval of an hour keeps the
/// Notifier and the mail queue from touching reminders and mail that a test creates
/// after the first poll, so the queue gauges stay where the test puts them.
fn start(settings: &[(&str, String)]) -> (Convene, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut all = vec![("CONVENE_NOTIFIER_INTERVAL", "1h".to_owned())];
    all.extend(settings.iter().cloned());
    let convene = Convene::start(&dir.path().join("convene.db"), &all);
    (convene, dir)
}

/// One sample of a scrape: metric name, labels and value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the Prometheus text format 0.0.4 strictly enough to catch malformed output:
/// every line is a `# HELP`, a `# TYPE` or a sample, each family has one TYPE before its
/// samples, and label values are quoted with the format's escapes.
fn parse_exposition(text: &str) -> Vec<Sample> {
    assert!(text.ends_with('\n'), "the exposition ends with a line feed");
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').expect("TYPE has a family and a type");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "unknown type in {line:?}"
            );
            let earlier = types.insert(family.to_owned(), kind.to_owned());
            assert!(earlier.is_none(), "second TYPE for {family}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            assert!(rest.contains(' '), "HELP without text: {line:?}");
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment {line:?}");
        let sample = parse_sample(line);
        let family = family_of(&sample.name, &types);
        assert!(
            types.contains_key(&family),
            "sample {line:?} comes before a TYPE for {family}"
        );
        samples.push(sample);
    }
    samples
}

fn parse_sample(line: &str) -> Sample {
    let name_end = line
        .find(['{', ' '])
        .unwrap_or_else(|| panic!("no value in {line:?}"));
    let name = &line[..name_end];
    assert!(
        name.chars()
            .all(|character| character.is_ascii_alphanumeric()
                || character == '_'
                || character == ':'),
        "invalid metric name in {line:?}"
    );
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            let (label, after) = rest
                .split_once("=\"")
                .unwrap_or_else(|| panic!("invalid label in {line:?}"));
            assert!(
                label
                    .chars()
                    .all(|character| character.is_ascii_alphanumeric() || character == '_'),
                "invalid label name {label:?} in {line:?}"
            );
            let mut value = String::new();
            let mut characters = after.char_indices();
            let end = loop {
                match characters.next() {
                    Some((_, '\\')) => match characters.next() {
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        Some((_, 'n')) => value.push('\n'),
                        other => panic!("invalid escape {other:?} in {line:?}"),
                    },
                    Some((index, '"')) => break index,
                    Some((_, character)) => value.push(character),
                    None => panic!("unterminated label value in {line:?}"),
                }
            };
            labels.insert(label.to_owned(), value);
            rest = &after[end + 1..];
            if let Some(next) = rest.strip_prefix(',') {
                rest = next;
            } else {
                rest = rest
                    .strip_prefix('}')
                    .unwrap_or_else(|| panic!("labels not closed in {line:?}"));
                break;
            }
        }
    }
    let value = rest
        .strip_prefix(' ')
        .unwrap_or_else(|| panic!("no space before the value in {line:?}"));
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other
            .parse()
            .unwrap_or_else(|_| panic!("invalid value in {line:?}")),
    };
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

/// Returns the family a sample belongs to: a histogram's `_bucket`, `_sum` and `_count`
/// samples belong to the histogram.
fn family_of(name: &str, types: &BTreeMap<String, String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix)
            && types.get(base).map(String::as_str) == Some("histogram")
        {
            return base.to_owned();
        }
    }
    name.to_owned()
}

async fn scrape(convene: &Convene) -> Vec<Sample> {
    let (status, content_type, text) = convene.get_text("/metrics").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    parse_exposition(&text)
}

/// Returns the value of the sample named `name` with exactly `labels`, or 0 when the
/// scrape has none, as a counter that has not moved yet.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    let expected: BTreeMap<String, String> = labels
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
    samples
        .iter()
        .find(|sample| sample.name == name && sample.labels == expected)
        .map_or(0.0, |sample| sample.value)
}

fn requests(samples: &[Sample], route: &str, method: &str, status: &str) -> f64 {
    value(
        samples,
        "convene_http_requests_total",
        &[("route", route), ("method", method), ("status", status)],
    )
}

/// Returns whether `text` is a UUID in its hyphenated form.
fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.char_indices().all(|(index, character)| match index {
            8 | 13 | 18 | 23 => character == '-',
            _ => character.is_ascii_hexdigit(),
        })
}

/// Returns whether `text` is a UUID of version 7.
fn is_uuid_v7(text: &str) -> bool {
    is_uuid(text) && text.as_bytes()[14] == b'7'
}

#[tokio::test]
async fn healthz_and_readyz_ok() {
    let (convene, _dir) = start(&[]);

    let (status, body) = convene.get("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok"}));

    let (status, body) = convene.get("/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"status": "ok"}));
}

#[tokio::test]
async fn metrics_parse_and_counters_move() {
    let (convene, _dir) = start(&[]);
    let before = scrape(&convene).await;
    assert_eq!(value(&before, "convene_store_up", &[]), 1.0);

    let ann = convene.user("Ann", "ann@alpha.test").await;
    for _ in 0..2 {
        let (status, _) = convene.get(&format!("/v1/users/{ann}")).await;
        assert_eq!(status, 200);
    }
    let unknown = "0190f1c2-7a3b-7c4d-8e5f-0123456789ab";
    let (status, _) = convene.get(&format!("/v1/users/{unknown}")).await;
    assert_eq!(status, 404);
    let (status, _) = convene.get("/v1/no-such-route").await;
    assert_eq!(status, 404);

    let after = scrape(&convene).await;
    let moved = |route: &str, method: &str, status: &str| {
        requests(&after, route, method, status) - requests(&before, route, method, status)
    };
    assert_eq!(moved("/v1/users", "POST", "201"), 1.0);
    assert_eq!(moved("/v1/users/{id}", "GET", "200"), 2.0);
    assert_eq!(moved("/v1/users/{id}", "GET", "404"), 1.0);
    assert_eq!(moved("unmatched", "GET", "404"), 1.0);
    assert_eq!(moved("/metrics", "GET", "200"), 1.0);

    let count = value(
        &after,
        "convene_http_request_duration_seconds_count",
        &[("route", "/v1/users/{id}")],
    );
    assert_eq!(count, 3.0);
    let infinite_bucket = value(
        &after,
        "convene_http_request_duration_seconds_bucket",
        &[("route", "/v1/users/{id}"), ("le", "+Inf")],
    );
    assert_eq!(infinite_bucket, count);
}

#[tokio::test]
async fn histogram_buckets_cumulative() {
    let (convene, _dir) = start(&[]);
    for _ in 0..3 {
        convene.get("/healthz").await;
    }

    let samples = scrape(&convene).await;
    let mut buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|sample| {
            sample.name == "convene_http_request_duration_seconds_bucket"
                && sample.labels["route"] == "/healthz"
        })
        .map(|sample| {
            let bound = match sample.labels["le"].as_str() {
                "+Inf" => f64::INFINITY,
                other => other.parse().unwrap(),
            };
            (bound, sample.value)
        })
        .collect();
    buckets.sort_by(|left, right| left.0.total_cmp(&right.0));
    assert!(buckets.len() > 1, "{buckets:?}");
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, 3.0));
    for pair in buckets.windows(2) {
        assert!(
            pair[0].1 <= pair[1].1,
            "buckets are cumulative: {buckets:?}"
        );
    }
}

#[tokio::test]
async fn metric_labels_contain_no_ids() {
    let (convene, _dir) = start(&[]);
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;
    convene.get(&format!("/v1/users/{ann}")).await;
    convene
        .get(&format!(
            "/v1/users/{bob}/busy?from=2030-01-01T00:00:00Z&to=2030-01-02T00:00:00Z"
        ))
        .await;
    convene
        .get("/v1/events/0190f1c2-7a3b-7c4d-8e5f-0123456789ab")
        .await;
    convene.get("/v1/feeds/secret-feed-token").await;

    let samples = scrape(&convene).await;
    let routes: Vec<&str> = samples
        .iter()
        .filter_map(|sample| sample.labels.get("route").map(String::as_str))
        .collect();
    assert!(routes.contains(&"/v1/users/{id}/busy"), "{routes:?}");
    assert!(routes.contains(&"/v1/events/{id}"), "{routes:?}");
    assert!(routes.contains(&"/v1/feeds/{token}"), "{routes:?}");
    for sample in &samples {
        for (label, text) in &sample.labels {
            assert!(!is_uuid(text), "{label}={text:?} in {sample:?}");
            assert!(!text.contains("secret-feed-token"), "{sample:?}");
        }
    }
}

#[tokio::test]
async fn queue_gauges_follow_store() {
    let (convene, _dir) = start(&[]);
    let before = scrape(&convene).await;
    assert_eq!(value(&before, "convene_reminders_due", &[]), 0.0);
    let queued = |samples: &[Sample]| {
        value(
            samples,
            "convene_mail_queue_recipients",
            &[("state", "queued")],
        ) + value(
            samples,
            "convene_mail_queue_recipients",
            &[("state", "sending")],
        )
    };
    assert_eq!(queued(&before), 0.0);

    // An event ten minutes from now with a reminder fifteen minutes before it has a
    // reminder already due for each attendee, and its invitation goes to the mail queue.
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;
    let start = Timestamp::from_second(Timestamp::now().as_second() + 600).unwrap();
    let end = start + SignedDuration::from_hours(1);
    let (status, created) = convene
        .post(
            "/v1/events",
            json!({
                "title": "Stand-up",
                "start": start.to_string(),
                "end": end.to_string(),
                "organizer": ann,
                "participants": [bob],
                "reminders": [{"before": "PT15M"}],
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, reminders) = convene
        .get(&format!(
            "/v1/events/{}/reminders",
            created["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200, "{reminders}");
    let planned = reminders["items"].as_array().unwrap().len();
    assert!(planned > 0, "{reminders}");

    let after = scrape(&convene).await;
    assert_eq!(value(&after, "convene_reminders_due", &[]), planned as f64);
    assert!(queued(&after) >= 1.0, "the invitation to Bob is queued");
}

#[tokio::test]
async fn request_id_header() {
    let (convene, _dir) = start(&[]);

    let response = convene
        .client
        .get(convene.url("/healthz"))
        .send()
        .await
        .unwrap();
    let created = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(is_uuid_v7(&created), "{created:?}");

    let response = convene
        .client
        .get(convene.url("/healthz"))
        .header("x-request-id", "edge-7f3a:42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "edge-7f3a:42");

    let response = convene
        .client
        .get(convene.url("/healthz"))
        .header("x-request-id", "two words")
        .send()
        .await
        .unwrap();
    let replaced = response.headers()["x-request-id"].to_str().unwrap();
    assert!(is_uuid_v7(replaced), "{replaced:?}");

    let response = convene
        .client
        .get(convene.url("/v1/nothing"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let on_error = response.headers()["x-request-id"].to_str().unwrap();
    assert!(is_uuid_v7(on_error), "{on_error:?}");
    assert_ne!(on_error, created);
}

#[tokio::test]
async fn json_logs_are_json_lines() {
    let (convene, _dir) = start(&[
        ("CONVENE_LOG_FORMAT", "json".to_owned()),
        ("CONVENE_LOG", "info,tower_http=debug".to_owned()),
    ]);
    let response = convene
        .client
        .get(convene.url("/v1/users/0190f1c2-7a3b-7c4d-8e5f-0123456789ab"))
        .header("x-request-id", "trace-me-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);

    let log = convene.log();
    let lines: Vec<Value> = log
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_str(line).unwrap_or_else(|error| panic!("{error}: {line:?}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|line| line["fields"]["message"] == "convene started"),
        "{log}"
    );
    let traced: Vec<&Value> = lines
        .iter()
        .filter(|line| line["span"]["request_id"] == "trace-me-1")
        .collect();
    assert!(!traced.is_empty(), "{log}");
    for line in traced {
        assert_eq!(line["span"]["route"], "/v1/users/{id}", "{line}");
        assert_eq!(line["span"]["method"], "GET", "{line}");
    }
}

#[test]
fn invalid_log_format_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("convene.db");
    let settings = [
        ("CONVENE_LISTEN", "127.0.0.1:0".to_owned()),
        (
            "CONVENE_DATABASE_URL",
            format!("sqlite:{}", database.display()),
        ),
        ("CONVENE_LOG_FORMAT", "xml".to_owned()),
    ];

    let output = run(&["serve"], &settings, b"");

    assert_eq!(output.code, Some(2), "{}", output.describe());
    assert!(
        output.stderr.contains("--log-format / CONVENE_LOG_FORMAT"),
        "{}",
        output.describe()
    );
    assert!(!database.exists(), "{}", output.describe());
}
