//! Subjects and the text and HTML bodies of invitation messages.

use convene_domain::{Event, EventStatus, User};
use convene_ical::PartStat;
use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::invitation::InvitationKind;
use crate::mapping::AttendeeState;

/// The human-readable parts of a message.
pub(crate) struct Rendered {
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

/// Renders the subject and bodies. `answer` is the answering attendee of a reply.
pub(crate) fn render(
    kind: InvitationKind,
    event: &Event,
    organizer: &User,
    recipient: &User,
    answer: Option<&AttendeeState>,
) -> Rendered {
    let zone = reader_zone(recipient, event);
    let when = format_interval(event.interval.start(), event.interval.end(), &zone);
    let short_when = event
        .interval
        .start()
        .to_zoned_datetime(zone.clone())
        .strftime("%a %-d %b %Y %H:%M %Z")
        .to_string();

    let (subject_prefix, headline) = match (kind, answer) {
        (InvitationKind::Reply { .. }, Some(state)) => {
            let verb = answer_verb(&state.partstat);
            (
                format!("{} {verb}", state.user.name),
                format!("{} {verb} the invitation.", state.user.name),
            )
        }
        (InvitationKind::Request, _) if event.sequence > 0 => (
            "Updated invitation".to_owned(),
            format!("{} changed this event.", organizer.name),
        ),
        (InvitationKind::Request, _) => (
            "Invitation".to_owned(),
            format!("{} invited you to this event.", organizer.name),
        ),
        (InvitationKind::Cancel, _) if event.status == EventStatus::Cancelled => (
            "Cancelled".to_owned(),
            format!("{} cancelled this event.", organizer.name),
        ),
        (InvitationKind::Cancel, _) => (
            "Removed from event".to_owned(),
            format!("{} removed you from this event.", organizer.name),
        ),
        (InvitationKind::Reply { .. }, None) => {
            unreachable!("invitation passes the answering attendee of a reply")
        }
    };
    let subject = format!("{subject_prefix}: {} @ {short_when}", event.title);

    let organizer_line = format!("{} <{}>", organizer.name, organizer.email.as_str());
    let mut rows = vec![("When", when.as_str())];
    if let Some(location) = &event.location {
        rows.push(("Where", location));
    }
    rows.push(("Organizer", &organizer_line));

    let mut text = format!("{headline}\n\n{}\n", event.title);
    for (label, value) in &rows {
        text.push_str(&format!("{label}: {value}\n"));
    }
    if let Some(description) = &event.description {
        text.push_str(&format!("\n{description}\n"));
    }

    let mut html = format!(
        "<!DOCTYPE html>\n<html><body>\n<p>{}</p>\n<h2>{}</h2>\n<table>\n",
        escape_html(&headline),
        escape_html(&event.title)
    );
    for (label, value) in &rows {
        html.push_str(&format!(
            "<tr><th align=\"left\">{label}</th><td>{}</td></tr>\n",
            escape_html(value)
        ));
    }
    html.push_str("</table>\n");
    if let Some(description) = &event.description {
        let paragraphs = escape_html(description).replace('\n', "<br>\n");
        html.push_str(&format!("<p>{paragraphs}</p>\n"));
    }
    html.push_str("</body></html>\n");

    Rendered {
        subject,
        text,
        html,
    }
}

/// Returns the zone in which the recipient reads times: their own, or the event's when they
/// have set none, or UTC when neither name is known.
fn reader_zone(recipient: &User, event: &Event) -> TimeZone {
    recipient
        .time_zone
        .as_deref()
        .and_then(|name| TimeZone::get(name).ok())
        .or_else(|| TimeZone::get(&event.time_zone).ok())
        .unwrap_or(TimeZone::UTC)
}

/// Formats an interval such as `Tuesday, 3 March 2026, 10:00–11:00 CET (Europe/Berlin)`,
/// with the end's date written out when it falls on another day.
fn format_interval(start: Timestamp, end: Timestamp, zone: &TimeZone) -> String {
    let start = start.to_zoned_datetime(zone.clone());
    let end = end.to_zoned_datetime(zone.clone());
    let end_text = if start.date() == end.date() {
        end.strftime("%H:%M %Z").to_string()
    } else {
        end.strftime("%A, %-d %B %Y, %H:%M %Z").to_string()
    };
    let zone_name = zone.iana_name().unwrap_or("UTC");
    format!(
        "{}–{end_text} ({zone_name})",
        start.strftime("%A, %-d %B %Y, %H:%M")
    )
}

fn answer_verb(partstat: &PartStat) -> &str {
    match partstat {
        PartStat::Accepted => "accepted",
        PartStat::Declined => "declined",
        PartStat::Tentative => "tentatively accepted",
        PartStat::Delegated => "delegated",
        PartStat::NeedsAction | PartStat::Other(_) => "answered",
    }
}

/// Escapes the five characters that HTML text and attribute values treat specially.
fn escape_html(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}
