//! `/v1/availability`: free slots for a group of people.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use convene_scheduler::Scheduler;

use super::Problem;
use super::body::decode;
use super::requests::FindSlotsBody;
use super::views::{SlotsView, slots_view};

#[utoipa::path(
    post,
    path = "/v1/availability",
    operation_id = "findSlots",
    tag = "availability",
    request_body(
        description = "The search, as JSON or as XML with the root element `availability`.",
        content(
            (FindSlotsBody = "application/json"),
            (FindSlotsBody = "application/xml"),
        ),
    ),
    responses(
        (status = 200, description = "The earliest slots in which every participant is inside their working hours and outside their events, earliest first.", body = SlotsView),
        (status = 400, description = "The body is not well-formed JSON or XML."),
        (status = 422, description = "A field is missing or invalid, or names a user who does not exist; `field` names it."),
    ),
)]
pub async fn find(
    State(scheduler): State<Scheduler>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<SlotsView>, Problem> {
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_find_slots(&body)?;
    let slots = scheduler.find_slots(command).await?;
    Ok(Json(slots_view(&slots)))
}
