//! `/v1/users` handlers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use convene_domain::{Interval, UserId};
use convene_scheduler::Scheduler;
use serde_json::{Value, json};

use super::Problem;
use super::body::decode;
use super::params::{QueryParams, path};
use super::views::{interval_view, user_view};

/// The widest window one busy-time query may cover.
const MAX_BUSY_WINDOW_DAYS: i64 = 366;

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
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let id = user_id(&path(id)?)?;
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

pub(super) fn user_id(text: &str) -> Result<UserId, Problem> {
    text.parse().map_err(|_| Problem::not_found("user", text))
}
