//! `convene serve`: the HTTP API, the Notifier and the mail queue in one
//! process.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use convene_channel::EmailChannel;
use convene_mail::{Address, Mailbox, Mailer};
use convene_notifier::{Notifier, NotifierConfig};
use convene_outbox::{Outbox, OutboxConfig};
use convene_scheduler::Scheduler;
use tokio::sync::watch;

use crate::config::{ServeSettings, SettingsError};
use crate::http;
use crate::invitations::EmailInvitations;
use crate::mail_settings::{mailer_error, route, warn_if_unaligned};

/// Maximum delay between two retries, unless the first delay is longer.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60 * 60);

pub async fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    let mail = &settings.mail;
    let helo_name = mail.transport.helo_name();
    let mailer_config = mail.mailer_config()?;
    let route = route(&mailer_config);
    let mailer = Mailer::new(mailer_config).map_err(mailer_error)?;
    let signer = mail.dkim.signer()?;
    let mail_from = settings
        .mail_from
        .clone()
        .unwrap_or_else(|| format!("convene@{helo_name}"));
    if settings.mail_from_name.chars().any(char::is_control) {
        return Err(SettingsError::new(format!(
            "the sender name {:?} contains a control character such as a line break; set --mail-from-name / CONVENE_MAIL_FROM_NAME to plain text",
            settings.mail_from_name
        ))
        .into());
    }
    let from_address = Address::parse(&mail_from).map_err(|error| {
        SettingsError::new(format!("{error}; set --mail-from / CONVENE_MAIL_FROM to an address such as reminders@example.org"))
    })?;
    // Convene's events are named in iCalendar as `<id>@<domain of the sender address>`.
    let uid_domain = from_address.domain().to_owned();
    let dkim_domain = signer.as_ref().map(|signer| signer.config().domain.clone());
    let selector = signer
        .as_ref()
        .map(|signer| signer.config().selector.clone());
    if let Some(signer) = &signer {
        warn_if_unaligned(&from_address, signer);
    }
    let admin_token = settings.api.admin_token()?;
    if admin_token.is_none() && settings.database_url == "memory:" {
        return Err(SettingsError::new(
            "a memory: database without an administrator token could never have users, because `convene user create` cannot reach it; set --admin-token-file / CONVENE_ADMIN_TOKEN_FILE or --admin-token / CONVENE_ADMIN_TOKEN",
        )
        .into());
    }
    if admin_token.is_none() {
        tracing::warn!(
            "no administrator token is set (CONVENE_ADMIN_TOKEN or CONVENE_ADMIN_TOKEN_FILE); \
             users can be created only with `convene user create`"
        );
    }
    // Settings are checked before the database file is created.
    settings.channels.check_main_settings()?;
    let store = convene_store::open(&settings.database_url)
        .await
        .map_err(|error| database_error(&settings.database_url, error))?;

    if settings.notifier_lease < Duration::from_secs(14 * 60) {
        tracing::warn!(
            lease = ?settings.notifier_lease,
            "CONVENE_NOTIFIER_LEASE is under 14 minutes: sends are cut off at three quarters of it, and a slow SMTP transaction may take 10 minutes, so a message cut off after its final dot is sent again"
        );
    }
    let worker_id = worker_id();
    let metrics = Arc::new(http::HttpMetrics::default());
    let outbox = Outbox::new(
        store.clone(),
        mailer,
        OutboxConfig {
            poll_interval: settings.notifier_interval,
            batch_size: settings.notifier_batch as usize,
            lease: settings.notifier_lease,
            retry_initial: settings.retry_initial,
            retry_max: settings.retry_initial.max(MAX_RETRY_DELAY),
            expiry: settings.mail_expiry,
            signer: signer.map(Arc::new),
            observer: Some(metrics.clone()),
            worker_id: worker_id.clone(),
        },
    );
    let channel = Arc::new(EmailChannel::new(
        outbox.clone(),
        Mailbox::new(settings.mail_from_name.clone(), from_address.clone()),
    ));
    let channels = settings
        .channels
        .build(store.clone(), from_address.as_str())?;
    let mut notifier = Notifier::new(
        store.clone(),
        channel,
        NotifierConfig {
            poll_interval: settings.notifier_interval,
            batch_size: settings.notifier_batch as usize,
            lease: settings.notifier_lease,
            retry_initial: settings.retry_initial,
            retry_max: settings.retry_initial.max(MAX_RETRY_DELAY),
            worker_id,
        },
    );
    let enabled_channels: Vec<&str> = std::iter::once("email")
        .chain(channels.channels.iter().map(|(kind, _)| kind.as_str()))
        .collect();
    for (kind, channel) in channels.channels {
        notifier = notifier.with_channel(kind, channel);
    }

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {} failed", settings.listen))?;
    let local = listener.local_addr()?;
    tracing::info!(
        listen = %local,
        database = %redact_url(&settings.database_url),
        dns_server = ?mail.dns.dns_server,
        route = %route,
        tls_policy = ?mail.transport.tls_policy,
        helo_name = %helo_name,
        mail_from = %mail_from,
        dkim_domain = ?dkim_domain,
        dkim_selector = ?selector,
        admin_token = admin_token.is_some(),
        rate_limit_per_minute = settings.api.rate_limit,
        channels = ?enabled_channels,
        "convene started"
    );

    let (stop_sender, stop) = watch::channel(false);
    let notifier_task = {
        let mut stop = stop.clone();
        tokio::spawn(async move {
            notifier
                .run(async move { while stop.changed().await.is_ok() && !*stop.borrow() {} })
                .await
        })
    };

    let outbox_task = {
        let mut stop = stop.clone();
        let outbox = outbox.clone();
        tokio::spawn(async move {
            outbox
                .run(async move { while stop.changed().await.is_ok() && !*stop.borrow() {} })
                .await
        })
    };

    let invitations = Arc::new(EmailInvitations::new(
        outbox.clone(),
        Mailbox::new(settings.mail_from_name.clone(), from_address.clone()),
        uid_domain.clone(),
    ));
    let mut scheduler = Scheduler::new(store.clone()).with_invitations(invitations);
    if let Some(token) = &admin_token {
        scheduler = scheduler.with_admin_token(token);
    }
    let app = http::router(http::Services {
        scheduler,
        outbox: outbox.clone(),
        store: store.clone(),
        metrics,
        uid_domain: uid_domain.clone(),
        rate_limiter: Arc::new(http::CallerLimiter::new(settings.api.rate_limit())),
        push_public_key: channels.push_public_key,
    });
    let mut http_stop = stop.clone();
    let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, service).with_graceful_shutdown(async move {
        while http_stop.changed().await.is_ok() && !*http_stop.borrow() {}
    });
    let server_task = tokio::spawn(async move { server.await });

    shutdown_signal().await;
    tracing::info!("shutting down");
    let _ = stop_sender.send(true);
    server_task.await?.context("the HTTP server failed")?;
    notifier_task.await?;
    outbox_task.await?;
    outbox.close().await;
    store.close().await;
    tracing::info!("convene stopped");
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler failed");
    tokio::select! {
        _ = interrupt => {}
        _ = terminate.recv() => {}
    }
}

/// Returns the name under which this process claims due reminders and queued mail:
/// `HOST:PID:RANDOM`. Processes on several machines or in containers share one
/// PostgreSQL database and may have the same process id (often 1 in a container), so
/// the host name and a random part keep their claims apart.
fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{host}:{}:{}", std::process::id(), &random[..8])
}

/// Explains why the database could not be opened. A URL that names no
/// supported store is a setting error, so start-up exits with status 2.
/// Other failures, such as a missing directory, name the setting too.
pub(crate) fn database_error(url: &str, error: convene_store::StoreError) -> anyhow::Error {
    let shown = redact_url(url);
    match error {
        convene_store::StoreError::UnsupportedUrl { .. } => SettingsError::new(format!(
            "unsupported database URL {shown:?}; set --database-url / CONVENE_DATABASE_URL to sqlite:PATH (a file, created when missing), postgres://USER@HOST/DATABASE (an existing PostgreSQL database) or memory:"
        ))
        .into(),
        other => anyhow::anyhow!(
            "opening the database {shown:?} failed: {other}; check --database-url / CONVENE_DATABASE_URL, that a SQLite file's directory exists and is writable, and that a PostgreSQL server is reachable and has the database"
        ),
    }
}

/// Removes a password from a database URL before it is logged.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => {
                    format!("{}://{user}:***@{}", &url[..scheme_end], &url[at + 1..])
                }
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_ids_differ_per_process_start() {
        let first = worker_id();
        let second = worker_id();
        assert_ne!(first, second);
        assert!(
            first.contains(&format!(":{}:", std::process::id())),
            "{first}"
        );
    }

    #[test]
    fn redact_url_hides_password() {
        assert_eq!(
            redact_url("postgres://app:secret@db:5432/convene"),
            "postgres://app:***@db:5432/convene"
        );
        assert_eq!(redact_url("sqlite:convene.db"), "sqlite:convene.db");
        assert_eq!(
            redact_url("postgres://app@db/convene"),
            "postgres://app@db/convene"
        );
    }
}
