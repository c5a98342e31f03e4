//! Reminders by SMS, Web Push and webhook: channels that send each recipient's reminder
//! with one HTTP request and report its classified result at once, with no queue of their
//! own. The Notifier stores each result and retries temporary failures.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use convene_domain::{DeliveryAttempt, DeliveryOutcome, User};
use convene_store::Store;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;
use tokio::task::JoinSet;

use crate::push::{PushClient, PushMessage, Subscription, Urgency};
use crate::sms::{SmsClient, reminder_text};
use crate::webhook::{WebhookClient, WebhookPayload};
use crate::{Channel, FailureNotice, NoticeError, Recipient, Reminder, Reporter, SendOutcome};

/// Starts one send per recipient, all at once, and reports each result as it arrives.
async fn send_each<F, Fut>(recipients: &[Recipient], reporter: Reporter, send: F)
where
    F: Fn(Recipient) -> Fut,
    Fut: Future<Output = SendOutcome> + Send + 'static,
{
    let mut sends = JoinSet::new();
    for (i, recipient) in recipients.iter().enumerate() {
        let attempt = send(recipient.clone());
        sends.spawn(async move { (i, attempt.await) });
    }
    while let Some(joined) = sends.join_next().await {
        match joined {
            Ok((i, outcome)) => reporter.attempt_after(i, outcome.attempt, outcome.retry_after),
            // A send that panicked has no result; its recipient is retried after the
            // Notifier's time limit.
            Err(err) => tracing::error!(error = %err, "a reminder send task failed"),
        }
    }
}

/// Returns the zone that `user` reads times in: their own, else the event's.
fn reader_zone(user: &User, reminder: &Reminder) -> TimeZone {
    user.time_zone
        .as_deref()
        .and_then(|name| TimeZone::get(name).ok())
        .or_else(|| TimeZone::get(&reminder.event.time_zone).ok())
        .unwrap_or(TimeZone::UTC)
}

/// Writes the event's start for `user`, such as `Tue 15 Jan 09:00 CET`, or the date alone
/// for an all-day event.
fn local_start(user: &User, reminder: &Reminder) -> String {
    let start = reminder
        .event
        .interval
        .start()
        .to_zoned_datetime(reader_zone(user, reminder));
    if reminder.event.all_day {
        start.strftime("%a %-d %b %Y").to_string()
    } else {
        start.strftime("%a %-d %b %H:%M %Z").to_string()
    }
}

/// Rejects a failure notice, because notices go to organizers by e-mail only.
fn no_notices() -> Result<bool, NoticeError> {
    Err("failure notices go by e-mail, not by this channel".into())
}

/// Reminders as text messages through an SMS gateway, to each person's telephone number.
pub struct SmsChannel {
    client: Arc<SmsClient>,
}

impl SmsChannel {
    pub fn new(client: SmsClient) -> SmsChannel {
        SmsChannel {
            client: Arc::new(client),
        }
    }
}

#[async_trait]
impl Channel for SmsChannel {
    async fn send(&self, reminder: &Reminder, recipients: &[Recipient], reporter: Reporter) {
        send_each(recipients, reporter, |recipient| {
            let client = self.client.clone();
            let text = reminder_text(
                &reminder.event.title,
                &local_start(&recipient.user, reminder),
                reminder.event.location.as_deref(),
            );
            async move {
                let Some(phone) = &recipient.user.phone else {
                    return SendOutcome::local(
                        DeliveryOutcome::PermanentFailure,
                        "the recipient has no telephone number; they set one with phone in their profile",
                    );
                };
                client.send(phone.as_str(), &text).await
            }
        })
        .await;
    }

    async fn send_failure_notice(&self, _notice: &FailureNotice) -> Result<bool, NoticeError> {
        no_notices()
    }
}

/// Reminders as JSON POSTs to the one webhook endpoint the server is configured with,
/// signed as Standard Webhooks describes.
pub struct WebhookChannel {
    client: Arc<WebhookClient>,
}

impl WebhookChannel {
    pub fn new(client: WebhookClient) -> WebhookChannel {
        WebhookChannel {
            client: Arc::new(client),
        }
    }
}

#[async_trait]
impl Channel for WebhookChannel {
    async fn send(&self, reminder: &Reminder, recipients: &[Recipient], reporter: Reporter) {
        send_each(recipients, reporter, |recipient| {
            let client = self.client.clone();
            let payload = WebhookPayload::reminder_due(reminder, &recipient, recipient.due_at);
            async move {
                let outcome = client.send(recipient.delivery, &payload).await;
                if outcome.endpoint_gone {
                    tracing::warn!(
                        delivery.id = %recipient.delivery,
                        "the webhook receiver answered 410 Gone; remove or fix the webhook setting"
                    );
                }
                outcome
            }
        })
        .await;
    }

    async fn send_failure_notice(&self, _notice: &FailureNotice) -> Result<bool, NoticeError> {
        no_notices()
    }
}

/// The JSON a service worker receives in a push event.
#[derive(Debug, Serialize)]
struct PushPayload<'a> {
    /// A notification title, such as `Reminder: Planning`.
    title: String,
    /// The start in the reader's zone and the location.
    body: String,
    /// The reminder delivery, to use as the notification's tag so that a repeat replaces it.
    tag: String,
    event: String,
    /// The start in RFC 3339 and UTC.
    start: String,
    location: Option<&'a str>,
}

/// Reminders as Web Push messages to every browser the person registered.
pub struct PushChannel {
    client: Arc<PushClient>,
    store: Arc<dyn Store>,
}

impl PushChannel {
    pub fn new(client: PushClient, store: Arc<dyn Store>) -> PushChannel {
        PushChannel {
            client: Arc::new(client),
            store,
        }
    }

    /// Returns the VAPID public key that browsers subscribe with.
    pub fn public_key(&self) -> &str {
        self.client.public_key()
    }
}

#[async_trait]
impl Channel for PushChannel {
    async fn send(&self, reminder: &Reminder, recipients: &[Recipient], reporter: Reporter) {
        let now = Timestamp::now();
        let start = reminder.event.interval.start();
        // The push service may keep the message until the event starts; after that it is
        // of no use. A message due within the hour requests immediate delivery.
        let until_start = start.duration_since(now);
        let ttl = Duration::try_from(until_start).unwrap_or(Duration::ZERO);
        let urgency = if until_start.as_secs() <= 3600 {
            Urgency::High
        } else {
            Urgency::Normal
        };
        send_each(recipients, reporter, |recipient| {
            let client = self.client.clone();
            let store = self.store.clone();
            let payload = PushPayload {
                title: format!("Reminder: {}", reminder.event.title),
                body: match &reminder.event.location {
                    Some(location) => {
                        format!("{}, {location}", local_start(&recipient.user, reminder))
                    }
                    None => local_start(&recipient.user, reminder),
                },
                tag: recipient.delivery.to_string(),
                event: reminder.event.id.to_string(),
                start: start.to_string(),
                location: reminder.event.location.as_deref(),
            };
            let payload = serde_json::to_vec(&payload).expect("the payload serializes");
            async move {
                push_to_browsers(&client, &*store, &recipient, &payload, ttl, urgency).await
            }
        })
        .await;
    }

    async fn send_failure_notice(&self, _notice: &FailureNotice) -> Result<bool, NoticeError> {
        no_notices()
    }
}

/// Sends `payload` to each of the recipient's subscriptions and merges the results: the
/// reminder is delivered when one browser's push service took it, worth retrying when
/// none did but one failed temporarily, and failed for good otherwise. Subscriptions that
/// the push service reports gone are deleted.
async fn push_to_browsers(
    client: &PushClient,
    store: &dyn Store,
    recipient: &Recipient,
    payload: &[u8],
    ttl: Duration,
    urgency: Urgency,
) -> SendOutcome {
    let user = recipient.user.id;
    let subscriptions = match store.push_subscriptions(user).await {
        Ok(subscriptions) => subscriptions,
        Err(err) => {
            return SendOutcome::local(
                DeliveryOutcome::TemporaryFailure,
                format!("reading the push subscriptions failed: {err}"),
            );
        }
    };
    if subscriptions.is_empty() {
        return SendOutcome::local(
            DeliveryOutcome::PermanentFailure,
            "the recipient has no browser registered for push reminders",
        );
    }
    let message = PushMessage {
        payload,
        ttl,
        urgency,
    };
    let mut outcomes: Vec<SendOutcome> = Vec::with_capacity(subscriptions.len());
    for stored in &subscriptions {
        let outcome = match Subscription::new(&stored.endpoint, &stored.p256dh, &stored.auth) {
            Ok(subscription) => client.send(&subscription, &message).await,
            Err(err) => SendOutcome {
                attempt: DeliveryAttempt::local(
                    DeliveryOutcome::PermanentFailure,
                    format!("the push subscription {} is unusable: {err}", stored.id),
                ),
                retry_after: None,
                endpoint_gone: true,
            },
        };
        if outcome.endpoint_gone {
            match store.remove_push_subscription(user, stored.id).await {
                Ok(_) => tracing::info!(
                    user.id = %user,
                    subscription.id = %stored.id,
                    "push subscription removed: the push service no longer knows it"
                ),
                Err(err) => tracing::warn!(
                    user.id = %user,
                    subscription.id = %stored.id,
                    error = %err,
                    "removing a push subscription that is gone failed"
                ),
            }
        }
        outcomes.push(outcome);
    }
    merge(outcomes)
}

/// Picks the attempt that stands for all of one person's browsers: the first delivered,
/// else the first temporary failure, else the first permanent one. A temporary failure
/// keeps the longest `Retry-After` of the browsers that failed temporarily.
fn merge(outcomes: Vec<SendOutcome>) -> SendOutcome {
    let rank = |outcome: &SendOutcome| match outcome.attempt.outcome {
        DeliveryOutcome::Delivered => 0,
        DeliveryOutcome::TemporaryFailure => 1,
        DeliveryOutcome::PermanentFailure => 2,
    };
    let count = outcomes.len();
    let retry_after = outcomes
        .iter()
        .filter(|outcome| outcome.attempt.outcome == DeliveryOutcome::TemporaryFailure)
        .filter_map(|outcome| outcome.retry_after)
        .max();
    let mut best = outcomes
        .into_iter()
        .min_by_key(rank)
        .expect("at least one subscription");
    if count > 1 {
        best.attempt.reply_text = format!("{} (best of {count} browsers)", best.attempt.reply_text);
    }
    best.retry_after = match best.attempt.outcome {
        DeliveryOutcome::TemporaryFailure => retry_after,
        _ => None,
    };
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(result: DeliveryOutcome, retry_after: Option<u64>) -> SendOutcome {
        SendOutcome {
            attempt: DeliveryAttempt::local(result, "peer reply"),
            retry_after: retry_after.map(Duration::from_secs),
            endpoint_gone: false,
        }
    }

    #[test]
    fn merge_prefers_delivered_browser() {
        let merged = merge(vec![
            outcome(DeliveryOutcome::TemporaryFailure, Some(600)),
            outcome(DeliveryOutcome::Delivered, None),
        ]);
        assert_eq!(merged.attempt.outcome, DeliveryOutcome::Delivered);
        assert_eq!(merged.retry_after, None);
        assert_eq!(merged.attempt.reply_text, "peer reply (best of 2 browsers)");
    }

    #[test]
    fn merge_keeps_longest_requested_wait() {
        let merged = merge(vec![
            outcome(DeliveryOutcome::PermanentFailure, None),
            outcome(DeliveryOutcome::TemporaryFailure, Some(60)),
            outcome(DeliveryOutcome::TemporaryFailure, Some(600)),
        ]);
        assert_eq!(merged.attempt.outcome, DeliveryOutcome::TemporaryFailure);
        assert_eq!(merged.retry_after, Some(Duration::from_secs(600)));
    }

    #[test]
    fn merge_of_permanent_failures_has_no_wait() {
        let merged = merge(vec![outcome(DeliveryOutcome::PermanentFailure, Some(60))]);
        assert_eq!(merged.attempt.outcome, DeliveryOutcome::PermanentFailure);
        assert_eq!(merged.retry_after, None);
        assert_eq!(merged.attempt.reply_text, "peer reply");
    }
}
