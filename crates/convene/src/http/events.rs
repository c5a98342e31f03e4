//! `/v1/events` handlers.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use convene_domain::{DeliveryId, Event, EventId, UserId};
use convene_scheduler::access::{require_attendee, require_organizer, require_self};
use convene_scheduler::{Caller, Scheduler};
use jiff::Timestamp;

use super::body::decode;
use super::negotiate::{self, Representation};
use super::page::{Page, PageParams, page_response};
use super::params::{QueryParams, path};
use super::requests::{AddParticipantBody, CreateEventBody, RsvpBody, UpdateEventBody};
use super::users::user_id;
use super::views::{DeliveryView, EventView, RsvpView, delivery_view, event_view, rsvp_view};
use super::{Problem, Services, calendar};

/// The action named in the 403 to a caller who is not an attendee, with the way to the
/// busy time they may see.
const READ_EVENT: &str =
    "read its details; other users see their busy time through /v1/users/{id}/busy";

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
#[utoipa::path(
    get,
    path = "/v1/events",
    operation_id = "listEvents",
    tag = "events",
    params(
        ("user" = Option<String>, Query, format = Uuid,
            description = "The user whose events to list; the caller when absent. Required for the administrator."),
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of events, cancelled and imported ones included, in the order they were created.",
            body = Page<EventView>,
            headers(("Link" = String, description = "The next page, with `rel=\"next\"`, unless this is the last."))),
        (status = 404, description = "No user has this id."),
        (status = 422, description = "`user`, `after` or `limit` is invalid, or the administrator named no user."),
    ),
)]
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
    let mut items = Vec::with_capacity(events.len());
    for event in &events {
        items.push((event.id.to_string(), full_view(&scheduler, event).await?));
    }
    Ok(page_response(
        items,
        &page,
        "/v1/events",
        &format!("user={user}&"),
    ))
}

/// `GET /v1/events/{id}` as JSON, or as iCalendar when `Accept` prefers `text/calendar`,
/// and `GET /v1/events/{id}.ics` as iCalendar.
#[utoipa::path(
    get,
    path = "/v1/events/{id}",
    operation_id = "getEvent",
    tag = "events",
    params(("id" = String, Path,
        description = "The event's id, or the id followed by `.ics` for the event as iCalendar.")),
    responses(
        (status = 200, description = "The event, or an iCalendar file with the event with `.ics` or when `Accept` prefers `text/calendar`.",
            content(
                (EventView = "application/json"),
                (String = "text/calendar"),
            )),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No event has this id."),
        (status = 406, description = "`Accept` accepts neither application/json nor text/calendar."),
    ),
)]
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
    let mut response = match negotiate::choose(&headers)? {
        Representation::Calendar => {
            calendar::export(&services.scheduler, &services.uid_domain, event.id).await?
        }
        Representation::Json => Json(full_view(&services.scheduler, &event).await?).into_response(),
    };
    // The same URL gives JSON or iCalendar, so caches must key on Accept.
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("accept"));
    Ok(response)
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
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EventView>, Problem> {
    let id = event_id(&path(id)?)?;
    require_organizer(caller, &scheduler.event(id).await?, "change it")?;
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
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<EventView>, Problem> {
    let id = event_id(&path(id)?)?;
    require_organizer(caller, &scheduler.event(id).await?, "cancel it")?;
    let event = scheduler.cancel_event(id, Timestamp::now()).await?;
    Ok(Json(full_view(&scheduler, &event).await?))
}

/// `POST /v1/events/{id}/rsvp`: a participant accepts, declines or tentatively accepts.
/// A user replies for themselves; the administrator names the participant in `user`.
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
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<RsvpView>, Problem> {
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
    let answers = scheduler
        .answer(id, user, command.answer, Timestamp::now())
        .await?;
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
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<EventView>, Problem> {
    let id = event_id(&path(id)?)?;
    require_organizer(caller, &scheduler.event(id).await?, "add participants")?;
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
    Extension(caller): Extension<Caller>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<Json<EventView>, Problem> {
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
/// organizer and the administrator get everyone's, and a participant gets their own.
#[utoipa::path(
    get,
    path = "/v1/events/{id}/reminders",
    operation_id = "listReminders",
    tag = "events",
    params(
        ("id" = String, Path, format = Uuid, description = "The event's id."),
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of reminder deliveries with their latest result: everyone's for the organizer, the caller's own for a participant.",
            body = Page<DeliveryView>,
            headers(("Link" = String, description = "The next page, with `rel=\"next\"`, unless this is the last."))),
        (status = 422, description = "`after` or `limit` is invalid."),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No event has this id."),
    ),
)]
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
    let items = deliveries
        .iter()
        .map(|delivery| (delivery.id.to_string(), delivery_view(delivery)))
        .collect();
    Ok(page_response(
        items,
        &page,
        &format!("/v1/events/{id}/reminders"),
        "",
    ))
}

/// Returns the JSON view of an event with every attendee's answer to the invitation.
async fn full_view(scheduler: &Scheduler, event: &Event) -> Result<EventView, Problem> {
    let answers = scheduler.answers(event.id).await?;
    Ok(event_view(event, &answers))
}

fn event_id(text: &str) -> Result<EventId, Problem> {
    text.parse().map_err(|_| Problem::not_found("event", text))
}
