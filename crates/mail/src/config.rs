//! Settings of a [`Mailer`](crate::Mailer): DNS, timeouts, TLS policy, connection reuse and
//! the optional relay.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of a [`Mailer`](crate::Mailer). [`MailerConfig::default`] gives the values that
/// direct delivery on the Internet needs, except `helo_name`, which should be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailerConfig {
    /// The DNS server to ask for MX and address records, over UDP and TCP. When `None`, the
    /// system resolver configuration (`/etc/resolv.conf`) is used.
    pub dns_server: Option<SocketAddr>,
    /// Maximum time to wait for each DNS response. A query without a response is sent up to
    /// three times in all, so one lookup can take three times this long. This overrides the
    /// `timeout` and `attempts` options of `/etc/resolv.conf`. Default: 5 s.
    pub dns_timeout: Duration,
    /// The TCP port to connect to on every mail server found through MX records. Default: 25.
    /// The relay, when one is set, has its own port.
    pub smtp_port: u16,
    /// The name sent with EHLO or HELO: the fully qualified domain name of this host, whose
    /// A or AAAA record should match the address mail is sent from, because many receivers
    /// check it. Default: `localhost`, which receivers on the Internet may reject.
    pub helo_name: String,
    /// Maximum time for each step of an SMTP session.
    pub timeouts: Timeouts,
    /// Maximum number of recipient domains delivered to at the same time by one call to
    /// [`Mailer::send`](crate::Mailer::send). Default: 16.
    pub max_parallel_domains: usize,
    /// The TLS policy for recipient domains that have no entry in `tls_by_domain`.
    /// Default: [`TlsPolicy::Opportunistic`].
    pub tls: TlsPolicy,
    /// TLS policies for single recipient domains, which override `tls`. Keys are domain
    /// names such as `example.org` and match the recipient's domain exactly, without regard
    /// to case. Subdomains need entries of their own. Ignored when `relay` is set.
    pub tls_by_domain: BTreeMap<String, TlsPolicy>,
    /// PEM files with CA certificates to trust in addition to the system trust store when a
    /// certificate is verified. Each file may contain several certificates.
    pub ca_certificates: Vec<PathBuf>,
    /// How long a connection is kept open after its last transaction, waiting for another
    /// message to the same server. The connection is closed with QUIT when this expires.
    /// Default: 5 s.
    pub idle_timeout: Duration,
    /// Maximum number of connections open at once to one server (host name and port), by
    /// all clones of a mailer together. Further transactions to that server wait for a
    /// connection to come free. Default: 20, the default of Postfix's
    /// `default_destination_concurrency_limit`.
    pub max_connections_per_host: usize,
    /// Maximum number of idle connections kept per server (host name, port and TLS policy).
    /// 0 turns connection reuse off, so that every transaction has its own connection.
    /// Default: 20, so that every connection that `max_connections_per_host` allows can be
    /// reused while a queue drains.
    pub max_idle_per_host: usize,
    /// A relay (smarthost) that receives all mail instead of the recipients' MX hosts. When
    /// `None`, mail is delivered directly. Default: `None`.
    pub relay: Option<Relay>,
}

impl Default for MailerConfig {
    fn default() -> MailerConfig {
        MailerConfig {
            dns_server: None,
            dns_timeout: Duration::from_secs(5),
            smtp_port: 25,
            helo_name: "localhost".to_owned(),
            timeouts: Timeouts::default(),
            max_parallel_domains: 16,
            tls: TlsPolicy::Opportunistic,
            tls_by_domain: BTreeMap::new(),
            ca_certificates: Vec::new(),
            idle_timeout: Duration::from_secs(5),
            max_connections_per_host: 20,
            max_idle_per_host: 20,
            relay: None,
        }
    }
}

/// Maximum times for the steps of an SMTP session. The defaults are the minimum waits that
/// RFC 5321, section 4.5.3.2, sets for clients, because a server may be slow while it
/// checks a sender or recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing one TCP connection. RFC 5321 sets no value. Default: 30 s.
    pub connect: Duration,
    /// The server's greeting (section 4.5.3.2.1). Default: 5 minutes.
    pub greeting: Duration,
    /// The reply to a command RFC 5321 sets no value for (EHLO, HELO, STARTTLS, AUTH and
    /// RSET), and the TLS handshake. Default: 5 minutes, as for MAIL.
    pub command: Duration,
    /// The reply to `MAIL FROM` (section 4.5.3.2.2). Default: 5 minutes.
    pub mail: Duration,
    /// The reply to each `RCPT TO` (section 4.5.3.2.3). Default: 5 minutes.
    pub rcpt: Duration,
    /// The `354` reply to `DATA` (section 4.5.3.2.4). Default: 2 minutes.
    pub data_initiation: Duration,
    /// Sending each block of message data, 64 KiB here (section 4.5.3.2.5). Default:
    /// 3 minutes.
    pub data_block: Duration,
    /// The reply after the final dot (section 4.5.3.2.6). Default: 10 minutes, because the
    /// server may be delivering the message while the client waits.
    pub data_termination: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        let minutes = |n: u64| Duration::from_secs(n * 60);
        Timeouts {
            connect: Duration::from_secs(30),
            greeting: minutes(5),
            command: minutes(5),
            mail: minutes(5),
            rcpt: minutes(5),
            data_initiation: minutes(2),
            data_block: minutes(3),
            data_termination: minutes(10),
        }
    }
}

impl Timeouts {
    /// Returns the name of the first timeout that is zero.
    pub(crate) fn zero_setting(&self) -> Option<&'static str> {
        let settings = [
            ("timeouts.connect", self.connect),
            ("timeouts.greeting", self.greeting),
            ("timeouts.command", self.command),
            ("timeouts.mail", self.mail),
            ("timeouts.rcpt", self.rcpt),
            ("timeouts.data_initiation", self.data_initiation),
            ("timeouts.data_block", self.data_block),
            ("timeouts.data_termination", self.data_termination),
        ];
        settings
            .into_iter()
            .find(|(_, duration)| duration.is_zero())
            .map(|(name, _)| name)
    }
}

/// Whether and how a connection to a recipient's mail server uses STARTTLS (RFC 3207).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum TlsPolicy {
    /// Never send STARTTLS, even when the server offers it.
    Disabled,
    /// Send STARTTLS when the server offers it, without verifying its certificate, as
    /// RFC 7435 (opportunistic security) describes. When the TLS handshake fails, the message
    /// is sent in plain text on a new connection. Protects against passive eavesdropping only.
    #[default]
    Opportunistic,
    /// Never send mail in plain text. A server that does not offer STARTTLS, or whose
    /// handshake fails, gets no message, and the recipients get a temporary failure.
    Required {
        /// Whether the certificate must chain to a trusted CA (the system trust store or
        /// [`MailerConfig::ca_certificates`]) and name the MX host. The MX host name comes
        /// from an unauthenticated DNS answer, so this stops an attacker on the network path
        /// but not one who can forge DNS answers.
        verify_certificate: bool,
    },
}

/// A relay (smarthost) that takes all mail and delivers it onwards, usually with
/// authentication. Its certificate is verified unless `verify_certificate` is false, and
/// credentials are sent only over TLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// The relay's host name or IP address. A host name is looked up in DNS (A and AAAA
    /// records) and is the name its certificate must contain.
    pub host: String,
    /// The relay's TCP port, usually 587 for [`RelaySecurity::StartTls`] and 465 for
    /// [`RelaySecurity::ImplicitTls`].
    pub port: u16,
    /// The kind of encryption: STARTTLS or implicit TLS.
    pub security: RelaySecurity,
    /// Whether the relay's certificate must chain to a trusted CA and name `host`.
    pub verify_certificate: bool,
    /// The user name and password for `AUTH`, or `None` for a relay that accepts mail
    /// without authentication (for example by client address).
    pub credentials: Option<Credentials>,
}

impl Relay {
    /// Creates a relay on port 587 that requires STARTTLS and verifies the certificate
    /// (RFC 6409, message submission).
    pub fn starttls(host: impl Into<String>, credentials: Option<Credentials>) -> Relay {
        Relay {
            host: host.into(),
            port: 587,
            security: RelaySecurity::StartTls,
            verify_certificate: true,
            credentials,
        }
    }

    /// Creates a relay on port 465 with TLS from the first byte, verifying the certificate
    /// (RFC 8314, section 3).
    pub fn implicit_tls(host: impl Into<String>, credentials: Option<Credentials>) -> Relay {
        Relay {
            host: host.into(),
            port: 465,
            security: RelaySecurity::ImplicitTls,
            verify_certificate: true,
            credentials,
        }
    }
}

/// The encryption of a connection to the relay. Mail never goes to the relay in plain
/// text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelaySecurity {
    /// A plain connection that must switch to TLS with STARTTLS before anything else.
    StartTls,
    /// TLS from the first byte ("submissions", RFC 8314).
    ImplicitTls,
}

/// A user name and password for SMTP authentication (RFC 4954). The password is not shown
/// by `Debug` and never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// Creates credentials. [`Mailer::new`](crate::Mailer::new) rejects an empty user name
    /// and NUL characters, which the PLAIN mechanism cannot carry.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// Returns the user name.
    pub fn username(&self) -> &str {
        &self.username
    }

    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_password() {
        let credentials = Credentials::new("convene", "s3cret-Passw0rd");
        let relay = Relay::starttls("relay.test", Some(credentials));
        let printed = format!("{relay:?} {relay:#?}");
        assert!(!printed.contains("s3cret-Passw0rd"), "{printed}");
        assert!(printed.contains("convene"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }

    #[test]
    fn timeouts_default_to_rfc_5321_minimums() {
        let timeouts = Timeouts::default();
        assert_eq!(timeouts.greeting, Duration::from_secs(300));
        assert_eq!(timeouts.mail, Duration::from_secs(300));
        assert_eq!(timeouts.rcpt, Duration::from_secs(300));
        assert_eq!(timeouts.data_initiation, Duration::from_secs(120));
        assert_eq!(timeouts.data_block, Duration::from_secs(180));
        assert_eq!(timeouts.data_termination, Duration::from_secs(600));
        assert_eq!(timeouts.zero_setting(), None);
    }

    #[test]
    fn zero_setting_names_the_field() {
        let timeouts = Timeouts {
            rcpt: Duration::ZERO,
            ..Timeouts::default()
        };
        assert_eq!(timeouts.zero_setting(), Some("timeouts.rcpt"));
    }
}
