//! The words and layout of a reminder e-mail.

use jiff::fmt::friendly::{Designator, Spacing, SpanPrinter};
use jiff::tz::TimeZone;

use crate::{FailureNotice, Reminder};

/// A reminder's subject and bodies for readers in one time zone.
pub(super) struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Renders `reminder` with times shown in `zone`, falling back to UTC for a
/// zone name the bundled database does not know.
pub(super) fn render(reminder: &Reminder, zone: &str) -> Rendered {
    let event = &reminder.event;
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    let start = event.interval.start().to_zoned_datetime(tz.clone());
    let end = event.interval.end().to_zoned_datetime(tz);

    let day = start.strftime("%A, %-d %B %Y").to_string();
    let end_text = if end.date() == start.date() {
        end.strftime("%H:%M").to_string()
    } else {
        end.strftime("%A, %-d %B %Y, %H:%M").to_string()
    };
    let when = format!(
        "{day}, {}–{end_text} {} ({zone})",
        start.strftime("%H:%M"),
        start.strftime("%Z")
    );
    let subject = format!(
        "Reminder: {} on {}",
        event.title,
        start.strftime("%a %-d %b %Y %H:%M %Z")
    );
    let lead = SpanPrinter::new()
        .designator(Designator::Verbose)
        .spacing(Spacing::BetweenUnitsAndDesignators)
        .span_to_string(&reminder.offset.span());
    let organizer = format!("{} <{}>", reminder.organizer.name, reminder.organizer.email);

    let mut text = format!("Reminder: {}\n\nWhen:      {when}\n", event.title);
    if let Some(location) = &event.location {
        text.push_str(&format!("Where:     {location}\n"));
    }
    text.push_str(&format!("Organizer: {organizer}\n"));
    if let Some(description) = &event.description {
        text.push_str(&format!("\n{description}\n"));
    }
    text.push_str(&format!(
        "\nThis is the reminder set for {lead} before the start.\n"
    ));

    let mut html = format!(
        "<!DOCTYPE html>\n<html><body>\n<h1>Reminder: {}</h1>\n<table>\n<tr><th align=\"left\">When</th><td>{}</td></tr>\n",
        escape(&event.title),
        escape(&when)
    );
    if let Some(location) = &event.location {
        html.push_str(&format!(
            "<tr><th align=\"left\">Where</th><td>{}</td></tr>\n",
            escape(location)
        ));
    }
    html.push_str(&format!(
        "<tr><th align=\"left\">Organizer</th><td>{}</td></tr>\n</table>\n",
        escape(&organizer)
    ));
    if let Some(description) = &event.description {
        html.push_str(&format!(
            "<p>{}</p>\n",
            escape(description).replace('\n', "<br>\n")
        ));
    }
    html.push_str(&format!(
        "<p>This is the reminder set for {} before the start.</p>\n</body></html>\n",
        escape(&lead)
    ));

    Rendered {
        subject,
        text,
        html,
    }
}

/// Renders the notice that informs an organizer which reminders of one event
/// failed permanently, with times in the organizer's zone.
pub(super) fn render_notice(notice: &FailureNotice, zone: &str) -> Rendered {
    let event = &notice.event;
    let tz = TimeZone::get(zone).unwrap_or(TimeZone::UTC);
    let start = event.interval.start().to_zoned_datetime(tz);
    let when = start.strftime("%a %-d %b %Y %H:%M %Z").to_string();
    let subject = format!("Undelivered reminders: {} on {when}", event.title);

    let mut rows = Vec::with_capacity(notice.failures.len());
    for failure in &notice.failures {
        let who = match &failure.recipient {
            Some(user) => format!("{} <{}>", user.name, user.email),
            None => format!("user {}", failure.delivery.user_id),
        };
        let reason = failure
            .delivery
            .last_attempt
            .as_ref()
            .map(|attempt| match attempt.reply_code {
                Some(code) => format!("{code} {}", attempt.reply_text),
                None => attempt.reply_text.clone(),
            })
            .unwrap_or_else(|| "no attempt was recorded".to_owned());
        rows.push((who, failure.delivery.offset.as_str().to_owned(), reason));
    }

    let mut text = format!(
        "These reminders for \"{}\" on {when} could not be delivered and will not be retried:\n\n",
        event.title
    );
    for (who, before, reason) in &rows {
        text.push_str(&format!("- {who} ({before} before): {reason}\n"));
    }
    text.push_str("\nCheck these addresses; the event itself is unchanged.\n");

    let mut html = format!(
        "<!DOCTYPE html>\n<html><body>\n<p>These reminders for <b>{}</b> on {} could not be delivered and will not be retried:</p>\n<ul>\n",
        escape(&event.title),
        escape(&when)
    );
    for (who, before, reason) in &rows {
        html.push_str(&format!(
            "<li>{} ({} before): {}</li>\n",
            escape(who),
            escape(before),
            escape(reason)
        ));
    }
    html.push_str(
        "</ul>\n<p>Check these addresses; the event itself is unchanged.</p>\n</body></html>\n",
    );

    Rendered {
        subject,
        text,
        html,
    }
}

fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_domain::{
        EmailAddress, Event, EventId, EventStatus, Interval, ReminderOffset, User, UserId,
    };

    fn reminder(title: &str) -> Reminder {
        let organizer = User {
            id: UserId::generate(),
            name: "Ann".to_owned(),
            email: EmailAddress::parse("email", "ann@alpha.test").unwrap(),
            time_zone: None,
            working_hours: Default::default(),
            phone: None,
            reminders: Default::default(),
        };
        Reminder {
            event: Event {
                id: EventId::generate(),
                title: title.to_owned(),
                description: Some("Bring <notes>".to_owned()),
                location: Some("Room 1".to_owned()),
                interval: Interval::new(
                    "2030-01-15T08:00:00Z".parse().unwrap(),
                    "2030-01-15T09:30:00Z".parse().unwrap(),
                    "end",
                )
                .unwrap(),
                time_zone: "Europe/Berlin".to_owned(),
                organizer: organizer.id,
                participants: vec![],
                reminders: vec![],
                sequence: 0,
                status: EventStatus::Confirmed,
                all_day: false,
                recurrence: None,
                external_uid: None,
            },
            organizer,
            offset: ReminderOffset::parse("before", "PT15M").unwrap(),
        }
    }

    #[test]
    fn render_shows_time_in_reader_zone() {
        let berlin = render(&reminder("Planning"), "Europe/Berlin");
        assert_eq!(
            berlin.subject,
            "Reminder: Planning on Tue 15 Jan 2030 09:00 CET"
        );
        assert!(
            berlin
                .text
                .contains("Tuesday, 15 January 2030, 09:00–10:30 CET (Europe/Berlin)"),
            "{}",
            berlin.text
        );
        assert!(
            berlin
                .text
                .contains("reminder set for 15 minutes before the start"),
            "{}",
            berlin.text
        );

        let new_york = render(&reminder("Planning"), "America/New_York");
        assert!(
            new_york.text.contains("03:00–04:30 EST (America/New_York)"),
            "{}",
            new_york.text
        );
    }

    #[test]
    fn render_escapes_html() {
        let rendered = render(&reminder("Q&A <live>"), "UTC");
        assert!(
            rendered.html.contains("Reminder: Q&amp;A &lt;live&gt;"),
            "{}",
            rendered.html
        );
        assert!(rendered.html.contains("Bring &lt;notes&gt;"));
        assert!(!rendered.html.contains("<live>"));
        assert!(rendered.text.contains("Q&A <live>"));
    }
}
