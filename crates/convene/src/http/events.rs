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

use super::body::decode;
use super::params::path;
use super::requests::{AddParticipantBody, CreateEventBody, RsvpBody, UpdateEventBody};
use super::users::user_id;
use super::views::{DeliveryView, EventView, RsvpView, delivery_view, event_view, rsvp_view};
use super::{Problem, Services, calendar};

#[utoipa::path(
    post,
    path = "/v1/events",
    operation_id = "createEvent",
    tag = "events",
    request_body(
        description = "The new event, as JSON, as XML with the root element `event`, or as \
                       iCalendar: a VCALENDAR with exactly one VEVENT whose ORGANIZER and \
                       ATTENDEE `mailto:` addresses belong to users.",
        content(
            (CreateEventBody = "application/json"),
            (CreateEventBody = "application/xml"),
            (String = "text/calendar"),
        ),
    ),
    responses(
        (status = 201, description = "The event was booked, and the participants are invited.", body = EventView,
            headers(("Location" = String, description = "The event's path, `/v1/events/{id}`."))),
        (status = 400, description = "The body is not well-formed JSON, XML or iCalendar."),
        (status = 409, description = "An attendee is busy: `conflicts` lists the busy intervals and `suggestions` the next free slots."),
        (status = 422, description = "A field is missing or invalid, or names a user who does not exist; `field` names it."),
    ),
)]
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
#[utoipa::path(
    get,
    path = "/v1/events/{id}",
    operation_id = "getEvent",
    tag = "events",
    params(("id" = String, Path,
        description = "The event's id, or the id followed by `.ics` for the event as iCalendar.")),
    responses(
        (status = 200, description = "The event, or with `.ics` an iCalendar file with the event.",
            content(
                (EventView = "application/json"),
                (String = "text/calendar"),
            )),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No event has this id."),
    ),
)]
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

#[utoipa::path(
    patch,
    path = "/v1/events/{id}",
    operation_id = "updateEvent",
    tag = "events",
    params(("id" = String, Path, format = Uuid, description = "The event's id.")),
    request_body(
        description = "The fields to change, as JSON or as XML with the root element `change`.",
        content(
            (UpdateEventBody = "application/json"),
            (UpdateEventBody = "application/xml"),
        ),
    ),
    responses(
        (status = 200, description = "The changed event.", body = EventView),
        (status = 400, description = "The body is not well-formed JSON or XML, or the id is not valid UTF-8."),
        (status = 404, description = "No event has this id."),
        (status = 409, description = "An attendee is busy at the new time, or the event is cancelled."),
        (status = 422, description = "A field is invalid; `field` names it."),
    ),
)]
pub async fn update(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EventView>, Problem> {
    let id = event_id(&path(id)?)?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_update_event(&body)?;
    let event = scheduler
        .update_event(id, command, Timestamp::now())
        .await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/events/{id}",
    operation_id = "cancelEvent",
    tag = "events",
    params(("id" = String, Path, format = Uuid, description = "The event's id.")),
    responses(
        (status = 200, description = "The cancelled event. Cancelling again changes nothing.", body = EventView),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No event has this id."),
    ),
)]
pub async fn cancel(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<EventView>, Problem> {
    let event = scheduler
        .cancel_event(event_id(&path(id)?)?, Timestamp::now())
        .await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

/// `POST /v1/events/{id}/rsvp`: a participant accepts, declines or tentatively accepts.
#[utoipa::path(
    post,
    path = "/v1/events/{id}/rsvp",
    operation_id = "answerInvitation",
    tag = "events",
    params(("id" = String, Path, format = Uuid, description = "The event's id.")),
    request_body(
        description = "The reply, as JSON or as XML with the root element `rsvp`.",
        content(
            (RsvpBody = "application/json"),
            (RsvpBody = "application/xml"),
        ),
    ),
    responses(
        (status = 200, description = "Every attendee's reply; the organizer is sent this one.", body = RsvpView),
        (status = 400, description = "The body is not well-formed JSON or XML, or the id is not valid UTF-8."),
        (status = 404, description = "No event has this id."),
        (status = 409, description = "The event is cancelled."),
        (status = 422, description = "A field is invalid, or the user does not take part; `field` names the field."),
    ),
)]
pub async fn rsvp(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RsvpView>, Problem> {
    let id = event_id(&path(id)?)?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_answer(&body)?;
    let answers = scheduler.answer(id, command.user, command.answer).await?;
    Ok(Json(rsvp_view(id, &answers)))
}

#[utoipa::path(
    post,
    path = "/v1/events/{id}/participants",
    operation_id = "addParticipant",
    tag = "events",
    params(("id" = String, Path, format = Uuid, description = "The event's id.")),
    request_body(
        description = "The user to add, as JSON or as XML with the root element `participant`.",
        content(
            (AddParticipantBody = "application/json"),
            (AddParticipantBody = "application/xml"),
        ),
    ),
    responses(
        (status = 200, description = "The event with the new participant, who is invited. Adding someone who takes part already changes nothing.", body = EventView),
        (status = 400, description = "The body is not well-formed JSON or XML, or the id is not valid UTF-8."),
        (status = 404, description = "No event has this id."),
        (status = 409, description = "The user is busy at the event's time, or the event is cancelled."),
        (status = 422, description = "A field is missing or invalid, or the user does not exist; `field` names it."),
    ),
)]
pub async fn add_participant(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EventView>, Problem> {
    let id = event_id(&path(id)?)?;
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_add_participant(&body)?;
    let event = scheduler
        .add_participant(id, command, Timestamp::now())
        .await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

#[utoipa::path(
    delete,
    path = "/v1/events/{id}/participants/{user}",
    operation_id = "removeParticipant",
    tag = "events",
    params(
        ("id" = String, Path, format = Uuid, description = "The event's id."),
        ("user" = String, Path, format = Uuid, description = "The participant's user id."),
    ),
    responses(
        (status = 200, description = "The event without the participant, who is sent a cancellation.", body = EventView),
        (status = 400, description = "An id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No event has this id, or the user is not a participant."),
        (status = 409, description = "The event is cancelled."),
        (status = 422, description = "The user is the organizer, who cannot be removed."),
    ),
)]
pub async fn remove_participant(
    State(scheduler): State<Scheduler>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<EventView>, Problem> {
    let (id, user) = path(ids)?;
    let id = event_id(&id)?;
    let user = user_id(&user)?;
    let event = scheduler.remove_participant(id, user).await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

#[utoipa::path(
    get,
    path = "/v1/events/{id}/reminders",
    operation_id = "listReminders",
    tag = "events",
    params(("id" = String, Path, format = Uuid, description = "The event's id.")),
    responses(
        (status = 200, description = "Each attendee's reminder deliveries with their latest result.", body = [DeliveryView]),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No event has this id."),
    ),
)]
pub async fn reminders(
    State(scheduler): State<Scheduler>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<DeliveryView>>, Problem> {
    let deliveries = scheduler
        .deliveries(event_id(&path(id)?)?, Timestamp::now())
        .await?;
    Ok(Json(deliveries.iter().map(delivery_view).collect()))
}

/// Returns the JSON view of an event with every attendee's answer to the invitation.
async fn full_view(scheduler: &Scheduler, event: &Event) -> Result<EventView, Problem> {
    let answers = scheduler.answers(event.id).await?;
    Ok(event_view(event, &answers))
}

fn event_id(text: &str) -> Result<EventId, Problem> {
    text.parse().map_err(|_| Problem::not_found("event", text))
}
