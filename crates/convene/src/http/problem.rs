//! RFC 9457 problem responses.

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use convene_input::{InputError, InputErrorKind};
use convene_scheduler::SchedulerError;
use serde::Serialize;
use utoipa::ToSchema;

use super::views::{ConflictView, IntervalView, conflict_view, interval_view};

/// The media type of every error response.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The maximum length, in characters, of `detail` and `field` in a problem
/// document. Both may repeat client input, and an error should not send a
/// large input back.
const MAX_TEXT_CHARS: usize = 400;

/// The maximum number of characters of one input value that [`quote`] shows.
const MAX_QUOTED_CHARS: usize = 64;

/// An error response: `application/problem+json` with `type`, `title`,
/// `status` and `detail`, plus `field` when one input field is at fault
/// and `conflicts` and `suggestions` for busy attendees.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    // Boxed, because handlers return `Result<_, Problem>` and the document is large.
    document: Box<ProblemDocument>,
}

/// An RFC 9457 problem document.
// Fields are in alphabetical order, the order in which problem documents have always been
// written.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Problem)]
pub struct ProblemDocument {
    /// Per busy attendee, the busy intervals that meet the requested event.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    conflicts: Option<Vec<ConflictView>>,
    /// An explanation of what went wrong and how to fix it.
    detail: String,
    /// The offending field or query parameter, as a path such as `reminders/0/before`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    field: Option<String>,
    /// The HTTP status code.
    #[schema(minimum = 400, maximum = 599)]
    status: u16,
    /// For busy attendees, the next free slots of the same length.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    suggestions: Option<Vec<IntervalView>>,
    title: String,
    /// `urn:convene:problem:` and a kind such as `not-found` or `busy`, or `about:blank`
    /// for a problem that means no more than its status.
    #[serde(rename = "type")]
    #[schema(examples("urn:convene:problem:not-found"))]
    type_uri: String,
}

impl Problem {
    /// Creates a problem of type `urn:convene:problem:{kind}`. A `detail`
    /// longer than a few hundred characters is cut short.
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem::document(
            status,
            format!("urn:convene:problem:{kind}"),
            title,
            detail.into(),
        )
    }

    /// Creates a problem that means no more than its HTTP status: type
    /// `about:blank` and the status's reason phrase as title, as RFC 9457
    /// section 4.2.1 recommends.
    pub fn for_status(status: StatusCode, detail: impl Into<String>) -> Problem {
        let title = match status.canonical_reason() {
            Some(reason) => reason,
            None if status.is_server_error() => "Server error",
            None => "Client error",
        };
        Problem::document(status, "about:blank".to_owned(), title, detail.into())
    }

    fn document(status: StatusCode, type_uri: String, title: &str, detail: String) -> Problem {
        Problem {
            status,
            document: Box::new(ProblemDocument {
                conflicts: None,
                detail: shorten(&detail, MAX_TEXT_CHARS),
                field: None,
                status: status.as_u16(),
                suggestions: None,
                title: title.to_owned(),
                type_uri,
            }),
        }
    }

    /// Names the input field at fault.
    fn with_field(mut self, field: &str) -> Problem {
        self.document.field = Some(shorten(field, MAX_TEXT_CHARS));
        self
    }

    pub fn invalid_field(field: &str, message: &str) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "Invalid field",
            format!("{field}: {message}"),
        )
        .with_field(field)
    }

    pub fn not_found(what: &str, id: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no {what} has the id {}", quote(id)),
        )
    }

    /// Creates the 404 problem for a feature that this server's settings leave off.
    pub fn not_configured(detail: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-configured",
            "Not configured",
            detail,
        )
    }

    /// Creates the 500 problem for a failure inside the server. Its cause
    /// belongs in the log, because it may name files or hosts.
    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the request could not be completed; the server log has the cause",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, PROBLEM_JSON)],
            Json(*self.document),
        )
            .into_response()
    }
}

impl From<InputError> for Problem {
    fn from(err: InputError) -> Problem {
        match (err.kind, &err.field) {
            (InputErrorKind::Invalid, Some(field)) => Problem::invalid_field(field, &err.message),
            (InputErrorKind::Invalid, None) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "Invalid request body",
                err.message,
            ),
            (InputErrorKind::UnsupportedFormat, _) => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                err.message,
            ),
            (InputErrorKind::Malformed, _) => Problem::new(
                StatusCode::BAD_REQUEST,
                "malformed-body",
                "Malformed request body",
                err.message,
            ),
        }
    }
}

impl From<SchedulerError> for Problem {
    fn from(err: SchedulerError) -> Problem {
        match err {
            SchedulerError::Invalid(err) => Problem::invalid_field(&err.field, &err.message),
            SchedulerError::NotFound { what, id } => Problem::not_found(what, &id),
            SchedulerError::Busy {
                conflicts,
                suggestions,
            } => {
                let advice = if suggestions.is_empty() {
                    "choose another time or leave them out; no free slot of the same length \
                     was found for everyone in the next 14 days"
                } else {
                    "choose another time, such as one of the suggestions, or leave them out"
                };
                let mut problem = Problem::new(
                    StatusCode::CONFLICT,
                    "busy",
                    "Attendees are busy",
                    format!(
                        "{} attendee(s) already have events at the requested time; {advice}",
                        conflicts.len()
                    ),
                );
                problem.document.conflicts = Some(conflicts.iter().map(conflict_view).collect());
                problem.document.suggestions =
                    Some(suggestions.iter().map(interval_view).collect());
                problem
            }
            SchedulerError::Cancelled { id } => Problem::new(
                StatusCode::CONFLICT,
                "cancelled",
                "Event cancelled",
                format!("event {id} is cancelled and can no longer change; create a new event"),
            ),
            SchedulerError::Duplicate { field, value } => Problem::new(
                StatusCode::CONFLICT,
                "duplicate",
                "Already exists",
                format!("{field}: {} is already in use", quote(&value)),
            )
            .with_field(field),
            SchedulerError::Forbidden { reason } => {
                tracing::info!(%reason, "request forbidden");
                Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", reason)
            }
            SchedulerError::Store(err) => {
                tracing::error!(error = %err, "store operation failed");
                Problem::internal()
            }
        }
    }
}

/// Creates the response to a request whose handler panicked: the 500 problem, so that the
/// client gets a response instead of a closed connection. The panic is a bug and is logged.
pub fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    Problem::internal().into_response()
}

pub async fn not_found_route() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no-route",
        "Not found",
        "no resource at this path; the API lives under /v1",
    )
}

pub async fn method_not_allowed() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this resource does not support the request method",
    )
}

/// Returns whether `headers` declare a problem document.
pub fn is_problem(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case(PROBLEM_JSON))
}

/// Quotes a client-supplied value for a problem detail, showing at most its
/// first 64 characters.
pub fn quote(value: &str) -> String {
    let prefix: String = value.chars().take(MAX_QUOTED_CHARS).collect();
    if prefix.len() == value.len() {
        format!("{prefix:?}")
    } else {
        format!("{prefix:?}... ({} characters)", value.chars().count())
    }
}

/// Cuts `text` to at most `max_chars` characters, marking a cut with "...".
fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let prefix: String = text.chars().take(max_chars.saturating_sub(3)).collect();
    format!("{prefix}...")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problem_writes_fields_in_alphabetical_order() {
        let problem = Problem::invalid_field("reminders/0/before", "is required");
        let written = serde_json::to_string(&problem.document).unwrap();
        let value = serde_json::to_value(&problem.document).unwrap();
        assert_eq!(written, serde_json::to_string(&value).unwrap());
        assert_eq!(value["field"], "reminders/0/before");
        assert!(value.get("conflicts").is_none(), "{value}");
    }

    #[tokio::test]
    async fn handler_panic_answered_with_problem() {
        use axum::Router;
        use axum::routing::get;
        use tower::ServiceExt;
        use tower_http::catch_panic::CatchPanicLayer;

        async fn broken() -> &'static str {
            panic!("broken on purpose")
        }

        let app = Router::new()
            .route("/", get(broken))
            .layer(CatchPanicLayer::custom(panic_response));
        let request = axum::http::Request::get("/")
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(is_problem(response.headers()), "{:?}", response.headers());
    }
}
