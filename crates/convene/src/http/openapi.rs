//! The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json`.
//!
//! Each handler carries a `#[utoipa::path]` attribute with its parameters, request body,
//! success responses and the problems that it returns itself. [`Conventions`] adds what
//! routes share, so that the attributes need not repeat it:
//! - the problem document as the content of every error response;
//! - 413 and 415 wherever a request body is read;
//! - 408 and 500 on every route under `/v1`;
//! - the bearer token with its 401, 403 and 429 responses on every route under `/v1` but
//!   the calendar feed, whose URL is its own secret.

use std::sync::LazyLock;

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Header, Object, Ref, RefOr, Response, Type};
use utoipa::{Modify, OpenApi};

use super::problem::{PROBLEM_JSON, ProblemDocument};
use super::{availability, calendar, events, health, messages, metrics, push, users};

/// The name of the bearer token's security scheme.
const BEARER: &str = "bearer";

/// The one route under `/v1` that takes no bearer token: a feed URL carries its own secret,
/// because calendar applications cannot send an `Authorization` header.
const UNAUTHENTICATED_ROUTE: &str = "/v1/feeds/{token}";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Convene",
        description = "Convene is a self-hosted scheduling service. Organizers book events \
                       after Convene has checked every attendee's calendar, and Convene \
                       delivers each attendee's reminders by e-mail, SMS, Web Push or \
                       webhook. Errors are RFC \
                       9457 problem documents.",
    ),
    paths(
        health::healthz,
        health::readyz,
        metrics::scrape,
        document,
        users::list,
        users::create,
        users::show,
        users::update,
        users::busy,
        users::issue_token,
        users::tokens,
        users::revoke_token,
        calendar::import,
        calendar::remove_imported,
        calendar::create_feed,
        calendar::feeds,
        calendar::revoke_feed,
        calendar::feed,
        push::key,
        push::create,
        push::list,
        push::delete,
        availability::find,
        events::list,
        events::create,
        events::show,
        events::update,
        events::cancel,
        events::add_participant,
        events::remove_participant,
        events::reminders,
        events::rsvp,
        messages::show,
    ),
    components(schemas(ProblemDocument)),
    modifiers(&Conventions),
)]
struct ApiDoc;

/// The document as JSON, built once, when the router is built.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serializes to JSON")
});

/// Builds the document, so that the first request does not pay for it.
pub fn build() {
    LazyLock::force(&DOCUMENT);
}

/// `GET /openapi.json`.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "getOpenApiDocument",
    tag = "operations",
    responses((status = 200, description = "This OpenAPI 3.1 document.", content_type = "application/json", body = Object)),
)]
pub async fn document() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_str(),
    )
}

/// Adds the responses and the security requirement that routes share.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                BEARER,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(
                            "An API token in `Authorization: Bearer <token>`; the server's \
                             administrator token is set with CONVENE_ADMIN_TOKEN.",
                        ))
                        .build(),
                ),
            );

        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                if operation.request_body.is_some() {
                    add_body_responses(operation);
                }
                if path.starts_with("/v1/") {
                    add_shared_responses(operation);
                    if path != UNAUTHENTICATED_ROUTE {
                        require_bearer(operation);
                    }
                }
                describe_problems(operation);
            }
        }
    }
}

/// Adds the responses that the checks of every request body give.
fn add_body_responses(operation: &mut Operation) {
    let responses = &mut operation.responses.responses;
    responses.insert(
        "413".to_owned(),
        Response::new("The body is larger than 1 MiB.").into(),
    );
    responses.insert(
        "415".to_owned(),
        Response::new("The Content-Type is none of the media types of the request body.").into(),
    );
}

/// Adds the responses that any route under `/v1` may give.
fn add_shared_responses(operation: &mut Operation) {
    let responses = &mut operation.responses.responses;
    responses.insert(
        "408".to_owned(),
        Response::new("The request took longer than 30 seconds.").into(),
    );
    responses.insert(
        "500".to_owned(),
        Response::new("The server failed; its log has the cause.").into(),
    );
}

/// Requires the bearer token and declares the responses that checking it gives.
fn require_bearer(operation: &mut Operation) {
    operation.security = Some(vec![SecurityRequirement::new(BEARER, Vec::<String>::new())]);
    let responses = &mut operation.responses.responses;

    let mut unauthorized = Response::new("The bearer token is missing, unknown or revoked.");
    unauthorized.headers.insert(
        "WWW-Authenticate".to_owned(),
        text_header("`Bearer`, with an `error` parameter when a token was sent.").into(),
    );
    responses.insert("401".to_owned(), unauthorized.into());

    responses.insert(
        "403".to_owned(),
        Response::new("The token's user may not do this.").into(),
    );

    let mut too_many = Response::new("The token sent too many requests.");
    too_many.headers.insert(
        "Retry-After".to_owned(),
        text_header("How many seconds to wait before the next request.").into(),
    );
    responses.insert("429".to_owned(), too_many.into());
}

fn text_header(description: &str) -> Header {
    let mut header = Header::new(Object::with_type(Type::String));
    header.description = Some(description.to_owned());
    header
}

/// Gives every error response without content the problem document as content.
fn describe_problems(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if status.starts_with(['4', '5']) && response.content.is_empty() {
            let problem = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            response
                .content
                .insert(PROBLEM_JSON.to_owned(), problem.into());
        }
    }
}
