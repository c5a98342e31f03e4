//! Bearer-token authentication and per-caller rate limits.
//!
//! [`authenticate`] runs before every handler of the authenticated API. It reads
//! `Authorization: Bearer <token>` (RFC 6750), looks the token up through the Scheduler, charges
//! the caller's rate limit and hands the [`Caller`] to the handler as a request extension.
//! A request without a usable token gets 401 with a `WWW-Authenticate` challenge; a caller
//! over its limit gets 429 with `Retry-After`. Requests that fail authentication spend the
//! budget of their client address, and feed requests the budget of their feed.

use std::hash::{BuildHasher, RandomState};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
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

/// The number of budgets the rate limiter keeps before it drops those that have
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

/// Whose budget a request spends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// An authenticated caller. All tokens of one user share one budget, so issuing more
    /// tokens does not raise a user's limit.
    Caller(Caller),
    /// One calendar feed, by a hash of its token, because calendar applications fetch
    /// feeds from shared addresses.
    Feed(u64),
    /// A client address whose requests failed authentication or named no feed.
    Client(IpAddr),
}

/// Limits each [`Budget`] to the [`RateLimit`].
pub struct CallerLimiter {
    limiter: Option<RateLimiter<Budget, DefaultKeyedStateStore<Budget>, DefaultClock>>,
    clock: DefaultClock,
    /// Hashes feed tokens with a key chosen at start, so that budgets do not reveal them.
    feed_hasher: RandomState,
}

impl CallerLimiter {
    pub fn new(limit: RateLimit) -> CallerLimiter {
        let limiter = limit.per_minute.map(|per_minute| {
            RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(limit.burst))
        });
        CallerLimiter {
            limiter,
            clock: DefaultClock::default(),
            feed_hasher: RandomState::new(),
        }
    }

    /// Returns the budget of the feed with `token`.
    pub fn feed_budget(&self, token: &str) -> Budget {
        Budget::Feed(self.feed_hasher.hash_one(token))
    }

    /// Charges one request to `budget`. Returns the 429 response, with the time to wait,
    /// when the budget is spent.
    #[expect(
        clippy::result_large_err,
        reason = "the error is the response itself, built only when the budget is spent"
    )]
    pub fn charge(&self, budget: Budget) -> Result<(), Response> {
        self.wait_time(budget).map_err(too_many_requests)
    }

    /// Charges one request to `budget`. Returns how long to wait when the budget is spent.
    fn wait_time(&self, budget: Budget) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if limiter.len() > TRACKED_CALLERS {
            limiter.retain_recent();
        }
        limiter
            .check_key(&budget)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

/// Returns the address of the client that sent `request`, when the server records it.
pub fn client_address(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

/// Authenticates the request and charges its caller's rate limit before the handler runs.
pub async fn authenticate(
    State(services): State<Services>,
    mut request: Request,
    next: Next,
) -> Response {
    let limiter = &services.rate_limiter;
    // A client whose requests keep failing authentication spends its address's budget.
    let client = client_address(&request);
    let failed = |response: Response| match client {
        Some(address) => limiter
            .charge(Budget::Client(address))
            .err()
            .unwrap_or(response),
        None => response,
    };
    let token = match bearer_token(request.headers()) {
        Ok(token) => token,
        Err(missing) => return failed(missing.response()),
    };
    let caller = match services.scheduler.authenticate(token).await {
        Ok(Some(caller)) => caller,
        Ok(None) => {
            return failed(unauthorized(
                Some("invalid_token"),
                "the bearer token is unknown or revoked; ask the administrator for a new one",
            ));
        }
        Err(err) => return Problem::from(err).into_response(),
    };
    if let Err(response) = limiter.charge(Budget::Caller(caller)) {
        return response;
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Reason a request carries no usable bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MissingToken {
    /// No `Authorization` header.
    Absent,
    /// An `Authorization` header of another scheme or without a token, or several
    /// headers.
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
                "send one Authorization header, of the form `Bearer <token>`",
            ),
        }
    }
}

/// Returns the token of an `Authorization: Bearer` header.
fn bearer_token(headers: &HeaderMap) -> Result<&str, MissingToken> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or(MissingToken::Absent)?;
    // Several headers would let a proxy and Convene disagree on who is calling.
    if values.next().is_some() {
        return Err(MissingToken::Malformed);
    }
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
    // Debug level, because a client without a token fails every request; `/metrics`
    // counts them by status.
    tracing::debug!(
        error = error.unwrap_or("no token"),
        "request not authenticated"
    );
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
    tracing::debug!(wait_ms = wait.as_millis(), "request rate-limited");
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
        let ann = Budget::Caller(Caller::User(UserId::generate()));
        for _ in 0..3 {
            assert_eq!(limiter.wait_time(ann), Ok(()));
        }
        let wait = limiter.wait_time(ann).unwrap_err();
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        // Other budgets are untouched.
        assert_eq!(limiter.wait_time(Budget::Caller(Caller::Admin)), Ok(()));
        assert_eq!(limiter.wait_time(limiter.feed_budget("token")), Ok(()));
        assert_eq!(
            limiter.wait_time(Budget::Client(IpAddr::from([127, 0, 0, 1]))),
            Ok(())
        );
    }

    #[test]
    fn limiter_off_without_rate() {
        let limiter = CallerLimiter::new(limit(0, 1));
        for _ in 0..100 {
            assert_eq!(limiter.wait_time(Budget::Caller(Caller::Admin)), Ok(()));
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
        let mut twice = headers("Bearer abc");
        twice.append(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer def"),
        );
        assert_eq!(bearer_token(&twice), Err(MissingToken::Malformed));
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
