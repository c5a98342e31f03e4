//! `/v1/events` handlers.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use convene_domain::{DeliveryId, Event, EventId, UserId};
use convene_scheduler::access::{require_attendee, require_organizer, require_self};
use convene_scheduler::{Caller, Scheduler};
use jiff::Timestamp;
use serde_json::Value;

use super::body::decode;
use super::negotiate::{self, Representation};
use super::page::page_response;
use super::params::{QueryParams, path};
use super::users::user_id;
use super::views::{answers_view, delivery_view, event_view};
use super::{Problem, Services, calendar};

/// What a caller who is not an attendee may not do with an event, with the way to the
/// busy time they may see.
const READ_EVENT: &str =
    "read its details; other users see their busy time through /v1/users/{id}/busy";

pub async fn create(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, Problem> {
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_create_event(&body)?;
    let event = scheduler
        .create_event_as(caller, command, Timestamp::now())
        .await?;
    let location = format!("/v1/events/{}", event.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(full_view(&scheduler, &event).await?),
    ))
}

/// `GET /v1/events`: the events that a user organizes or takes part in, page by page.
/// `user` defaults to the caller; the administrator must name one.
pub async fn list(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Problem> {
    let query = QueryParams::new(query)?;
    let page = query.page::<EventId>()?;
    let user = match (query.single("user")?, caller) {
        (Some(text), _) => text.parse::<UserId>().map_err(|_| {
            Problem::invalid_field(
                "user",
                "is not a user id; send the id of a user, or leave it out",
            )
        })?,
        (None, Caller::User(id)) => id,
        (None, Caller::Admin) => {
            return Err(Problem::invalid_field(
                "user",
                "is required for the administrator; name the user whose events to list",
            ));
        }
    };
    require_self(caller, user, "list this user's events")?;
    let events = scheduler
        .events_of(user, page.after, page.fetch_limit())
        .await?;
    Ok(page_response(
        events,
        &page,
        |event| event.id.to_string(),
        event_view,
        "/v1/events",
        &format!("user={user}&"),
    ))
}

/// `GET /v1/events/{id}` as JSON, or as iCalendar when `Accept` prefers `text/calendar`,
/// and `GET /v1/events/{id}.ics` as iCalendar.
pub async fn show(
    State(services): State<Services>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    let id = path(id)?;
    if let Some(id) = id.strip_suffix(".ics") {
        let id = event_id(id)?;
        require_attendee(caller, &services.scheduler.event(id).await?, READ_EVENT)?;
        return calendar::export(&services.scheduler, &services.uid_domain, id).await;
    }
    let event = services.scheduler.event(event_id(&id)?).await?;
    require_attendee(caller, &event, READ_EVENT)?;
    match negotiate::choose(&headers)? {
        Representation::Calendar => {
            calendar::export(&services.scheduler, &services.uid_domain, event.id).await
        }
        Representation::Json => {
            Ok(Json(full_view(&services.scheduler, &event).await?).into_response())
        }
    }
}

pub async fn update(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let id = event_id(&path(id)?)?;
    require_organizer(caller, &scheduler.event(id).await?, "change it")?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_update_event(&body)?;
    let event = scheduler
        .update_event(id, command, Timestamp::now())
        .await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

pub async fn cancel(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, Problem> {
    let id = event_id(&path(id)?)?;
    require_organizer(caller, &scheduler.event(id).await?, "cancel it")?;
    let event = scheduler.cancel_event(id, Timestamp::now()).await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

/// `POST /v1/events/{id}/rsvp`: a participant accepts, declines or tentatively accepts.
/// A user answers for themselves; the administrator names the participant in `user`.
pub async fn rsvp(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let id = event_id(&path(id)?)?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_answer(&body)?;
    let user = match (command.user, caller) {
        (Some(user), _) => user,
        (None, Caller::User(id)) => id,
        (None, Caller::Admin) => {
            return Err(Problem::invalid_field(
                "user",
                "is required for the administrator; name the participant who answers",
            ));
        }
    };
    require_attendee(
        caller,
        &scheduler.event(id).await?,
        "reply to its invitation",
    )?;
    require_self(caller, user, "reply for this participant")?;
    let answers = scheduler.answer(id, user, command.answer).await?;
    Ok(Json(serde_json::json!({
        "event": id.to_string(),
        "answers": answers_view(&answers),
    })))
}

pub async fn add_participant(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let id = event_id(&path(id)?)?;
    require_organizer(caller, &scheduler.event(id).await?, "add participants")?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_add_participant(&body)?;
    let event = scheduler
        .add_participant(id, command, Timestamp::now())
        .await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

pub async fn remove_participant(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<Value>, Problem> {
    let (id, user) = path(ids)?;
    let id = event_id(&id)?;
    let user = user_id(&user)?;
    // A participant may leave an event; everyone else needs the organizer's rights.
    if !caller.acts_for(user) {
        require_organizer(caller, &scheduler.event(id).await?, "remove participants")?;
    }
    let event = scheduler.remove_participant(id, user).await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

/// `GET /v1/events/{id}/reminders`: the event's planned reminders, page by page. The
/// organizer and the administrator see everyone's; a participant sees their own.
pub async fn reminders(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Problem> {
    let id = event_id(&path(id)?)?;
    let page = QueryParams::new(query)?.page::<DeliveryId>()?;
    let event = scheduler.event(id).await?;
    require_attendee(caller, &event, "read its reminders")?;
    let mut deliveries = scheduler.deliveries(id, Timestamp::now()).await?;
    if !caller.acts_for(event.organizer) {
        deliveries.retain(|delivery| caller.acts_for(delivery.user_id));
    }
    deliveries.sort_by_key(|delivery| delivery.id);
    deliveries.retain(|delivery| page.after.is_none_or(|after| delivery.id > after));
    deliveries.truncate(page.fetch_limit());
    Ok(page_response(
        deliveries,
        &page,
        |delivery| delivery.id.to_string(),
        delivery_view,
        &format!("/v1/events/{id}/reminders"),
        "",
    ))
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
