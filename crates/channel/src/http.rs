//! The parts that the HTTP channels share: the client with its timeouts and trusted CAs,
//! and the check of configured URLs. This module also reads the facts of a reply (status,
//! `Retry-After`, the start of the body), which each channel classifies by its own peer's
//! rules into a [`SendOutcome`].
//!
//! TLS is rustls on ring, trusting the operating system's CA store (read by
//! `rustls-native-certs` when a client is built) plus the PEM files in
//! [`HttpOptions::ca_certificates`].

use std::error::Error as _;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use convene_domain::{DeliveryAttempt, DeliveryOutcome};
use jiff::Timestamp;
use reqwest::header::RETRY_AFTER;
use reqwest::{RequestBuilder, Response, StatusCode, Url};

use crate::ConfigError;

const USER_AGENT: &str = concat!("Convene/", env!("CARGO_PKG_VERSION"));

/// Maximum number of body bytes read from a reply. The peers here reply with short JSON
/// error objects, and the rest of a longer body is dropped unread.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// Maximum length of the peer's error text kept in a reason, in characters.
const MAX_PEER_TEXT_CHARS: usize = 200;

/// Settings of the HTTP client that a channel sends with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Establishing the connection, the TLS handshake included. Default: 10 s.
    pub connect_timeout: Duration,
    /// The whole request, from connecting to the end of the reply. Default: 30 s, the upper
    /// end of the 15 to 30 s that the Standard Webhooks specification recommends.
    pub request_timeout: Duration,
    /// PEM files of CA certificates to trust in addition to the system's store.
    pub ca_certificates: Vec<PathBuf>,
    /// Whether `http://` URLs are accepted. Off by default, because plain HTTP exposes
    /// credentials and message content to the network; meant for peers on loopback.
    pub allow_http: bool,
}

impl Default for HttpOptions {
    fn default() -> HttpOptions {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            ca_certificates: Vec::new(),
            allow_http: false,
        }
    }
}

/// The result of one attempt to send one message over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendOutcome {
    /// The classified attempt, as the store records it. `reply_code` is the HTTP status,
    /// `reply_text` a short reason that quotes the peer's own error text, `destination` the
    /// host and port (never the path, which may carry a token) and `tls` whether the request
    /// used HTTPS. `tls_version` and `tls_cipher` stay empty, because the HTTP client does
    /// not report them.
    pub attempt: DeliveryAttempt,
    /// The wait that the peer asked for in `Retry-After`, on a temporary failure.
    pub retry_after: Option<Duration>,
    /// Whether the peer replied that the endpoint is gone for good. For Web Push, the
    /// subscription expired or was removed (404 or 410), so the caller should delete it.
    /// For a webhook, the receiver replied 410, and the Standard Webhooks specification
    /// then recommends disabling the endpoint. SMS never sets it.
    pub endpoint_gone: bool,
}

impl SendOutcome {
    /// Builds the outcome of an attempt that failed before any request was sent.
    pub(crate) fn local(outcome: DeliveryOutcome, reason: impl Into<String>) -> SendOutcome {
        SendOutcome {
            attempt: DeliveryAttempt::local(outcome, reason),
            retry_after: None,
            endpoint_gone: false,
        }
    }
}

/// Builds the HTTP client for `options`, whose settings are named under `prefix` in errors.
pub(crate) fn build_client(
    prefix: &str,
    options: &HttpOptions,
) -> Result<reqwest::Client, ConfigError> {
    for (name, value) in [
        ("connect_timeout", options.connect_timeout),
        ("request_timeout", options.request_timeout),
    ] {
        if value.is_zero() {
            return Err(ConfigError::new(
                format!("{prefix}.http.{name}"),
                "must be longer than zero, such as 10s",
            ));
        }
    }

    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        // A redirect is reported, not followed: the configured URL should be corrected
        // instead, and a followed POST may lose its body or carry credentials elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        // NOTE: HTTP_PROXY and HTTPS_PROXY are ignored, so requests always go straight to
        // the configured host; a `proxy` setting would be needed to send through one.
        .no_proxy()
        .user_agent(USER_AGENT);
    for path in &options.ca_certificates {
        let setting = format!("{prefix}.http.ca_certificates");
        let pem = fs::read(path).map_err(|error| {
            ConfigError::new(
                &setting,
                format!("reading {} failed: {error}", path.display()),
            )
        })?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|error| {
            ConfigError::new(
                &setting,
                format!("{} is not a PEM certificate file: {error}", path.display()),
            )
        })?;
        if certificates.is_empty() {
            return Err(ConfigError::new(
                setting,
                format!(
                    "{} contains no certificate; give PEM files with -----BEGIN CERTIFICATE----- sections",
                    path.display()
                ),
            ));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|error| {
        ConfigError::new(
            format!("{prefix}.http"),
            format!("the HTTP client cannot be built: {}", error_chain(&error)),
        )
    })
}

/// The advice that ends the error for an `http` URL that is not allowed. A caller that
/// names its own settings may add the name of the one that sets `allow_http`.
pub const ALLOW_HTTP_ADVICE: &str = "or allow plain HTTP, which is possible only for a peer on this machine (a loopback address or localhost)";

/// Returns whether `url` names this machine: a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    // An IPv6 host comes in brackets, such as `[::1]`.
    let Some(host) = url.host_str() else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// Checks that `text` is an absolute `https` URL with a host, or an `http` URL of a peer on
/// this machine when `allow_http` is set. A user name or password is rejected, because the URL is shown in places where a
/// credential must not appear.
pub(crate) fn check_url(setting: &str, text: &str, allow_http: bool) -> Result<Url, ConfigError> {
    let url = Url::parse(text).map_err(|error| {
        ConfigError::new(
            setting,
            format!("{text:?} is not a URL ({error}); give one such as https://host.example/path"),
        )
    })?;
    check_parsed_url(setting, &url, allow_http)?;
    Ok(url)
}

/// Checks the scheme, host and credentials of a parsed URL, as [`check_url`] describes.
pub(crate) fn check_parsed_url(
    setting: &str,
    url: &Url,
    allow_http: bool,
) -> Result<(), ConfigError> {
    match url.scheme() {
        "https" => {}
        "http" if allow_http && is_loopback(url) => {}
        "http" => {
            return Err(ConfigError::new(
                setting,
                format!(
                    "{} uses http, which is not allowed; use https, {ALLOW_HTTP_ADVICE}",
                    destination(url)
                ),
            ));
        }
        other => {
            return Err(ConfigError::new(
                setting,
                format!("the scheme {other:?} is not supported; use https"),
            ));
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::new(setting, "the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::new(
            setting,
            "the URL contains a user name or password; remove them, because credentials are configured separately",
        ));
    }
    Ok(())
}

/// Returns the host and, when the URL gives one, the port: what an attempt records as its
/// destination. The path is left out because push endpoints and webhook URLs often carry
/// a token in it.
pub(crate) fn destination(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// The facts of a reply that the channels classify.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) retry_after: Option<Duration>,
    /// The first [`MAX_BODY_BYTES`] of the body, or fewer when reading it failed.
    pub(crate) body: Vec<u8>,
}

/// Sends `request` to `url` and reads the reply. A request that got no reply (no
/// connection, a timeout, a broken TLS handshake) becomes a temporary failure, because
/// each of them may pass.
pub(crate) async fn send(request: RequestBuilder, url: &Url) -> Result<Reply, SendOutcome> {
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            let reason = if error.is_timeout() {
                format!(
                    "the request to {} timed out: {}",
                    destination(url),
                    error_chain(&error)
                )
            } else if error.is_connect() {
                format!(
                    "connecting to {} failed: {}",
                    destination(url),
                    error_chain(&error)
                )
            } else {
                format!(
                    "the request to {} failed: {}",
                    destination(url),
                    error_chain(&error)
                )
            };
            tracing::debug!(destination = %destination(url), %reason, "an HTTP request got no reply");
            return Err(SendOutcome {
                attempt: attempt(url, DeliveryOutcome::TemporaryFailure, None, reason),
                retry_after: None,
                endpoint_gone: false,
            });
        }
    };
    Ok(read_reply(response).await)
}

async fn read_reply(mut response: Response) -> Reply {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| parse_retry_after(value, Timestamp::now()));

    // The status decides the outcome; a body that breaks off only shortens the reason.
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_BODY_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_BODY_BYTES {
            break;
        }
    }
    Reply {
        status,
        retry_after,
        body,
    }
}

/// A channel's reading of a reply status.
pub(crate) struct Verdict {
    pub(crate) outcome: DeliveryOutcome,
    /// Whether the endpoint is gone for good, as [`SendOutcome::endpoint_gone`] describes.
    pub(crate) endpoint_gone: bool,
    /// Advice for the reason, for a status that does not explain itself.
    pub(crate) advice: Option<&'static str>,
}

/// Builds the outcome of a reply to a request to `url` from the channel's `verdict`. The
/// reason is the status line, the peer's text and the advice. The `Retry-After` wait is
/// kept for temporary failures only, because nothing is retried after the others.
pub(crate) fn outcome(url: &Url, reply: &Reply, verdict: Verdict) -> SendOutcome {
    let mut reason = status_line(reply.status);
    let peer = body_excerpt(&reply.body);
    if !peer.is_empty() {
        reason = format!("{reason}: {peer}");
    }
    if let Some(advice) = verdict.advice {
        reason = format!("{reason}; {advice}");
    }
    outcome_with_reason(url, reply, verdict.outcome, verdict.endpoint_gone, reason)
}

/// Builds the outcome of a reply with a reason that the channel worded itself.
pub(crate) fn outcome_with_reason(
    url: &Url,
    reply: &Reply,
    outcome: DeliveryOutcome,
    endpoint_gone: bool,
    reason: String,
) -> SendOutcome {
    let retry_after = match outcome {
        DeliveryOutcome::TemporaryFailure => reply.retry_after,
        _ => None,
    };
    tracing::debug!(
        destination = %destination(url),
        status = reply.status.as_u16(),
        outcome = outcome.as_str(),
        "an HTTP request got a reply"
    );
    SendOutcome {
        attempt: attempt(url, outcome, Some(reply.status), reason),
        retry_after,
        endpoint_gone,
    }
}

/// Builds the attempt record of a request to `url`.
pub(crate) fn attempt(
    url: &Url,
    outcome: DeliveryOutcome,
    status: Option<StatusCode>,
    reason: String,
) -> DeliveryAttempt {
    DeliveryAttempt {
        at: Timestamp::now(),
        outcome,
        destination: Some(destination(url)),
        tls: url.scheme() == "https",
        tls_version: None,
        tls_cipher: None,
        reply_code: status.map(|status| status.as_u16()),
        reply_text: reason,
    }
}

/// Returns the status as `HTTP 503 Service Unavailable`, or with the number alone for a
/// status that has no standard reason phrase.
pub(crate) fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(phrase) => format!("HTTP {} {phrase}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// Returns the peer's text as one line of at most [`MAX_PEER_TEXT_CHARS`] characters, with
/// control characters and runs of white space turned into single spaces, so that a reply
/// cannot forge lines in a log or a failure notice.
pub(crate) fn peer_text(text: &str) -> String {
    let mut cleaned = String::new();
    let mut count = 0;
    for word in text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|word| !word.is_empty())
    {
        if !cleaned.is_empty() {
            cleaned.push(' ');
            count += 1;
        }
        for c in word.chars() {
            if count == MAX_PEER_TEXT_CHARS {
                cleaned.push('…');
                return cleaned;
            }
            cleaned.push(c);
            count += 1;
        }
    }
    cleaned
}

/// Returns the body's text on one line, cleaned by [`peer_text`], or nothing for an empty
/// or binary body.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    if text.contains('\u{FFFD}') {
        return String::new();
    }
    peer_text(&text)
}

/// Reads `Retry-After` (RFC 9110, section 10.2.3): a number of seconds or an HTTP date,
/// counted from `now`. A date in the past means no wait.
pub(crate) fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?.timestamp();
    let wait = now.duration_until(at);
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

/// Returns the messages of the sources of `error`, joined by colons. The top-level message
/// is left out because it names the URL, which may carry a token.
fn error_chain(error: &reqwest::Error) -> String {
    let mut messages = Vec::new();
    let mut source = error.source();
    while let Some(inner) = source {
        messages.push(inner.to_string());
        source = inner.source();
    }
    if messages.is_empty() {
        return error_kind(error).to_owned();
    }
    messages.join(": ")
}

/// Describes an error that has no source by its kind.
fn error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_body() {
        "the request or reply body failed"
    } else if error.is_decode() {
        "the reply could not be decoded"
    } else if error.is_builder() {
        "the request could not be built"
    } else {
        "the request failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now: Timestamp = "2026-03-03T12:00:00Z".parse().unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Tue, 03 Mar 2026 12:01:30 GMT", now),
            Some(Duration::from_secs(90))
        );
        assert_eq!(
            parse_retry_after("Tue, 03 Mar 2026 11:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }

    #[test]
    fn peer_text_is_one_short_line() {
        assert_eq!(
            peer_text("bad\r\nInjected: header\tand  more"),
            "bad Injected: header and more"
        );
        let long = "x".repeat(500);
        let cut = peer_text(&long);
        assert_eq!(cut.chars().count(), MAX_PEER_TEXT_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(peer_text("  "), "");
    }

    #[test]
    fn url_check_names_the_problem() {
        let error = check_url("webhook.url", "http://hooks.example.test/in", false).unwrap_err();
        assert_eq!(error.setting, "webhook.url");
        assert!(error.reason.ends_with(ALLOW_HTTP_ADVICE), "{error}");
        assert!(check_url("webhook.url", "http://127.0.0.1:8080/in", true).is_ok());
        assert!(check_url("webhook.url", "http://[::1]:8080/in", true).is_ok());
        assert!(check_url("webhook.url", "http://LocalHost:8080/in", true).is_ok());
        let error = check_url("webhook.url", "http://hooks.example.test/in", true).unwrap_err();
        assert!(error.reason.contains("uses http"), "{error}");
        let error = check_url("webhook.url", "http://10.0.0.1/in", true).unwrap_err();
        assert!(error.reason.contains("uses http"), "{error}");

        let error = check_url("webhook.url", "ftp://hooks.example.test/", true).unwrap_err();
        assert!(error.reason.contains("\"ftp\""), "{error}");

        let error =
            check_url("webhook.url", "https://user:pw@hooks.example.test/", false).unwrap_err();
        assert!(error.reason.contains("password"), "{error}");
        assert!(!error.reason.contains("pw@"), "{error}");

        let error = check_url("webhook.url", "hooks.example.test/in", false).unwrap_err();
        assert!(error.reason.contains("not a URL"), "{error}");
    }

    #[test]
    fn destination_keeps_host_and_port_only() {
        let url = Url::parse("https://push.example.test:8443/wpush/v2/secret-token").unwrap();
        assert_eq!(destination(&url), "push.example.test:8443");
        let url = Url::parse("https://[::1]/x").unwrap();
        assert_eq!(destination(&url), "[::1]");
    }

    #[test]
    fn zero_timeout_is_rejected() {
        let options = HttpOptions {
            request_timeout: Duration::ZERO,
            ..HttpOptions::default()
        };
        let error = build_client("sms", &options).unwrap_err();
        assert_eq!(error.setting, "sms.http.request_timeout");
    }
}
