//! The short text of an SMS reminder.

/// Maximum length of a reminder text, in characters. Gateways split a longer SMS into
/// segments of 153 GSM-7 or 67 UCS-2 characters and charge for each, so this keeps a
/// reminder to at most 3 segments, or 5 when it needs characters outside GSM-7.
pub const MAX_REMINDER_CHARS: usize = 320;

/// Maximum length of the title in a reminder text, in characters.
const MAX_TITLE_CHARS: usize = 120;
/// Maximum length of the start time in a reminder text, in characters.
const MAX_START_CHARS: usize = 60;
/// Maximum length of the location in a reminder text, in characters.
const MAX_LOCATION_CHARS: usize = 100;

/// Builds the text of a reminder: the title, the start time as the caller wrote it for
/// the recipient (such as `Tue 3 Mar 2026, 14:00 (Europe/Berlin)`), and the location if
/// there is one, on lines of their own.
///
/// Each part is cut to its own maximum (title 120, start 60, location 100 characters) and
/// then ends in `…`. So a long title never pushes the time out of the text, and the whole
/// stays within [`MAX_REMINDER_CHARS`]. Line breaks and other control
/// characters inside a part become spaces.
pub fn reminder_text(title: &str, start: &str, location: Option<&str>) -> String {
    let mut text = format!(
        "Reminder: {}\n{}",
        shorten(title, MAX_TITLE_CHARS),
        shorten(start, MAX_START_CHARS)
    );
    if let Some(location) = location
        .map(str::trim)
        .filter(|location| !location.is_empty())
    {
        text.push_str("\nLocation: ");
        text.push_str(&shorten(location, MAX_LOCATION_CHARS));
    }
    text
}

/// Returns `text` on one line with runs of white space and control characters turned into
/// one space, cut to `max` characters with `…` as the last one when it is longer.
fn shorten(text: &str, max: usize) -> String {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
        .collect();
    let line = words.join(" ");
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_title_time_and_location() {
        let text = reminder_text(
            "Team sync",
            "Tue 3 Mar 2026, 14:00 (Europe/Berlin)",
            Some("Room 4"),
        );
        assert_eq!(
            text,
            "Reminder: Team sync\nTue 3 Mar 2026, 14:00 (Europe/Berlin)\nLocation: Room 4"
        );
        let text = reminder_text("Team sync", "14:00", None);
        assert_eq!(text, "Reminder: Team sync\n14:00");
        let text = reminder_text("Team sync", "14:00", Some("  "));
        assert_eq!(text, "Reminder: Team sync\n14:00");
    }

    #[test]
    fn long_parts_are_cut_on_char_boundaries() {
        // Multi-byte characters make a byte-based cut panic or split a character.
        let title = "Überprüfung ".repeat(40);
        let location = "Straße ".repeat(40);
        let text = reminder_text(&title, "Di 3. März 2026, 14:00", Some(&location));
        assert!(
            text.chars().count() <= MAX_REMINDER_CHARS,
            "{}",
            text.chars().count()
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(
            lines[0].chars().count(),
            "Reminder: ".len() + MAX_TITLE_CHARS
        );
        assert!(lines[0].ends_with('…'));
        assert_eq!(lines[1], "Di 3. März 2026, 14:00");
        assert!(lines[2].ends_with('…'));
    }

    #[test]
    fn longest_text_fits_the_maximum() {
        let text = reminder_text(&"t".repeat(500), &"s".repeat(500), Some(&"l".repeat(500)));
        assert!(
            text.chars().count() <= MAX_REMINDER_CHARS,
            "{}",
            text.chars().count()
        );
    }

    #[test]
    fn line_breaks_inside_parts_become_spaces() {
        let text = reminder_text("Plan\r\nInjected", "14:00", Some("Room\t4\n"));
        assert_eq!(text, "Reminder: Plan Injected\n14:00\nLocation: Room 4");
    }
}
