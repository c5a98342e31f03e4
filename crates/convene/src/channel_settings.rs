//! Settings of the reminder channels besides e-mail: the SMS gateway, Web Push and the
//! webhook. A channel is on when its main setting is given; reminders planned for a
//! channel that is off fail with a reason that names the missing setting.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use convene_channel::http::HttpOptions;
use convene_channel::push::{PushClient, PushConfig};
use convene_channel::sms::{SmsClient, SmsConfig, SmsSender};
use convene_channel::webhook::{WebhookClient, WebhookConfig};
use convene_channel::{Channel, PushChannel, Secret, SmsChannel, WebhookChannel};
use convene_domain::ChannelKind;
use convene_store::Store;

use crate::config::SettingsError;

/// Settings of the SMS, Web Push and webhook channels.
#[derive(Debug, Clone, Args)]
pub struct ChannelSettings {
    /// Account SID at the SMS gateway; turns SMS reminders on. The gateway takes the
    /// request form of Twilio's Messages API.
    #[arg(long, env = "CONVENE_SMS_ACCOUNT_SID")]
    pub sms_account_sid: Option<String>,

    /// Auth token of the SMS account (HTTP Basic password).
    #[arg(long, env = "CONVENE_SMS_AUTH_TOKEN", hide_env_values = true)]
    pub sms_auth_token: Option<String>,

    /// File whose first line is the auth token of the SMS account.
    #[arg(
        long,
        env = "CONVENE_SMS_AUTH_TOKEN_FILE",
        conflicts_with = "sms_auth_token"
    )]
    pub sms_auth_token_file: Option<PathBuf>,

    /// Sending number in E.164 form, such as +4930123456.
    #[arg(long, env = "CONVENE_SMS_FROM")]
    pub sms_from: Option<String>,

    /// Messaging service SID to send from instead of a number (Twilio's MG...).
    #[arg(
        long,
        env = "CONVENE_SMS_MESSAGING_SERVICE",
        conflicts_with = "sms_from"
    )]
    pub sms_messaging_service: Option<String>,

    /// Base URL of the SMS gateway, before `/2010-04-01/Accounts/...`.
    #[arg(long, env = "CONVENE_SMS_URL", default_value = SmsConfig::DEFAULT_BASE_URL)]
    pub sms_url: String,

    /// PEM file of the VAPID private key (P-256, PKCS#8), made by `convene push keygen`;
    /// turns Web Push reminders on.
    #[arg(long, env = "CONVENE_PUSH_VAPID_KEY_FILE")]
    pub push_vapid_key_file: Option<PathBuf>,

    /// Contact that push services may write to about this server: a `mailto:` address or
    /// an `https:` URL. Default: `mailto:` and the sender address of reminders.
    #[arg(long, env = "CONVENE_PUSH_SUBJECT")]
    pub push_subject: Option<String>,

    /// URL the webhook reminders are POSTed to; turns webhook reminders on.
    #[arg(long, env = "CONVENE_WEBHOOK_URL")]
    pub webhook_url: Option<String>,

    /// Signing secret of the webhook, `whsec_` and base64, as `convene webhook secret`
    /// prints one.
    #[arg(long, env = "CONVENE_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,

    /// File whose first line is the signing secret of the webhook.
    #[arg(
        long,
        env = "CONVENE_WEBHOOK_SECRET_FILE",
        conflicts_with = "webhook_secret"
    )]
    pub webhook_secret_file: Option<PathBuf>,

    /// Let the SMS gateway, the webhook and push endpoints use plain `http://` URLs, for
    /// peers on the same machine. Off by default, because plain HTTP exposes credentials
    /// and reminders to the network.
    #[arg(long, env = "CONVENE_CHANNEL_ALLOW_HTTP", default_value_t = false)]
    pub channel_allow_http: bool,
}

/// The channels the settings turn on, and the VAPID public key when Web Push is on.
pub struct Channels {
    pub channels: Vec<(ChannelKind, Arc<dyn Channel>)>,
    pub push_public_key: Option<String>,
}

impl ChannelSettings {
    /// Builds the channels that the settings turn on. `sender` is the sender address of
    /// reminders, the default contact for push services.
    pub fn build(&self, store: Arc<dyn Store>, sender: &str) -> Result<Channels, SettingsError> {
        self.check_main_settings()?;
        let http = HttpOptions {
            allow_http: self.channel_allow_http,
            ..HttpOptions::default()
        };
        let mut channels: Vec<(ChannelKind, Arc<dyn Channel>)> = Vec::new();
        let mut push_public_key = None;

        if let Some(account_sid) = &self.sms_account_sid {
            let token = secret(
                self.sms_auth_token.as_deref(),
                self.sms_auth_token_file.as_ref(),
                "--sms-auth-token / CONVENE_SMS_AUTH_TOKEN or --sms-auth-token-file / CONVENE_SMS_AUTH_TOKEN_FILE",
            )?;
            let sender = match (&self.sms_from, &self.sms_messaging_service) {
                (Some(number), _) => SmsSender::Number(number.clone()),
                (None, Some(service)) => SmsSender::MessagingService(service.clone()),
                (None, None) => {
                    return Err(SettingsError::new(
                        "SMS reminders need a sender; set --sms-from / CONVENE_SMS_FROM to a number in E.164 form, or --sms-messaging-service / CONVENE_SMS_MESSAGING_SERVICE",
                    ));
                }
            };
            let config = SmsConfig {
                base_url: self.sms_url.clone(),
                account_sid: account_sid.clone(),
                auth_token: token,
                sender,
                http: http.clone(),
            };
            let client = SmsClient::new(config).map_err(|err| setting_error("SMS", &err))?;
            channels.push((ChannelKind::Sms, Arc::new(SmsChannel::new(client))));
        }

        if let Some(key_file) = &self.push_vapid_key_file {
            let subject = self
                .push_subject
                .clone()
                .unwrap_or_else(|| format!("mailto:{sender}"));
            let config = PushConfig {
                vapid_key_file: key_file.clone(),
                subject,
                http: http.clone(),
            };
            let client = PushClient::new(config).map_err(|err| setting_error("Web Push", &err))?;
            let channel = PushChannel::new(client, store);
            push_public_key = Some(channel.public_key().to_owned());
            channels.push((ChannelKind::Push, Arc::new(channel)));
        }

        if let Some(url) = &self.webhook_url {
            let secret = secret(
                self.webhook_secret.as_deref(),
                self.webhook_secret_file.as_ref(),
                "--webhook-secret / CONVENE_WEBHOOK_SECRET or --webhook-secret-file / CONVENE_WEBHOOK_SECRET_FILE",
            )?;
            let config = WebhookConfig {
                url: url.clone(),
                secret,
                http,
            };
            let client =
                WebhookClient::new(config).map_err(|err| setting_error("webhook", &err))?;
            channels.push((ChannelKind::Webhook, Arc::new(WebhookChannel::new(client))));
        }
        Ok(Channels {
            channels,
            push_public_key,
        })
    }
}

impl ChannelSettings {
    /// Rejects a channel's secondary setting given without the main setting that turns the
    /// channel on, because the channel would be off while the operator believes it is on.
    pub fn check_main_settings(&self) -> Result<(), SettingsError> {
        let sms = "--sms-account-sid / CONVENE_SMS_ACCOUNT_SID";
        let push = "--push-vapid-key-file / CONVENE_PUSH_VAPID_KEY_FILE";
        let webhook = "--webhook-url / CONVENE_WEBHOOK_URL";
        let secondary = [
            (
                self.sms_account_sid.is_none(),
                sms,
                self.sms_auth_token.is_some(),
                "--sms-auth-token / CONVENE_SMS_AUTH_TOKEN",
            ),
            (
                self.sms_account_sid.is_none(),
                sms,
                self.sms_auth_token_file.is_some(),
                "--sms-auth-token-file / CONVENE_SMS_AUTH_TOKEN_FILE",
            ),
            (
                self.sms_account_sid.is_none(),
                sms,
                self.sms_from.is_some(),
                "--sms-from / CONVENE_SMS_FROM",
            ),
            (
                self.sms_account_sid.is_none(),
                sms,
                self.sms_messaging_service.is_some(),
                "--sms-messaging-service / CONVENE_SMS_MESSAGING_SERVICE",
            ),
            (
                self.sms_account_sid.is_none(),
                sms,
                self.sms_url != SmsConfig::DEFAULT_BASE_URL,
                "--sms-url / CONVENE_SMS_URL",
            ),
            (
                self.push_vapid_key_file.is_none(),
                push,
                self.push_subject.is_some(),
                "--push-subject / CONVENE_PUSH_SUBJECT",
            ),
            (
                self.webhook_url.is_none(),
                webhook,
                self.webhook_secret.is_some(),
                "--webhook-secret / CONVENE_WEBHOOK_SECRET",
            ),
            (
                self.webhook_url.is_none(),
                webhook,
                self.webhook_secret_file.is_some(),
                "--webhook-secret-file / CONVENE_WEBHOOK_SECRET_FILE",
            ),
        ];
        for (main_missing, main, given, name) in secondary {
            if main_missing && given {
                return Err(SettingsError::new(format!(
                    "{name} is set but {main} is not, so that channel would stay off; set {main} too, or remove {name}"
                )));
            }
        }
        Ok(())
    }
}

/// Reads a secret from its setting or from the first line of its file.
fn secret(
    value: Option<&str>,
    file: Option<&PathBuf>,
    names: &str,
) -> Result<Secret, SettingsError> {
    let text = match (value, file) {
        (Some(value), _) => value.trim().to_owned(),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|err| {
                SettingsError::new(format!(
                    "reading the secret file {} failed: {err}; set {names} to a readable file",
                    path.display()
                ))
            })?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_owned(),
        (None, None) => {
            return Err(SettingsError::new(format!(
                "a secret is missing; set {names}"
            )));
        }
    };
    if text.is_empty() {
        return Err(SettingsError::new(format!(
            "the secret is empty; set {names}"
        )));
    }
    Ok(Secret::new(text))
}

/// Names the environment variable of the setting at fault, such as
/// `CONVENE_SMS_ACCOUNT_SID` for `sms.account_sid`.
fn setting_error(channel: &str, err: &convene_channel::ConfigError) -> SettingsError {
    let variable = match err.setting.as_str() {
        "sms.base_url" => "CONVENE_SMS_URL".to_owned(),
        setting if setting.contains(".http.") => "CONVENE_CHANNEL_ALLOW_HTTP".to_owned(),
        setting => format!("CONVENE_{}", setting.replace('.', "_").to_ascii_uppercase()),
    };
    let mut message = format!(
        "the {channel} settings are invalid: {}; check {variable}",
        err.reason
    );
    if err
        .reason
        .ends_with(convene_channel::http::ALLOW_HTTP_ADVICE)
    {
        message.push_str(" (plain HTTP: --channel-allow-http / CONVENE_CHANNEL_ALLOW_HTTP)");
    }
    SettingsError::new(message)
}
