//! Request bodies: media type and size checks before parsing.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use convene_input::{RequestParser, parser_for};

use super::Problem;

/// Checks the request's `Content-Type` and body, returning the parser for
/// its media type and the body bytes.
pub fn decode(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(&'static dyn RequestParser, Bytes), Problem> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let Some(parser) = parser_for(content_type) else {
        let shown = if content_type.is_empty() {
            "none"
        } else {
            content_type
        };
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            format!("Content-Type {shown:?} is not supported; send application/json"),
        ));
    };
    let body = body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                status,
                "body-too-large",
                "Request body too large",
                format!("the request body exceeds {} bytes", super::MAX_BODY_BYTES),
            )
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
