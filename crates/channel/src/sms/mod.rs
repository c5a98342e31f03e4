//! SMS reminders through an HTTP gateway that takes the request form of Twilio's Messages
//! API.
//!
//! This module hides the gateway's protocol. Messages are POSTed to
//! `{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json` with HTTP Basic
//! authentication (the account SID and auth token) and the form fields `To`, `From` or
//! `MessagingServiceSid`, and `Body`. The module also decides how the gateway's replies and
//! JSON errors (`code`, `message`, `more_info`, `status`) map to delivered, temporary and
//! permanent failures.
//! Rejected credentials count as temporary, because an administrator can correct them
//! while the reminder is still of use. A 2xx reply means that the gateway accepted the
//! message, not that a phone received it: receipts arrive later through status callbacks,
//! which Convene does not take.
//!
//! Callers give a telephone number in E.164 form and a short text, which
//! [`reminder_text`] builds from an event's title, start and location.

mod client;
mod text;

pub use client::{MAX_BODY_CHARS, SmsClient, SmsConfig, SmsSender};
pub use text::{MAX_REMINDER_CHARS, reminder_text};
