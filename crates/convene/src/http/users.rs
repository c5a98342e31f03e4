//! `/v1/users` handlers: the user directory, profiles, busy time and API tokens.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use convene_domain::{Interval, TokenId, UserId};
use convene_scheduler::access::{require_admin, require_self};
use convene_scheduler::{Caller, Scheduler};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::Problem;
use super::body::decode;
use super::page::page_response;
use super::params::{QueryParams, path};
use super::views::{interval_view, token_view, user_view};

/// The widest window one busy-time query may cover.
const MAX_BUSY_WINDOW_DAYS: i64 = 366;

/// `POST /v1/users`: the administrator creates a user, who gets a first API token.
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
    let mut view = user_view(&user);
    view["token"] = Value::String(secret);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(view),
    ))
}

/// `GET /v1/users`: every user, page by page.
pub async fn list(
    State(scheduler): State<Scheduler>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Problem> {
    let page = QueryParams::new(query)?.page::<UserId>()?;
    let users = scheduler.users(page.after, page.fetch_limit()).await?;
    Ok(page_response(
        users,
        &page,
        |user| user.id.to_string(),
        user_view,
        "/v1/users",
        "",
    ))
}

pub async fn show(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, Problem> {
    let id = user_id(&path(id)?)?;
    let user = scheduler.user(id).await?;
    Ok(Json(user_view(&user)))
}

pub async fn update(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let id = user_id(&path(id)?)?;
    require_self(caller, id, "change this user")?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_update_user(&body)?;
    let user = scheduler.update_user(id, command).await?;
    Ok(Json(user_view(&user)))
}

pub async fn busy(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<Value>, Problem> {
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
    Ok(Json(json!({
        "user": id.to_string(),
        "from": from.to_string(),
        "to": to.to_string(),
        "busy": busy.iter().map(interval_view).collect::<Vec<_>>(),
    })))
}

/// `POST /v1/users/{id}/tokens`: issues another API token. Its secret is in the response
/// only this once.
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
    view["token"] = Value::String(secret);
    Ok((StatusCode::CREATED, Json(view)))
}

/// `GET /v1/users/{id}/tokens`: the user's tokens that are not revoked, without secrets.
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
    Ok(page_response(
        tokens,
        &page,
        |token| token.id.to_string(),
        token_view,
        &format!("/v1/users/{id}/tokens"),
        "",
    ))
}

/// `DELETE /v1/users/{id}/tokens/{token}`: revokes a token at once.
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
