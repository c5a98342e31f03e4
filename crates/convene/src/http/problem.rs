//! RFC 9457 problem responses.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use convene_input::{InputError, InputErrorKind};
use convene_scheduler::SchedulerError;
use serde_json::{Value, json};

use super::views::conflict_view;

/// An error response: `application/problem+json` with `type`, `title`,
/// `status` and `detail`, plus `field` when one input field is at fault
/// and `conflicts` for a busy attendee.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    kind: &'static str,
    title: &'static str,
    detail: String,
    extra: serde_json::Map<String, Value>,
}

impl Problem {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            status,
            kind,
            title,
            detail: detail.into(),
            extra: serde_json::Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: Value) -> Problem {
        self.extra.insert(key.to_owned(), value);
        self
    }

    pub fn invalid_field(field: &str, message: &str) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "Invalid field",
            format!("{field}: {message}"),
        )
        .with("field", Value::String(field.to_owned()))
    }

    pub fn not_found(what: &str, id: &str) -> Problem {
        Problem::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            format!("no {what} has the id {id:?}"),
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:convene:problem:{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Value::Object(map) = &mut body {
            map.extend(self.extra);
        }
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            Json(body),
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
            SchedulerError::Busy(conflicts) => Problem::new(
                StatusCode::CONFLICT,
                "busy",
                "Attendees are busy",
                format!(
                    "{} attendee(s) already have events at the requested time; choose another time or leave them out",
                    conflicts.len()
                ),
            )
            .with("conflicts", Value::Array(conflicts.iter().map(conflict_view).collect())),
            SchedulerError::Duplicate { field, value } => Problem::new(
                StatusCode::CONFLICT,
                "duplicate",
                "Already exists",
                format!("{field}: {value:?} is already in use"),
            )
            .with("field", Value::String(field.to_owned())),
            SchedulerError::Store(err) => {
                // The cause goes to the log only: it may name files or hosts.
                tracing::error!(error = %err, "store operation failed");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the request could not be completed; the server log has the cause",
                )
            }
        }
    }
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
