//! Settings of a [`Mailer`](crate::Mailer).

use std::net::SocketAddr;
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
    /// The TCP port to connect to on every mail server. Default: 25.
    pub smtp_port: u16,
    /// The name sent with EHLO or HELO: the fully qualified domain name of this host, whose
    /// A or AAAA record should match the address mail is sent from, because many receivers
    /// check it. Default: `localhost`, which receivers on the Internet may reject.
    pub helo_name: String,
    /// Maximum time to establish one TCP connection. RFC 5321 sets no value. Default: 30 s.
    pub connect_timeout: Duration,
    /// Maximum time to wait for the greeting, for the reply to each command, and to send each
    /// block of message data. Default: 5 minutes, the longest of the minimums for these steps
    /// in RFC 5321, section 4.5.3.2.
    pub command_timeout: Duration,
    /// Maximum time to wait for the reply after the final dot of the message. Default:
    /// 10 minutes, as RFC 5321, section 4.5.3.2.6, recommends, because the server may be
    /// delivering the message while the client waits.
    pub data_timeout: Duration,
    /// Maximum number of recipient domains delivered to at the same time by one call to
    /// [`Mailer::send`](crate::Mailer::send). Default: 16.
    pub max_parallel_domains: usize,
}

impl Default for MailerConfig {
    fn default() -> MailerConfig {
        MailerConfig {
            dns_server: None,
            dns_timeout: Duration::from_secs(5),
            smtp_port: 25,
            helo_name: "localhost".to_owned(),
            connect_timeout: Duration::from_secs(30),
            command_timeout: Duration::from_secs(5 * 60),
            data_timeout: Duration::from_secs(10 * 60),
            max_parallel_domains: 16,
        }
    }
}
