//! The gateway client: settings, the request and the classification of replies.

use convene_domain::DeliveryOutcome;
use reqwest::header::ACCEPT;
use reqwest::{StatusCode, Url};
use serde::Deserialize;

use crate::http::{self, HttpOptions, SendOutcome};
use crate::{ConfigError, Secret};

/// Maximum length of a message body, in characters: the limit that Twilio's Messages API
/// sets on `Body`. Longer texts fail without a request.
pub const MAX_BODY_CHARS: usize = 1600;

/// Maximum length of an account SID or messaging service SID. Twilio's are 34 characters;
/// other gateways that take the same form use longer identifiers, such as UUIDs.
const MAX_SID_CHARS: usize = 64;

/// The sender of an SMS: a number or a messaging service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsSender {
    /// A telephone number of the account in E.164 form, sent as `From`.
    Number(String),
    /// A messaging service (a Twilio SID starting with `MG`), sent as
    /// `MessagingServiceSid`; the gateway then picks the sending number.
    MessagingService(String),
}

/// Settings of an [`SmsClient`].
#[derive(Debug, Clone)]
pub struct SmsConfig {
    /// The gateway's URL before `/2010-04-01/...`, such as [`SmsConfig::DEFAULT_BASE_URL`].
    pub base_url: String,
    /// The account the messages are sent from, the user name of HTTP Basic authentication.
    pub account_sid: String,
    /// The password of HTTP Basic authentication.
    pub auth_token: Secret,
    pub sender: SmsSender,
    pub http: HttpOptions,
}

impl SmsConfig {
    /// Twilio's API.
    pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

    /// Creates settings for Twilio's API with the default HTTP options.
    pub fn new(account_sid: impl Into<String>, auth_token: Secret, sender: SmsSender) -> SmsConfig {
        SmsConfig {
            base_url: SmsConfig::DEFAULT_BASE_URL.to_owned(),
            account_sid: account_sid.into(),
            auth_token,
            sender,
            http: HttpOptions::default(),
        }
    }
}

/// Sends text messages through one gateway account.
#[derive(Debug)]
pub struct SmsClient {
    http: reqwest::Client,
    /// The account's `Messages.json` URL.
    messages_url: Url,
    account_sid: String,
    auth_token: Secret,
    sender: SmsSender,
}

impl SmsClient {
    /// Checks `config` and builds the client.
    ///
    /// # Errors
    ///
    /// Returns an error naming the setting (`sms.base_url`, `sms.account_sid`,
    /// `sms.auth_token`, `sms.from`, `sms.messaging_service_sid` or one under `sms.http`)
    /// that is missing or invalid.
    pub fn new(config: SmsConfig) -> Result<SmsClient, ConfigError> {
        check_sid("sms.account_sid", &config.account_sid)?;
        if config.auth_token.expose().is_empty() {
            return Err(ConfigError::new(
                "sms.auth_token",
                "is empty; give the gateway account's auth token",
            ));
        }
        match &config.sender {
            SmsSender::Number(number) => {
                check_phone_number(number).map_err(|reason| ConfigError::new("sms.from", reason))?
            }
            SmsSender::MessagingService(sid) => check_sid("sms.messaging_service_sid", sid)?,
        }

        let base_url = http::check_url("sms.base_url", &config.base_url, config.http.allow_http)?;
        if base_url.query().is_some() || base_url.fragment().is_some() {
            return Err(ConfigError::new(
                "sms.base_url",
                "must not have a query or fragment; give the URL that /2010-04-01/Accounts/... follows",
            ));
        }
        let messages_url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            base_url.as_str().trim_end_matches('/'),
            config.account_sid
        );
        let messages_url = http::check_url("sms.base_url", &messages_url, config.http.allow_http)?;

        Ok(SmsClient {
            http: http::build_client("sms", &config.http)?,
            messages_url,
            account_sid: config.account_sid,
            auth_token: config.auth_token,
            sender: config.sender,
        })
    }

    /// Sends `body` to the telephone number `to`, in E.164 form, and classifies the
    /// gateway's reply.
    ///
    /// An invalid number or a body that is empty or longer than [`MAX_BODY_CHARS`] fails
    /// permanently without a request.
    pub async fn send(&self, to: &str, body: &str) -> SendOutcome {
        if let Err(reason) = check_phone_number(to) {
            return SendOutcome::local(
                DeliveryOutcome::PermanentFailure,
                format!("invalid recipient number: {reason}"),
            );
        }
        let length = body.chars().count();
        if length == 0 || length > MAX_BODY_CHARS {
            return SendOutcome::local(
                DeliveryOutcome::PermanentFailure,
                format!("the text has {length} characters; an SMS takes 1 to {MAX_BODY_CHARS}"),
            );
        }

        let sender = match &self.sender {
            SmsSender::Number(number) => ("From", number.as_str()),
            SmsSender::MessagingService(sid) => ("MessagingServiceSid", sid.as_str()),
        };
        let form = [("To", to), sender, ("Body", body)];
        let request = self
            .http
            .post(self.messages_url.clone())
            .basic_auth(&self.account_sid, Some(self.auth_token.expose()))
            .header(ACCEPT, "application/json")
            .form(&form);

        let reply = match http::send(request, &self.messages_url).await {
            Ok(reply) => reply,
            Err(outcome) => return outcome,
        };
        let (outcome, reason) = classify(reply.status, &reply.body);
        http::outcome_with_reason(&self.messages_url, &reply, outcome, false, reason)
    }
}

/// The JSON object that the gateway returns for a created message.
#[derive(Debug, Deserialize)]
struct CreatedMessage {
    sid: Option<String>,
    status: Option<String>,
}

/// The JSON object that the gateway returns for an error.
#[derive(Debug, Deserialize)]
struct GatewayError {
    code: Option<u32>,
    message: Option<String>,
}

/// Classifies the gateway's reply and words its reason.
fn classify(status: StatusCode, body: &[u8]) -> (DeliveryOutcome, String) {
    let status_line = http::status_line(status);
    if status.is_success() {
        let created: Option<CreatedMessage> = serde_json::from_slice(body).ok();
        let sid = created.as_ref().and_then(|message| message.sid.as_deref());
        let state = created
            .as_ref()
            .and_then(|message| message.status.as_deref());
        let reason = match (sid, state) {
            (Some(sid), Some(state)) => format!(
                "{status_line}: the gateway accepted message {} ({})",
                http::peer_text(sid),
                http::peer_text(state)
            ),
            (Some(sid), None) => format!(
                "{status_line}: the gateway accepted message {}",
                http::peer_text(sid)
            ),
            _ => format!("{status_line}: the gateway accepted the message"),
        };
        return (DeliveryOutcome::Delivered, reason);
    }

    let peer = gateway_error_text(body);
    let with_peer = if peer.is_empty() {
        status_line.clone()
    } else {
        format!("{status_line}: {peer}")
    };
    match status.as_u16() {
        401 | 403 => (
            DeliveryOutcome::TemporaryFailure,
            format!(
                "{with_peer}; the gateway rejected the account SID or auth token, which an administrator must correct in the SMS settings"
            ),
        ),
        300..=399 => (
            DeliveryOutcome::TemporaryFailure,
            format!(
                "{with_peer}; the gateway redirects, so set the gateway's base URL to the URL it redirects to"
            ),
        ),
        408 | 429 | 500..=599 => (DeliveryOutcome::TemporaryFailure, with_peer),
        400..=499 => (DeliveryOutcome::PermanentFailure, with_peer),
        // A status outside the classes HTTP defines is no reason to give up, so the
        // message is retried.
        _ => (DeliveryOutcome::TemporaryFailure, with_peer),
    }
}

/// Returns the gateway's error as `message (error code)`, or the body's text when it is
/// not the gateway's JSON error object.
fn gateway_error_text(body: &[u8]) -> String {
    let Ok(error) = serde_json::from_slice::<GatewayError>(body) else {
        return http::body_excerpt(body);
    };
    let message = error.message.as_deref().map(http::peer_text);
    match (message, error.code) {
        (Some(message), Some(code)) => format!("{message} (error {code})"),
        (Some(message), None) => message,
        (None, Some(code)) => format!("error {code}"),
        (None, None) => String::new(),
    }
}

/// Checks that `number` is in E.164 form: `+`, then 8 to 15 digits, the first not 0.
fn check_phone_number(number: &str) -> Result<(), String> {
    let digits = number.strip_prefix('+').unwrap_or_default();
    let valid = (8..=15).contains(&digits.len())
        && digits.bytes().all(|byte| byte.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{number:?} is not an E.164 telephone number; write + and 8 to 15 digits without spaces, such as +14155550100"
        ))
    }
}

/// Checks that `sid` can stand in a URL path and a form field as it is.
fn check_sid(setting: &str, sid: &str) -> Result<(), ConfigError> {
    if sid.is_empty() {
        return Err(ConfigError::new(
            setting,
            "is empty; give the SID that the gateway's console shows",
        ));
    }
    let valid = sid.chars().count() <= MAX_SID_CHARS
        && sid
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    if !valid {
        return Err(ConfigError::new(
            setting,
            format!(
                "{sid:?} is not a SID; give letters, digits, '-' and '_' only, at most {MAX_SID_CHARS}, such as AC followed by 32 hexadecimal digits"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SmsConfig {
        let mut config = SmsConfig::new(
            "AC00000000000000000000000000000001",
            Secret::new("token"),
            SmsSender::Number("+14155550100".to_owned()),
        );
        config.base_url = "http://127.0.0.1:9/gateway/".to_owned();
        config.http.allow_http = true;
        config
    }

    #[test]
    fn messages_url_follows_base_url() {
        let client = SmsClient::new(config()).unwrap();
        assert_eq!(
            client.messages_url.as_str(),
            "http://127.0.0.1:9/gateway/2010-04-01/Accounts/AC00000000000000000000000000000001/Messages.json"
        );
    }

    #[test]
    fn settings_are_checked_by_name() {
        type Change = fn(&mut SmsConfig);
        let cases: [(Change, &str); 6] = [
            (|c| c.account_sid = String::new(), "sms.account_sid"),
            (|c| c.account_sid = "AC/../x".to_owned(), "sms.account_sid"),
            (|c| c.auth_token = Secret::new(""), "sms.auth_token"),
            (
                |c| c.sender = SmsSender::Number("0151 1234".to_owned()),
                "sms.from",
            ),
            (
                |c| c.sender = SmsSender::MessagingService("MG 1".to_owned()),
                "sms.messaging_service_sid",
            ),
            (|c| c.http.allow_http = false, "sms.base_url"),
        ];
        for (change, setting) in cases {
            let mut config = config();
            change(&mut config);
            let error = SmsClient::new(config).unwrap_err();
            assert_eq!(error.setting, setting, "{error}");
        }
    }

    #[test]
    fn debug_hides_auth_token() {
        let config = config();
        let printed = format!("{config:?} {:?}", SmsClient::new(config.clone()).unwrap());
        assert!(!printed.contains("token\""), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }

    #[test]
    fn phone_numbers_must_be_e164() {
        for valid in ["+14155550100", "+4915112345678", "+35312345"] {
            assert!(check_phone_number(valid).is_ok(), "{valid}");
        }
        for invalid in [
            "4155550100",
            "+1415555",
            "+0155501000",
            "+1 415 555 0100",
            "+1234567890123456",
            "+",
        ] {
            assert!(check_phone_number(invalid).is_err(), "{invalid}");
        }
    }

    #[test]
    fn replies_are_classified() {
        let twilio_error = |code: u32, status: u16| {
            format!(
                r#"{{"code": {code}, "message": "gateway says no", "more_info": "https://example.test/{code}", "status": {status}}}"#
            )
        };
        let cases = [
            (
                201,
                r#"{"sid": "SM1", "status": "queued"}"#.to_owned(),
                DeliveryOutcome::Delivered,
            ),
            (
                400,
                twilio_error(21211, 400),
                DeliveryOutcome::PermanentFailure,
            ),
            (
                400,
                twilio_error(21610, 400),
                DeliveryOutcome::PermanentFailure,
            ),
            (
                404,
                twilio_error(20404, 404),
                DeliveryOutcome::PermanentFailure,
            ),
            (
                401,
                twilio_error(20003, 401),
                DeliveryOutcome::TemporaryFailure,
            ),
            (403, String::new(), DeliveryOutcome::TemporaryFailure),
            (408, String::new(), DeliveryOutcome::TemporaryFailure),
            (
                429,
                twilio_error(20429, 429),
                DeliveryOutcome::TemporaryFailure,
            ),
            (
                503,
                "<html>down</html>".to_owned(),
                DeliveryOutcome::TemporaryFailure,
            ),
            (301, String::new(), DeliveryOutcome::TemporaryFailure),
        ];
        for (status, body, expected) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            let (outcome, reason) = classify(status, body.as_bytes());
            assert_eq!(outcome, expected, "{status}: {reason}");
            assert!(
                reason.starts_with(&format!("HTTP {}", status.as_u16())),
                "{reason}"
            );
        }
    }

    #[test]
    fn reason_quotes_gateway_error() {
        let body = br#"{"code": 21211, "message": "The 'To' number +15005550001 is not a valid phone number.", "status": 400}"#;
        let (_, reason) = classify(StatusCode::BAD_REQUEST, body);
        assert_eq!(
            reason,
            "HTTP 400 Bad Request: The 'To' number +15005550001 is not a valid phone number. (error 21211)"
        );
        let (_, reason) = classify(
            StatusCode::UNAUTHORIZED,
            br#"{"code": 20003, "message": "Authenticate"}"#,
        );
        assert!(reason.contains("Authenticate (error 20003)"), "{reason}");
        assert!(reason.contains("administrator"), "{reason}");
    }
}
