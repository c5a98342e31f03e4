//! Delivery of one message to many recipients: grouping by domain, choosing the servers to
//! try (the domain's MX hosts, or the relay), reusing idle connections, and collecting one
//! result per recipient.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;

use thiserror::Error;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::address::{Address, check_domain};
use crate::config::{Credentials, MailerConfig, Relay, RelaySecurity, TlsPolicy};
use crate::data::encode_data;
use crate::limit::HostLimits;
use crate::mx::{MxHost, MxResolver};
use crate::pool::{Pool, PoolKey};
use crate::session::{OpenError, Session, SessionPlan, TlsMode, open_session};
use crate::status::{DeliveryStatus, Outcome, RecipientResult};
use crate::tls::{Connectors, TlsDetails, server_name};
use crate::transaction::{Envelope, Transaction, message_size, run_transaction};

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
    /// A key of `tls_by_domain` is not a domain name.
    #[error(
        "invalid domain {domain:?} in tls_by_domain: {reason}; use a domain such as example.org"
    )]
    InvalidTlsDomain {
        domain: String,
        reason: &'static str,
    },
    /// The relay settings cannot work.
    #[error("invalid relay setting {setting}: {reason}")]
    InvalidRelay {
        setting: &'static str,
        reason: &'static str,
    },
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
    /// A file in `ca_certificates` could not be read or contains no certificate.
    #[error(
        "reading the CA certificates in {path} failed: {reason}; set ca_certificates to PEM files"
    )]
    CaCertificates { path: PathBuf, reason: String },
    /// A setting verifies certificates, but no trusted CA certificate was found.
    #[error(
        "certificate verification is configured, but no CA certificate was found in the system \
         trust store or in ca_certificates; install the system's CA certificates (Debian: \
         ca-certificates) or set ca_certificates"
    )]
    NoTrustAnchors,
}

/// Sends messages to the recipients' mail servers, or through a relay.
///
/// One `Mailer` can be shared by many tasks: [`Mailer::send`] takes `&self`, and cloning is
/// cheap. Clones share a DNS cache and the idle connections kept for reuse (see
/// [`MailerConfig::idle_timeout`]). Dropping the last clone closes the idle connections with
/// QUIT in background tasks; [`Mailer::close`] does so and waits.
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
    /// The configuration, with the keys of `tls_by_domain` in lowercase.
    config: MailerConfig,
    resolver: MxResolver,
    connectors: Connectors,
    pool: Pool,
    limits: HostLimits,
}

/// A message prepared once per [`Mailer::send`] call and shared by the domain tasks.
struct Prepared {
    sender: Address,
    data: Vec<u8>,
    message_size: usize,
    eight_bit: bool,
}

/// One server to try for a group of recipients, and how to talk to it.
struct Target<'a> {
    host: MxHost,
    port: u16,
    mode: TlsMode,
    credentials: Option<&'a Credentials>,
}

impl Mailer {
    /// Creates a mailer after checking `config`. Reads the system trust store if a setting
    /// verifies certificates.
    pub fn new(mut config: MailerConfig) -> Result<Mailer, MailerError> {
        check_helo_name(&config.helo_name).map_err(|reason| MailerError::InvalidHeloName {
            name: config.helo_name.clone(),
            reason,
        })?;
        if config.max_parallel_domains == 0 {
            return Err(MailerError::ZeroSetting {
                setting: "max_parallel_domains",
            });
        }
        if config.max_connections_per_host == 0 {
            return Err(MailerError::ZeroSetting {
                setting: "max_connections_per_host",
            });
        }
        if let Some(setting) = config.timeouts.zero_setting() {
            return Err(MailerError::ZeroSetting { setting });
        }
        if config.idle_timeout.is_zero() {
            return Err(MailerError::ZeroSetting {
                setting: "idle_timeout",
            });
        }
        config.tls_by_domain = normalize_tls_domains(&config.tls_by_domain)?;
        if let Some(relay) = &config.relay {
            check_relay(relay)?;
        }

        let resolver = MxResolver::new(config.dns_server, config.dns_timeout).map_err(|error| {
            MailerError::Resolver {
                source: Box::new(error),
            }
        })?;
        let connectors = Connectors::new(needs_verification(&config), &config.ca_certificates)?;
        let pool = Pool::new(config.idle_timeout, config.max_idle_per_host);
        let limits = HostLimits::new(config.max_connections_per_host);
        Ok(Mailer {
            inner: Arc::new(Inner {
                config,
                resolver,
                connectors,
                pool,
                limits,
            }),
        })
    }

    /// Delivers `message` (already-built bytes) to every recipient and returns exactly one
    /// result per recipient, in input order.
    ///
    /// Recipients are grouped by domain, and each domain gets one SMTP transaction with one
    /// `RCPT TO` per distinct recipient. Domains are delivered concurrently, up to
    /// [`MailerConfig::max_parallel_domains`] at a time. With a relay, all recipients share
    /// one transaction with the relay instead. A recipient listed twice gets the
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
    /// domain. Results are handed over before the connection is closed or kept for reuse. A caller that must record results durably can so record the fast domains
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
        let data = encode_data(message);
        let prepared = Arc::new(Prepared {
            sender: sender.clone(),
            message_size: message_size(&data),
            data,
            eight_bit: !message.is_ascii(),
        });
        let permits = Arc::new(Semaphore::new(self.inner.config.max_parallel_domains));

        // Dropping the set, for example when the caller drops this future, aborts the tasks.
        let mut tasks = JoinSet::new();
        for (domain, group) in self.inner.group(recipients) {
            let inner = Arc::clone(&self.inner);
            let prepared = Arc::clone(&prepared);
            let permits = Arc::clone(&permits);
            let span = match &domain {
                Some(domain) => info_span!("deliver_domain", %domain),
                None => info_span!("deliver_relay"),
            };
            let task = async move {
                let _permit = permits
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                inner
                    .deliver_group(domain.as_deref(), &group, &prepared)
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

    /// Closes the idle connections with QUIT and waits for the replies, each for at most a
    /// few seconds. The mailer stays usable and opens new connections when needed.
    pub async fn close(&self) {
        self.inner.pool.close().await;
    }
}

impl Inner {
    /// Splits the distinct recipients into the groups that share one transaction: one per
    /// domain, labelled with the domain, or a single unlabelled group for the relay.
    fn group(&self, recipients: &[Address]) -> Vec<(Option<String>, Vec<Address>)> {
        if self.config.relay.is_some() {
            let mut distinct: Vec<Address> = Vec::new();
            for recipient in recipients {
                if !distinct.contains(recipient) {
                    distinct.push(recipient.clone());
                }
            }
            return vec![(None, distinct)];
        }
        group_by_domain(recipients)
            .into_iter()
            .map(|(domain, group)| (Some(domain), group))
            .collect()
    }

    /// Delivers to the distinct `recipients` of one group, in `domain` or through the relay
    /// when `domain` is `None`, and returns their results in the same order.
    async fn deliver_group(
        &self,
        domain: Option<&str>,
        recipients: &[Address],
        prepared: &Prepared,
    ) -> Vec<RecipientResult> {
        let targets = match (domain, &self.config.relay) {
            (_, Some(relay)) => vec![relay_target(relay)],
            (Some(domain), None) => match self.mx_targets(domain).await {
                Ok(targets) => targets,
                Err(outcome) => {
                    warn!(error = %outcome.reply_text, "no mail server to deliver to");
                    return same_result(recipients, outcome, None);
                }
            },
            (None, None) => unreachable!("only the relay group has no domain"),
        };
        let envelope = Envelope {
            sender: &prepared.sender,
            recipients,
            data: &prepared.data,
            message_size: prepared.message_size,
            eight_bit: prepared.eight_bit,
        };

        // Every server and every address of it is tried in order until one transaction
        // completes, as RFC 5321, section 5.1, describes.
        let mut failure = FailureSummary::default();
        for target in &targets {
            match self
                .deliver_to_target(target, &envelope, &mut failure)
                .await
            {
                Some((tls, outcomes)) => {
                    return completed_results(&target.host, tls, recipients, outcomes);
                }
                None => continue,
            }
        }

        let (host, outcome) = failure.into_final();
        warn!(
            mx_host = %host, code = ?outcome.reply_code, error = %outcome.reply_text,
            "every mail server failed"
        );
        same_result(recipients, outcome, Some(host))
    }

    /// Returns the MX hosts of `domain`, in the order to try them, with the TLS mode of the
    /// domain's policy.
    async fn mx_targets(&self, domain: &str) -> Result<Vec<Target<'_>>, Outcome> {
        let hosts = self
            .resolver
            .mx_hosts(domain)
            .await
            .map_err(|error| error.outcome(domain))?;
        debug!(hosts = ?hosts.iter().map(|host| &host.name).collect::<Vec<_>>(), "found mail servers");

        let policy = self
            .config
            .tls_by_domain
            .get(domain)
            .copied()
            .unwrap_or(self.config.tls);
        let mode = match policy {
            TlsPolicy::Disabled => TlsMode::Disabled,
            TlsPolicy::Opportunistic => TlsMode::Opportunistic,
            TlsPolicy::Required { verify_certificate } => TlsMode::Required {
                verify: verify_certificate,
            },
        };
        let targets = hosts
            .into_iter()
            .map(|host| Target {
                host,
                port: self.config.smtp_port,
                mode,
                credentials: None,
            })
            .collect();
        Ok(targets)
    }

    /// Tries one server: an idle session first, if one is kept, and then a new connection
    /// to each of its addresses. Returns the TLS details and outcomes of the first completed
    /// transaction, or `None` after recording each failure in `failure`.
    async fn deliver_to_target(
        &self,
        target: &Target<'_>,
        envelope: &Envelope<'_>,
        failure: &mut FailureSummary,
    ) -> Option<(Option<TlsDetails>, Vec<Outcome>)> {
        let host = &target.host;
        let key = PoolKey {
            host: host.name.clone(),
            port: target.port,
            mode: target.mode,
        };
        let _permit = self.limits.acquire(&host.name, target.port).await;

        // A kept session may have been closed by the server in the meantime. Then the
        // transaction is tried once more on a new connection, which is safe because the
        // server accepted nothing before its reply to MAIL.
        if let Some(session) = self.pool.checkout(&key) {
            debug!(mx_host = %host.name, "reusing an idle connection");
            match self.transact(&key, session, envelope, true).await {
                (Transaction::Completed(outcomes), tls) => return Some((tls, outcomes)),
                (Transaction::Stale(outcome), _) => {
                    debug!(
                        mx_host = %host.name, error = %outcome.reply_text,
                        "the idle connection was closed, retrying on a new connection"
                    );
                }
                (Transaction::Failed(outcome), _) => {
                    warn!(
                        mx_host = %host.name, code = ?outcome.reply_code, error = %outcome.reply_text,
                        "delivery on an idle connection failed, retrying on a new connection"
                    );
                    failure.record(host, outcome);
                }
            }
        }

        let addresses = match self.addresses(host).await {
            Ok(addresses) => addresses,
            Err(outcome) => {
                warn!(mx_host = %host.name, error = %outcome.reply_text, "skipping mail server");
                failure.record(host, outcome);
                return None;
            }
        };
        for address in addresses {
            let addr = SocketAddr::new(address, target.port);
            match self.attempt(target, &key, addr, envelope).await {
                Ok(completed) => return Some(completed),
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
        None
    }

    /// Returns the addresses of `host`: the address itself for an IP literal, otherwise its
    /// A and AAAA records.
    async fn addresses(&self, host: &MxHost) -> Result<Vec<IpAddr>, Outcome> {
        if let Ok(address) = host.name.parse::<IpAddr>() {
            return Ok(vec![address]);
        }
        self.resolver
            .host_addresses(&host.name)
            .await
            .map_err(|error| error.outcome(host))
    }

    /// Opens a session on a new connection to `addr` and runs the transaction. When an
    /// opportunistic STARTTLS handshake fails, a second session runs in plain text on
    /// another new connection. Returns the TLS details and outcomes of a completed
    /// transaction, or the failure of the last attempt.
    async fn attempt(
        &self,
        target: &Target<'_>,
        key: &PoolKey,
        addr: SocketAddr,
        envelope: &Envelope<'_>,
    ) -> Result<(Option<TlsDetails>, Vec<Outcome>), Outcome> {
        let plan = SessionPlan {
            helo_name: &self.config.helo_name,
            timeouts: &self.config.timeouts,
            mode: target.mode,
            connector: self.connectors.get(target.mode.verifies()),
            server_name: server_name(&target.host.name, addr.ip()),
            credentials: target.credentials,
        };
        let session = match open_session(addr, &plan).await {
            Ok(session) => session,
            Err(OpenError::Failed(outcome)) => return Err(outcome),
            Err(OpenError::TlsFailed(outcome)) => {
                warn!(
                    mx_host = %target.host.name, %addr, error = %outcome.reply_text,
                    "STARTTLS failed, retrying without TLS on a new connection"
                );
                let plain = SessionPlan {
                    mode: TlsMode::Disabled,
                    ..plan
                };
                match open_session(addr, &plain).await {
                    Ok(session) => session,
                    Err(OpenError::Failed(outcome) | OpenError::TlsFailed(outcome)) => {
                        return Err(outcome);
                    }
                }
            }
        };

        match self.transact(key, session, envelope, false).await {
            (Transaction::Completed(outcomes), tls) => Ok((tls, outcomes)),
            (Transaction::Failed(outcome) | Transaction::Stale(outcome), _) => Err(outcome),
        }
    }

    /// Runs the transaction on `session`, then keeps the session for reuse or closes it.
    async fn transact(
        &self,
        key: &PoolKey,
        mut session: Session,
        envelope: &Envelope<'_>,
        reused: bool,
    ) -> (Transaction, Option<TlsDetails>) {
        let tls = session.connection.tls().cloned();
        let result = run_transaction(&mut session, envelope, &self.config.timeouts, reused).await;
        self.pool.release(key.clone(), session);
        (result, tls)
    }
}

/// Returns the relay as the only server to try.
fn relay_target(relay: &Relay) -> Target<'_> {
    let mode = match relay.security {
        RelaySecurity::StartTls => TlsMode::Required {
            verify: relay.verify_certificate,
        },
        RelaySecurity::ImplicitTls => TlsMode::Implicit {
            verify: relay.verify_certificate,
        },
    };
    Target {
        host: MxHost {
            name: relay.host.to_ascii_lowercase(),
            preference: 0,
            implicit: false,
        },
        port: relay.port,
        mode,
        credentials: relay.credentials.as_ref(),
    }
}

/// Returns whether any setting verifies certificates, or names CA files that should be
/// checked at once.
fn needs_verification(config: &MailerConfig) -> bool {
    let verifies = |policy: &TlsPolicy| {
        matches!(
            policy,
            TlsPolicy::Required {
                verify_certificate: true
            }
        )
    };
    verifies(&config.tls)
        || config.tls_by_domain.values().any(verifies)
        || config
            .relay
            .as_ref()
            .is_some_and(|relay| relay.verify_certificate)
        || !config.ca_certificates.is_empty()
}

/// Checks the keys of `tls_by_domain` and returns the map with lowercase keys.
fn normalize_tls_domains(
    policies: &BTreeMap<String, TlsPolicy>,
) -> Result<BTreeMap<String, TlsPolicy>, MailerError> {
    let mut normalized = BTreeMap::new();
    for (domain, policy) in policies {
        check_domain(domain).map_err(|reason| MailerError::InvalidTlsDomain {
            domain: domain.clone(),
            reason,
        })?;
        normalized.insert(domain.to_ascii_lowercase(), *policy);
    }
    Ok(normalized)
}

fn check_relay(relay: &Relay) -> Result<(), MailerError> {
    let invalid = |setting, reason| Err(MailerError::InvalidRelay { setting, reason });
    if relay.host.parse::<IpAddr>().is_err() && check_domain(&relay.host).is_err() {
        return invalid("relay.host", "must be a host name or an IP address");
    }
    if relay.port == 0 {
        return invalid("relay.port", "must be a TCP port from 1 to 65535");
    }
    if let Some(credentials) = &relay.credentials {
        if credentials.username().is_empty() {
            return invalid("relay.credentials", "the user name is empty");
        }
        if credentials.username().contains('\0') || credentials.password().contains('\0') {
            return invalid(
                "relay.credentials",
                "the user name or password contains a NUL character, which AUTH PLAIN cannot send",
            );
        }
    }
    Ok(())
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
                .into_result(recipient.clone(), mx_host.clone(), None)
        })
        .collect()
}

fn completed_results(
    host: &MxHost,
    tls: Option<TlsDetails>,
    recipients: &[Address],
    outcomes: Vec<Outcome>,
) -> Vec<RecipientResult> {
    let delivered = outcomes
        .iter()
        .filter(|o| o.status == DeliveryStatus::Delivered)
        .count();
    info!(
        mx_host = %host.name,
        tls_version = tls.as_ref().map(|tls| tls.version.as_str()),
        delivered, failed = outcomes.len() - delivered,
        "transaction completed"
    );
    recipients
        .iter()
        .zip(outcomes)
        .map(|(recipient, outcome)| {
            debug!(%recipient, status = ?outcome.status, code = ?outcome.reply_code, "recipient result");
            outcome.into_result(recipient.clone(), Some(host.name.clone()), tls.as_ref())
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

        assert!(Mailer::new(valid.clone()).is_ok());
        assert!(matches!(
            Mailer::new(bad_helo),
            Err(MailerError::InvalidHeloName { .. })
        ));
        assert!(matches!(
            Mailer::new(no_parallelism),
            Err(MailerError::ZeroSetting { .. })
        ));

        let zero_timeout = MailerConfig {
            timeouts: crate::Timeouts {
                data_block: std::time::Duration::ZERO,
                ..crate::Timeouts::default()
            },
            ..valid.clone()
        };
        let error = Mailer::new(zero_timeout).unwrap_err();
        assert!(error.to_string().contains("timeouts.data_block"), "{error}");

        let mut tls_by_domain = BTreeMap::new();
        tls_by_domain.insert("not a domain".to_owned(), TlsPolicy::Disabled);
        let bad_domain = MailerConfig {
            tls_by_domain,
            ..valid.clone()
        };
        assert!(matches!(
            Mailer::new(bad_domain),
            Err(MailerError::InvalidTlsDomain { .. })
        ));

        let missing_ca = MailerConfig {
            ca_certificates: vec![PathBuf::from("/nonexistent/ca.pem")],
            ..valid.clone()
        };
        let error = Mailer::new(missing_ca).unwrap_err();
        assert!(error.to_string().contains("/nonexistent/ca.pem"), "{error}");
    }

    #[test]
    fn new_rejects_invalid_relay() {
        let relay = |host: &str, port: u16, credentials: Option<Credentials>| MailerConfig {
            dns_server: Some("127.0.0.1:53".parse().unwrap()),
            relay: Some(Relay {
                port,
                verify_certificate: false,
                ..Relay::starttls(host, credentials)
            }),
            ..MailerConfig::default()
        };
        let cases = [
            (relay("relay host", 587, None), "relay.host"),
            (relay("relay.test", 0, None), "relay.port"),
            (
                relay("relay.test", 587, Some(Credentials::new("", "pw"))),
                "relay.credentials",
            ),
            (
                relay("relay.test", 587, Some(Credentials::new("user", "p\0w"))),
                "relay.credentials",
            ),
        ];
        for (config, setting) in cases {
            let error = Mailer::new(config).unwrap_err();
            assert!(error.to_string().contains(setting), "{setting}: {error}");
            assert!(!error.to_string().contains("p\0w"), "{error}");
        }
        assert!(Mailer::new(relay("127.0.0.1", 465, None)).is_ok());
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
