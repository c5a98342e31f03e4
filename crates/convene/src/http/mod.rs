//! The HTTP API.
//!
//! Handlers decode a request with a `convene_input` parser, call the
//! Scheduler and render the result as JSON; every error leaves as an RFC
//! 9457 `application/problem+json` response built in [`problem`].

mod body;
mod events;
mod problem;
mod users;
mod views;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use convene_scheduler::Scheduler;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use problem::Problem;

/// The largest request body accepted, in bytes.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The longest a request may take before it is answered with 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Builds the API's router over `scheduler`.
pub fn router(scheduler: Scheduler) -> Router {
    Router::new()
        .route("/v1/users", post(users::create))
        .route("/v1/users/{id}", get(users::show))
        .route("/v1/users/{id}/busy", get(users::busy))
        .route("/v1/events", post(events::create))
        .route("/v1/events/{id}", get(events::show))
        .route(
            "/v1/events/{id}/participants",
            post(events::add_participant),
        )
        .route(
            "/v1/events/{id}/participants/{user}",
            delete(events::remove_participant),
        )
        .route("/v1/events/{id}/reminders", get(events::reminders))
        .fallback(problem::not_found_route)
        .method_not_allowed_fallback(problem::method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(scheduler)
}
