use super::*;
use crate::{InputErrorKind, JsonParser};

const ANN: &str = "0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e6f";
const BOB: &str = "0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e70";
const CAROL: &str = "0190f5d2-7c4e-7b9a-8f3e-1a2b3c4d5e71";

/// One parser method, with its command printed so that rows of different
/// commands fit in one table.
type Parse = fn(&dyn RequestParser, &[u8]) -> Result<String, InputError>;

fn create_event(parser: &dyn RequestParser, body: &[u8]) -> Result<String, InputError> {
    parser.parse_create_event(body).map(|c| format!("{c:?}"))
}

fn update_event(parser: &dyn RequestParser, body: &[u8]) -> Result<String, InputError> {
    parser.parse_update_event(body).map(|c| format!("{c:?}"))
}

fn new_user(parser: &dyn RequestParser, body: &[u8]) -> Result<String, InputError> {
    parser.parse_new_user(body).map(|c| format!("{c:?}"))
}

fn update_user(parser: &dyn RequestParser, body: &[u8]) -> Result<String, InputError> {
    parser.parse_update_user(body).map(|c| format!("{c:?}"))
}

fn add_participant(parser: &dyn RequestParser, body: &[u8]) -> Result<String, InputError> {
    parser.parse_add_participant(body).map(|c| format!("{c:?}"))
}

fn find_slots(parser: &dyn RequestParser, body: &[u8]) -> Result<String, InputError> {
    parser.parse_find_slots(body).map(|c| format!("{c:?}"))
}

fn answer(parser: &dyn RequestParser, body: &[u8]) -> Result<String, InputError> {
    parser.parse_answer(body).map(|c| format!("{c:?}"))
}

/// Fills `{ann}`, `{bob}` and `{carol}` with user ids.
fn fill(template: &str) -> String {
    template
        .replace("{ann}", ANN)
        .replace("{bob}", BOB)
        .replace("{carol}", CAROL)
}

/// Bodies that mean the same in both formats: (method, JSON, XML).
fn equivalent_bodies() -> Vec<(Parse, &'static str, &'static str)> {
    vec![
        (
            create_event,
            r#"{"title": "Planning", "start": "2030-01-15T09:00:00+01:00", "end": "2030-01-15T10:00:00+01:00", "organizer": "{ann}"}"#,
            "<event><title>Planning</title><start>2030-01-15T09:00:00+01:00</start><end>2030-01-15T10:00:00+01:00</end><organizer>{ann}</organizer></event>",
        ),
        (
            create_event,
            r#"{"title": "Review & plan <Q1>", "description": "Bring \"notes\"\nand coffee", "location": "Room 4", "time_zone": "Europe/Berlin",
                "start": "2030-01-15T08:00:00Z", "end": "2030-01-15T09:00:00Z", "organizer": "{ann}",
                "participants": ["{bob}", "{carol}"], "reminders": [{"before": "PT15M"}, {"before": "P1D"}]}"#,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- a full event -->\n<event>\n  <title>Review &amp; plan &lt;Q1&gt;</title>\n  <description>Bring &quot;notes&quot;&#10;and coffee</description>\n  <location><![CDATA[Room 4]]></location>\n  <time_zone>Europe/Berlin</time_zone>\n  <start>2030-01-15T08:00:00Z</start>\n  <end>2030-01-15T09:00:00Z</end>\n  <organizer>{ann}</organizer>\n  <participants>\n    <user>{bob}</user>\n    <user>{carol}</user>\n  </participants>\n  <reminders>\n    <reminder><before>PT15M</before></reminder>\n    <reminder><before>P1D</before></reminder>\n  </reminders>\n</event>\n",
        ),
        (
            create_event,
            r#"{"title": "Offsite", "start": "2030-03-01", "end": "2030-03-03", "organizer": "{ann}", "description": null, "participants": [], "reminders": []}"#,
            r#"<event><title>Offsite</title><start>2030-03-01</start><end>2030-03-03</end><organizer>{ann}</organizer><description nil="true"/><participants/><reminders></reminders></event>"#,
        ),
        (
            create_event,
            r#"{"title": "Standup", "start": "2030-01-14T09:00:00Z", "end": "2030-01-14T09:15:00Z", "organizer": "{ann}",
                "recurrence": {"rrule": "FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10", "exdates": ["2030-01-16T09:00:00Z"]}}"#,
            "<event><title>Standup</title><start>2030-01-14T09:00:00Z</start><end>2030-01-14T09:15:00Z</end><organizer>{ann}</organizer><recurrence><rrule>FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10</rrule><exdates><date>2030-01-16T09:00:00Z</date></exdates></recurrence></event>",
        ),
        (
            create_event,
            r#"{"title": "Two rules", "start": "2030-01-14T09:00:00Z", "end": "2030-01-14T09:15:00Z", "organizer": "{ann}",
                "recurrence": {"rrule": ["FREQ=WEEKLY;BYDAY=MO", "RRULE:FREQ=MONTHLY;BYMONTHDAY=1"], "rdates": ["2030-02-20T09:00:00Z"], "exdates": []}}"#,
            "<event><title>Two rules</title><start>2030-01-14T09:00:00Z</start><end>2030-01-14T09:15:00Z</end><organizer>{ann}</organizer><recurrence><rrule>FREQ=WEEKLY;BYDAY=MO</rrule><rrule>RRULE:FREQ=MONTHLY;BYMONTHDAY=1</rrule><rdates><date>2030-02-20T09:00:00Z</date></rdates><exdates/></recurrence></event>",
        ),
        (
            create_event,
            r#"{"title": "Dates only", "start": "2030-01-14", "end": "2030-01-15", "organizer": "{ann}", "recurrence": {"rdates": ["2030-02-01", "2030-03-01"]}}"#,
            "<event><title>Dates only</title><start>2030-01-14</start><end>2030-01-15</end><organizer>{ann}</organizer><recurrence><rdates><date>2030-02-01</date><date>2030-03-01</date></rdates></recurrence></event>",
        ),
        (
            create_event,
            r#"{"title": "Single", "start": "2030-01-14T09:00:00Z", "end": "2030-01-14T10:00:00Z", "organizer": "{ann}", "recurrence": null}"#,
            r#"<event xmlns="urn:example"><title>Single</title><start>2030-01-14T09:00:00Z</start><end>2030-01-14T10:00:00Z</end><organizer>{ann}</organizer><recurrence nil="true"></recurrence></event>"#,
        ),
        (
            update_event,
            r#"{"title": "Renamed", "description": null, "location": "Room 5", "reminders": [], "recurrence": null}"#,
            r#"<change><title>Renamed</title><description nil="true"/><location>Room 5</location><reminders/><recurrence nil="true"/></change>"#,
        ),
        (
            update_event,
            r#"{"start": "2030-01-15T10:00:00Z", "end": "2030-01-15T11:00:00Z", "time_zone": "America/New_York", "reminders": [{"before": "PT5M"}]}"#,
            "<change><start>2030-01-15T10:00:00Z</start><end>2030-01-15T11:00:00Z</end><time_zone>America/New_York</time_zone><reminders><reminder><before>PT5M</before></reminder></reminders></change>",
        ),
        (
            update_event,
            r#"{"recurrence": {"rrule": "FREQ=DAILY;COUNT=3"}, "location": ""}"#,
            "<change><recurrence><rrule>FREQ=DAILY;COUNT=3</rrule></recurrence><location></location></change>",
        ),
        (update_event, "{}", "<change/>"),
        (
            new_user,
            r#"{"name": "Ann Lee", "email": "ann@alpha.test"}"#,
            "<user><name>Ann Lee</name><email>ann@alpha.test</email></user>",
        ),
        (
            new_user,
            r#"{"name": "Ann", "email": "ann@alpha.test", "time_zone": "Europe/Berlin",
                "working_hours": [{"days": ["monday", "tuesday"], "start": "09:00", "end": "12:00"}, {"days": ["friday"], "start": "13:00", "end": "17:30"}]}"#,
            "<user><name>Ann</name><email>ann@alpha.test</email><time_zone>Europe/Berlin</time_zone><working_hours><period><days><day>monday</day><day>tuesday</day></days><start>09:00</start><end>12:00</end></period><period><days><day>friday</day></days><start>13:00</start><end>17:30</end></period></working_hours></user>",
        ),
        (
            new_user,
            r#"{"name": "Bob", "email": "bob@beta.test", "time_zone": null, "working_hours": null}"#,
            r#"<user><name>Bob</name><email>bob@beta.test</email><time_zone nil="true"/><working_hours nil="true"/></user>"#,
        ),
        (
            update_user,
            r#"{"time_zone": null}"#,
            r#"<user><time_zone nil="true"/></user>"#,
        ),
        (
            update_user,
            r#"{"name": "Ann B.", "email": "ann.b@alpha.test", "time_zone": "Asia/Tokyo"}"#,
            "<user><name>Ann B.</name><email>ann.b@alpha.test</email><time_zone>Asia/Tokyo</time_zone></user>",
        ),
        (
            update_user,
            r#"{"working_hours": [{"days": ["saturday"], "start": "10:00", "end": "14:00"}]}"#,
            "<user><working_hours><period><days><day>saturday</day></days><start>10:00</start><end>14:00</end></period></working_hours></user>",
        ),
        (
            add_participant,
            r#"{"user": "{bob}"}"#,
            "<participant><user>{bob}</user></participant>",
        ),
        (
            answer,
            r#"{"user": "{bob}", "response": "tentative"}"#,
            "<rsvp><user>{bob}</user><response>tentative</response></rsvp>",
        ),
        (
            find_slots,
            r#"{"participants": ["{ann}", "{bob}"], "duration": "PT30M", "from": "2030-01-14T00:00:00Z", "to": "2030-01-21T00:00:00Z"}"#,
            "<availability><participants><user>{ann}</user><user>{bob}</user></participants><duration>PT30M</duration><from>2030-01-14T00:00:00Z</from><to>2030-01-21T00:00:00Z</to></availability>",
        ),
        (
            find_slots,
            r#"{"participants": ["{ann}"], "duration": "PT1H", "from": "2030-01-14T00:00:00Z", "to": "2030-01-21T00:00:00Z", "count": 3, "granularity": "PT15M"}"#,
            "<availability><participants><user>{ann}</user></participants><duration>PT1H</duration><from>2030-01-14T00:00:00Z</from><to>2030-01-21T00:00:00Z</to><count>3</count><granularity>PT15M</granularity></availability>",
        ),
    ]
}

/// Bodies that both formats reject, by naming the same field: (method, JSON, XML).
fn equivalent_errors() -> Vec<(Parse, &'static str, &'static str)> {
    vec![
        (
            create_event,
            r#"{"start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}"}"#,
            "<event><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer></event>",
        ),
        (
            create_event,
            r#"{"title": null, "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}"}"#,
            r#"<event><title nil="true"/><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer></event>"#,
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15 09:00", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}"}"#,
            "<event><title>A</title><start>2030-01-15 09:00</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer></event>",
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00", "organizer": "{ann}"}"#,
            "<event><title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00</end><organizer>{ann}</organizer></event>",
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "42"}"#,
            "<event><title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>42</organizer></event>",
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}", "participants": ["{bob}", "someone"]}"#,
            "<event><title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer><participants><user>{bob}</user><user>someone</user></participants></event>",
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}", "reminders": [{"before": "PT5M"}, {"before": "15m"}]}"#,
            "<event><title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer><reminders><reminder><before>PT5M</before></reminder><reminder><before>15m</before></reminder></reminders></event>",
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}", "reminders": [{}]}"#,
            "<event><title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer><reminders><reminder/></reminders></event>",
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}", "reminders": [{"after": "PT5M"}]}"#,
            "<event><title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer><reminders><reminder><after>PT5M</after></reminder></reminders></event>",
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}", "reminder": []}"#,
            "<event><title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer><reminder/></event>",
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}", "recurrence": {"rrule": "FREQ=SOMETIMES"}}"#,
            "<event><title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer><recurrence><rrule>FREQ=SOMETIMES</rrule></recurrence></event>",
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}", "recurrence": {"rrule": "FREQ=DAILY", "exdates": ["yesterday"]}}"#,
            "<event><title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer><recurrence><rrule>FREQ=DAILY</rrule><exdates><date>yesterday</date></exdates></recurrence></event>",
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}", "recurrence": {}}"#,
            "<event><title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer><recurrence/></event>",
        ),
        (
            create_event,
            r#"{"title": "A", "start": "2030-01-15T09:00:00Z", "end": "2030-01-15T10:00:00Z", "organizer": "{ann}", "recurrence": {"rule": "FREQ=DAILY"}}"#,
            "<event><title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer><recurrence><rule>FREQ=DAILY</rule></recurrence></event>",
        ),
        (
            update_event,
            r#"{"title": null}"#,
            r#"<change><title nil="true"/></change>"#,
        ),
        (
            update_event,
            r#"{"organizer": "{ann}"}"#,
            "<change><organizer>{ann}</organizer></change>",
        ),
        (
            new_user,
            r#"{"email": "ann@alpha.test"}"#,
            "<user><email>ann@alpha.test</email></user>",
        ),
        (
            new_user,
            r#"{"name": "Ann", "email": "not-an-address"}"#,
            "<user><name>Ann</name><email>not-an-address</email></user>",
        ),
        (
            new_user,
            r#"{"name": "Ann", "email": "ann@alpha.test", "time_zone": "Nowhere/City"}"#,
            "<user><name>Ann</name><email>ann@alpha.test</email><time_zone>Nowhere/City</time_zone></user>",
        ),
        (
            new_user,
            r#"{"name": "Ann", "email": "ann@alpha.test", "working_hours": [{"days": ["monday", "someday"], "start": "09:00", "end": "17:00"}]}"#,
            "<user><name>Ann</name><email>ann@alpha.test</email><working_hours><period><days><day>monday</day><day>someday</day></days><start>09:00</start><end>17:00</end></period></working_hours></user>",
        ),
        (
            new_user,
            r#"{"name": "Ann", "email": "ann@alpha.test", "working_hours": [{"days": ["monday"], "start": "9am", "end": "17:00"}]}"#,
            "<user><name>Ann</name><email>ann@alpha.test</email><working_hours><period><days><day>monday</day></days><start>9am</start><end>17:00</end></period></working_hours></user>",
        ),
        (
            new_user,
            r#"{"name": "Ann", "email": "ann@alpha.test", "working_hours": [{"days": [], "start": "09:00", "end": "17:00"}]}"#,
            "<user><name>Ann</name><email>ann@alpha.test</email><working_hours><period><days/><start>09:00</start><end>17:00</end></period></working_hours></user>",
        ),
        (
            new_user,
            r#"{"name": "Ann", "email": "ann@alpha.test", "working_hours": [{"start": "09:00", "end": "17:00"}]}"#,
            "<user><name>Ann</name><email>ann@alpha.test</email><working_hours><period><start>09:00</start><end>17:00</end></period></working_hours></user>",
        ),
        (
            new_user,
            r#"{"name": "Ann", "email": "ann@alpha.test", "admin": "yes"}"#,
            "<user><name>Ann</name><email>ann@alpha.test</email><admin>yes</admin></user>",
        ),
        (
            add_participant,
            r#"{"user": "nobody"}"#,
            "<participant><user>nobody</user></participant>",
        ),
        (
            answer,
            r#"{"user": "{bob}", "response": "maybe"}"#,
            "<rsvp><user>{bob}</user><response>maybe</response></rsvp>",
        ),
        (
            find_slots,
            r#"{"participants": ["{ann}"], "duration": "PT1H", "from": "2030-01-14T00:00:00Z", "to": "2030-01-21T00:00:00Z", "count": 0}"#,
            "<availability><participants><user>{ann}</user></participants><duration>PT1H</duration><from>2030-01-14T00:00:00Z</from><to>2030-01-21T00:00:00Z</to><count>0</count></availability>",
        ),
        (
            find_slots,
            r#"{"participants": ["{ann}"], "duration": "PT1H", "from": "2030-01-14T00:00:00Z", "to": "2030-01-21T00:00:00Z", "count": 2.5}"#,
            "<availability><participants><user>{ann}</user></participants><duration>PT1H</duration><from>2030-01-14T00:00:00Z</from><to>2030-01-21T00:00:00Z</to><count>2.5</count></availability>",
        ),
        (
            find_slots,
            r#"{"participants": ["{ann}"], "duration": "1 hour", "from": "2030-01-14T00:00:00Z", "to": "2030-01-21T00:00:00Z"}"#,
            "<availability><participants><user>{ann}</user></participants><duration>1 hour</duration><from>2030-01-14T00:00:00Z</from><to>2030-01-21T00:00:00Z</to></availability>",
        ),
    ]
}

#[test]
fn xml_commands_equal_json_commands() {
    for (parse, json, xml) in equivalent_bodies() {
        let (json, xml) = (fill(json), fill(xml));
        let from_json = parse(&JsonParser, json.as_bytes());
        let from_xml = parse(&XmlParser, xml.as_bytes());
        assert!(from_json.is_ok(), "{json}: {from_json:?}");
        assert_eq!(from_xml, from_json, "{xml}");
    }
}

#[test]
fn xml_errors_name_json_fields() {
    for (parse, json, xml) in equivalent_errors() {
        let (json, xml) = (fill(json), fill(xml));
        let json_error = parse(&JsonParser, json.as_bytes()).unwrap_err();
        let xml_error = parse(&XmlParser, xml.as_bytes()).unwrap_err();
        assert!(json_error.field.is_some(), "{json}: {json_error}");
        assert_eq!(xml_error.field, json_error.field, "{xml}: {xml_error}");
        assert_eq!(xml_error.kind, json_error.kind, "{xml}: {xml_error}");
    }
}

/// Returns the error for an XML event body, which must be rejected.
fn event_error(xml: &str) -> InputError {
    match XmlParser.parse_create_event(xml.as_bytes()) {
        Ok(command) => panic!("{xml}: accepted as {command:?}"),
        Err(error) => error,
    }
}

#[test]
fn err_xml_structure_names_field() {
    let head = fill(
        "<title>A</title><start>2030-01-15T09:00:00Z</start><end>2030-01-15T10:00:00Z</end><organizer>{ann}</organizer>",
    );
    let rows = [
        (format!("<event>{head}<title>B</title></event>"), "title"),
        (
            format!("<event>{head}<participants><member>{BOB}</member></participants></event>"),
            "participants/0",
        ),
        (
            format!(
                "<event>{head}<reminders><reminder><before>PT5M</before><before>PT9M</before></reminder></reminders></event>"
            ),
            "reminders/0/before",
        ),
        (
            format!("<event>{head}<location nil=\"yes\">Here</location></event>"),
            "location",
        ),
        (
            format!("<event>{head}<location nil=\"true\">Here</location></event>"),
            "location",
        ),
        (
            format!("<event>{head}<location lang=\"en\">Here</location></event>"),
            "location",
        ),
        (
            format!("<event>{head}<participants>{BOB}</participants></event>"),
            "participants",
        ),
    ];
    for (xml, field) in rows {
        let error = event_error(&xml);
        assert_eq!(error.kind, InputErrorKind::Invalid, "{xml}: {error}");
        assert_eq!(error.field.as_deref(), Some(field), "{xml}: {error}");
    }
}

#[test]
fn err_xml_malformed_document() {
    let rows = [
        "",
        "   ",
        "not xml",
        "<event>",
        "<event><title>A</event>",
        "<meeting><title>A</title></meeting>",
        "<event/><event/>",
        "<event/>trailing",
        "<event>text<title>A</title></event>",
        "<event nil=\"true\"/>",
        "<event><title>&nbsp;</title></event>",
        "<event><title>&#0;</title></event>",
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><event/>",
    ];
    for xml in rows {
        let error = event_error(xml);
        assert_eq!(error.kind, InputErrorKind::Malformed, "{xml}: {error}");
        assert_eq!(error.field, None, "{xml}: {error}");
    }
    let error = XmlParser
        .parse_create_event(b"<event>\xff</event>")
        .unwrap_err();
    assert_eq!(error.kind, InputErrorKind::Malformed, "{error}");
    assert!(error.message.contains("UTF-8"), "{error}");
}

#[test]
fn doctype_rejected_without_reading_file() {
    let dir = std::env::temp_dir().join(format!("convene-xml-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("secret.txt");
    std::fs::write(&secret, "SECRET-CONTENT").unwrap();
    let xml = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE event [<!ENTITY leak SYSTEM \"file://{}\">]><event><title>&leak;</title></event>",
        secret.display()
    );

    let error = event_error(&xml);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(error.kind, InputErrorKind::Malformed, "{error}");
    assert!(error.message.contains("DOCTYPE"), "{error}");
    assert!(!error.message.contains("SECRET-CONTENT"), "{error}");
}

#[test]
fn entity_expansion_rejected() {
    let mut xml =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    for level in 1..=9 {
        let previous = if level == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", level - 1)
        };
        let body = format!("&{previous};").repeat(10);
        xml.push_str(&format!("<!ENTITY lol{level} \"{body}\">\n"));
    }
    xml.push_str("]>\n<event><title>&lol9;</title></event>");
    let error = event_error(&xml);
    assert_eq!(error.kind, InputErrorKind::Malformed, "{error}");
    assert!(error.message.contains("DOCTYPE"), "{error}");

    let error = event_error("<event><title>&lol9;</title></event>");
    assert_eq!(error.kind, InputErrorKind::Malformed, "{error}");
    assert!(error.message.contains("&lol9;"), "{error}");
}

#[test]
fn deep_nesting_rejected() {
    let levels = 200_000;
    let xml = format!("{}{}", "<event>".repeat(levels), "</event>".repeat(levels));
    let error = event_error(&xml);
    assert_eq!(error.kind, InputErrorKind::Malformed, "{error}");
    assert!(error.message.contains("nested deeper"), "{error}");

    // The deepest valid body still parses.
    let xml = "<user><name>Ann</name><email>ann@alpha.test</email><working_hours><period><days><day>monday</day></days><start>09:00</start><end>17:00</end></period></working_hours></user>";
    assert!(XmlParser.parse_new_user(xml.as_bytes()).is_ok());
}
