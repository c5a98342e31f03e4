//! `/v1/availability`: free slots for a group of people.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use convene_scheduler::Scheduler;
use serde_json::{Value, json};

use super::Problem;
use super::body::decode;
use super::views::interval_view;

pub async fn find(
    State(scheduler): State<Scheduler>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Problem> {
    let (parser, body) = decode(&headers, body)?;
    let command = parser.parse_find_slots(&body)?;
    let slots = scheduler.find_slots(command).await?;
    Ok(Json(json!({
        "slots": slots.iter().map(interval_view).collect::<Vec<_>>(),
    })))
}
