//! The HTTP API.
//!
//! Handlers decode a request with a `convene_input` parser, call the
//! Scheduler and render the result as JSON; every error leaves as an RFC
//! 9457 `application/problem+json` response built in [`problem`].
//!
//! Every route under `/v1` but the calendar feeds requires a bearer token ([`auth`]), and
//! list endpoints return pages ([`page`]).
//!
//! Beside the API, [`health`] serves the probes `/healthz` and `/readyz`, [`metrics`]
//! serves `/metrics`, [`openapi`] serves the OpenAPI document `/openapi.json`, and
//! [`request_id`] gives every request an id for its log lines.
//!
//! NOTE: hyper rejects some requests before they reach the router, such as
//! a malformed request line (400) or oversized headers (431), with an empty
//! body. Those responses are hard-coded in hyper 1.13 and have no hook.

use std::sync::Arc;

mod auth;
mod availability;
mod body;
mod calendar;
mod error_body;
mod events;
mod health;
mod limits;
mod messages;
mod metrics;
mod negotiate;
mod openapi;
mod page;
mod params;
mod problem;
mod push;
mod request_id;
mod requests;
mod schema;
mod users;
mod views;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRef};
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state, map_response};
use axum::routing::{delete, get, post};
use convene_outbox::Outbox;
use convene_scheduler::Scheduler;
use convene_store::Store;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use auth::{CallerLimiter, RateLimit};
pub(crate) use calendar::partstat;
pub use metrics::HttpMetrics;
pub use problem::Problem;

/// The services the handlers call.
#[derive(Clone)]
pub struct Services {
    pub scheduler: Scheduler,
    pub outbox: Outbox,
    /// The store itself, for the readiness probe and the queue gauges of `/metrics`.
    pub store: Arc<dyn Store>,
    /// The HTTP request series that `/metrics` exports.
    pub metrics: Arc<HttpMetrics>,
    /// The domain of the UIDs of Convene's events in iCalendar, such as `convene.example`.
    pub uid_domain: String,
    /// The request budget of each caller.
    pub rate_limiter: Arc<CallerLimiter>,
    /// The VAPID public key in base64url, when Web Push is configured.
    pub push_public_key: Option<String>,
}

impl FromRef<Services> for Scheduler {
    fn from_ref(services: &Services) -> Scheduler {
        services.scheduler.clone()
    }
}

impl FromRef<Services> for Outbox {
    fn from_ref(services: &Services) -> Outbox {
        services.outbox.clone()
    }
}

impl FromRef<Services> for Arc<dyn Store> {
    fn from_ref(services: &Services) -> Arc<dyn Store> {
        services.store.clone()
    }
}

impl FromRef<Services> for Arc<HttpMetrics> {
    fn from_ref(services: &Services) -> Arc<HttpMetrics> {
        services.metrics.clone()
    }
}

/// Builds the API's router over the services.
pub fn router(services: Services) -> Router {
    let http_metrics = services.metrics.clone();
    openapi::build();
    // Every route under /v1 but the feeds, whose URLs carry their own secret, requires an
    // API token.
    let authenticated = Router::new()
        .route("/v1/users", get(users::list).post(users::create))
        .route("/v1/users/{id}", get(users::show).patch(users::update))
        .route("/v1/users/{id}/busy", get(users::busy))
        .route(
            "/v1/users/{id}/calendar",
            post(calendar::import).delete(calendar::remove_imported),
        )
        .route(
            "/v1/users/{id}/feeds",
            get(calendar::feeds).post(calendar::create_feed),
        )
        .route("/v1/users/{id}/feeds/{feed}", delete(calendar::revoke_feed))
        .route(
            "/v1/users/{id}/tokens",
            get(users::tokens).post(users::issue_token),
        )
        .route("/v1/users/{id}/tokens/{token}", delete(users::revoke_token))
        .route(
            "/v1/users/{id}/push-subscriptions",
            get(push::list).post(push::create),
        )
        .route(
            "/v1/users/{id}/push-subscriptions/{subscription}",
            delete(push::delete),
        )
        .route("/v1/push/key", get(push::key))
        .route("/v1/availability", post(availability::find))
        .route("/v1/events", get(events::list).post(events::create))
        .route(
            "/v1/events/{id}",
            get(events::show)
                .patch(events::update)
                .delete(events::cancel),
        )
        .route(
            "/v1/events/{id}/participants",
            post(events::add_participant),
        )
        .route(
            "/v1/events/{id}/participants/{user}",
            delete(events::remove_participant),
        )
        .route("/v1/events/{id}/reminders", get(events::reminders))
        .route("/v1/events/{id}/rsvp", post(events::rsvp))
        .route("/v1/messages/{id}", get(messages::show))
        .route_layer(from_fn_with_state(services.clone(), auth::authenticate));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::scrape))
        .route("/openapi.json", get(openapi::document))
        .route("/v1/feeds/{token}", get(calendar::feed))
        .merge(authenticated)
        .fallback(problem::not_found_route)
        .method_not_allowed_fallback(problem::method_not_allowed)
        // A request passes these layers from the last added to the first.
        // `RequestBodyLimitLayer` rejects a declared `Content-Length` above
        // the limit at once and stops reading any other body at the limit,
        // so axum's own, larger default limit is switched off.
        // A panic in a handler becomes a 500 problem instead of a closed connection.
        .layer(CatchPanicLayer::custom(problem::panic_response))
        .layer(DefaultBodyLimit::disable())
        .layer(RequestBodyLimitLayer::new(limits::MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits::REQUEST_TIMEOUT,
        ))
        .layer(from_fn(limits::explain))
        .layer(map_response(error_body::ensure_problem))
        .layer(TraceLayer::new_for_http().make_span_with(request_id::request_span))
        // The request id is assigned first, so the span above and the response carry it,
        // and metrics see the final status after every other layer.
        .layer(from_fn_with_state(http_metrics, metrics::record))
        .layer(from_fn(request_id::assign))
        .with_state(services)
}
