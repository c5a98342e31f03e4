//! The HTTP API of a real `convene serve` process on a SQLite file.

mod support;

use jiff::Timestamp;
use serde_json::{Value, json};
use support::Convene;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn start() -> (Convene, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(&dir.path().join("convene.db"), &[]);
    (convene, dir)
}

fn event(organizer: &str, participants: &[&str], start: &str, end: &str) -> Value {
    json!({
        "title": "Design review",
        "location": "Room 4",
        "start": start,
        "end": end,
        "organizer": organizer,
        "participants": participants,
        "reminders": [{"before": "PT15M"}],
    })
}

async fn busy_count(convene: &Convene, user: &str) -> usize {
    let (status, body) = convene
        .get(&format!(
            "/v1/users/{user}/busy?from=2030-01-01T00:00:00Z&to=2030-12-31T00:00:00Z"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    body["busy"].as_array().unwrap().len()
}

#[tokio::test]
async fn user_created_and_fetched() {
    let (convene, _dir) = start();
    let (status, created) = convene
        .post(
            "/v1/users",
            json!({"name": "Ann Lee", "email": "ann@alpha.test", "time_zone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["name"], "Ann Lee");
    assert_eq!(created["time_zone"], "Europe/Berlin");
    let id = created["id"].as_str().unwrap().to_owned();

    // The token is shown when the user is created, and never again.
    let mut created = created;
    let token = created.as_object_mut().unwrap().remove("token").unwrap();
    assert!(token.as_str().unwrap().starts_with("cnv_"), "{token}");
    let (status, fetched) = convene.get(&format!("/v1/users/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, created);

    let (status, problem) = convene
        .post(
            "/v1/users",
            json!({"name": "Ann again", "email": "ANN@alpha.test"}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["field"], "email");
}

#[tokio::test]
async fn event_created_in_its_time_zone() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;
    let mut body = event(
        &ann,
        &[&bob],
        "2030-01-15T08:00:00Z",
        "2030-01-15T09:00:00Z",
    );
    body["time_zone"] = json!("Europe/Berlin");
    let (status, created) = convene.post("/v1/events", body).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["start"], "2030-01-15T09:00:00+01:00");
    assert_eq!(created["end"], "2030-01-15T10:00:00+01:00");
    assert_eq!(created["participants"], json!([bob]));
    assert_eq!(created["reminders"], json!([{"before": "PT15M"}]));

    let id = created["id"].as_str().unwrap();
    let (status, fetched) = convene.get(&format!("/v1/events/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, created);

    let (status, reminders) = convene.get(&format!("/v1/events/{id}/reminders")).await;
    assert_eq!(status, 200);
    let reminders = reminders["items"].as_array().unwrap();
    assert_eq!(reminders.len(), 2, "one per attendee");
    assert!(
        reminders
            .iter()
            .all(|r| r["status"] == "pending" && r["due_at"] == "2030-01-15T07:45:00Z")
    );
}

#[tokio::test]
async fn bad_input_names_field_and_changes_nothing() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let ghost = "0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e6f";
    let good = event(&ann, &[], "2030-01-15T08:00:00Z", "2030-01-15T09:00:00Z");
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        if value.is_null() {
            body.as_object_mut().unwrap().remove(field);
        } else {
            body[field] = value;
        }
        body
    };

    let rows: Vec<(Value, u16, &str)> = vec![
        (with("title", Value::Null), 422, "title"),
        (with("start", Value::Null), 422, "start"),
        (with("end", json!("2030-01-15T07:00:00Z")), 422, "end"),
        (with("end", json!("2030-01-15T08:00:00Z")), 422, "end"),
        (with("start", json!("next Tuesday")), 422, "start"),
        (with("participants", json!([ghost])), 422, "participants/0"),
        (with("organizer", json!(ghost)), 422, "organizer"),
        (with("organizer", json!("ann")), 422, "organizer"),
        (
            with("reminders", json!([{"before": "15 minutes"}])),
            422,
            "reminders/0/before",
        ),
        (
            with("time_zone", json!("Europe/Atlantis")),
            422,
            "time_zone",
        ),
        (with("colour", json!("blue")), 422, "colour"),
    ];
    for (body, status, field) in rows {
        let (got, problem) = convene.post("/v1/events", body.clone()).await;
        assert_eq!(got, status, "{body} -> {problem}");
        assert_eq!(problem["field"], field, "{body} -> {problem}");
        assert!(
            problem["detail"].as_str().unwrap().starts_with(field),
            "{problem}"
        );
    }

    let (status, problem) = convene
        .post_raw("/v1/events", "application/json", "{\"title\": ")
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["type"], "urn:convene:problem:malformed-body");
    let (status, _) = convene.post_raw("/v1/events", "text/plain", "{}").await;
    assert_eq!(status, 415);
    let (status, problem) = convene
        .post_raw("/v1/users", "application/json", "{\"name\": \"Bob\"}")
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["field"], "email");

    let (status, _) = convene.get(&format!("/v1/users/{ghost}")).await;
    assert_eq!(status, 404);
    let (status, _) = convene.get("/v1/events/not-an-id").await;
    assert_eq!(status, 404);
    let (status, problem) = convene.get("/v1/messages/not-an-id").await;
    assert_eq!(status, 404);
    assert_eq!(
        problem["type"], "urn:convene:problem:not-found",
        "{problem}"
    );
    let (status, _) = convene.get(&format!("/v1/messages/{ghost}")).await;
    assert_eq!(status, 404);
    let (status, problem) = convene
        .get(&format!("/v1/users/{ann}/busy?from=2030-01-02T00:00:00Z"))
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["field"], "to");

    assert_eq!(
        busy_count(&convene, &ann).await,
        0,
        "no failed request booked anything"
    );
}

#[tokio::test]
async fn overlap_conflict_lists_busy_time_only() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;
    let cid = convene.user("Cid", "cid@gamma.test").await;
    let (status, _) = convene
        .post(
            "/v1/events",
            event(&bob, &[], "2030-01-15T10:00:00Z", "2030-01-15T11:00:00Z"),
        )
        .await;
    assert_eq!(status, 201);

    let (status, problem) = convene
        .post(
            "/v1/events",
            event(
                &ann,
                &[&bob, &cid],
                "2030-01-15T10:30:00Z",
                "2030-01-15T11:30:00Z",
            ),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(
        problem["conflicts"],
        json!([{"user": bob, "busy": [{"start": "2030-01-15T10:00:00Z", "end": "2030-01-15T11:00:00Z"}]}])
    );
    // The next free hours of all three, inside their working hours (09:00-17:00 UTC).
    assert_eq!(
        problem["suggestions"],
        json!([
            {"start": "2030-01-15T11:00:00Z", "end": "2030-01-15T12:00:00Z"},
            {"start": "2030-01-15T11:30:00Z", "end": "2030-01-15T12:30:00Z"},
            {"start": "2030-01-15T12:00:00Z", "end": "2030-01-15T13:00:00Z"},
        ])
    );
    let text = problem.to_string();
    assert!(
        !text.contains("Design review") && !text.contains("Room 4"),
        "leaks details: {text}"
    );
    assert_eq!(busy_count(&convene, &ann).await, 0);
    assert_eq!(busy_count(&convene, &cid).await, 0);
}

#[tokio::test]
async fn back_to_back_event_accepted() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;
    let (status, _) = convene
        .post(
            "/v1/events",
            event(&bob, &[], "2030-01-15T10:00:00Z", "2030-01-15T11:00:00Z"),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = convene
        .post(
            "/v1/events",
            event(
                &ann,
                &[&bob],
                "2030-01-15T11:00:00Z",
                "2030-01-15T12:00:00Z",
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // Offsets other than Z describe the same instants.
    let (status, body) = convene
        .post(
            "/v1/events",
            event(
                &ann,
                &[&bob],
                "2030-01-15T10:00:00+01:00",
                "2030-01-15T11:00:00+01:00",
            ),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // Bob's three back-to-back hours read as one span of busy time.
    let (_, busy) = convene
        .get(&format!(
            "/v1/users/{bob}/busy?from=2030-01-15T00:00:00Z&to=2030-01-16T00:00:00Z"
        ))
        .await;
    assert_eq!(
        busy["busy"],
        json!([{"start": "2030-01-15T09:00:00Z", "end": "2030-01-15T12:00:00Z"}])
    );
}

#[tokio::test]
async fn adding_busy_participant_conflicts() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;
    let cid = convene.user("Cid", "cid@gamma.test").await;
    let (_, bobs) = convene
        .post(
            "/v1/events",
            event(&bob, &[], "2030-01-15T10:00:00Z", "2030-01-15T11:00:00Z"),
        )
        .await;
    let (_, anns) = convene
        .post(
            "/v1/events",
            event(&ann, &[], "2030-01-15T10:45:00Z", "2030-01-15T11:45:00Z"),
        )
        .await;
    let anns = anns["id"].as_str().unwrap();

    let (status, problem) = convene
        .post(
            &format!("/v1/events/{anns}/participants"),
            json!({"user": bob}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(
        problem["conflicts"],
        json!([{"user": bob, "busy": [{"start": bobs["start"], "end": bobs["end"]}]}])
    );

    let (status, updated) = convene
        .post(
            &format!("/v1/events/{anns}/participants"),
            json!({"user": cid}),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["participants"], json!([cid]));
    let (_, reminders) = convene.get(&format!("/v1/events/{anns}/reminders")).await;
    assert_eq!(reminders["items"].as_array().unwrap().len(), 2);

    let (status, updated) = convene
        .delete(&format!("/v1/events/{anns}/participants/{cid}"))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["participants"], json!([]));
    let (_, reminders) = convene.get(&format!("/v1/events/{anns}/reminders")).await;
    let reminders = reminders["items"].as_array().unwrap();
    assert_eq!(reminders.len(), 1, "cid's pending reminder was dropped");
    assert_eq!(reminders[0]["user"], ann.as_str());

    let (status, _) = convene
        .delete(&format!("/v1/events/{anns}/participants/{cid}"))
        .await;
    assert_eq!(status, 404);
    let (status, problem) = convene
        .delete(&format!("/v1/events/{anns}/participants/{ann}"))
        .await;
    assert_eq!(status, 422, "{problem}");
    let (status, problem) = convene
        .post(
            &format!("/v1/events/{anns}/participants"),
            json!({"user": "0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e6f"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "user");
}

#[tokio::test]
async fn busy_lists_intervals_in_window() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    for (start, end) in [
        ("2030-01-15T14:00:00Z", "2030-01-15T15:00:00Z"),
        ("2030-01-15T09:00:00Z", "2030-01-15T10:00:00Z"),
        ("2030-01-16T09:00:00Z", "2030-01-16T10:00:00Z"),
    ] {
        let (status, _) = convene
            .post("/v1/events", event(&ann, &[], start, end))
            .await;
        assert_eq!(status, 201);
    }
    let (status, body) = convene
        .get(&format!(
            "/v1/users/{ann}/busy?from=2030-01-15T00:00:00Z&to=2030-01-16T00:00:00Z"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["busy"],
        json!([
            {"start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z"},
            {"start": "2030-01-15T14:00:00Z", "end": "2030-01-15T15:00:00Z"},
        ])
    );
}

/// Sends `request` over a raw loopback connection and returns the status,
/// `Content-Type` and JSON body of the response. This serves requests that
/// reqwest will not send, such as a `Content-Length` without its body.
async fn exchange_raw(convene: &Convene, request: &str) -> (u16, String, Value) {
    let mut stream = tokio::net::TcpStream::connect(convene.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();

    // Read until the head and the `Content-Length` bytes after it arrived;
    // the server may keep the connection open.
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    loop {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(
            n > 0,
            "connection closed after {:?}",
            String::from_utf8_lossy(&received)
        );
        received.extend_from_slice(&buffer[..n]);
        let Some(head_end) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = std::str::from_utf8(&received[..head_end]).unwrap();
        let header = |name: &str| {
            head.lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(key, _)| key.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.trim().to_owned())
        };
        let length: usize = header("content-length")
            .unwrap_or_else(|| panic!("no Content-Length in {head:?}"))
            .parse()
            .unwrap();
        let body = &received[head_end + 4..];
        if body.len() < length {
            continue;
        }
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let body = serde_json::from_slice(&body[..length]).unwrap_or_else(|_| {
            panic!("non-JSON body in {:?}", String::from_utf8_lossy(&received))
        });
        return (status, header("content-type").unwrap_or_default(), body);
    }
}

#[tokio::test]
async fn repeated_query_parameter_named() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let rows = [
        (
            "from=2030-01-15T00:00:00Z&to=2030-01-16T00:00:00Z&from=2030-01-14T00:00:00Z",
            "from",
        ),
        (
            "to=2030-01-16T00:00:00Z&from=2030-01-15T00:00:00Z&to=2030-01-16T00:00:00Z",
            "to",
        ),
    ];
    for (query, field) in rows {
        let (status, problem) = convene.get(&format!("/v1/users/{ann}/busy?{query}")).await;
        assert_eq!(status, 422, "{query} -> {problem}");
        assert_eq!(problem["field"], field, "{query} -> {problem}");
    }
}

#[tokio::test]
async fn invalid_utf8_path_parameter_named() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let rows = [
        ("GET", "/v1/users/%FF%FE".to_owned(), "`id`"),
        (
            "GET",
            "/v1/users/%C3%28/busy?from=2030-01-15T00:00:00Z&to=2030-01-16T00:00:00Z".to_owned(),
            "`id`",
        ),
        ("GET", "/v1/events/%FF".to_owned(), "`id`"),
        ("GET", "/v1/events/%FF/reminders".to_owned(), "`id`"),
        (
            "DELETE",
            format!("/v1/events/0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e6f/participants/%FE{ann}"),
            "`user`",
        ),
    ];
    for (method, path, name) in rows {
        let (status, problem) = match method {
            "GET" => convene.get(&path).await,
            _ => convene.delete(&path).await,
        };
        assert_eq!(status, 400, "{method} {path} -> {problem}");
        assert_eq!(
            problem["type"], "urn:convene:problem:invalid-path-parameter",
            "{method} {path} -> {problem}"
        );
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(name), "{method} {path} -> {problem}");
    }
}

#[tokio::test]
async fn huge_declared_body_rejected_without_reading() {
    let (convene, _dir) = start();
    // Only the head is sent, so a server that waited for the body would
    // respond with 408 once its request timeout passed, not with 413.
    let request = format!(
        "POST /v1/users HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n",
        convene.addr
    );
    let (status, content_type, problem) = exchange_raw(&convene, &request).await;
    assert_eq!(status, 413, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert_eq!(problem["status"], 413);
    assert_eq!(problem["type"], "urn:convene:problem:body-too-large");
}

#[tokio::test]
async fn non_ascii_content_type_reported_as_invalid() {
    let (convene, _dir) = start();
    let request = format!(
        "POST /v1/users HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\nContent-Type: application/jéson\r\nContent-Length: 2\r\n\r\n{{}}",
        convene.addr,
        support::ADMIN_TOKEN
    );
    let (status, content_type, problem) = exchange_raw(&convene, &request).await;
    assert_eq!(status, 415, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("not valid text"), "{detail}");
}

#[tokio::test]
async fn long_input_shortened_in_errors() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let long = "9".repeat(5000);
    let mut body = event(&ann, &[], &long, "2030-01-15T09:00:00Z");
    body[&long] = json!("unknown field with a long name");

    let responses = [
        convene.get(&format!("/v1/users/{long}")).await,
        convene
            .get(&format!(
                "/v1/users/{ann}/busy?from={long}&to=2030-01-16T00:00:00Z"
            ))
            .await,
        convene.post("/v1/events", body).await,
    ];
    for (status, problem) in responses {
        assert!(status >= 400, "{problem}");
        let text = problem.to_string();
        assert!(text.len() < 1500, "{} bytes: {text}", text.len());
    }
}

#[tokio::test]
async fn busy_window_finer_than_microsecond_rejected() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let (status, _) = convene
        .post(
            "/v1/events",
            event(&ann, &[], "2030-01-15T10:00:00Z", "2030-01-15T11:00:00Z"),
        )
        .await;
    assert_eq!(status, 201);

    let rows = [
        (
            "2030-01-15T09:59:59.9999995Z",
            "2030-01-15T10:00:00.000001Z",
            "from",
        ),
        (
            "2030-01-15T09:59:59.999999Z",
            "2030-01-15T10:00:00.0000005Z",
            "to",
        ),
    ];
    for (from, to, field) in rows {
        let (status, problem) = convene
            .get(&format!("/v1/users/{ann}/busy?from={from}&to={to}"))
            .await;
        assert_eq!(status, 422, "{from}..{to} -> {problem}");
        assert_eq!(problem["field"], field, "{from}..{to} -> {problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("more precise than a microsecond"),
            "{detail}"
        );
    }

    let (status, body) = convene
        .get(&format!(
            "/v1/users/{ann}/busy?from=2030-01-15T09:59:59.999999Z&to=2030-01-15T10:00:00.000001Z"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["busy"],
        json!([{"start": "2030-01-15T10:00:00Z", "end": "2030-01-15T11:00:00Z"}])
    );
}

#[tokio::test]
async fn sub_minute_offset_written_in_utc() {
    let (convene, _dir) = start();
    let (status, user) = convene
        .post(
            "/v1/users",
            json!({"name": "Ann", "email": "ann@alpha.test", "time_zone": "Africa/Monrovia"}),
        )
        .await;
    assert_eq!(status, 201, "{user}");
    let ann = user["id"].as_str().unwrap();

    let (status, created) = convene
        .post(
            "/v1/events",
            event(ann, &[], "1971-06-01T12:00:00Z", "1971-06-01T13:00:00Z"),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["time_zone"], "Africa/Monrovia");
    for (key, expected) in [
        ("start", "1971-06-01T12:00:00Z"),
        ("end", "1971-06-01T13:00:00Z"),
    ] {
        let written: Timestamp = created[key].as_str().unwrap().parse().unwrap();
        assert_eq!(
            written,
            expected.parse::<Timestamp>().unwrap(),
            "{key}: {created}"
        );
        assert_eq!(created[key], expected, "{key}: {created}");
    }

    let id = created["id"].as_str().unwrap();
    let (status, fetched) = convene.get(&format!("/v1/events/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn working_hours_set_and_used_for_availability() {
    let (convene, _dir) = start();
    let (status, ann) = convene
        .post(
            "/v1/users",
            json!({
                "name": "Ann",
                "email": "ann@alpha.test",
                "time_zone": "Europe/Berlin",
                "working_hours": [
                    {"days": ["monday", "TU", "wednesday"], "start": "08:00", "end": "12:00"},
                    {"days": ["monday"], "start": "13:00", "end": "16:00"},
                ],
            }),
        )
        .await;
    assert_eq!(status, 201, "{ann}");
    assert_eq!(
        ann["working_hours"],
        json!([
            {"days": ["monday", "tuesday", "wednesday"], "start": "08:00", "end": "12:00"},
            {"days": ["monday"], "start": "13:00", "end": "16:00"},
        ])
    );
    let ann = ann["id"].as_str().unwrap().to_owned();
    let bob = convene.user("Bob", "bob@beta.test").await;
    let (status, bob_view) = convene.get(&format!("/v1/users/{bob}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        bob_view["working_hours"],
        json!([{"days": ["monday", "tuesday", "wednesday", "thursday", "friday"], "start": "09:00", "end": "17:00"}])
    );

    // Monday 2030-01-07: Ann works 07:00-11:00 and 12:00-15:00 UTC, Bob 09:00-17:00 UTC.
    let search = json!({
        "participants": [ann, bob],
        "duration": "PT90M",
        "from": "2030-01-07T00:00:00Z",
        "to": "2030-01-08T00:00:00Z",
        "count": 3,
        "granularity": "PT1H",
    });
    let (status, found) = convene.post("/v1/availability", search.clone()).await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(
        found["slots"],
        json!([
            {"start": "2030-01-07T09:00:00Z", "end": "2030-01-07T10:30:00Z"},
            {"start": "2030-01-07T12:00:00Z", "end": "2030-01-07T13:30:00Z"},
            {"start": "2030-01-07T13:00:00Z", "end": "2030-01-07T14:30:00Z"},
        ])
    );

    // Bob moves to afternoons only, and to New York.
    let (status, updated) = convene
        .patch(
            &format!("/v1/users/{bob}"),
            json!({
                "time_zone": "America/New_York",
                "working_hours": [{"days": ["mo"], "start": "08:00", "end": "24:00"}],
            }),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Bob");
    assert_eq!(updated["time_zone"], "America/New_York");
    let (status, found) = convene.post("/v1/availability", search).await;
    assert_eq!(status, 200, "{found}");
    // Bob now starts at 13:00 UTC, so only Ann's afternoon is left.
    assert_eq!(
        found["slots"],
        json!([{"start": "2030-01-07T13:00:00Z", "end": "2030-01-07T14:30:00Z"}])
    );
}

#[tokio::test]
async fn bad_working_hours_and_searches_name_the_field() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let cases = [
        (
            json!({"working_hours": [{"days": ["monday"], "start": "17:00", "end": "09:00"}]}),
            "working_hours/0/end",
        ),
        (
            json!({"working_hours": [{"days": ["funday"], "start": "09:00", "end": "17:00"}]}),
            "working_hours/0/days/0",
        ),
        (
            json!({"working_hours": [{"days": ["monday"], "start": "9", "end": "17:00"}]}),
            "working_hours/0/start",
        ),
        (json!({"time_zone": "Mars/Olympus"}), "time_zone"),
        (json!({"email": "not an address"}), "email"),
    ];
    for (body, field) in cases {
        let (status, problem) = convene.patch(&format!("/v1/users/{ann}"), body).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    let (_, unchanged) = convene.get(&format!("/v1/users/{ann}")).await;
    assert_eq!(unchanged["email"], "ann@alpha.test");

    let (status, problem) = convene
        .post(
            "/v1/availability",
            json!({"participants": [ann], "duration": "one hour", "from": "2030-01-07T00:00:00Z", "to": "2030-01-08T00:00:00Z"}),
        )
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "duration");
}

#[tokio::test]
async fn event_rescheduled_renamed_and_cancelled() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;
    let (status, created) = convene
        .post(
            "/v1/events",
            event(
                &ann,
                &[&bob],
                "2030-01-15T10:00:00Z",
                "2030-01-15T11:00:00Z",
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["sequence"], 0);
    assert_eq!(created["status"], "confirmed");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = convene
        .post(
            "/v1/events",
            event(&bob, &[], "2030-01-15T14:00:00Z", "2030-01-15T15:00:00Z"),
        )
        .await;
    assert_eq!(status, 201);

    // Onto Bob's other event: refused, with suggestions, and nothing changes.
    let (status, problem) = convene
        .patch(
            &format!("/v1/events/{id}"),
            json!({"start": "2030-01-15T14:30:00Z", "end": "2030-01-15T15:30:00Z", "title": "Moved"}),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["conflicts"][0]["user"], bob);
    assert!(
        !problem["suggestions"].as_array().unwrap().is_empty(),
        "{problem}"
    );
    let (_, unchanged) = convene.get(&format!("/v1/events/{id}")).await;
    assert_eq!(unchanged, created);

    // A new title alone is not a change to answer again.
    let (status, renamed) = convene
        .patch(
            &format!("/v1/events/{id}"),
            json!({"title": "Budget review", "location": null}),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["title"], "Budget review");
    assert_eq!(renamed["location"], Value::Null);
    assert_eq!(renamed["sequence"], 0);

    // A new time raises the sequence and replans every reminder.
    let (status, moved) = convene
        .patch(
            &format!("/v1/events/{id}"),
            json!({"start": "2030-01-16T09:00:00+01:00", "end": "2030-01-16T10:30:00+01:00"}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["sequence"], 1);
    assert_eq!(moved["title"], "Budget review");
    let (_, reminders) = convene.get(&format!("/v1/events/{id}/reminders")).await;
    let due: Vec<&str> = reminders["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|reminder| reminder["due_at"].as_str().unwrap())
        .collect();
    assert_eq!(due, ["2030-01-16T07:45:00Z", "2030-01-16T07:45:00Z"]);
    let (_, busy) = convene
        .get(&format!(
            "/v1/users/{bob}/busy?from=2030-01-15T00:00:00Z&to=2030-01-17T00:00:00Z"
        ))
        .await;
    assert_eq!(
        busy["busy"],
        json!([
            {"start": "2030-01-15T14:00:00Z", "end": "2030-01-15T15:00:00Z"},
            {"start": "2030-01-16T08:00:00Z", "end": "2030-01-16T09:30:00Z"},
        ])
    );

    // Bad changes name the field.
    for (body, field) in [
        (json!({"title": null}), "title"),
        (json!({"end": "2030-01-16T07:00:00Z"}), "end"),
        (json!({"time_zone": "Nowhere/Else"}), "time_zone"),
        (json!({"organizer": ann}), "organizer"),
    ] {
        let (status, problem) = convene.patch(&format!("/v1/events/{id}"), body).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }

    // Cancelling frees the time and drops the reminders; the event stays readable.
    let (status, cancelled) = convene.delete(&format!("/v1/events/{id}")).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["sequence"], 2);
    let (_, reminders) = convene.get(&format!("/v1/events/{id}/reminders")).await;
    assert_eq!(reminders["items"], json!([]));
    let (_, busy) = convene
        .get(&format!(
            "/v1/users/{bob}/busy?from=2030-01-16T00:00:00Z&to=2030-01-17T00:00:00Z"
        ))
        .await;
    assert_eq!(busy["busy"], json!([]));
    let (status, problem) = convene
        .patch(&format!("/v1/events/{id}"), json!({"title": "Back"}))
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(problem["type"], "urn:convene:problem:cancelled");
    let (status, _) = convene
        .delete(&format!(
            "/v1/events/{}",
            "0190f5a2-0000-7000-8000-000000000000"
        ))
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn recurring_and_all_day_events() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;

    // Every Monday at 09:00 in Berlin, without end, except on 2030-01-21.
    let mut body = event(
        &ann,
        &[&bob],
        "2030-01-07T09:00:00+01:00",
        "2030-01-07T09:30:00+01:00",
    );
    body["time_zone"] = json!("Europe/Berlin");
    body["recurrence"] =
        json!({"rrule": "FREQ=WEEKLY;BYDAY=MO", "exdates": ["2030-01-21T09:00:00+01:00"]});
    let (status, series) = convene.post("/v1/events", body).await;
    assert_eq!(status, 201, "{series}");
    assert_eq!(
        series["recurrence"],
        json!({"rrule": ["FREQ=WEEKLY;BYDAY=MO"], "rdates": [], "exdates": ["2030-01-21T09:00:00+01:00"]})
    );
    let (_, busy) = convene
        .get(&format!(
            "/v1/users/{bob}/busy?from=2030-01-14T00:00:00Z&to=2030-01-29T00:00:00Z"
        ))
        .await;
    assert_eq!(
        busy["busy"],
        json!([
            {"start": "2030-01-14T08:00:00Z", "end": "2030-01-14T08:30:00Z"},
            {"start": "2030-01-28T08:00:00Z", "end": "2030-01-28T08:30:00Z"},
        ])
    );
    // In summer the meeting stays at 09:00 local, 07:00 UTC.
    let (_, busy) = convene
        .get(&format!(
            "/v1/users/{bob}/busy?from=2030-07-01T00:00:00Z&to=2030-07-02T00:00:00Z"
        ))
        .await;
    assert_eq!(
        busy["busy"],
        json!([{"start": "2030-07-01T07:00:00Z", "end": "2030-07-01T07:30:00Z"}])
    );

    // A single event months later conflicts with that Monday's occurrence.
    let (status, problem) = convene
        .post(
            "/v1/events",
            event(&bob, &[], "2030-09-02T07:15:00Z", "2030-09-02T08:00:00Z"),
        )
        .await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(
        problem["conflicts"],
        json!([{"user": bob, "busy": [{"start": "2030-09-02T07:00:00Z", "end": "2030-09-02T07:30:00Z"}]}])
    );

    // An all-day event is given, and shown, as dates with an exclusive end.
    let mut holiday = event(&bob, &[], "2030-01-01", "2030-01-03");
    holiday["time_zone"] = json!("America/New_York");
    holiday["reminders"] = json!([]);
    let (status, created) = convene.post("/v1/events", holiday).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["all_day"], true);
    assert_eq!(created["start"], "2030-01-01");
    assert_eq!(created["end"], "2030-01-03");
    let (_, busy) = convene
        .get(&format!(
            "/v1/users/{bob}/busy?from=2029-12-31T00:00:00Z&to=2030-01-05T00:00:00Z"
        ))
        .await;
    assert_eq!(
        busy["busy"],
        json!([{"start": "2030-01-01T05:00:00Z", "end": "2030-01-03T05:00:00Z"}])
    );

    // Bad recurrences and mixed forms name the field.
    for (patch, field) in [
        (
            json!({"recurrence": {"rrule": "FREQ=FORTNIGHTLY"}}),
            "recurrence/rrule",
        ),
        (
            json!({"recurrence": {"rrule": "FREQ=DAILY;COUNT=3;UNTIL=20300201T000000Z"}}),
            "recurrence/rrule",
        ),
        (
            json!({"recurrence": {"rrule": "FREQ=DAILY;UNTIL=20300201"}}),
            "recurrence/rrule",
        ),
        // Multi-byte characters where the parser looks for ASCII once made the server drop
        // the connection without a response.
        (
            json!({"recurrence": {"rrule": "\u{800}\u{10000}"}}),
            "recurrence/rrule",
        ),
        (
            json!({"recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=aÖb"}}),
            "recurrence/rrule",
        ),
        (
            json!({"recurrence": {"rrule": "FREQ=DAILY", "exdates": ["2030-01-08"]}}),
            "recurrence/exdates/0",
        ),
        (json!({"recurrence": {"freq": "daily"}}), "recurrence/freq"),
        (json!({"end": "2030-01-08"}), "end"),
    ] {
        let mut body = event(&ann, &[], "2030-01-08T09:00:00Z", "2030-01-08T10:00:00Z");
        for (key, value) in patch.as_object().unwrap() {
            body[key] = value.clone();
        }
        let (status, problem) = convene.post("/v1/events", body).await;
        assert_eq!(status, 422, "{patch}: {problem}");
        assert_eq!(problem["field"], field, "{patch}: {problem}");
    }

    // Ending the series frees the Mondays after its end.
    let id = series["id"].as_str().unwrap();
    let (status, changed) = convene
        .patch(
            &format!("/v1/events/{id}"),
            json!({"recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=MO;UNTIL=20300301T000000Z"}}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["sequence"], 1);
    let (status, _) = convene
        .post(
            "/v1/events",
            event(&bob, &[], "2030-09-02T07:15:00Z", "2030-09-02T08:00:00Z"),
        )
        .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn replies_come_from_participants_only() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;
    let cid = convene.user("Cid", "cid@gamma.test").await;
    let (status, created) = convene
        .post(
            "/v1/events",
            event(
                &ann,
                &[&bob],
                "2030-01-15T10:00:00Z",
                "2030-01-15T11:00:00Z",
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let rsvp = format!("/v1/events/{id}/rsvp");
    for (body, field) in [
        (json!({"user": cid, "response": "accepted"}), "user"),
        (json!({"user": ann, "response": "accepted"}), "user"),
        (json!({"user": bob, "response": "maybe"}), "response"),
    ] {
        let (status, problem) = convene.post(&rsvp, body).await;
        assert_eq!(status, 422, "{problem}");
        assert_eq!(problem["field"], field, "{problem}");
    }
    let (status, answered) = convene
        .post(&rsvp, json!({"user": bob, "response": "tentative"}))
        .await;
    assert_eq!(status, 200, "{answered}");
    let (_, fetched) = convene.get(&format!("/v1/events/{id}")).await;
    assert_eq!(
        fetched["answers"],
        json!([{"user": ann, "response": "accepted"}, {"user": bob, "response": "tentative"}])
    );
}
