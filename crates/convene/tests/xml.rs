//! XML request bodies on a real `convene serve` process: the same event as
//! JSON and as XML is stored the same way, and hostile documents are
//! rejected with a 4xx without storing anything.

mod support;

use serde_json::{Value, json};
use support::Convene;

fn start() -> (Convene, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let convene = Convene::start(&dir.path().join("convene.db"), &[]);
    (convene, dir)
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

/// Posts `body` as XML and returns the status and the response body.
async fn post_xml(convene: &Convene, path: &str, body: String) -> (u16, Value) {
    convene
        .post_bytes(path, "application/xml; charset=utf-8", body.into_bytes())
        .await
}

/// Returns the GET view of a stored event without its id.
async fn event_view(convene: &Convene, created: &Value) -> Value {
    let id = created["id"].as_str().unwrap();
    let (status, mut view) = convene.get(&format!("/v1/events/{id}")).await;
    assert_eq!(status, 200, "{view}");
    view.as_object_mut().unwrap().remove("id");
    view
}

#[tokio::test]
async fn xml_event_stored_like_json() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let bob = convene.user("Bob", "bob@beta.test").await;

    let json_body = json!({
        "title": "Design review & planning",
        "description": "Bring <notes>",
        "location": "Room 4",
        "time_zone": "Europe/Berlin",
        "start": "2030-01-14T08:00:00Z",
        "end": "2030-01-14T09:00:00Z",
        "organizer": ann,
        "participants": [bob],
        "reminders": [{"before": "PT15M"}, {"before": "P1D"}],
        "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=4", "exdates": ["2030-01-21T08:00:00Z"]},
    });
    let (status, from_json) = convene.post("/v1/events", json_body).await;
    assert_eq!(status, 201, "{from_json}");
    let json_view = event_view(&convene, &from_json).await;

    // Both events take the same time, so the first is cancelled before the second is booked.
    let id = from_json["id"].as_str().unwrap();
    let (status, cancelled) = convene.delete(&format!("/v1/events/{id}")).await;
    assert!(status < 300, "{status} {cancelled}");

    let xml_body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<event>
  <title>Design review &amp; planning</title>
  <description>Bring &lt;notes&gt;</description>
  <location>Room 4</location>
  <time_zone>Europe/Berlin</time_zone>
  <start>2030-01-14T08:00:00Z</start>
  <end>2030-01-14T09:00:00Z</end>
  <organizer>{ann}</organizer>
  <participants><user>{bob}</user></participants>
  <reminders>
    <reminder><before>PT15M</before></reminder>
    <reminder><before>P1D</before></reminder>
  </reminders>
  <recurrence>
    <rrule>FREQ=WEEKLY;BYDAY=MO;COUNT=4</rrule>
    <exdates><date>2030-01-21T08:00:00Z</date></exdates>
  </recurrence>
</event>"
    );
    let (status, from_xml) = post_xml(&convene, "/v1/events", xml_body).await;
    assert_eq!(status, 201, "{from_xml}");
    let xml_view = event_view(&convene, &from_xml).await;

    assert_eq!(xml_view, json_view);
    assert_eq!(busy_count(&convene, &ann).await, 3);
}

#[tokio::test]
async fn xml_error_names_field() {
    let (convene, _dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;

    let body = format!(
        "<event><title>Review</title><start>2030-01-15T08:00:00Z</start><end>2030-01-15T09:00:00Z</end><organizer>{ann}</organizer><reminders><reminder><before>15 minutes</before></reminder></reminders></event>"
    );
    let (status, problem) = post_xml(&convene, "/v1/events", body).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["field"], "reminders/0/before", "{problem}");

    let (status, problem) = convene
        .post_bytes("/v1/events", "text/plain", b"<event/>".to_vec())
        .await;
    assert_eq!(status, 415, "{problem}");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("application/xml"),
        "{problem}"
    );
    assert_eq!(busy_count(&convene, &ann).await, 0);
}

#[tokio::test]
async fn hostile_xml_rejected_and_nothing_stored() {
    let (convene, dir) = start();
    let ann = convene.user("Ann", "ann@alpha.test").await;
    let fields = format!(
        "<start>2030-01-15T08:00:00Z</start><end>2030-01-15T09:00:00Z</end><organizer>{ann}</organizer>"
    );

    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "SECRET-FILE-CONTENT").unwrap();
    let external_entity = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE event [<!ENTITY leak SYSTEM \"file://{}\">]><event><title>&leak;</title>{fields}</event>",
        secret.display()
    );

    let mut laughs = String::from("<?xml version=\"1.0\"?><!DOCTYPE event [<!ENTITY lol \"lol\">");
    for level in 1..=9 {
        let previous = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        laughs.push_str(&format!(
            "<!ENTITY lol{level} \"{}\">",
            format!("&{previous};").repeat(10)
        ));
    }
    laughs.push_str(&format!("]><event><title>&lol9;</title>{fields}</event>"));

    // 200,000 levels with their end tags take 1.4 MB, which is over the body
    // limit, so this body has the start tags alone. The unit tests parse the
    // complete document.
    let nested = format!(
        "<event><title>Deep</title>{fields}<description>{}",
        "<a>".repeat(200_000)
    );

    let undeclared_entity = format!("<event><title>&lol9;</title>{fields}</event>");

    // An oversized body is refused before any parser sees it, whatever its format; the
    // server may close the connection while the client still writes, so that case is
    // tested with the request head alone (`huge_declared_body_rejected_without_reading`).
    let rows = [
        ("external entity", external_entity, 400, "DOCTYPE"),
        ("billion laughs", laughs, 400, "DOCTYPE"),
        ("undeclared entity", undeclared_entity, 400, "&lol9;"),
        ("200,000 nested elements", nested, 400, "nested deeper"),
    ];
    for (name, body, expected_status, reason) in rows {
        let (status, problem) = post_xml(&convene, "/v1/events", body).await;
        assert_eq!(status, expected_status, "{name}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default();
        assert!(detail.contains(reason), "{name}: {problem}");
        assert!(
            !problem.to_string().contains("SECRET-FILE-CONTENT"),
            "{name}: {problem}"
        );
    }
    assert_eq!(busy_count(&convene, &ann).await, 0);
}
