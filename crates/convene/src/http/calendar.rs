//! iCalendar over HTTP: importing a calendar, exporting one event, and calendar feeds.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use convene_domain::{Answer, Event, FeedId, User, UserId};
use convene_ical::{Limits, parse_bytes};
use convene_itip::{AttendeeState, PartStat, calendar_event, calendar_file, import_events};
use convene_scheduler::access::require_self;
use convene_scheduler::{Caller, Scheduler, SchedulerError};
use jiff::{SignedDuration, Timestamp};

use super::auth::Budget;
use super::page::{Page, PageParams, page_response};
use super::params::{QueryParams, path};
use super::users::user_id;
use super::views::{FeedIdView, FeedView, ImportView, RemovedView, SkippedView};
use super::{Problem, Services};

/// The media type of every iCalendar response.
const CALENDAR_TYPE: &str = "text/calendar; charset=utf-8";

/// How long after their end a feed keeps showing events.
const FEED_HISTORY: SignedDuration = SignedDuration::from_hours(90 * 24);

/// The maximum number of events one feed shows: the earliest that have not ended more than
/// [`FEED_HISTORY`] ago.
///
/// NOTE: each event costs three queries: the event, its attendee list and its replies.
/// A full feed therefore makes 15,000 (the people of all events are read at once).
/// Reading events and replies in one query per kind would make it fast.
const MAX_FEED_EVENTS: usize = 5_000;

/// `POST /v1/users/{id}/calendar`: imports the events of an iCalendar body as the user's
/// busy time.
#[utoipa::path(
    post,
    path = "/v1/users/{id}/calendar",
    operation_id = "importCalendar",
    tag = "calendars",
    params(("id" = String, Path, format = Uuid, description = "The user's id.")),
    request_body(
        description = "An iCalendar file from another calendar. Importing again replaces the events with the same UID.",
        content((String = "text/calendar")),
    ),
    responses(
        (status = 200, description = "How many events were stored, and which were skipped and why.", body = ImportView),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding, or the body cannot be read."),
        (status = 404, description = "No user has this id."),
        (status = 422, description = "The calendar cannot be read; `field` is `body`."),
    ),
)]
pub async fn import(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<impl IntoResponse, Problem> {
    let owner = user_id(&path(id)?)?;
    require_self(caller, owner, "import into this user's calendar")?;
    let owner = scheduler.user(owner).await?;
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    if media_type.as_deref() != Some("text/calendar") {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "a calendar import must be sent as text/calendar (an .ics file)",
        ));
    }
    let body = body.map_err(|rejection| {
        Problem::new(
            rejection.status(),
            "unreadable-body",
            "Unreadable request body",
            rejection.body_text(),
        )
    })?;
    let parsed = parse_bytes(&body, &Limits::default()).map_err(|err| {
        Problem::invalid_field("body", &format!("the calendar cannot be read: {err}"))
    })?;
    let mapped = import_events(&parsed.calendar, &owner);
    let imported = scheduler.import_events(owner.id, mapped.events).await?;

    let mut skipped: Vec<SkippedView> = parsed
        .skipped
        .iter()
        .map(|skip| SkippedView {
            line: Some(skip.line),
            reason: skip.reason.clone(),
            uid: skip.uid.clone(),
        })
        .collect();
    skipped.extend(mapped.skipped.iter().map(|skip| SkippedView {
        line: None,
        reason: skip.reason.clone(),
        uid: Some(skip.uid.clone()),
    }));
    Ok((
        StatusCode::OK,
        Json(ImportView {
            imported,
            skipped,
            user: owner.id.to_string(),
        }),
    ))
}

/// `DELETE /v1/users/{id}/calendar`: removes every event the user imported.
#[utoipa::path(
    delete,
    path = "/v1/users/{id}/calendar",
    operation_id = "removeImportedCalendar",
    tag = "calendars",
    params(("id" = String, Path, format = Uuid, description = "The user's id.")),
    responses(
        (status = 200, description = "How many imported events were removed.", body = RemovedView),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No user has this id."),
    ),
)]
pub async fn remove_imported(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<RemovedView>, Problem> {
    let user = user_id(&path(id)?)?;
    require_self(caller, user, "remove this user's imported calendar")?;
    let removed = scheduler.remove_imported(user).await?;
    Ok(Json(RemovedView {
        removed,
        user: user.to_string(),
    }))
}

/// Returns one event as an iCalendar file.
pub async fn export(
    scheduler: &Scheduler,
    uid_domain: &str,
    id: convene_domain::EventId,
) -> Result<Response, Problem> {
    let (event, organizer, participants) = scheduler.event_with_people(id).await?;
    let answers = scheduler.answers(id).await?;
    let entry = to_calendar_event(&event, &organizer, participants, &answers, uid_domain);
    Ok(calendar_response(calendar_file(vec![entry])))
}

/// `POST /v1/users/{id}/feeds`: creates a secret feed URL for the user's calendar.
#[utoipa::path(
    post,
    path = "/v1/users/{id}/feeds",
    operation_id = "createFeed",
    tag = "calendars",
    params(("id" = String, Path, format = Uuid, description = "The user's id.")),
    responses(
        (status = 201, description = "The new feed. Its URL holds a secret token that is shown only here.", body = FeedView),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No user has this id."),
    ),
)]
pub async fn create_feed(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, Problem> {
    let user = user_id(&path(id)?)?;
    require_self(caller, user, "create feeds of this user's calendar")?;
    let (feed, token) = scheduler.create_feed(user).await?;
    let url = format!("/v1/feeds/{token}.ics");
    Ok((
        StatusCode::CREATED,
        Json(FeedView {
            id: feed.to_string(),
            url,
            user: user.to_string(),
        }),
    ))
}

/// `GET /v1/users/{id}/feeds`: the user's feeds that are not revoked, by id, so that a
/// feed whose id was lost can still be revoked. Their URLs are not stored.
#[utoipa::path(
    get,
    path = "/v1/users/{id}/feeds",
    operation_id = "listFeeds",
    tag = "calendars",
    params(
        ("id" = String, Path, format = Uuid, description = "The user's id."),
        PageParams,
    ),
    responses(
        (status = 200, description = "A page of the user's feeds.", body = Page<FeedIdView>,
            headers(("Link" = String, description = "The next page, with `rel=\"next\"`, unless this is the last."))),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No user has this id."),
        (status = 422, description = "`after` or `limit` is invalid."),
    ),
)]
pub async fn feeds(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Response, Problem> {
    let user = user_id(&path(id)?)?;
    require_self(caller, user, "list this user's feeds")?;
    let page = QueryParams::new(query)?.page::<FeedId>()?;
    let feeds = scheduler
        .feeds(user, page.after, page.fetch_limit())
        .await?;
    let items = feeds
        .iter()
        .map(|feed| {
            let view = FeedIdView {
                id: feed.to_string(),
                user: user.to_string(),
            };
            (feed.to_string(), view)
        })
        .collect();
    Ok(page_response(
        items,
        &page,
        &format!("/v1/users/{user}/feeds"),
        "",
    ))
}

/// `DELETE /v1/users/{id}/feeds/{feed}`: revokes a feed URL.
#[utoipa::path(
    delete,
    path = "/v1/users/{id}/feeds/{feed}",
    operation_id = "revokeFeed",
    tag = "calendars",
    params(
        ("id" = String, Path, format = Uuid, description = "The user's id."),
        ("feed" = String, Path, format = Uuid, description = "The feed's id."),
    ),
    responses(
        (status = 204, description = "The feed URL is revoked."),
        (status = 400, description = "An id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "The user has no feed with this id."),
    ),
)]
pub async fn revoke_feed(
    State(scheduler): State<Scheduler>,
    Extension(caller): Extension<Caller>,
    ids: Result<Path<(String, String)>, PathRejection>,
) -> Result<StatusCode, Problem> {
    let (user, feed) = path(ids)?;
    let user = user_id(&user)?;
    require_self(caller, user, "revoke this user's feeds")?;
    let feed: FeedId = feed
        .parse()
        .map_err(|_| Problem::not_found("feed", &feed))?;
    scheduler.revoke_feed(user, feed).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/feeds/{token}.ics`: the feed's calendar, for calendar applications to
/// subscribe to.
#[utoipa::path(
    get,
    path = "/v1/feeds/{token}",
    operation_id = "getFeed",
    tag = "calendars",
    params(("token" = String, Path,
        description = "The secret token of the feed followed by `.ics`, as in the feed's `url`.")),
    responses(
        (status = 200, description = "The feed's events as iCalendar: those that ended at most 90 days ago, at most 5,000, the earliest first.",
            content_type = "text/calendar", body = String),
        (status = 400, description = "The token is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No feed has this URL, or it was revoked."),
        (status = 429, description = "The feed, or the client after requests for unknown feeds, used up its rate limit.",
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    ),
)]
pub async fn feed(
    State(services): State<Services>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    token: Result<Path<String>, PathRejection>,
) -> Result<Response, Response> {
    let limiter = &services.rate_limiter;
    // A name that is no feed spends the client's budget, so that guessing is limited too.
    let no_feed = || match client {
        Some(Extension(ConnectInfo(address))) => limiter
            .charge(Budget::Client(address.ip()))
            .err()
            .unwrap_or_else(|| no_feed().into_response()),
        None => no_feed().into_response(),
    };
    let name = path(token).map_err(IntoResponse::into_response)?;
    let Some(token) = name.strip_suffix(".ics") else {
        return Err(no_feed());
    };
    limiter.charge(limiter.feed_budget(token))?;
    let since = Timestamp::now()
        .checked_sub(FEED_HISTORY)
        .unwrap_or(Timestamp::MIN);
    let entries = services
        .scheduler
        .feed(token, since, MAX_FEED_EVENTS)
        .await
        .map_err(|err| match err {
            SchedulerError::NotFound { .. } => no_feed(),
            other => Problem::from(other).into_response(),
        })?;
    if entries.len() == MAX_FEED_EVENTS {
        tracing::warn!(
            limit = MAX_FEED_EVENTS,
            "a feed reached its limit of events; the latest ones are left out"
        );
    }
    let mut events = Vec::with_capacity(entries.len());
    for (event, organizer, participants) in entries {
        let answers = services
            .scheduler
            .answers(event.id)
            .await
            .map_err(|err| Problem::from(err).into_response())?;
        events.push(to_calendar_event(
            &event,
            &organizer,
            participants,
            &answers,
            &services.uid_domain,
        ));
    }
    Ok(calendar_response(calendar_file(events)))
}

/// Returns the problem for a feed URL that names no feed, without saying whether it ever
/// did.
fn no_feed() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "not-found",
        "Not found",
        "no feed has this URL; it may have been revoked, or a character was lost in copying \
         it (feed URLs end in .ics)",
    )
}

fn to_calendar_event(
    event: &Event,
    organizer: &User,
    participants: Vec<User>,
    answers: &[(UserId, Answer)],
    uid_domain: &str,
) -> convene_ical::CalendarEvent {
    let attendees: Vec<AttendeeState> = participants
        .into_iter()
        .map(|user| {
            let answer = answers
                .iter()
                .find(|(id, _)| *id == user.id)
                .map_or(Answer::NeedsAction, |(_, answer)| *answer);
            AttendeeState {
                user,
                partstat: partstat(answer),
            }
        })
        .collect();
    calendar_event(event, organizer, &attendees, uid_domain, Timestamp::now())
}

/// Returns the iCalendar PARTSTAT of an answer.
pub(crate) fn partstat(answer: Answer) -> PartStat {
    match answer {
        Answer::NeedsAction => PartStat::NeedsAction,
        Answer::Accepted => PartStat::Accepted,
        Answer::Declined => PartStat::Declined,
        Answer::Tentative => PartStat::Tentative,
    }
}

fn calendar_response(text: String) -> Response {
    ([(header::CONTENT_TYPE, CALENDAR_TYPE)], text).into_response()
}
