//! Web Push: the server's VAPID public key, and the push subscriptions of users' browsers.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use convene_domain::PushSubscriptionId;
use convene_scheduler::access::require_self;
use convene_scheduler::{Caller, Scheduler};
use jiff::Timestamp;

use super::body::decode;
use super::page::{Page, PageParams, page_response};
use super::params::{QueryParams, path};
use super::requests::PushSubscriptionBody;
use super::users::user_id;
use super::views::{PushKeyView, PushSubscriptionView, push_subscription_view};
use super::{Problem, Services};

/// `GET /v1/push/key`: the public key that browsers subscribe with.
#[utoipa::path(
    get,
    path = "/v1/push/key",
    operation_id = "getPushKey",
    tag = "push",
    responses(
        (status = 200, description = "The server's VAPID public key, to pass as `applicationServerKey` to `PushManager.subscribe()`.", body = PushKeyView),
        (status = 404, description = "Web Push is not configured on this server."),
    ),
)]
pub async fn key(State(services): State<Services>) -> Result<Json<PushKeyView>, Problem> {
    match &services.push_public_key {
        Some(key) => Ok(Json(PushKeyView {
            public_key: key.clone(),
        })),
        None => Err(Problem::not_configured(
            "Web Push is not configured on this server; its administrator sets CONVENE_PUSH_VAPID_KEY_FILE to enable it",
        )),
    }
}

/// `POST /v1/users/{id}/push-subscriptions`: registers a browser for push reminders.
#[utoipa::path(
    post,
    path = "/v1/users/{id}/push-subscriptions",
    operation_id = "createPushSubscription",
    tag = "push",
    params(("id" = String, Path, format = Uuid, description = "The user's id.")),
    request_body(
        description = "The browser's subscription as `PushSubscription.toJSON()` gives it, as JSON or as XML with the root element `subscription`.",
        content(
            (PushSubscriptionBody = "application/json"),
            (PushSubscriptionBody = "application/xml"),
        ),
    ),
    responses(
        (status = 201, description = "The subscription; registering an endpoint again replaces its keys.", body = PushSubscriptionView,
            headers(("Location" = String, description = "The subscription's URL."))),
        (status = 400, description = "The body is not well-formed JSON or XML, or the id is not valid UTF-8."),
        (status = 404, description = "No user has this id."),
        (status = 415, description = "The body is neither JSON nor XML."),
        (status = 422, description = "A field is missing or invalid, or the user has the maximum number of subscriptions."),
    ),
)]
pub async fn create(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, Problem> {
    let user = user_id(&path(id)?)?;
    require_self(caller, user, "register push subscriptions for this user")?;
    let (parser, body) = decode(&headers, body)?;
    let subscription = parser.parse_push_subscription(&body)?;
    let stored = scheduler
        .subscribe_push(user, subscription, Timestamp::now())
        .await?;
    let location = format!("/v1/users/{user}/push-subscriptions/{}", stored.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(push_subscription_view(&stored)),
    ))
}

/// `GET /v1/users/{id}/push-subscriptions`: the user's registered browsers.
#[utoipa::path(
    get,
    path = "/v1/users/{id}/push-subscriptions",
    operation_id = "listPushSubscriptions",
    tag = "push",
    params(
        ("id" = String, Path, format = Uuid, description = "The user's id."),
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of the user's push subscriptions.", body = Page<PushSubscriptionView>,
            headers(("Link" = String, description = "The next page, with `rel=\"next\"`, unless this is the last."))),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No user has this id."),
        (status = 422, description = "`after` or `limit` is invalid."),
    ),
)]
pub async fn list(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Problem> {
    let user = user_id(&path(id)?)?;
    require_self(caller, user, "list this user's push subscriptions")?;
    let page = QueryParams::new(query)?.page::<PushSubscriptionId>()?;
    // A user has few subscriptions, so the page is cut here rather than in the store.
    let items = scheduler
        .push_subscriptions(user)
        .await?
        .iter()
        .filter(|subscription| page.after.is_none_or(|after| subscription.id > after))
        .take(page.fetch_limit())
        .map(|subscription| {
            (
                subscription.id.to_string(),
                push_subscription_view(subscription),
            )
        })
        .collect();
    Ok(page_response(
        items,
        &page,
        &format!("/v1/users/{user}/push-subscriptions"),
        "",
    ))
}

/// `DELETE /v1/users/{id}/push-subscriptions/{subscription}`: stops push reminders to a
/// browser.
#[utoipa::path(
    delete,
    path = "/v1/users/{id}/push-subscriptions/{subscription}",
    operation_id = "deletePushSubscription",
    tag = "push",
    params(
        ("id" = String, Path, format = Uuid, description = "The user's id."),
        ("subscription" = String, Path, format = Uuid, description = "The subscription's id."),
    ),
    responses(
        (status = 204, description = "The subscription is removed."),
        (status = 400, description = "An id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "The user has no subscription with this id."),
    ),
)]
pub async fn delete(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, Problem> {
    let (user, subscription) = path(ids)?;
    let user = user_id(&user)?;
    require_self(caller, user, "remove this user's push subscriptions")?;
    let id: PushSubscriptionId = subscription
        .parse()
        .map_err(|_| Problem::not_found("push subscription", &subscription))?;
    scheduler.unsubscribe_push(user, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
