//! Bearer-token authentication and per-caller rate limits.
//!
//! [`authenticate`] runs before every handler of the authenticated API. It reads
//! `Authorization: Bearer <token>` (RFC 6750), asks the Scheduler whose token it is, charges
//! the caller's rate limit and hands the [`Caller`] to the handler as a request extension.
//! A request without a usable token gets 401 with a `WWW-Authenticate` challenge; a caller
//! over its limit gets 429 with `Retry-After`.

use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use convene_scheduler::Caller;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use super::{Problem, Services};

/// The realm named in `WWW-Authenticate` challenges.
const REALM: &str = "convene";

/// How many callers the rate limiter tracks before it forgets those whose budget has
/// refilled.
const TRACKED_CALLERS: usize = 10_000;

/// The request budget of each caller: a sustained rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per minute, sustained; `None` switches rate limiting off.
    pub per_minute: Option<NonZeroU32>,
    /// Requests a caller may send at once after being idle.
    pub burst: NonZeroU32,
}

/// Limits each caller to its [`RateLimit`]. All tokens of one user share one budget, so
/// issuing more tokens does not raise a user's limit.
pub struct CallerLimiter {
    limiter: Option<RateLimiter<Caller, DefaultKeyedStateStore<Caller>, DefaultClock>>,
    clock: DefaultClock,
}

impl CallerLimiter {
    pub fn new(limit: RateLimit) -> CallerLimiter {
        let limiter = limit.per_minute.map(|per_minute| {
            RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(limit.burst))
        });
        CallerLimiter {
            limiter,
            clock: DefaultClock::default(),
        }
    }

    /// Charges one request to `caller`. Returns how long the caller must wait when its
    /// budget is spent.
    fn charge(&self, caller: Caller) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() > TRACKED_CALLERS {
            limiter.retain_recent();
        }
        limiter
            .check_key(&caller)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// Authenticates the request and charges its caller's rate limit before the handler runs.
///
/// NOTE: requests without a valid token are not rate-limited; each costs at most one
/// indexed token lookup. A second limiter keyed by client address would bound them.
pub async fn authenticate(
    State(services): State<Services>,
    mut request: Request,
    next: Next,
) -> Response {
    let token = match bearer_token(request.headers()) {
        Ok(token) => token,
        Err(missing) => return missing.response(),
    };
    let caller = match services.scheduler.authenticate(token).await {
        Ok(Some(caller)) => caller,
        Ok(None) => {
            return unauthorized(
                Some("invalid_token"),
                "the bearer token is unknown or revoked; ask the administrator for a new one",
            );
        }
        Err(err) => return Problem::from(err).into_response(),
    };
    if let Err(wait) = services.rate_limiter.charge(caller) {
        return too_many_requests(wait);
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Why a request carries no usable bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MissingToken {
    /// No `Authorization` header.
    Absent,
    /// An `Authorization` header of another scheme, or without a token.
    Malformed,
}

impl MissingToken {
    fn response(self) -> Response {
        match self {
            MissingToken::Absent => unauthorized(
                None,
                "this resource requires an API token; send it as `Authorization: Bearer <token>`",
            ),
            MissingToken::Malformed => unauthorized(
                Some("invalid_request"),
                "the Authorization header must be `Bearer <token>`",
            ),
        }
    }
}

/// Returns the token of an `Authorization: Bearer` header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, MissingToken> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(MissingToken::Absent)?;
    let value = value.to_str().map_err(|_| MissingToken::Malformed)?;
    let (scheme, token) = value.split_once(' ').ok_or(MissingToken::Malformed)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(MissingToken::Malformed);
    }
    Ok(token)
}

/// Creates a 401 response with the `WWW-Authenticate` challenge of RFC 6750, section 3.
fn unauthorized(error: Option<&str>, detail: &str) -> Response {
    let challenge = match error {
        Some(error) => format!("Bearer realm=\"{REALM}\", error=\"{error}\""),
        None => format!("Bearer realm=\"{REALM}\""),
    };
    let mut response = Problem::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Unauthorized",
        detail,
    )
    .into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_str(&challenge).expect("the challenge is ASCII"),
    );
    response
}

/// Creates a 429 response whose `Retry-After` gives the wait in whole seconds, rounded up.
fn too_many_requests(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let seconds = seconds.max(1);
    let mut response = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate-limited",
        "Too many requests",
        format!("this caller's request rate limit is used up; retry in {seconds} s"),
    )
    .into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use convene_domain::UserId;

    use super::*;

    fn limit(per_minute: u32, burst: u32) -> RateLimit {
        RateLimit {
            per_minute: NonZeroU32::new(per_minute),
            burst: NonZeroU32::new(burst).unwrap(),
        }
    }

    #[test]
    fn limiter_allows_burst_then_waits() {
        let limiter = CallerLimiter::new(limit(60, 3));
        let ann = Caller::User(UserId::generate());
        for _ in 0..3 {
            assert_eq!(limiter.charge(ann), Ok(()));
        }
        let wait = limiter.charge(ann).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        // Another caller has a budget of its own.
        assert_eq!(limiter.charge(Caller::Admin), Ok(()));
    }

    #[test]
    fn limiter_off_without_rate() {
        let limiter = CallerLimiter::new(limit(0, 1));
        for _ in 0..100 {
            assert_eq!(limiter.charge(Caller::Admin), Ok(()));
        }
    }

    #[test]
    fn bearer_token_read_or_rejected() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            headers
        };
        assert_eq!(bearer_token(&headers("Bearer abc")).ok(), Some("abc"));
        assert_eq!(bearer_token(&headers("bearer  abc ")).ok(), Some("abc"));
        for bad in ["Basic abc", "Bearer", "Bearer  ", "abc"] {
            let missing = bearer_token(&headers(bad)).unwrap_err();
            assert_eq!(missing, MissingToken::Malformed, "{bad}");
            let response = missing.response();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{bad}");
            let challenge = response.headers()[header::WWW_AUTHENTICATE]
                .to_str()
                .unwrap();
            assert!(challenge.contains("invalid_request"), "{bad}: {challenge}");
        }
        let missing = bearer_token(&HeaderMap::new()).unwrap_err();
        assert_eq!(missing, MissingToken::Absent);
        let response = missing.response();
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            "Bearer realm=\"convene\""
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        let response = too_many_requests(Duration::from_millis(1500));
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        let response = too_many_requests(Duration::from_millis(10));
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
