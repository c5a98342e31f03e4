//! The Mail Broker as a contender: `Mailer::send` with direct delivery, so each message
//! goes through the MX lookup of bench.test, the connection pool and a pipelined
//! transaction, as Convene's mail queue sends it.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use convene_mail::{Address, DeliveryStatus, Mailer, MailerConfig, TlsPolicy};

use crate::LoadArgs;
use crate::message::{RECIPIENT, SENDER};

/// Delivers the message `load.messages` times and fails on the first recipient that was
/// not delivered. Up to `max_idle_per_host` connections are kept between messages: with
/// one per task, no task opens a connection after its first message.
pub async fn run(load: &LoadArgs, dns: SocketAddr, max_idle_per_host: usize) -> Result<()> {
    let message = std::fs::read(&load.message)
        .with_context(|| format!("reading {}", load.message.display()))?;
    let config = MailerConfig {
        dns_server: Some(dns),
        smtp_port: load.port,
        helo_name: "client.bench.test".to_owned(),
        // smtp-sink offers no STARTTLS, and neither other contender uses TLS.
        tls: TlsPolicy::Disabled,
        max_idle_per_host,
        ..MailerConfig::default()
    };
    let mailer = Mailer::new(config)?;
    let sender = Address::parse(SENDER)?;
    let recipients = Arc::new([Address::parse(RECIPIENT)?]);
    let message = Arc::new(message);

    let send = {
        let mailer = mailer.clone();
        move || {
            let mailer = mailer.clone();
            let sender = sender.clone();
            let recipients = Arc::clone(&recipients);
            let message = Arc::clone(&message);
            async move {
                for result in mailer.send(&sender, &recipients[..], &message).await {
                    if result.status != DeliveryStatus::Delivered {
                        bail!(
                            "delivery to {} failed: {:?} {}",
                            result.recipient,
                            result.status,
                            result.reply_text
                        );
                    }
                }
                Ok(())
            }
        }
    };
    crate::load::run(load.messages, load.concurrency, send).await?;

    mailer.close().await;
    Ok(())
}
