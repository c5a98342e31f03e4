//! `/v1/users` handlers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use convene_domain::{Interval, UserId};
use convene_scheduler::Scheduler;
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Problem;
use super::body::decode;
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
    Path(id): Path<String>,
) -> Result<Json<Value>, Problem> {
    let id = user_id(&id)?;
    let user = scheduler.user(id).await?;
    Ok(Json(user_view(&user)))
}

#[derive(Debug, Deserialize)]
pub struct BusyQuery {
    from: Option<String>,
    to: Option<String>,
}

pub async fn busy(
    State(scheduler): State<Scheduler>,
    Path(id): Path<String>,
    Query(query): Query<BusyQuery>,
) -> Result<Json<Value>, Problem> {
    let id = user_id(&id)?;
    let from = query_time("from", query.from.as_deref())?;
    let to = query_time("to", query.to.as_deref())?;
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

fn query_time(field: &str, value: Option<&str>) -> Result<Timestamp, Problem> {
    let Some(value) = value else {
        return Err(Problem::invalid_field(
            field,
            "is a required query parameter, an RFC 3339 time such as 2030-01-15T00:00:00Z",
        ));
    };
    value.parse().map_err(|_| {
        Problem::invalid_field(
            field,
            &format!("{value:?} is not an RFC 3339 time with an offset (for example 2030-01-15T00:00:00Z; write + as %2B in a URL)"),
        )
    })
}
