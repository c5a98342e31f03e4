//! `/v1/users` handlers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use convene_domain::{Interval, UserId};
use convene_scheduler::Scheduler;

use super::Problem;
use super::body::decode;
use super::params::{QueryParams, path};
use super::requests::{NewUserBody, UpdateUserBody};
use super::views::{BusyView, UserView, busy_view, user_view};

/// The widest window one busy-time query may cover.
const MAX_BUSY_WINDOW_DAYS: i64 = 366;

#[utoipa::path(
    post,
    path = "/v1/users",
    operation_id = "createUser",
    tag = "users",
    request_body(
        description = "The new user, as JSON or as XML with the root element `user`.",
        content(
            (NewUserBody = "application/json"),
            (NewUserBody = "application/xml"),
        ),
    ),
    responses(
        (status = 201, description = "The user was created.", body = UserView,
            headers(("Location" = String, description = "The user's path, `/v1/users/{id}`."))),
        (status = 400, description = "The body is not well-formed JSON or XML."),
        (status = 409, description = "The e-mail address belongs to another user."),
        (status = 422, description = "A field is missing or invalid; `field` names it."),
    ),
)]
pub async fn create(
    State(scheduler): State<Scheduler>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, Problem> {
    let (parser, body) = decode(&headers, body)?;
    let new_user = parser.parse_new_user(&body)?;
    let user = scheduler.create_user(new_user).await?;
    let location = format!("/v1/users/{}", user.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(user_view(&user)),
    ))
}

#[utoipa::path(
    get,
    path = "/v1/users/{id}",
    operation_id = "getUser",
    tag = "users",
    params(("id" = String, Path, format = Uuid, description = "The user's id.")),
    responses(
        (status = 200, description = "The user.", body = UserView),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No user has this id."),
    ),
)]
pub async fn show(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<UserView>, Problem> {
    let id = user_id(&path(id)?)?;
    let user = scheduler.user(id).await?;
    Ok(Json(user_view(&user)))
}

#[utoipa::path(
    patch,
    path = "/v1/users/{id}",
    operation_id = "updateUser",
    tag = "users",
    params(("id" = String, Path, format = Uuid, description = "The user's id.")),
    request_body(
        description = "The fields to change, as JSON or as XML with the root element `user`.",
        content(
            (UpdateUserBody = "application/json"),
            (UpdateUserBody = "application/xml"),
        ),
    ),
    responses(
        (status = 200, description = "The changed user.", body = UserView),
        (status = 400, description = "The body is not well-formed JSON or XML, or the id is not valid UTF-8."),
        (status = 404, description = "No user has this id."),
        (status = 409, description = "The new e-mail address belongs to another user."),
        (status = 422, description = "A field is invalid; `field` names it."),
    ),
)]
pub async fn update(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UserView>, Problem> {
    let id = user_id(&path(id)?)?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_update_user(&body)?;
    let user = scheduler.update_user(id, command).await?;
    Ok(Json(user_view(&user)))
}

#[utoipa::path(
    get,
    path = "/v1/users/{id}/busy",
    operation_id = "getBusyTime",
    tag = "users",
    params(
        ("id" = String, Path, format = Uuid, description = "The user's id."),
        ("from" = String, Query, format = DateTime,
            description = "The start of the window, an RFC 3339 time in whole microseconds."),
        ("to" = String, Query, format = DateTime,
            description = "The end of the window, exclusive, at most 366 days after `from`."),
    ),
    responses(
        (status = 200, description = "The user's busy intervals overlapping the window, in UTC, joined where they overlap or touch.", body = BusyView),
        (status = 400, description = "The id or the query string cannot be decoded."),
        (status = 404, description = "No user has this id."),
        (status = 422, description = "`from` or `to` is missing or invalid, or the window is too wide; `field` names the parameter."),
    ),
)]
pub async fn busy(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<BusyView>, Problem> {
    let id = user_id(&path(id)?)?;
    let query = QueryParams::new(query)?;
    let from = query.time("from")?;
    let to = query.time("to")?;
    let window = Interval::new(from, to, "to")
        .map_err(|err| Problem::invalid_field(&err.field, &err.message))?;
    if to.duration_since(from).as_secs() > MAX_BUSY_WINDOW_DAYS * 24 * 3600 {
        return Err(Problem::invalid_field(
            "to",
            &format!("the window from `from` to `to` may span at most {MAX_BUSY_WINDOW_DAYS} days"),
        ));
    }
    let busy = scheduler.busy(id, window).await?;
    Ok(Json(busy_view(id, from, to, &busy)))
}

pub(super) fn user_id(text: &str) -> Result<UserId, Problem> {
    text.parse().map_err(|_| Problem::not_found("user", text))
}
