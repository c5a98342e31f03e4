//! The last resort for error responses that are not problem documents.
//!
//! Handlers, the route fallbacks and [`super::limits`] build every error they
//! know of as a [`Problem`]. [`ensure_problem`] rewrites any other response
//! with a status of 400 or more, such as the plain-text rejection of an
//! extractor that a handler does not take as a `Result`, so that clients can
//! rely on every error being `application/problem+json`.

use axum::body::to_bytes;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::Problem;
use super::problem::is_problem;

/// The maximum number of bytes of an original error body read for the detail.
const MAX_ORIGINAL_BODY_BYTES: usize = 16 * 1024;

/// Rewrites an error response that is not a problem document as an
/// `about:blank` problem with the same status and headers.
///
/// The detail is the original body, trimmed and cut to a few hundred
/// characters, or a generic sentence when that body is empty, unreadable or
/// larger than 16 KiB.
pub async fn ensure_problem(response: Response) -> Response {
    let status = response.status();
    if status.as_u16() < 400 || is_problem(response.headers()) {
        return response;
    }

    // Read the original body.
    let (mut parts, body) = response.into_parts();
    let text = match to_bytes(body, MAX_ORIGINAL_BODY_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let detail = if text.is_empty() {
        format!(
            "the request failed with status {}, and no further detail is available",
            status.as_u16()
        )
    } else {
        text
    };
    tracing::debug!(
        status = status.as_u16(),
        "rewrote an error response as a problem document"
    );

    // Keep headers such as `Allow` or `Retry-After`, but not those that
    // describe the old body.
    let mut rewritten = Problem::for_status(status, detail).into_response();
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.remove(header::TRANSFER_ENCODING);
    rewritten.headers_mut().extend(parts.headers);
    rewritten
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderValue, StatusCode};
    use serde_json::{Value, json};

    use super::*;

    async fn rewrite(response: Response) -> (Response, Value) {
        let rewritten = ensure_problem(response).await;
        let (parts, body) = rewritten.into_parts();
        let body = to_bytes(body, 64 * 1024).await.unwrap();
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (Response::from_parts(parts, axum::body::Body::empty()), body)
    }

    #[tokio::test]
    async fn plain_text_error_becomes_problem() {
        let plain = (StatusCode::BAD_REQUEST, "  duplicate field `from`\n").into_response();
        let (response, body) = rewrite(plain).await;
        assert!(is_problem(response.headers()), "{:?}", response.headers());
        assert_eq!(
            body,
            json!({
                "type": "about:blank",
                "title": "Bad Request",
                "status": 400,
                "detail": "duplicate field `from`",
            })
        );
    }

    #[tokio::test]
    async fn empty_error_gets_generic_detail() {
        let (response, body) = rewrite(StatusCode::REQUEST_TIMEOUT.into_response()).await;
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(body["title"], "Request Timeout");
        assert_eq!(
            body["detail"],
            "the request failed with status 408, and no further detail is available"
        );
    }

    #[tokio::test]
    async fn long_error_body_is_cut() {
        let plain = (StatusCode::BAD_REQUEST, "x".repeat(5000)).into_response();
        let (_, body) = rewrite(plain).await;
        let detail = body["detail"].as_str().unwrap();
        assert!(detail.len() <= 400, "{} characters", detail.len());
        assert!(detail.ends_with("..."), "{detail}");
    }

    #[tokio::test]
    async fn other_headers_are_kept() {
        let mut plain = (StatusCode::METHOD_NOT_ALLOWED, "no").into_response();
        plain
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET"));
        let (response, _) = rewrite(plain).await;
        assert_eq!(response.headers()[header::ALLOW], "GET");
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
    }

    #[tokio::test]
    async fn success_and_problems_pass_through() {
        let ok = (StatusCode::OK, "fine").into_response();
        let (response, _) = rewrite(ok).await;
        assert!(!is_problem(response.headers()));

        let problem = Problem::for_status(StatusCode::CONFLICT, "taken").into_response();
        let (response, body) = rewrite(problem).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(body["detail"], "taken");
    }
}
