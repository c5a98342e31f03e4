//! The HTTP API of a real `convene serve` process on a SQLite file.

mod support;

use serde_json::{Value, json};
use support::Convene;

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
    let id = created["id"].as_str().unwrap();

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
    let reminders = reminders.as_array().unwrap();
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
    assert_eq!(busy_count(&convene, &bob).await, 3);
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
    assert_eq!(reminders.as_array().unwrap().len(), 2);

    let (status, updated) = convene
        .delete(&format!("/v1/events/{anns}/participants/{cid}"))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["participants"], json!([]));
    let (_, reminders) = convene.get(&format!("/v1/events/{anns}/reminders")).await;
    let reminders = reminders.as_array().unwrap();
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
