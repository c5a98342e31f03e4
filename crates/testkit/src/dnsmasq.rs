//! A dnsmasq DNS server on loopback that serves only the records a test gives it.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use crate::ports::free_dns_port;
use crate::process::PeerProcess;

/// Maximum time to wait for dnsmasq to answer its first query. This is a generous bound for a
/// loaded machine, not an expectation: dnsmasq normally answers within milliseconds.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Number of fresh ports tried when another process takes the chosen port first.
const PORT_ATTEMPTS: usize = 5;

/// Records for a [`Dnsmasq`] server to serve.
///
/// Queries for names under a local domain (by default `test`, reserved for testing by
/// RFC 2606) are answered from these records only. A name with no record gets NXDOMAIN, and a
/// name with records of other types gets an empty NOERROR answer (NODATA). Queries for any
/// other name get REFUSED, because the server has no upstream resolver.
#[derive(Debug, Clone)]
pub struct DnsConfig {
    local_domains: Vec<String>,
    records: Vec<Record>,
}

#[derive(Debug, Clone)]
enum Record {
    Mx {
        domain: String,
        host: String,
        preference: u16,
    },
    NullMx {
        domain: String,
    },
    Host {
        name: String,
        address: IpAddr,
    },
    Txt {
        name: String,
        strings: Vec<String>,
    },
    Ptr {
        address: IpAddr,
        name: String,
    },
}

/// Maximum length of one character-string in a TXT record (RFC 1035, section 3.3).
const MAX_TXT_STRING_LEN: usize = 255;

impl DnsConfig {
    /// Creates a configuration with no records and `test` as the only local domain.
    pub fn new() -> DnsConfig {
        DnsConfig {
            local_domains: vec!["test".to_owned()],
            records: Vec::new(),
        }
    }

    /// Adds an MX record for `domain` that points at `host` with the given preference.
    pub fn mx(mut self, domain: &str, host: &str, preference: u16) -> DnsConfig {
        let domain = checked_name(domain);
        let host = checked_name(host);
        self.records.push(Record::Mx {
            domain,
            host,
            preference,
        });
        self
    }

    /// Adds a null MX record (`0 .`, RFC 7505) for `domain`, which declares that the domain
    /// accepts no mail.
    pub fn null_mx(mut self, domain: &str) -> DnsConfig {
        self.records.push(Record::NullMx {
            domain: checked_name(domain),
        });
        self
    }

    /// Adds an A record (for an IPv4 address) or an AAAA record (for IPv6) for `name`.
    pub fn host(mut self, name: &str, address: IpAddr) -> DnsConfig {
        self.records.push(Record::Host {
            name: checked_name(name),
            address,
        });
        self
    }

    /// Adds a TXT record for `name` whose text is `text`, split into character-strings of at
    /// most 255 octets as the DNS requires. A reader that joins the strings, as SPF, DKIM
    /// and DMARC readers do, gets `text` back.
    ///
    /// # Panics
    ///
    /// Panics when `text` is not printable ASCII or contains a comma, because dnsmasq reads
    /// commas on its command line as string separators and has no way to escape them.
    pub fn txt(mut self, name: &str, text: &str) -> DnsConfig {
        let printable = text
            .bytes()
            .all(|byte| (b' '..=b'~').contains(&byte) && byte != b',');
        assert!(
            printable,
            "TXT text for dnsmasq must be printable ASCII without commas: {text:?}"
        );
        let strings = text
            .as_bytes()
            .chunks(MAX_TXT_STRING_LEN)
            .map(|chunk| String::from_utf8(chunk.to_vec()).expect("the text is ASCII"))
            .collect();
        self.records.push(Record::Txt {
            name: checked_name(name),
            strings,
        });
        self
    }

    /// Adds a PTR record that maps `address` to `name`, in `in-addr.arpa` for IPv4 and
    /// `ip6.arpa` for IPv6.
    ///
    /// [`DnsConfig::host`] adds the PTR record of its address by itself, so this is for
    /// names whose A or AAAA record is missing or points elsewhere. Make the reverse zone
    /// local with [`DnsConfig::local_domain`], such as `2.0.192.in-addr.arpa`, so that an
    /// address without a record gets NXDOMAIN rather than REFUSED.
    pub fn ptr(mut self, address: IpAddr, name: &str) -> DnsConfig {
        self.records.push(Record::Ptr {
            address,
            name: checked_name(name),
        });
        self
    }

    /// Adds another domain whose names are answered locally only.
    pub fn local_domain(mut self, domain: &str) -> DnsConfig {
        self.local_domains.push(checked_name(domain));
        self
    }

    fn arguments(&self) -> Vec<String> {
        let mut arguments = Vec::new();
        for domain in &self.local_domains {
            arguments.push(format!("--local=/{domain}/"));
        }
        for record in &self.records {
            arguments.push(match record {
                Record::Mx {
                    domain,
                    host,
                    preference,
                } => {
                    format!("--mx-host={domain},{host},{preference}")
                }
                // dnsmasq's --mx-host cannot name the root as target, so the record is given
                // as raw RDATA: preference 0 (two zero octets) and the root name (one zero
                // octet).
                Record::NullMx { domain } => format!("--dns-rr={domain},15,000000"),
                Record::Host { name, address } => format!("--host-record={name},{address}"),
                Record::Txt { name, strings } => {
                    format!("--txt-record={name},{}", strings.join(","))
                }
                Record::Ptr { address, name } => {
                    format!("--ptr-record={},{name}", reverse_name(*address))
                }
            });
        }
        arguments
    }
}

impl Default for DnsConfig {
    fn default() -> DnsConfig {
        DnsConfig::new()
    }
}

/// Returns the reverse-lookup name of `address`, such as `10.2.0.192.in-addr.arpa` for
/// 192.0.2.10, or the nibble form under `ip6.arpa` for IPv6 (RFC 3596, section 2.5).
fn reverse_name(address: IpAddr) -> String {
    match address {
        IpAddr::V4(address) => {
            let [a, b, c, d] = address.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(address) => {
            let mut labels: Vec<String> = address
                .octets()
                .iter()
                .flat_map(|byte| [byte >> 4, byte & 0x0f])
                .map(|nibble| format!("{nibble:x}"))
                .collect();
            labels.reverse();
            format!("{}.ip6.arpa", labels.join("."))
        }
    }
}

/// Panics unless `name` can be passed inside a dnsmasq option without changing its meaning.
/// Underscores are allowed for names such as `_dmarc.example.test`.
fn checked_name(name: &str) -> String {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b".-_".contains(&byte));
    assert!(valid, "invalid DNS name for dnsmasq: {name:?}");
    name.to_owned()
}

/// A running dnsmasq server on 127.0.0.1, killed when dropped.
pub struct Dnsmasq {
    process: PeerProcess,
    addr: SocketAddr,
}

impl Dnsmasq {
    /// Starts dnsmasq with `config` on a free port of 127.0.0.1 and waits until it answers.
    ///
    /// dnsmasq runs with `--no-daemon`, which keeps it in the foreground and skips the pid
    /// file and the change of user id, so it works the same whether the test runs as root or
    /// not. It reads no configuration file, `/etc/resolv.conf` or `/etc/hosts`.
    pub fn start(config: DnsConfig) -> io::Result<Dnsmasq> {
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_dns_port()?;
            let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port);
            let mut process = PeerProcess::spawn("dnsmasq", command(&config, port), false)?;
            match wait_until_answers(&mut process, addr) {
                Ok(()) => return Ok(Dnsmasq { process, addr }),
                Err(error) if process.log().contains("Address already in use") => {
                    last_error = Some(error);
                }
                Err(error) => return Err(error),
            }
        }
        Err(last_error.expect("at least one attempt ran"))
    }

    /// Returns the address that the server listens on, for UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Returns the server's log so far, one line per query received and answer given.
    pub fn log(&self) -> String {
        self.process.log()
    }
}

fn command(config: &DnsConfig, port: u16) -> Command {
    let mut command = Command::new("dnsmasq");
    command.args([
        "--no-daemon",
        "--conf-file=/dev/null",
        "--no-resolv",
        "--no-hosts",
        "--no-poll",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--log-facility=-",
        "--log-queries",
    ]);
    command.arg(format!("--port={port}"));
    command.args(config.arguments());
    command
}

/// Sends a query to `addr` until an answer arrives, the process exits or the timeout passes.
fn wait_until_answers(process: &mut PeerProcess, addr: SocketAddr) -> io::Result<()> {
    let socket = UdpSocket::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0))?;
    socket.connect(addr)?;
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;

    // A query for the root NS records. Any answer, even REFUSED, shows the server is up.
    let query: [u8; 17] = [
        0x4b, 0x1d, // ID
        0x01, 0x00, // flags: recursion desired
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // one question, no records
        0x00, // root name
        0x00, 0x02, // type NS
        0x00, 0x01, // class IN
    ];
    let mut response = [0u8; 512];
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    while Instant::now() < deadline {
        if process.exit_status().is_some() {
            return Err(process.startup_error("the process exited"));
        }
        // Sending fails with "connection refused" while the port is still closed.
        if socket.send(&query).is_ok() && socket.recv(&mut response).is_ok() {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(20));
    }
    Err(process.startup_error(&format!("no answer on {addr} within {STARTUP_TIMEOUT:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_name_of_ipv4_and_ipv6() {
        assert_eq!(
            reverse_name("192.0.2.10".parse().unwrap()),
            "10.2.0.192.in-addr.arpa"
        );
        assert_eq!(
            reverse_name("2001:db8::1".parse().unwrap()),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[test]
    fn txt_splits_long_text() {
        let text = "a".repeat(300);
        let config = DnsConfig::new().txt("s._domainkey.x.test", &text);
        let argument = &config.arguments()[1];
        let expected = format!(
            "--txt-record=s._domainkey.x.test,{},{}",
            &text[..255],
            &text[255..]
        );
        assert_eq!(argument, &expected);
    }
}
