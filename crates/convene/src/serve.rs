//! `convene serve`: the HTTP API, the Notifier and the mail queue in one
//! process.

use std::sync::Arc;

use anyhow::Context;
use convene_channel::EmailChannel;
use convene_mail::{Address, Mailbox, Mailer, MailerConfig};
use convene_notifier::{Notifier, NotifierConfig};
use convene_outbox::{Outbox, OutboxConfig};
use convene_scheduler::Scheduler;
use tokio::sync::watch;

use crate::config::ServeSettings;
use crate::http;

/// Maximum delay between two retries, unless the first delay is longer.
const MAX_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(60 * 60);

pub async fn serve(settings: ServeSettings) -> anyhow::Result<()> {
    let helo_name = settings.helo_name.clone().unwrap_or_else(system_host_name);
    if !helo_name.contains('.') {
        tracing::warn!(
            helo_name = %helo_name,
            "the HELO name is not a fully qualified domain name, and many mail servers reject such senders; set --helo-name / CONVENE_HELO_NAME"
        );
    }
    let mailer = Mailer::new(MailerConfig {
        dns_server: settings.dns_server,
        smtp_port: settings.smtp_port,
        helo_name: helo_name.clone(),
        ..MailerConfig::default()
    })
    .context("invalid mail settings (--helo-name / CONVENE_HELO_NAME)")?;
    let mail_from = settings
        .mail_from
        .clone()
        .unwrap_or_else(|| format!("convene@{helo_name}"));
    if settings.mail_from_name.chars().any(char::is_control) {
        anyhow::bail!(
            "the sender name {:?} contains a control character such as a line break; set --mail-from-name / CONVENE_MAIL_FROM_NAME to plain text",
            settings.mail_from_name
        );
    }
    let from_address = Address::parse(&mail_from).with_context(|| {
        format!("the sender address {mail_from:?} is invalid; set --mail-from / CONVENE_MAIL_FROM to an address such as reminders@example.org")
    })?;
    // Settings are checked before the database file is created.
    let store = convene_store::open(&settings.database_url)
        .await
        .with_context(|| format!("opening the database {:?} failed", settings.database_url))?;

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
            ..OutboxConfig::default()
        },
    );
    let channel = Arc::new(EmailChannel::new(
        outbox.clone(),
        Mailbox::new(settings.mail_from_name.clone(), from_address),
    ));
    let notifier = Notifier::new(
        store.clone(),
        channel,
        NotifierConfig {
            poll_interval: settings.notifier_interval,
            batch_size: settings.notifier_batch as usize,
            lease: settings.notifier_lease,
            retry_initial: settings.retry_initial,
            retry_max: settings.retry_initial.max(MAX_RETRY_DELAY),
            ..NotifierConfig::default()
        },
    );

    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .with_context(|| format!("listening on {} failed", settings.listen))?;
    let local = listener.local_addr()?;
    tracing::info!(
        listen = %local,
        database = %redact_url(&settings.database_url),
        dns_server = ?settings.dns_server,
        smtp_port = settings.smtp_port,
        helo_name = %helo_name,
        mail_from = %mail_from,
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

    let app = http::router(http::Services {
        scheduler: Scheduler::new(store.clone()),
        outbox: outbox.clone(),
    });
    let mut http_stop = stop.clone();
    let server = axum::serve(listener, app).with_graceful_shutdown(async move {
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

/// Returns the kernel's host name, or `localhost` when it cannot be read.
fn system_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
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
