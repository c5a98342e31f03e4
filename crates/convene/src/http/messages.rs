//! `/v1/messages` handlers: the mail queue's status of one message.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::{Extension, Json};
use convene_domain::MessageId;
use convene_outbox::Outbox;
use convene_scheduler::Caller;
use convene_scheduler::access::require_admin;

use super::Problem;
use super::params::path;
use super::views::{MessageView, message_view};

/// `GET /v1/messages/{id}`: for the administrator, because a message's recipients and
/// delivery attempts belong to no single user.
#[utoipa::path(
    get,
    path = "/v1/messages/{id}",
    operation_id = "getMessage",
    tag = "messages",
    params(("id" = String, Path, format = Uuid, description = "The message's id.")),
    responses(
        (status = 200, description = "The queued e-mail, with each recipient's state and attempts.", body = MessageView),
        (status = 400, description = "The id is not valid UTF-8 after percent-decoding."),
        (status = 404, description = "No queued message has this id."),
    ),
)]
pub async fn show(
    State(outbox): State<Outbox>,
    Extension(caller): Extension<Caller>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<MessageView>, Problem> {
    require_admin(caller, "read the mail queue")?;
    let text = path(id)?;
    let not_found = || Problem::not_found("message", &text);
    let id: MessageId = text.parse().map_err(|_| not_found())?;
    match outbox.status(id).await {
        Ok(Some(message)) => Ok(Json(message_view(&message))),
        Ok(None) => Err(not_found()),
        Err(err) => {
            tracing::error!(error = %err, message.id = %id, "reading a queued message failed");
            Err(Problem::internal())
        }
    }
}
