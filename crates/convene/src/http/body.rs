//! Request bodies: media type and size checks before parsing.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use convene_input::{RequestParser, parser_for};

use super::Problem;
use super::limits::body_too_large;
use super::problem::quote;

/// Checks the request's `Content-Type` and body, returning the parser for
/// its media type and the body bytes.
pub fn decode(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(&'static dyn RequestParser, Bytes), Problem> {
    let content_type = match headers.get(header::CONTENT_TYPE) {
        None => {
            return Err(unsupported_media_type(
                "the request has no Content-Type header; send application/json, application/xml or (for new events) text/calendar",
            ));
        }
        Some(value) => value.to_str().map_err(|_| {
            unsupported_media_type(
                "the Content-Type header is not valid text (it contains bytes outside visible ASCII); send application/json, application/xml or (for new events) text/calendar",
            )
        })?,
    };
    let Some(parser) = parser_for(content_type) else {
        return Err(unsupported_media_type(format!(
            "Content-Type {} is not supported; send application/json, application/xml or (for new events) text/calendar",
            quote(content_type)
        )));
    };

    let body = body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            body_too_large()
        } else {
            Problem::new(
                status,
                "unreadable-body",
                "Unreadable request body",
                rejection.body_text(),
            )
        }
    })?;
    Ok((parser, body))
}

fn unsupported_media_type(detail: impl Into<String>) -> Problem {
    Problem::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
        "Unsupported media type",
        detail,
    )
}
