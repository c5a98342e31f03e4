//! The webhook client: settings, the signed request and the classification of replies.

use convene_domain::{DeliveryId, DeliveryOutcome};
use jiff::Timestamp;
use reqwest::header::CONTENT_TYPE;
use reqwest::{StatusCode, Url};

use super::{WebhookPayload, WebhookSecret};
use crate::http::{self, HttpOptions, SendOutcome, Verdict};
use crate::{ConfigError, Secret};

/// Settings of a [`WebhookClient`].
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The receiver's URL, which every reminder is POSTed to.
    pub url: String,
    /// The signing secret, `whsec_` and the base64 of a 24 to 64 byte key, such as
    /// [`WebhookSecret::generate`] makes.
    pub secret: Secret,
    pub http: HttpOptions,
}

impl WebhookConfig {
    /// Creates settings with the default HTTP options.
    pub fn new(url: impl Into<String>, secret: Secret) -> WebhookConfig {
        WebhookConfig {
            url: url.into(),
            secret,
            http: HttpOptions::default(),
        }
    }
}

/// Sends signed reminder webhooks to one receiver.
#[derive(Debug)]
pub struct WebhookClient {
    http: reqwest::Client,
    url: Url,
    secret: WebhookSecret,
}

impl WebhookClient {
    /// Checks `config` and builds the client.
    ///
    /// # Errors
    ///
    /// Returns an error naming the setting (`webhook.url`, `webhook.secret` or one under
    /// `webhook.http`) that is invalid.
    pub fn new(config: WebhookConfig) -> Result<WebhookClient, ConfigError> {
        let url = http::check_url("webhook.url", &config.url, config.http.allow_http)?;
        Ok(WebhookClient {
            http: http::build_client("webhook", &config.http)?,
            url,
            secret: WebhookSecret::parse(&config.secret)?,
        })
    }

    /// Sends `payload` for `delivery`, signed with the current time, and classifies the
    /// receiver's reply. Every call for one delivery sends the same `webhook-id`, so the
    /// receiver can recognize a retry.
    pub async fn send(&self, delivery: DeliveryId, payload: &WebhookPayload) -> SendOutcome {
        let body = match serde_json::to_vec(payload) {
            Ok(body) => body,
            Err(error) => {
                return SendOutcome::local(
                    DeliveryOutcome::PermanentFailure,
                    format!("the webhook payload cannot be written as JSON: {error}"),
                );
            }
        };
        self.send_body(&delivery.to_string(), body, Timestamp::now())
            .await
    }

    async fn send_body(&self, id: &str, body: Vec<u8>, now: Timestamp) -> SendOutcome {
        let timestamp = now.as_second();
        let signature = self.secret.sign(id, timestamp, &body);
        let request = self
            .http
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);

        let reply = match http::send(request, &self.url).await {
            Ok(reply) => reply,
            Err(outcome) => return outcome,
        };
        http::outcome(&self.url, &reply, classify(reply.status))
    }
}

/// Classifies the receiver's status.
fn classify(status: StatusCode) -> Verdict {
    let verdict = |outcome, endpoint_gone, advice| Verdict {
        outcome,
        endpoint_gone,
        advice,
    };
    match status.as_u16() {
        200..=299 => verdict(DeliveryOutcome::Delivered, false, None),
        300..=399 => verdict(
            DeliveryOutcome::TemporaryFailure,
            false,
            Some("the receiver redirects, so set the webhook URL to the URL it redirects to"),
        ),
        408 | 425 | 429 | 500..=599 => verdict(DeliveryOutcome::TemporaryFailure, false, None),
        410 => verdict(
            DeliveryOutcome::PermanentFailure,
            true,
            Some("the receiver asks that no more webhooks be sent to this URL"),
        ),
        400..=499 => verdict(DeliveryOutcome::PermanentFailure, false, None),
        // A status outside the classes HTTP defines is no reason to give up, so the
        // request is retried.
        _ => verdict(DeliveryOutcome::TemporaryFailure, false, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        use DeliveryOutcome::*;
        let cases = [
            (200, Delivered, false),
            (204, Delivered, false),
            (308, TemporaryFailure, false),
            (400, PermanentFailure, false),
            (401, PermanentFailure, false),
            (404, PermanentFailure, false),
            (408, TemporaryFailure, false),
            (410, PermanentFailure, true),
            (425, TemporaryFailure, false),
            (429, TemporaryFailure, false),
            (500, TemporaryFailure, false),
            (502, TemporaryFailure, false),
            (503, TemporaryFailure, false),
        ];
        for (status, outcome, endpoint_gone) in cases {
            let verdict = classify(StatusCode::from_u16(status).unwrap());
            assert_eq!(verdict.outcome, outcome, "{status}");
            assert_eq!(verdict.endpoint_gone, endpoint_gone, "{status}");
        }
    }

    #[test]
    fn settings_are_checked_by_name() {
        let secret = WebhookSecret::generate();
        let error = WebhookClient::new(WebhookConfig::new(
            "http://hooks.example.test/",
            secret.clone(),
        ))
        .unwrap_err();
        assert_eq!(error.setting, "webhook.url");
        let error = WebhookClient::new(WebhookConfig::new(
            "https://hooks.example.test/",
            Secret::new("whsec_"),
        ))
        .unwrap_err();
        assert_eq!(error.setting, "webhook.secret");
        assert!(
            WebhookClient::new(WebhookConfig::new("https://hooks.example.test/", secret)).is_ok()
        );
    }
}
