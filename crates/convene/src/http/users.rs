//! `/v1/users` handlers: the user directory, profiles, busy time and API tokens.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use convene_domain::{Interval, TokenId, User, UserId};
use convene_scheduler::access::{require_admin, require_self};
use convene_scheduler::{Caller, Scheduler};
use jiff::Timestamp;

use super::Problem;
use super::body::decode;
use super::page::{Page, PageParams, page_response};
use super::params::{QueryParams, path};
use super::requests::{NewUserBody, UpdateUserBody};
use super::views::{
    BusyView, TokenView, UserView, busy_view, private_user_view, token_view, user_view,
};

/// The widest window one busy-time query may cover.
const MAX_BUSY_WINDOW_DAYS: i64 = 366;

/// `POST /v1/users`: the administrator creates a user, who gets a first API token.
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
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, Problem> {
    require_admin(caller, "create users")?;
    let (parser, body) = decode(&headers, body)?;
    let new_user = parser.parse_new_user(&body)?;
    let user = scheduler.create_user(new_user).await?;
    let (_, secret) = scheduler.issue_token(user.id, Timestamp::now()).await?;
    let location = format!("/v1/users/{}", user.id);
    let mut view = private_user_view(&user);
    view.token = Some(secret);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    ))
}

/// `GET /v1/users`: every user, page by page.
#[utoipa::path(
    get,
    path = "/v1/users",
    operation_id = "listUsers",
    tag = "users",
    params(
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of users, in the order they were created.", body = Page<UserView>,
            headers(("Link" = String, description = "The next page, with `rel=\"next\"`, unless this is the last."))),
        (status = 422, description = "`after` or `limit` is invalid."),
    ),
)]
pub async fn list(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Problem> {
    let page = QueryParams::new(query)?.page::<UserId>()?;
    let users = scheduler.users(page.after, page.fetch_limit()).await?;
    let items = users
        .iter()
        .map(|user| (user.id.to_string(), view_for(caller, user)))
        .collect();
    Ok(page_response(items, &page, "/v1/users", ""))
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
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<UserView>, Problem> {
    let id = user_id(&path(id)?)?;
    let user = scheduler.user(id).await?;
    Ok(Json(view_for(caller, &user)))
}

/// Writes `user` with their telephone number when the caller is that user or the
/// administrator, and without it for anyone else.
fn view_for(caller: Caller, user: &User) -> UserView {
    if require_self(caller, user.id, "read the telephone number").is_ok() {
        private_user_view(user)
    } else {
        user_view(user)
    }
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
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<UserView>, Problem> {
    let id = user_id(&path(id)?)?;
    require_self(caller, id, "change this user")?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_update_user(&body)?;
    let user = scheduler.update_user(id, command).await?;
    Ok(Json(private_user_view(&user)))
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

/// `POST /v1/users/{id}/tokens`: issues another API token. Its secret is in the response
/// only this once.
#[utoipa::path(
    post,
    path = "/v1/users/{id}/tokens",
    operation_id = "issueToken",
    tag = "users",
    params(("id" = String, Path, format = Uuid, description = "The user's id.")),
    responses(
        (status = 201, description = "The new token, with its secret in `token`.", body = TokenView),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No user has this id."),
    ),
)]
pub async fn issue_token(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, Problem> {
    let id = user_id(&path(id)?)?;
    require_self(caller, id, "issue its tokens")?;
    scheduler.user(id).await?;
    let (token, secret) = scheduler.issue_token(id, Timestamp::now()).await?;
    let mut view = token_view(&token);
    view.token = Some(secret);
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /v1/users/{id}/tokens`: the user's tokens that are not revoked, without secrets.
#[utoipa::path(
    get,
    path = "/v1/users/{id}/tokens",
    operation_id = "listTokens",
    tag = "users",
    params(
        ("id" = String, Path, format = Uuid, description = "The user's id."),
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of the user's tokens, without their secrets.", body = Page<TokenView>,
            headers(("Link" = String, description = "The next page, with `rel=\"next\"`, unless this is the last."))),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No user has this id."),
        (status = 422, description = "`after` or `limit` is invalid."),
    ),
)]
pub async fn tokens(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Problem> {
    let id = user_id(&path(id)?)?;
    require_self(caller, id, "list its tokens")?;
    let page = QueryParams::new(query)?.page::<TokenId>()?;
    let tokens = scheduler.tokens(id, page.after, page.fetch_limit()).await?;
    let items = tokens
        .iter()
        .map(|token| (token.id.to_string(), token_view(token)))
        .collect();
    Ok(page_response(
        items,
        &page,
        &format!("/v1/users/{id}/tokens"),
        "",
    ))
}

/// `DELETE /v1/users/{id}/tokens/{token}`: revokes a token at once.
#[utoipa::path(
    delete,
    path = "/v1/users/{id}/tokens/{token}",
    operation_id = "revokeToken",
    tag = "users",
    params(
        ("id" = String, Path, format = Uuid, description = "The user's id."),
        ("token" = String, Path, format = Uuid, description = "The token's id."),
    ),
    responses(
        (status = 204, description = "The token is revoked."),
        (status = 400, description = "An id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "The user has no such token that is not revoked."),
    ),
)]
pub async fn revoke_token(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, Problem> {
    let (user, token) = path(ids)?;
    let user = user_id(&user)?;
    require_self(caller, user, "revoke its tokens")?;
    let token: TokenId = token
        .parse()
        .map_err(|_| Problem::not_found("token", &token))?;
    scheduler.revoke_token(user, token).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub(super) fn user_id(text: &str) -> Result<UserId, Problem> {
    text.parse().map_err(|_| Problem::not_found("user", text))
}
