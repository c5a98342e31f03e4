//! Reminders as webhooks: a JSON POST signed as the Standard Webhooks specification
//! (version 1.0.0, standardwebhooks.com) describes, so that receivers can check it with
//! any of that project's libraries.
//!
//! This module hides the signature scheme and the payload format. Each request carries
//! three headers. `webhook-id` is the delivery's id, the same on every retry of one
//! reminder, so a receiver can drop duplicates. `webhook-timestamp` is the attempt's time
//! in Unix seconds, so a receiver can reject replays. `webhook-signature` is `v1,` followed
//! by the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` under the key of the `whsec_`
//! secret. The body is the envelope that the specification recommends,
//! `{"type", "timestamp", "data"}`, with the type `reminder.due` and [`ReminderDue`] as
//! data.
//!
//! Replies are classified as the specification suggests: 2xx is delivered; 408, 425, 429,
//! 5xx, no connection and timeouts are temporary; a redirect is temporary too, because
//! the configured URL needs correcting, which an administrator can do; 410 Gone is
//! permanent and sets [`SendOutcome::endpoint_gone`](crate::SendOutcome::endpoint_gone), because the
//! receiver asks that the endpoint be disabled; any other status is permanent.

mod client;
mod payload;
mod signature;

pub use client::{WebhookClient, WebhookConfig};
pub use payload::{REMINDER_DUE, ReminderDue, WebhookPayload, WebhookRecipient};
pub use signature::WebhookSecret;
