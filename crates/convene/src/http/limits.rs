//! Limits on the duration and body size of a request.
//!
//! tower-http's `TimeoutLayer` and `RequestBodyLimitLayer` enforce both
//! limits (see [`super::router`]), but their responses are fixed: an empty
//! 408 and a plain-text 413. [`explain`] replaces those responses with
//! problem documents that state the limit.

use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Problem;
use super::problem::is_problem;

/// The largest request body accepted, in bytes. A larger declared
/// `Content-Length` is rejected before any of the body is read.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Maximum time a request may take, reading its body included, before the
/// server responds with 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Creates the problem for a body larger than [`MAX_BODY_BYTES`].
pub fn body_too_large() -> Problem {
    Problem::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body-too-large",
        "Request body too large",
        format!("the request body exceeds the limit of {MAX_BODY_BYTES} bytes"),
    )
}

/// Replaces a 408 or 413 response that is not a problem document with the
/// problem for the limit it reports, and logs a timeout.
///
/// Handlers return every error as a [`Problem`], so below this layer only
/// the two tower-http layers produce such responses.
pub async fn explain(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned());
    let response = next.run(request).await;
    replace_limit_response(response, &method, route.as_deref())
}

fn replace_limit_response(response: Response, method: &Method, route: Option<&str>) -> Response {
    if is_problem(response.headers()) {
        return response;
    }
    match response.status() {
        StatusCode::REQUEST_TIMEOUT => {
            tracing::warn!(
                %method,
                route = route.unwrap_or("(none)"),
                timeout_secs = REQUEST_TIMEOUT.as_secs(),
                "request timed out"
            );
            request_timeout().into_response()
        }
        StatusCode::PAYLOAD_TOO_LARGE => body_too_large().into_response(),
        _ => response,
    }
}

fn request_timeout() -> Problem {
    Problem::new(
        StatusCode::REQUEST_TIMEOUT,
        "request-timeout",
        "Request timeout",
        format!(
            "the request was not completed within {} seconds; retry it",
            REQUEST_TIMEOUT.as_secs()
        ),
    )
}

#[cfg(test)]
mod tests {
    use axum::body::to_bytes;
    use serde_json::Value;

    use super::*;

    async fn problem_type(response: Response) -> (StatusCode, Value) {
        let status = response.status();
        assert!(is_problem(response.headers()), "{:?}", response.headers());
        let body = to_bytes(response.into_body(), 64 * 1024).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        (status, body["type"].clone())
    }

    fn replace(response: Response) -> Response {
        replace_limit_response(response, &Method::POST, Some("/v1/users"))
    }

    #[tokio::test]
    async fn empty_timeout_replaced() {
        let response = replace(StatusCode::REQUEST_TIMEOUT.into_response());
        let (status, kind) = problem_type(response).await;
        assert_eq!(status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(kind, "urn:convene:problem:request-timeout");
    }

    #[tokio::test]
    async fn plain_text_too_large_replaced() {
        let plain = (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
        let (status, kind) = problem_type(replace(plain)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(kind, "urn:convene:problem:body-too-large");
    }

    #[test]
    fn other_responses_kept() {
        let plain = (StatusCode::BAD_REQUEST, "bad").into_response();
        let response = replace(plain);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(!is_problem(response.headers()));
    }
}
