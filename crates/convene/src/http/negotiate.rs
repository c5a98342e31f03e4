//! Content negotiation for resources that exist as JSON and as iCalendar.

use axum::http::{HeaderMap, StatusCode, header};

use super::Problem;

/// A representation of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    Json,
    Calendar,
}

/// Chooses the representation that the `Accept` header prefers (RFC 9110, section 12.5.1):
/// the media range with the highest quality that matches, the more specific range
/// deciding for a type that several ranges match. JSON wins a tie, and a request without
/// `Accept` gets JSON. Returns 406 when the header accepts neither.
pub fn choose(headers: &HeaderMap) -> Result<Representation, Problem> {
    let values: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    if values.is_empty() {
        return Ok(Representation::Json);
    }
    let ranges: Vec<(String, f32)> = values
        .iter()
        .flat_map(|value| value.split(','))
        .filter_map(media_range)
        .collect();
    let json = quality(&ranges, "application", "json");
    let calendar = quality(&ranges, "text", "calendar");
    if json <= 0.0 && calendar <= 0.0 {
        return Err(Problem::new(
            StatusCode::NOT_ACCEPTABLE,
            "not-acceptable",
            "Not acceptable",
            "this resource is available as application/json and text/calendar; accept one of \
             them in the Accept header",
        ));
    }
    if calendar > json {
        Ok(Representation::Calendar)
    } else {
        Ok(Representation::Json)
    }
}

/// Reads one media range of an `Accept` header as its lower-case type and its quality.
fn media_range(text: &str) -> Option<(String, f32)> {
    let mut parts = text.split(';');
    let range = parts.next()?.trim().to_ascii_lowercase();
    if range.is_empty() {
        return None;
    }
    let mut weight = 1.0;
    for parameter in parts {
        if let Some((name, value)) = parameter.split_once('=')
            && name.trim().eq_ignore_ascii_case("q")
        {
            weight = value.trim().parse::<f32>().ok()?.clamp(0.0, 1.0);
        }
    }
    Some((range, weight))
}

/// Returns the quality that `ranges` give to `kind/subtype`: that of the most specific
/// matching range, or 0 when none matches.
fn quality(ranges: &[(String, f32)], kind: &str, subtype: &str) -> f32 {
    let exact = format!("{kind}/{subtype}");
    let wildcard = format!("{kind}/*");
    let find = |name: &str| {
        ranges
            .iter()
            .find(|(range, _)| range == name)
            .map(|(_, weight)| *weight)
    };
    find(&exact)
        .or_else(|| find(&wildcard))
        .or_else(|| find("*/*"))
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn accept(value: &str) -> Result<Representation, Problem> {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        choose(&headers)
    }

    #[test]
    fn accept_chooses_representation() {
        let rows = [
            ("text/calendar", Representation::Calendar),
            ("application/json", Representation::Json),
            ("*/*", Representation::Json),
            ("text/calendar, application/json", Representation::Json),
            (
                "application/json;q=0.5, text/calendar",
                Representation::Calendar,
            ),
            ("text/*", Representation::Calendar),
            ("text/*;q=0.9, */*;q=0.1", Representation::Calendar),
            ("TEXT/Calendar;charset=utf-8", Representation::Calendar),
            ("*/*;q=0.8, text/calendar;q=0", Representation::Json),
        ];
        for (value, expected) in rows {
            assert_eq!(accept(value).unwrap(), expected, "{value}");
        }
        assert_eq!(choose(&HeaderMap::new()).unwrap(), Representation::Json);
    }

    #[test]
    fn accept_without_match_rejected() {
        for value in ["text/html", "application/xml", "*/*;q=0"] {
            assert!(accept(value).is_err(), "{value}");
        }
    }
}
