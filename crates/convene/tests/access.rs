//! Authentication and authorization on a real `convene serve` process: every endpoint
//! against every role, revoked and unknown tokens, and rate limits.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::Method;
use serde_json::{Value, json};
use support::{ADMIN_TOKEN, Convene, client};

/// The sender of a request. For an endpoint about one event, the organizer and the
/// participant are that event's. For an endpoint about one user, the organizer is that
/// user and the participant is someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Organizer,
    Participant,
    Other,
    Anonymous,
    Admin,
}

const ROLES: [Role; 5] = [
    Role::Organizer,
    Role::Participant,
    Role::Other,
    Role::Anonymous,
    Role::Admin,
];

/// The people of the matrix and their tokens.
struct People {
    organizer: (String, String),
    participant: (String, String),
    other: (String, String),
    /// Someone to add to events; never sends a request.
    extra: String,
}

impl People {
    fn token(&self, role: Role) -> Option<&str> {
        match role {
            Role::Organizer => Some(&self.organizer.1),
            Role::Participant => Some(&self.participant.1),
            Role::Other => Some(&self.other.1),
            Role::Anonymous => None,
            Role::Admin => Some(ADMIN_TOKEN),
        }
    }
}

/// What one request of the matrix works on: a new event, feed and token each time, so
/// that rows which change or delete them do not affect each other.
struct Subject {
    organizer: String,
    participant: String,
    extra: String,
    event: String,
    feed: String,
    token: String,
    push: String,
    /// A start time that no other request of the run uses, for new events.
    free_start: String,
}

enum Body {
    Empty,
    Json(Value),
    Calendar(&'static str),
}

struct Row {
    method: Method,
    path: fn(&Subject) -> String,
    body: fn(&Subject) -> Body,
    /// The expected status for the organizer, participant, other user, anonymous caller
    /// and administrator.
    expected: [u16; 5],
}

const IMPORTED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\n\
BEGIN:VEVENT\r\nUID:away-1@other.test\r\nDTSTAMP:20300101T000000Z\r\n\
DTSTART:20400101T090000Z\r\nDTEND:20400101T100000Z\r\nSUMMARY:Away\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

fn rows() -> Vec<Row> {
    use Body::{Calendar, Empty, Json};
    let row = |method: Method, path, body, expected| Row {
        method,
        path,
        body,
        expected,
    };
    vec![
        row(
            Method::GET,
            |_| "/v1/users".into(),
            |_| Empty,
            [200, 200, 200, 401, 200],
        ),
        row(
            Method::POST,
            |_| "/v1/users".into(),
            |s| Json(json!({"name": "New", "email": format!("new-{}@gamma.test", s.token)})),
            [403, 403, 403, 401, 201],
        ),
        row(
            Method::GET,
            |s| format!("/v1/users/{}", s.organizer),
            |_| Empty,
            [200, 200, 200, 401, 200],
        ),
        row(
            Method::PATCH,
            |s| format!("/v1/users/{}", s.organizer),
            |_| Json(json!({"time_zone": "Europe/Berlin"})),
            [200, 403, 403, 401, 200],
        ),
        row(
            Method::GET,
            |s| {
                format!(
                    "/v1/users/{}/busy?from=2031-01-01T00:00:00Z&to=2031-02-01T00:00:00Z",
                    s.organizer
                )
            },
            |_| Empty,
            [200, 200, 200, 401, 200],
        ),
        row(
            Method::POST,
            |s| format!("/v1/users/{}/calendar", s.organizer),
            |_| Calendar(IMPORTED),
            [200, 403, 403, 401, 200],
        ),
        row(
            Method::DELETE,
            |s| format!("/v1/users/{}/calendar", s.organizer),
            |_| Empty,
            [200, 403, 403, 401, 200],
        ),
        row(
            Method::POST,
            |s| format!("/v1/users/{}/feeds", s.organizer),
            |_| Empty,
            [201, 403, 403, 401, 201],
        ),
        row(
            Method::GET,
            |s| format!("/v1/users/{}/feeds", s.organizer),
            |_| Empty,
            [200, 403, 403, 401, 200],
        ),
        row(
            Method::DELETE,
            |s| format!("/v1/users/{}/feeds/{}", s.organizer, s.feed),
            |_| Empty,
            [204, 403, 403, 401, 204],
        ),
        row(
            Method::POST,
            |s| format!("/v1/users/{}/push-subscriptions", s.organizer),
            |s| Json(push_subscription(&s.token)),
            [201, 403, 403, 401, 201],
        ),
        row(
            Method::GET,
            |s| format!("/v1/users/{}/push-subscriptions", s.organizer),
            |_| Empty,
            [200, 403, 403, 401, 200],
        ),
        row(
            Method::DELETE,
            |s| format!("/v1/users/{}/push-subscriptions/{}", s.organizer, s.push),
            |_| Empty,
            [204, 403, 403, 401, 204],
        ),
        // This server has no VAPID key, so Web Push is off.
        row(
            Method::GET,
            |_| "/v1/push/key".into(),
            |_| Empty,
            [404, 404, 404, 401, 404],
        ),
        row(
            Method::POST,
            |s| format!("/v1/users/{}/tokens", s.organizer),
            |_| Empty,
            [201, 403, 403, 401, 201],
        ),
        row(
            Method::GET,
            |s| format!("/v1/users/{}/tokens", s.organizer),
            |_| Empty,
            [200, 403, 403, 401, 200],
        ),
        row(
            Method::DELETE,
            |s| format!("/v1/users/{}/tokens/{}", s.organizer, s.token),
            |_| Empty,
            [204, 403, 403, 401, 204],
        ),
        row(
            Method::POST,
            |_| "/v1/availability".into(),
            |s| {
                Json(json!({
                    "participants": [s.organizer, s.participant],
                    "from": "2031-03-03T00:00:00Z",
                    "to": "2031-03-05T00:00:00Z",
                    "duration": "PT30M",
                }))
            },
            [200, 200, 200, 401, 200],
        ),
        // Without `organizer`, a user organizes the new event; the administrator must name
        // someone.
        row(
            Method::POST,
            |_| "/v1/events".into(),
            |s| Json(new_event(s, None)),
            [201, 201, 201, 401, 422],
        ),
        row(
            Method::POST,
            |_| "/v1/events".into(),
            |s| Json(new_event(s, Some(&s.organizer))),
            [201, 403, 403, 401, 201],
        ),
        row(
            Method::GET,
            |_| "/v1/events".into(),
            |_| Empty,
            [200, 200, 200, 401, 422],
        ),
        row(
            Method::GET,
            |s| format!("/v1/events?user={}", s.organizer),
            |_| Empty,
            [200, 403, 403, 401, 200],
        ),
        row(
            Method::GET,
            |s| format!("/v1/events/{}", s.event),
            |_| Empty,
            [200, 200, 403, 401, 200],
        ),
        row(
            Method::GET,
            |s| format!("/v1/events/{}.ics", s.event),
            |_| Empty,
            [200, 200, 403, 401, 200],
        ),
        row(
            Method::PATCH,
            |s| format!("/v1/events/{}", s.event),
            |_| Json(json!({"title": "Renamed"})),
            [200, 403, 403, 401, 200],
        ),
        row(
            Method::DELETE,
            |s| format!("/v1/events/{}", s.event),
            |_| Empty,
            [200, 403, 403, 401, 200],
        ),
        row(
            Method::POST,
            |s| format!("/v1/events/{}/participants", s.event),
            |s| Json(json!({"user": s.extra})),
            [200, 403, 403, 401, 200],
        ),
        row(
            Method::DELETE,
            |s| format!("/v1/events/{}/participants/{}", s.event, s.participant),
            |_| Empty,
            [200, 200, 403, 401, 200],
        ),
        row(
            Method::GET,
            |s| format!("/v1/events/{}/reminders", s.event),
            |_| Empty,
            [200, 200, 403, 401, 200],
        ),
        // Without `user`, a caller replies for themselves. The organizer has no invitation
        // to reply to, and the administrator must name the participant.
        row(
            Method::POST,
            |s| format!("/v1/events/{}/rsvp", s.event),
            |_| Json(json!({"response": "accepted"})),
            [422, 200, 403, 401, 422],
        ),
        row(
            Method::POST,
            |s| format!("/v1/events/{}/rsvp", s.event),
            |s| Json(json!({"user": s.participant, "response": "tentative"})),
            [403, 200, 403, 401, 200],
        ),
        // The administrator passes the check and learns that no message has this id.
        row(
            Method::GET,
            |_| "/v1/messages/0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e6f".into(),
            |_| Empty,
            [403, 403, 403, 401, 404],
        ),
    ]
}

fn new_event(subject: &Subject, organizer: Option<&str>) -> Value {
    let mut event = json!({
        "title": "New",
        "start": subject.free_start,
        "end": subject.free_start.replace(":00:00Z", ":30:00Z"),
    });
    if let Some(organizer) = organizer {
        event["organizer"] = json!(organizer);
    }
    event
}

/// Returns a start time that no earlier call returned: one hour apart, from 2032 on.
fn next_start() -> String {
    static HOURS: AtomicU32 = AtomicU32::new(0);
    let hours = HOURS.fetch_add(1, Ordering::Relaxed);
    let at: jiff::Timestamp = "2032-01-01T00:00:00Z".parse().unwrap();
    at.checked_add(jiff::SignedDuration::from_hours(i64::from(hours)))
        .unwrap()
        .to_string()
}

/// Builds a browser's push subscription with an endpoint named after `name`.
fn push_subscription(name: &str) -> Value {
    json!({
        "endpoint": format!("https://push.alpha.test/{}", name.replace(':', "-")),
        "keys": {
            "p256dh": "BNcRdreALRFXTkOOUHK1EtK2wtaz5Ry4YfYCA_0QTpQtUbVlUls0VJXg7A8u-Ts1XbjhazAkj7I99e8QcYP7DkM",
            "auth": "tBHItJI5svbpez7KI4CCXg",
        },
    })
}

async fn new_user(convene: &Convene, name: &str) -> (String, String) {
    let (status, body) = convene
        .post(
            "/v1/users",
            json!({"name": name, "email": format!("{name}@alpha.test")}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let token = body["token"]
        .as_str()
        .expect("a new user's token")
        .to_owned();
    assert!(token.starts_with("cnv_"), "{token}");
    (body["id"].as_str().unwrap().to_owned(), token)
}

/// Creates a fresh event, feed and token for one request of the matrix.
async fn subject(convene: &Convene, people: &People) -> Subject {
    let start = next_start();
    let (status, event) = convene
        .post(
            "/v1/events",
            json!({
                "title": "Review",
                "start": start,
                "end": start.replace(":00:00Z", ":30:00Z"),
                "organizer": people.organizer.0,
                "participants": [people.participant.0],
                "reminders": [{"before": "PT15M"}],
            }),
        )
        .await;
    assert_eq!(status, 201, "{event}");
    let (status, feed) = convene
        .post(
            &format!("/v1/users/{}/feeds", people.organizer.0),
            json!(null),
        )
        .await;
    assert_eq!(status, 201, "{feed}");
    let (status, token) = convene
        .post(
            &format!("/v1/users/{}/tokens", people.organizer.0),
            json!(null),
        )
        .await;
    assert_eq!(status, 201, "{token}");
    let (status, push) = convene
        .post(
            &format!("/v1/users/{}/push-subscriptions", people.organizer.0),
            // The same browser each time: it re-registers, so the subjects of all rows
            // stay within the bound on subscriptions per person.
            push_subscription("subject"),
        )
        .await;
    assert_eq!(status, 201, "{push}");
    Subject {
        organizer: people.organizer.0.clone(),
        participant: people.participant.0.clone(),
        extra: people.extra.clone(),
        event: event["id"].as_str().unwrap().to_owned(),
        feed: feed["id"].as_str().unwrap().to_owned(),
        token: token["id"].as_str().unwrap().to_owned(),
        push: push["id"].as_str().unwrap().to_owned(),
        free_start: next_start(),
    }
}

async fn send(
    convene: &Convene,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Body,
) -> reqwest::Response {
    let mut request = client(token).request(method, convene.url(path));
    request = match body {
        Body::Empty => request,
        Body::Json(value) => request.json(&value),
        Body::Calendar(text) => request.header("content-type", "text/calendar").body(text),
    };
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_endpoint_against_every_role() {
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(&dir.path().join("convene.db"), &[]);
    let people = People {
        organizer: new_user(&convene, "olga").await,
        participant: new_user(&convene, "pete").await,
        other: new_user(&convene, "oscar").await,
        extra: new_user(&convene, "xena").await.0,
    };

    let mut failures = Vec::new();
    let mut checked = 0;
    for row in rows() {
        for (role, expected) in ROLES.into_iter().zip(row.expected) {
            let subject = subject(&convene, &people).await;
            let path = (row.path)(&subject);
            let response = send(
                &convene,
                people.token(role),
                row.method.clone(),
                &path,
                (row.body)(&subject),
            )
            .await;
            let status = response.status().as_u16();
            let challenge = response.headers().get("www-authenticate").cloned();
            let content_type = response
                .headers()
                .get("content-type")
                .map(|value| value.to_str().unwrap().to_owned());
            let text = response.text().await.unwrap();
            checked += 1;
            if status != expected {
                failures.push(format!(
                    "{} {path} as {role:?}: {status}, expected {expected}: {text}",
                    row.method
                ));
                continue;
            }
            if status == 401 {
                assert!(challenge.is_some(), "401 without WWW-Authenticate: {path}");
            }
            if status >= 400 {
                assert_eq!(
                    content_type.as_deref(),
                    Some("application/problem+json"),
                    "{path} as {role:?}: {text}"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} requests got an unexpected status:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn feeds_need_only_their_own_token() {
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(&dir.path().join("convene.db"), &[]);
    let (ann, _) = new_user(&convene, "ann").await;
    let (status, feed) = convene
        .post(&format!("/v1/users/{ann}/feeds"), json!(null))
        .await;
    assert_eq!(status, 201, "{feed}");
    let url = convene.url(feed["url"].as_str().unwrap());

    let anonymous = client(None).get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 200);
    let with_bad_token = client(Some("cnv_unknown")).get(&url).send().await.unwrap();
    assert_eq!(with_bad_token.status(), 200);

    let revoke = send(
        &convene,
        Some(ADMIN_TOKEN),
        Method::DELETE,
        &format!("/v1/users/{ann}/feeds/{}", feed["id"].as_str().unwrap()),
        Body::Empty,
    )
    .await;
    assert_eq!(revoke.status(), 204);
    let revoked = client(None).get(&url).send().await.unwrap();
    assert_eq!(revoked.status(), 404);
}

#[tokio::test]
async fn unknown_and_revoked_tokens_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(&dir.path().join("convene.db"), &[]);
    let (ann, first) = new_user(&convene, "ann").await;
    let ann_path = format!("/v1/users/{ann}");

    for token in [
        "cnv_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "not-a-token",
        "test-admin-token-0123456789abcdefghiJ",
    ] {
        let response = send(&convene, Some(token), Method::GET, &ann_path, Body::Empty).await;
        assert_eq!(response.status(), 401, "{token}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Bearer realm=\"convene\", error=\"invalid_token\""
        );
    }
    let malformed = client(None)
        .get(convene.url(&ann_path))
        .header("authorization", format!("Basic {first}"))
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 401);
    assert!(
        malformed.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_request")
    );

    // A second token works beside the first, and revoking one leaves the other.
    let (status, issued) = convene
        .post(&format!("/v1/users/{ann}/tokens"), json!(null))
        .await;
    assert_eq!(status, 201, "{issued}");
    let second = issued["token"].as_str().unwrap();
    let (status, listed) = convene.get(&format!("/v1/users/{ann}/tokens")).await;
    assert_eq!(status, 200);
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
    assert!(
        !listed.to_string().contains("cnv_"),
        "a listing shows no secret: {listed}"
    );
    let first_id = listed["items"][0]["id"].as_str().unwrap();

    // Ann revokes her first token with it; it stops working at once.
    let revoke = send(
        &convene,
        Some(&first),
        Method::DELETE,
        &format!("/v1/users/{ann}/tokens/{first_id}"),
        Body::Empty,
    )
    .await;
    assert_eq!(revoke.status(), 204);
    let after = send(&convene, Some(&first), Method::GET, &ann_path, Body::Empty).await;
    assert_eq!(after.status(), 401);
    let other = send(&convene, Some(second), Method::GET, &ann_path, Body::Empty).await;
    assert_eq!(other.status(), 200);
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(
        &dir.path().join("convene.db"),
        &[
            ("CONVENE_RATE_LIMIT", "6".to_owned()),
            ("CONVENE_RATE_BURST", "3".to_owned()),
        ],
    );
    let (ann, ann_token) = new_user(&convene, "ann").await;
    let path = format!("/v1/users/{ann}");

    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..4 {
        let response = send(&convene, Some(&ann_token), Method::GET, &path, Body::Empty).await;
        statuses.push(response.status().as_u16());
        if let Some(value) = response.headers().get("retry-after") {
            retry_after = Some(value.to_str().unwrap().parse::<u64>().unwrap());
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429]);
    // Six a minute is one every ten seconds.
    let retry_after = retry_after.expect("a 429 carries Retry-After");
    assert!((1..=10).contains(&retry_after), "{retry_after}");

    // The administrator has a budget of its own; it spent one request creating Ann.
    let admin = send(&convene, Some(ADMIN_TOKEN), Method::GET, &path, Body::Empty).await;
    assert_eq!(admin.status(), 200);

    // A feed has a budget of its own, shared by every client that fetches it.
    let (status, feed) = convene
        .post(&format!("/v1/users/{ann}/feeds"), json!(null))
        .await;
    assert_eq!(status, 201, "{feed}");
    let feed_url = feed["url"].as_str().unwrap();
    let mut feed_statuses = Vec::new();
    for _ in 0..4 {
        let response = send(&convene, None, Method::GET, feed_url, Body::Empty).await;
        feed_statuses.push(response.status().as_u16());
    }
    assert_eq!(feed_statuses, [200, 200, 200, 429]);

    // Requests that fail authentication spend their client address's budget, so a
    // client cannot try tokens without limit.
    let mut failed_statuses = Vec::new();
    for token in [None, Some("cnv_guess"), Some("another-guess"), None] {
        let response = send(&convene, token, Method::GET, &path, Body::Empty).await;
        failed_statuses.push(response.status().as_u16());
    }
    assert_eq!(failed_statuses, [401, 401, 401, 429]);
}

#[tokio::test]
async fn lists_come_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(&dir.path().join("convene.db"), &[]);
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(new_user(&convene, &format!("person{n}")).await.0);
    }

    let mut seen = Vec::new();
    let mut path = "/v1/users?limit=2".to_owned();
    loop {
        let response = client(Some(ADMIN_TOKEN))
            .get(convene.url(&path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let link = response
            .headers()
            .get("link")
            .map(|value| value.to_str().unwrap().to_owned());
        let page: Value = response.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2, "{page}");
        seen.extend(
            items
                .iter()
                .map(|user| user["id"].as_str().unwrap().to_owned()),
        );
        match (&page["next"], link) {
            (Value::Null, None) => break,
            (Value::String(next), Some(link)) => {
                assert_eq!(
                    link,
                    format!("</v1/users?after={next}&limit=2>; rel=\"next\"")
                );
                path = format!("/v1/users?after={next}&limit=2");
            }
            (next, link) => panic!("next {next} disagrees with Link {link:?}"),
        }
    }
    assert_eq!(seen, created);

    let (status, problem) = convene.get("/v1/users?limit=500").await;
    assert_eq!(status, 422);
    assert_eq!(problem["field"], "limit");
}

#[tokio::test]
async fn user_command_issues_working_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("convene.db");
    let convene = Convene::start(&database, &[]);
    let url = [(
        "CONVENE_DATABASE_URL",
        format!("sqlite:{}", database.display()),
    )];

    let created = support::cli::run(
        &[
            "user",
            "create",
            "--name",
            "Ann Lee",
            "--email",
            "ann@alpha.test",
        ],
        &url,
        b"",
    );
    assert_eq!(created.code, Some(0), "{}", created.describe());
    let user: Value = serde_json::from_str(&created.stdout).unwrap();
    let ann = user["id"].as_str().unwrap();
    let token = user["token"].as_str().unwrap();
    let path = format!("/v1/users/{ann}");
    let response = send(&convene, Some(token), Method::GET, &path, Body::Empty).await;
    assert_eq!(response.status(), 200);

    let issued = support::cli::run(&["user", "token", "ANN@alpha.test"], &url, b"");
    assert_eq!(issued.code, Some(0), "{}", issued.describe());
    let second: Value = serde_json::from_str(&issued.stdout).unwrap();
    assert_eq!(second["user"], ann);
    let second = second["token"].as_str().unwrap();
    let response = send(&convene, Some(second), Method::GET, &path, Body::Empty).await;
    assert_eq!(response.status(), 200);

    let taken = support::cli::run(
        &[
            "user",
            "create",
            "--name",
            "Ann",
            "--email",
            "ann@alpha.test",
        ],
        &url,
        b"",
    );
    assert_eq!(taken.code, Some(1), "{}", taken.describe());
    let unknown = support::cli::run(&["user", "token", "nobody@alpha.test"], &url, b"");
    assert_eq!(unknown.code, Some(1), "{}", unknown.describe());

    // The command creates no database of its own.
    let missing = dir.path().join("missing.db");
    for database_url in [
        "memory:".to_owned(),
        format!("sqlite:{}", missing.display()),
    ] {
        let refused = support::cli::run(
            &[
                "user",
                "create",
                "--name",
                "Bob",
                "--email",
                "bob@beta.test",
            ],
            &[("CONVENE_DATABASE_URL", database_url.clone())],
            b"",
        );
        assert_eq!(
            refused.code,
            Some(2),
            "{database_url}: {}",
            refused.describe()
        );
        assert!(
            refused.stderr.contains("CONVENE_DATABASE_URL"),
            "{}",
            refused.describe()
        );
    }
    assert!(!missing.exists());
}
