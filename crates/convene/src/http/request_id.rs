//! Request ids: one per request, in its tracing span and its `X-Request-Id` response
//! header, so a client's report can be matched with the server's log lines.

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::http::header::HeaderName;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Span;

/// The request and response header that carries the id.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The maximum length, in bytes, of an incoming id that is kept.
const MAX_INCOMING_ID_BYTES: usize = 128;

/// A request's id, stored in the request's extensions by [`assign`].
#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    fn as_str(&self) -> &str {
        // `accepted` and `HeaderValue::from_str` of a UUID admit only visible ASCII.
        self.0.to_str().unwrap_or_default()
    }
}

/// Keeps the client's `X-Request-Id` when it is valid and otherwise creates a UUIDv7,
/// stores it in the request's extensions and sets it on the response.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|value| accepted(value.as_bytes()))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::now_v7().to_string())
                .expect("a UUID is a valid header value")
        });
    request.extensions_mut().insert(RequestId(id.clone()));

    let mut response = next.run(request).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    response
}

/// Returns whether an incoming id is kept: 1 to 128 ASCII letters, digits and `-._:`,
/// which covers UUIDs and the ids of common proxies but nothing that could forge a log
/// line or a header.
fn accepted(id: &[u8]) -> bool {
    !id.is_empty()
        && id.len() <= MAX_INCOMING_ID_BYTES
        && id
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-._:".contains(byte))
}

/// Creates the tracing span of one request, with its method, route template and id.
/// The raw path is left out because it may contain a feed token.
pub fn request_span<B>(request: &axum::http::Request<B>) -> Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    let id = request
        .extensions()
        .get::<RequestId>()
        .map_or("", RequestId::as_str);
    tracing::info_span!(
        "request",
        method = %request.method(),
        route,
        request_id = id,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_ids() {
        assert!(accepted(b"0190f1c2-7a3b-7c4d-8e5f-0123456789ab"));
        assert!(accepted(b"edge:1a2b.3c_4d"));
        assert!(accepted(&[b'a'; MAX_INCOMING_ID_BYTES]));
    }

    #[test]
    fn rejected_ids() {
        assert!(!accepted(b""));
        assert!(!accepted(&[b'a'; MAX_INCOMING_ID_BYTES + 1]));
        assert!(!accepted(b"id with spaces"));
        assert!(!accepted(b"id\"quoted"));
        assert!(!accepted("caf\u{e9}".as_bytes()));
    }
}
