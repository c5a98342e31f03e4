//! Finding the mail servers of a domain: MX lookup (RFC 5321, section 5.1) and the
//! addresses of each MX host.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    LookupIpStrategy, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{Name, RData};
use rand::seq::SliceRandom;

use crate::status::Outcome;

/// A mail server of a domain, in the order it should be tried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MxHost {
    /// The host name in lowercase, without the trailing dot.
    pub(crate) name: String,
    /// The MX preference. Lower values are tried first.
    pub(crate) preference: u16,
    /// Whether this is the domain itself, used because the domain has no MX record.
    pub(crate) implicit: bool,
}

/// The reason a domain has no mail server to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MxError {
    /// The domain does not exist (NXDOMAIN).
    NoSuchDomain,
    /// The domain publishes a null MX record (RFC 7505) and accepts no mail.
    NullMx,
    /// The DNS query failed, for example with SERVFAIL, REFUSED or a timeout.
    LookupFailed(String),
}

impl MxError {
    pub(crate) fn outcome(&self, domain: &str) -> Outcome {
        match self {
            MxError::NoSuchDomain => {
                Outcome::permanent(format!("domain {domain} does not exist (NXDOMAIN)"))
            }
            MxError::NullMx => Outcome::permanent(format!(
                "domain {domain} accepts no mail: it has a null MX record"
            )),
            MxError::LookupFailed(error) => {
                Outcome::temporary(format!("MX lookup for {domain} failed: {error}"))
            }
        }
    }
}

/// The reason an MX host has no address to connect to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HostError {
    /// The name does not exist or has no A or AAAA record.
    NoAddress,
    /// The DNS query failed.
    LookupFailed(String),
}

impl HostError {
    pub(crate) fn outcome(&self, host: &MxHost) -> Outcome {
        let host = if host.implicit {
            format!("{} (the domain itself, as it has no MX record)", host.name)
        } else {
            host.name.clone()
        };
        match self {
            HostError::NoAddress => {
                Outcome::permanent(format!("mail server {host} has no A or AAAA record"))
            }
            HostError::LookupFailed(error) => Outcome::temporary(format!(
                "address lookup for mail server {host} failed: {error}"
            )),
        }
    }
}

/// Looks up MX and address records through one DNS resolver.
pub(crate) struct MxResolver {
    resolver: TokioResolver,
}

impl MxResolver {
    /// Creates a resolver that queries `dns_server` over UDP (and TCP for truncated answers),
    /// or the servers in `/etc/resolv.conf` when `dns_server` is `None`. Each query waits
    /// up to `timeout` for a response and is sent up to three times.
    ///
    /// `/etc/hosts` is consulted only with the system configuration, so that a configured
    /// DNS server is the only source of answers.
    pub(crate) fn new(
        dns_server: Option<SocketAddr>,
        timeout: Duration,
    ) -> Result<MxResolver, NetError> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match dns_server {
            Some(server) => {
                let mut name_server = NameServerConfig::udp_and_tcp(server.ip());
                for connection in &mut name_server.connections {
                    connection.port = server.port();
                }
                let config = ResolverConfig::from_name_servers(vec![name_server]);
                let mut builder = TokioResolver::builder_with_config(config, provider);
                builder.options_mut().use_hosts_file = ResolveHosts::Never;
                builder
            }
            None => TokioResolver::builder(provider)?,
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
        options.timeout = timeout;
        options.attempts = 2;
        Ok(MxResolver {
            resolver: builder.build()?,
        })
    }

    /// Returns the underlying resolver, for lookups of other record types.
    pub(crate) fn resolver(&self) -> &TokioResolver {
        &self.resolver
    }

    /// Returns the mail servers of `domain`, most preferred first.
    ///
    /// A domain without MX records (an empty answer) has an implicit MX: the domain itself,
    /// with preference 0.
    pub(crate) async fn mx_hosts(&self, domain: &str) -> Result<Vec<MxHost>, MxError> {
        let lookup = match self.resolver.mx_lookup(fully_qualified(domain)).await {
            Ok(lookup) => lookup,
            Err(error) if error.is_nx_domain() => return Err(MxError::NoSuchDomain),
            Err(error) if error.is_no_records_found() => return Ok(vec![implicit_mx(domain)]),
            Err(error) => return Err(MxError::LookupFailed(error.to_string())),
        };

        // The answer may also contain records of other types, such as a CNAME.
        let records: Vec<(u16, Name)> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::MX(mx) => Some((mx.preference, mx.exchange.clone())),
                _ => None,
            })
            .collect();
        if records.is_empty() {
            return Ok(vec![implicit_mx(domain)]);
        }
        order_mx_records(records)
    }

    /// Returns the IPv4 addresses of `host` followed by its IPv6 addresses.
    pub(crate) async fn host_addresses(&self, host: &str) -> Result<Vec<IpAddr>, HostError> {
        match self.resolver.lookup_ip(fully_qualified(host)).await {
            Ok(lookup) => {
                let addresses: Vec<IpAddr> = lookup.iter().collect();
                if addresses.is_empty() {
                    Err(HostError::NoAddress)
                } else {
                    Ok(addresses)
                }
            }
            Err(error) if error.is_no_records_found() => Err(HostError::NoAddress),
            Err(error) => Err(HostError::LookupFailed(error.to_string())),
        }
    }
}

/// Appends the root label so that no search domain from `/etc/resolv.conf` is tried.
pub(crate) fn fully_qualified(name: &str) -> String {
    format!("{name}.")
}

fn implicit_mx(domain: &str) -> MxHost {
    MxHost {
        name: domain.to_owned(),
        preference: 0,
        implicit: true,
    }
}

/// Turns MX records into hosts to try: by ascending preference, with hosts of equal
/// preference in random order to spread load (RFC 5321, section 5.1).
///
/// An MX record whose exchange is the root name is a null MX (RFC 7505). RFC 7505 allows
/// it only as the domain's single MX record, so a null MX next to real ones is skipped.
fn order_mx_records(records: Vec<(u16, Name)>) -> Result<Vec<MxHost>, MxError> {
    if records.iter().all(|(_, exchange)| exchange.is_root()) {
        return Err(MxError::NullMx);
    }

    let mut hosts: Vec<MxHost> = records
        .into_iter()
        .filter(|(_, exchange)| !exchange.is_root())
        .map(|(preference, exchange)| MxHost {
            name: host_name(&exchange),
            preference,
            implicit: false,
        })
        .collect();
    hosts.shuffle(&mut rand::rng());
    // A stable sort keeps the random order among hosts of equal preference.
    hosts.sort_by_key(|host| host.preference);
    Ok(hosts)
}

pub(crate) fn host_name(name: &Name) -> String {
    let text = name.to_ascii().to_ascii_lowercase();
    text.strip_suffix('.').map(str::to_owned).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    #[test]
    fn order_mx_records_sorts_by_preference() {
        let records = vec![
            (30, name("c.mx.test.")),
            (10, name("A.MX.test.")),
            (20, name("b.mx.test.")),
        ];
        let hosts = order_mx_records(records).unwrap();
        let names: Vec<&str> = hosts.iter().map(|host| host.name.as_str()).collect();
        assert_eq!(names, ["a.mx.test", "b.mx.test", "c.mx.test"]);
    }

    #[test]
    fn order_mx_records_keeps_equal_preferences_together() {
        let records = vec![
            (20, name("late.mx.test.")),
            (10, name("one.mx.test.")),
            (10, name("two.mx.test.")),
        ];
        let hosts = order_mx_records(records).unwrap();
        let mut first_two: Vec<&str> = hosts[..2].iter().map(|host| host.name.as_str()).collect();
        first_two.sort();
        assert_eq!(first_two, ["one.mx.test", "two.mx.test"]);
        assert_eq!(hosts[2].name, "late.mx.test");
    }

    #[test]
    fn order_mx_records_shuffles_equal_preferences() {
        let records = vec![(10, name("one.mx.test.")), (10, name("two.mx.test."))];
        let mut first_hosts = std::collections::BTreeSet::new();
        for _ in 0..40 {
            let hosts = order_mx_records(records.clone()).unwrap();
            first_hosts.insert(hosts[0].name.clone());
        }
        // Each order has probability 1/2, so seeing only one in 40 tries has a
        // probability of 2^-39.
        assert_eq!(first_hosts.len(), 2, "{first_hosts:?}");
    }

    #[test]
    fn order_mx_records_detects_null_mx() {
        assert_eq!(
            order_mx_records(vec![(0, Name::root())]),
            Err(MxError::NullMx)
        );
    }

    #[test]
    fn order_mx_records_skips_null_mx_among_others() {
        let hosts = order_mx_records(vec![(0, Name::root()), (10, name("mx.test."))]).unwrap();
        assert_eq!(
            hosts,
            [MxHost {
                name: "mx.test".to_owned(),
                preference: 10,
                implicit: false
            }]
        );
    }
}
