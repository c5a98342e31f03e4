//! Delivery of one message to many recipients: grouping by domain, trying each domain's
//! mail servers in order, and collecting one result per recipient.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use thiserror::Error;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::address::{Address, check_domain};
use crate::config::MailerConfig;
use crate::data::encode_data;
use crate::mx::{MxHost, MxResolver};
use crate::smtp::Connection;
use crate::status::{DeliveryStatus, Outcome, RecipientResult};
use crate::tls::{opportunistic_connector, server_name};
use crate::transaction::{Envelope, SessionResult, SessionSettings, run_session};

/// The reason [`Mailer::new`] rejected its configuration.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MailerError {
    /// The HELO name is not a host name.
    #[error(
        "invalid HELO name {name:?}: {reason}; set it to this host's fully qualified domain name"
    )]
    InvalidHeloName { name: String, reason: &'static str },
    /// A setting that must be positive is zero.
    #[error("invalid mailer configuration: {setting} must be greater than zero")]
    ZeroSetting { setting: &'static str },
    /// The DNS resolver could not be created, for example because `/etc/resolv.conf` is
    /// missing or invalid.
    #[error("creating the DNS resolver failed: {source}; check /etc/resolv.conf or set dns_server")]
    Resolver {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The TLS client configuration could not be built.
    #[error("building the TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
}

/// Sends messages directly to the recipients' mail servers.
///
/// One `Mailer` can be shared by many tasks: [`Mailer::send`] takes `&self`, and cloning is
/// cheap. It keeps a DNS cache but no SMTP connections between calls.
#[derive(Clone)]
pub struct Mailer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Mailer")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    config: MailerConfig,
    resolver: MxResolver,
    tls: TlsConnector,
}

/// A message prepared once per [`Mailer::send`] call and shared by the domain tasks.
struct Prepared {
    sender: Address,
    data: Vec<u8>,
    message_len: usize,
    eight_bit: bool,
}

impl Mailer {
    /// Creates a mailer after checking `config`.
    pub fn new(config: MailerConfig) -> Result<Mailer, MailerError> {
        check_helo_name(&config.helo_name).map_err(|reason| MailerError::InvalidHeloName {
            name: config.helo_name.clone(),
            reason,
        })?;
        if config.max_parallel_domains == 0 {
            return Err(MailerError::ZeroSetting {
                setting: "max_parallel_domains",
            });
        }
        let resolver = MxResolver::new(config.dns_server, config.dns_timeout).map_err(|error| {
            MailerError::Resolver {
                source: Box::new(error),
            }
        })?;
        let tls = opportunistic_connector()?;
        Ok(Mailer {
            inner: Arc::new(Inner {
                config,
                resolver,
                tls,
            }),
        })
    }

    /// Delivers `message` (already-built bytes) to every recipient and returns exactly one
    /// result per recipient, in input order.
    ///
    /// Recipients are grouped by domain, and each domain gets one SMTP transaction with one
    /// `RCPT TO` per distinct recipient. Domains are delivered concurrently, up to
    /// [`MailerConfig::max_parallel_domains`] at a time. A recipient listed twice gets the
    /// same result twice. `message` is sent with CRLF line endings and dot-stuffing
    /// whatever its line endings. `sender` becomes the `MAIL FROM` address, so the null
    /// reverse path `<>` of bounce messages cannot be sent. Nothing is retried later: the
    /// caller decides what to do with each [`DeliveryStatus::TemporaryFailure`].
    ///
    /// # Panics
    ///
    /// A panic in a delivery task is resumed here.
    pub async fn send(
        &self,
        sender: &Address,
        recipients: &[Address],
        message: &[u8],
    ) -> Vec<RecipientResult> {
        let mut results: HashMap<Address, RecipientResult> = HashMap::new();
        self.send_each(sender, recipients, message, |result| {
            results.insert(result.recipient.clone(), result);
        })
        .await;
        recipients
            .iter()
            .map(|recipient| results[recipient].clone())
            .collect()
    }

    /// Delivers like [`Mailer::send`], but hands each distinct recipient's result to
    /// `on_result` as soon as that recipient's domain is done, instead of waiting for every
    /// domain. A caller that must record results durably can so record the fast domains
    /// while a slow one is still in progress.
    ///
    /// Dropping the returned future aborts the deliveries still in progress; their
    /// recipients get no result.
    ///
    /// # Panics
    ///
    /// A panic in a delivery task is resumed here.
    pub async fn send_each(
        &self,
        sender: &Address,
        recipients: &[Address],
        message: &[u8],
        mut on_result: impl FnMut(RecipientResult),
    ) {
        let prepared = Arc::new(Prepared {
            sender: sender.clone(),
            data: encode_data(message),
            message_len: message.len(),
            eight_bit: !message.is_ascii(),
        });
        let permits = Arc::new(Semaphore::new(self.inner.config.max_parallel_domains));

        // Dropping the set, for example when the caller drops this future, aborts the tasks.
        let mut tasks = JoinSet::new();
        for (domain, domain_recipients) in group_by_domain(recipients) {
            let inner = Arc::clone(&self.inner);
            let prepared = Arc::clone(&prepared);
            let permits = Arc::clone(&permits);
            let span = info_span!("deliver_domain", %domain);
            let task = async move {
                let _permit = permits
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                inner
                    .deliver_domain(&domain, &domain_recipients, &prepared)
                    .await
            };
            tasks.spawn(task.instrument(span));
        }

        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(domain_results) => domain_results.into_iter().for_each(&mut on_result),
                Err(error) if error.is_panic() => std::panic::resume_unwind(error.into_panic()),
                Err(error) => unreachable!("delivery task ended without result: {error}"),
            }
        }
    }
}

impl Inner {
    /// Delivers to the distinct `recipients` of one domain and returns their results in the
    /// same order.
    async fn deliver_domain(
        &self,
        domain: &str,
        recipients: &[Address],
        prepared: &Prepared,
    ) -> Vec<RecipientResult> {
        let hosts = match self.resolver.mx_hosts(domain).await {
            Ok(hosts) => hosts,
            Err(error) => {
                let outcome = error.outcome(domain);
                warn!(error = %outcome.reply_text, "no mail server to deliver to");
                return same_result(recipients, outcome, None);
            }
        };
        debug!(hosts = ?hosts.iter().map(|host| &host.name).collect::<Vec<_>>(), "found mail servers");

        let envelope = Envelope {
            sender: &prepared.sender,
            recipients,
            data: &prepared.data,
            message_len: prepared.message_len,
            eight_bit: prepared.eight_bit,
        };

        // Every MX host and every address of it is tried in order until one session
        // completes, as RFC 5321, section 5.1, describes.
        let mut failure = FailureSummary::default();
        for host in &hosts {
            let addresses = match self.resolver.host_addresses(&host.name).await {
                Ok(addresses) => addresses,
                Err(error) => {
                    let outcome = error.outcome(host);
                    warn!(mx_host = %host.name, error = %outcome.reply_text, "skipping mail server");
                    failure.record(host, outcome);
                    continue;
                }
            };
            for address in addresses {
                let addr = SocketAddr::new(address, self.config.smtp_port);
                match self.attempt_with_fallback(host, addr, &envelope).await {
                    Ok((tls, outcomes)) => {
                        return completed_results(domain, host, tls, recipients, outcomes);
                    }
                    Err(outcome) => {
                        warn!(
                            mx_host = %host.name, %addr, code = ?outcome.reply_code,
                            error = %outcome.reply_text,
                            "delivery attempt failed, trying the next address or mail server"
                        );
                        failure.record(host, outcome);
                    }
                }
            }
        }

        let (host, outcome) = failure.into_final();
        warn!(
            mx_host = %host, code = ?outcome.reply_code, error = %outcome.reply_text,
            "every mail server failed"
        );
        same_result(recipients, outcome, Some(host))
    }

    /// Runs a session on `addr`, and when its STARTTLS handshake fails, another one in
    /// plain text on a new connection. Returns the TLS flag and outcomes of a completed
    /// session, or the failure of the last session.
    async fn attempt_with_fallback(
        &self,
        host: &MxHost,
        addr: SocketAddr,
        envelope: &Envelope<'_>,
    ) -> Result<(bool, Vec<Outcome>), Outcome> {
        match self.attempt(host, addr, envelope, true).await {
            SessionResult::Completed { tls, outcomes } => Ok((tls, outcomes)),
            SessionResult::Failed(outcome) => Err(outcome),
            SessionResult::TlsFailed(outcome) => {
                warn!(
                    mx_host = %host.name, %addr, error = %outcome.reply_text,
                    "STARTTLS failed, retrying without TLS on a new connection"
                );
                match self.attempt(host, addr, envelope, false).await {
                    SessionResult::Completed { tls, outcomes } => Ok((tls, outcomes)),
                    SessionResult::Failed(outcome) | SessionResult::TlsFailed(outcome) => {
                        Err(outcome)
                    }
                }
            }
        }
    }

    async fn attempt(
        &self,
        host: &MxHost,
        addr: SocketAddr,
        envelope: &Envelope<'_>,
        allow_tls: bool,
    ) -> SessionResult {
        let connection = match Connection::connect(addr, self.config.connect_timeout).await {
            Ok(connection) => connection,
            Err(error) => return SessionResult::Failed(Outcome::temporary(error.to_string())),
        };
        let settings = SessionSettings {
            helo_name: &self.config.helo_name,
            command_timeout: self.config.command_timeout,
            data_timeout: self.config.data_timeout,
            tls: allow_tls.then(|| (&self.tls, server_name(&host.name, addr.ip()))),
        };
        run_session(connection, &settings, envelope).await
    }
}

/// The failure to report when no session completes: the last temporary failure if there
/// was one, because a later retry may then succeed, and otherwise the last failure.
#[derive(Default)]
struct FailureSummary {
    last: Option<(String, Outcome)>,
}

impl FailureSummary {
    fn record(&mut self, host: &MxHost, outcome: Outcome) {
        let keep_previous = matches!(
            &self.last,
            Some((_, previous)) if previous.status == DeliveryStatus::TemporaryFailure
                && outcome.status != DeliveryStatus::TemporaryFailure
        );
        if !keep_previous {
            self.last = Some((host.name.clone(), outcome));
        }
    }

    fn into_final(self) -> (String, Outcome) {
        // The MX lookup returns at least one host, and each host records a failure or
        // completes the delivery.
        self.last
            .expect("a failure was recorded for every mail server")
    }
}

/// Groups distinct recipients by domain, in order of first appearance.
fn group_by_domain(recipients: &[Address]) -> Vec<(String, Vec<Address>)> {
    let mut groups: Vec<(String, Vec<Address>)> = Vec::new();
    for recipient in recipients {
        let domain = recipient.domain();
        let index = match groups.iter().position(|(existing, _)| existing == domain) {
            Some(index) => index,
            None => {
                groups.push((domain.to_owned(), Vec::new()));
                groups.len() - 1
            }
        };
        let members = &mut groups[index].1;
        if !members.contains(recipient) {
            members.push(recipient.clone());
        }
    }
    groups
}

fn same_result(
    recipients: &[Address],
    outcome: Outcome,
    mx_host: Option<String>,
) -> Vec<RecipientResult> {
    recipients
        .iter()
        .map(|recipient| {
            outcome
                .clone()
                .into_result(recipient.clone(), mx_host.clone(), false)
        })
        .collect()
}

fn completed_results(
    domain: &str,
    host: &MxHost,
    tls: bool,
    recipients: &[Address],
    outcomes: Vec<Outcome>,
) -> Vec<RecipientResult> {
    let delivered = outcomes
        .iter()
        .filter(|o| o.status == DeliveryStatus::Delivered)
        .count();
    info!(
        %domain, mx_host = %host.name, tls, delivered, failed = outcomes.len() - delivered,
        "transaction completed"
    );
    recipients
        .iter()
        .zip(outcomes)
        .map(|(recipient, outcome)| {
            debug!(%recipient, status = ?outcome.status, code = ?outcome.reply_code, "recipient result");
            outcome.into_result(recipient.clone(), Some(host.name.clone()), tls)
        })
        .collect()
}

/// Checks that `name` can follow EHLO: a host name, or an address literal such as
/// `[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321, section 4.1.3).
fn check_helo_name(name: &str) -> Result<(), &'static str> {
    if let Some(literal) = name
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        let valid = match literal.strip_prefix("IPv6:") {
            Some(ipv6) => ipv6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => literal.parse::<std::net::Ipv4Addr>().is_ok(),
        };
        return if valid {
            Ok(())
        } else {
            Err("invalid address literal")
        };
    }
    check_domain(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addresses(inputs: &[&str]) -> Vec<Address> {
        inputs
            .iter()
            .map(|input| Address::parse(input).unwrap())
            .collect()
    }

    #[test]
    fn group_by_domain_merges_case_and_duplicates() {
        let recipients = addresses(&[
            "a@alpha.test",
            "b@beta.test",
            "c@ALPHA.test",
            "a@alpha.test",
        ]);
        let groups = group_by_domain(&recipients);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].0, "alpha.test");
        assert_eq!(groups[0].1, addresses(&["a@alpha.test", "c@alpha.test"]));
        assert_eq!(groups[1].0, "beta.test");
        assert_eq!(groups[1].1, addresses(&["b@beta.test"]));
    }

    #[test]
    fn check_helo_name_accepts_names_and_literals() {
        for name in [
            "mail.convene.test",
            "localhost",
            "[192.0.2.1]",
            "[IPv6:2001:db8::1]",
        ] {
            assert_eq!(check_helo_name(name), Ok(()), "{name}");
        }
        for name in [
            "",
            "mail convene",
            "mail\r\n.test",
            "[192.0.2]",
            "[2001:db8::1]",
        ] {
            assert!(check_helo_name(name).is_err(), "{name:?}");
        }
    }

    #[test]
    fn new_rejects_invalid_config() {
        let valid = MailerConfig {
            dns_server: Some("127.0.0.1:53".parse().unwrap()),
            ..MailerConfig::default()
        };
        let bad_helo = MailerConfig {
            helo_name: "mail server".to_owned(),
            ..valid.clone()
        };
        let no_parallelism = MailerConfig {
            max_parallel_domains: 0,
            ..valid.clone()
        };

        assert!(Mailer::new(valid).is_ok());
        assert!(matches!(
            Mailer::new(bad_helo),
            Err(MailerError::InvalidHeloName { .. })
        ));
        assert!(matches!(
            Mailer::new(no_parallelism),
            Err(MailerError::ZeroSetting { .. })
        ));
    }

    #[test]
    fn failure_summary_prefers_temporary_failures() {
        let host = |name: &str| MxHost {
            name: name.to_owned(),
            preference: 10,
            implicit: false,
        };
        let mut summary = FailureSummary::default();
        summary.record(&host("one.test"), Outcome::temporary("connection refused"));
        summary.record(&host("two.test"), Outcome::permanent("no address"));
        let (name, outcome) = summary.into_final();
        assert_eq!(name, "one.test");
        assert_eq!(outcome.status, DeliveryStatus::TemporaryFailure);
    }
}
