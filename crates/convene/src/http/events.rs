//! `/v1/events` handlers.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use convene_domain::{Event, EventId};
use convene_scheduler::Scheduler;
use jiff::Timestamp;
use serde_json::Value;

use super::body::decode;
use super::params::path;
use super::users::user_id;
use super::views::{answers_view, delivery_view, event_view};
use super::{Problem, Services, calendar};

pub async fn create(
    State(scheduler): State<Scheduler>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, Problem> {
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_create_event(&body)?;
    let event = scheduler.create_event(command, Timestamp::now()).await?;
    let location = format!("/v1/events/{}", event.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(full_view(&scheduler, &event).await?),
    ))
}

/// `GET /v1/events/{id}` as JSON, and `GET /v1/events/{id}.ics` as iCalendar.
pub async fn show(
    State(services): State<Services>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, Problem> {
    let id = path(id)?;
    if let Some(id) = id.strip_suffix(".ics") {
        return calendar::export(&services.scheduler, &services.uid_domain, event_id(id)?).await;
    }
    let event = services.scheduler.event(event_id(&id)?).await?;
    Ok(Json(full_view(&services.scheduler, &event).await?).into_response())
}

pub async fn update(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let id = event_id(&path(id)?)?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_update_event(&body)?;
    let event = scheduler
        .update_event(id, command, Timestamp::now())
        .await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

pub async fn cancel(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, Problem> {
    let event = scheduler
        .cancel_event(event_id(&path(id)?)?, Timestamp::now())
        .await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

/// `POST /v1/events/{id}/rsvp`: a participant accepts, declines or tentatively accepts.
pub async fn rsvp(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let id = event_id(&path(id)?)?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_answer(&body)?;
    let answers = scheduler.answer(id, command.user, command.answer).await?;
    Ok(Json(serde_json::json!({
        "event": id.to_string(),
        "answers": answers_view(&answers),
    })))
}

pub async fn add_participant(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let id = event_id(&path(id)?)?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_add_participant(&body)?;
    let event = scheduler
        .add_participant(id, command, Timestamp::now())
        .await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

pub async fn remove_participant(
    State(scheduler): State<Scheduler>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, Problem> {
    let (id, user) = path(ids)?;
    let id = event_id(&id)?;
    let user = user_id(&user)?;
    let event = scheduler.remove_participant(id, user).await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

pub async fn reminders(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, Problem> {
    let deliveries = scheduler
        .deliveries(event_id(&path(id)?)?, Timestamp::now())
        .await?;
    Ok(Json(Value::Array(
        deliveries.iter().map(delivery_view).collect(),
    )))
}

/// Returns the JSON view of an event with every attendee's answer to the invitation.
async fn full_view(scheduler: &Scheduler, event: &Event) -> Result<Value, Problem> {
    let mut view = event_view(event);
    view["answers"] = answers_view(&scheduler.answers(event.id).await?);
    Ok(view)
}

fn event_id(text: &str) -> Result<EventId, Problem> {
    text.parse().map_err(|_| Problem::not_found("event", text))
}
