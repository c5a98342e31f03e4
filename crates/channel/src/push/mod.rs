//! Reminders as Web Push messages to a person's browsers.
//!
//! This module hides the three protocols of Web Push. Delivery (RFC 8030): a POST of the
//! encrypted message to the subscription's endpoint with `TTL` (how long the push service
//! keeps an undelivered message) and, when not normal, `Urgency`. Encryption (RFC 8291
//! with the `aes128gcm` coding of RFC 8188): one record of at most 4096 octets, with a fresh
//! ephemeral P-256 key and a fresh 16-octet salt for every message, so no two messages
//! share a key and nonce. Identification (VAPID, RFC 8292): every request carries a JWT
//! signed with ES256 by the server's [`VapidKey`], for the endpoint's origin, valid for 12
//! hours and naming a contact, with the public key beside it.
//!
//! Replies are classified for the caller. 2xx is delivered. 404 and 410 are permanent and
//! set [`SendOutcome::endpoint_gone`](crate::SendOutcome::endpoint_gone), because the
//! subscription expired or the browser dropped it, so it should be deleted. 413 is
//! permanent, and so are 400, 401 and 403, which push services return for a request or
//! VAPID token they reject. 408, 429, 5xx, no connection and timeouts are temporary, with
//! the `Retry-After` wait when the service sends one. Endpoints must be `https` unless the settings allow plain HTTP.
//!
//! Callers give a [`Subscription`], as browsers report it, and an already rendered message
//! of at most [`MAX_PAYLOAD_BYTES`], usually JSON for the service worker to show.

mod client;
mod encryption;
mod subscription;
mod vapid;

pub use client::{PushClient, PushConfig, PushMessage, Urgency};
pub use encryption::MAX_PAYLOAD_BYTES;
pub use subscription::{Subscription, SubscriptionError};
pub use vapid::{VapidKey, VapidKeyError};
