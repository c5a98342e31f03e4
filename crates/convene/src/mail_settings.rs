//! Mail settings shared by `convene serve`, `convene mail send` and `convene mail doctor`:
//! DNS, the SMTP transport (port, HELO name, TLS policy, relay) and DKIM signing.
//!
//! Each setting is a flag and a `CONVENE_*` environment variable. Clap checks each value
//! while parsing. The builders here check the rest before any work starts: files, and
//! settings that only work together. Every error names the setting and how to fix it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use convene_mail::dkim::{PrivateKey, Signer, SignerConfig};
use convene_mail::{
    Address, Credentials, MailerConfig, MailerError, Relay, RelaySecurity, TlsPolicy,
};

use crate::config::SettingsError;

/// The DNS server setting.
#[derive(Debug, Clone, Args)]
pub struct DnsSettings {
    /// Nameserver (`IP:port`) asked for MX, address, TXT and PTR records. Default: the
    /// system resolver configuration (/etc/resolv.conf).
    #[arg(long, env = "CONVENE_DNS_SERVER", value_name = "IP:PORT", value_parser = parse_dns_server)]
    pub dns_server: Option<SocketAddr>,
}

/// The delivery route and its security: MX hosts or a relay, port, HELO name and TLS.
#[derive(Debug, Clone, Args)]
pub struct TransportSettings {
    /// TCP port that mail is delivered to on each MX host, from 1 to 65535. The relay has
    /// its own port, in CONVENE_RELAY.
    #[arg(long, env = "CONVENE_SMTP_PORT", default_value_t = 25, value_parser = clap::value_parser!(u16).range(1..))]
    pub smtp_port: u16,

    /// Host name sent in SMTP EHLO/HELO; it should be this host's fully qualified domain
    /// name. Default: the system host name.
    #[arg(long, env = "CONVENE_HELO_NAME")]
    pub helo_name: Option<String>,

    /// STARTTLS policy for MX delivery. `opportunistic` uses TLS when offered, without
    /// checking the certificate, and falls back to plain text. `required` never sends in
    /// plain text and verifies the certificate. `required-unverified` never sends in plain
    /// text but accepts any certificate. `disabled` never uses TLS.
    #[arg(
        long,
        env = "CONVENE_TLS_POLICY",
        value_enum,
        default_value_t = PolicyName::Opportunistic
    )]
    pub tls_policy: PolicyName,

    /// TLS policies for single recipient domains, overriding CONVENE_TLS_POLICY: a
    /// comma-separated list of `domain=policy`, such as
    /// `example.org=required,legacy.example=disabled`. A domain matches exactly, not its
    /// subdomains.
    #[arg(long, env = "CONVENE_TLS_POLICY_DOMAINS", value_name = "DOMAIN=POLICY,...", value_parser = parse_policy_domains)]
    pub tls_policy_domains: Option<PolicyDomains>,

    /// PEM files of CA certificates trusted in addition to the system's, for servers with
    /// certificates from a private CA. Comma-separated, or the flag repeated.
    #[arg(
        long,
        env = "CONVENE_TLS_CA_FILE",
        value_name = "PEM",
        value_delimiter = ','
    )]
    pub tls_ca_file: Vec<PathBuf>,

    /// Relay (smarthost) that takes all mail instead of the MX hosts:
    /// `smtp://host[:port]` for STARTTLS (port 587 by default) or `smtps://host[:port]` for
    /// TLS from the first byte (port 465 by default). The certificate is always verified.
    // Parsed by `relay()` rather than by clap, whose error would repeat the value, with
    // any password written into it.
    #[arg(long, env = "CONVENE_RELAY", value_name = "URL")]
    pub relay: Option<String>,

    /// User name for AUTH at the relay. Needs CONVENE_RELAY_PASSWORD_FILE.
    #[arg(long, env = "CONVENE_RELAY_USER", value_name = "NAME")]
    pub relay_user: Option<String>,

    /// File whose content is the relay password (one trailing line break is ignored), so
    /// that the password appears in neither the process list nor the environment. It is
    /// never logged.
    #[arg(long, env = "CONVENE_RELAY_PASSWORD_FILE", value_name = "FILE")]
    pub relay_password_file: Option<PathBuf>,
}

/// DKIM signing: all three settings, or none.
#[derive(Debug, Clone, Args)]
pub struct DkimSettings {
    /// PEM file of the DKIM private key (PKCS#8, or PKCS#1 for RSA), such as one written
    /// by `convene dkim keygen`. Signing also needs --dkim-domain and --dkim-selector.
    #[arg(long, env = "CONVENE_DKIM_KEY", value_name = "PEM")]
    pub dkim_key: Option<PathBuf>,

    /// Signing domain (d=), normally the domain of the sender address.
    #[arg(long, env = "CONVENE_DKIM_DOMAIN", value_name = "DOMAIN")]
    pub dkim_domain: Option<String>,

    /// Selector (s=): receivers look the public key up at
    /// SELECTOR._domainkey.DOMAIN.
    #[arg(long, env = "CONVENE_DKIM_SELECTOR", value_name = "SELECTOR")]
    pub dkim_selector: Option<String>,
}

/// All mail settings, for commands that deliver mail.
#[derive(Debug, Clone, Args)]
pub struct MailSettings {
    #[command(flatten, next_help_heading = "Mail delivery")]
    pub dns: DnsSettings,

    #[command(flatten, next_help_heading = "Mail delivery")]
    pub transport: TransportSettings,

    #[command(flatten, next_help_heading = "DKIM signing")]
    pub dkim: DkimSettings,
}

/// A TLS policy by its setting name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PolicyName {
    Opportunistic,
    Required,
    RequiredUnverified,
    Disabled,
}

impl PolicyName {
    fn policy(self) -> TlsPolicy {
        match self {
            PolicyName::Opportunistic => TlsPolicy::Opportunistic,
            PolicyName::Required => TlsPolicy::Required {
                verify_certificate: true,
            },
            PolicyName::RequiredUnverified => TlsPolicy::Required {
                verify_certificate: false,
            },
            PolicyName::Disabled => TlsPolicy::Disabled,
        }
    }
}

/// Per-domain TLS policies, keyed by domain in lowercase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyDomains(BTreeMap<String, PolicyName>);

/// The relay's address and encryption, parsed from CONVENE_RELAY.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RelayAddress {
    host: String,
    port: u16,
    security: RelaySecurity,
}

impl MailSettings {
    /// Builds the Mailer configuration. See [`TransportSettings::mailer_config`].
    pub fn mailer_config(&self) -> Result<MailerConfig, SettingsError> {
        self.transport.mailer_config(&self.dns)
    }
}

impl TransportSettings {
    /// Returns the HELO name: the setting, or the kernel's host name.
    pub fn helo_name(&self) -> String {
        self.helo_name.clone().unwrap_or_else(system_host_name)
    }

    /// Builds the Mailer configuration, reading the relay password file.
    ///
    /// Logs a warning when the HELO name is not fully qualified or the password file is
    /// readable by other users. The result still has to pass [`convene_mail::Mailer::new`],
    /// whose errors [`mailer_error`] names the setting for.
    pub fn mailer_config(&self, dns: &DnsSettings) -> Result<MailerConfig, SettingsError> {
        let helo_name = self.helo_name();
        if !helo_name.contains('.') {
            tracing::warn!(
                helo_name = %helo_name,
                "the HELO name is not a fully qualified domain name, and many mail servers reject such senders; set --helo-name / CONVENE_HELO_NAME"
            );
        }
        for path in &self.tls_ca_file {
            if let Err(error) = std::fs::metadata(path) {
                return Err(SettingsError::new(format!(
                    "reading the CA file {} (--tls-ca-file / CONVENE_TLS_CA_FILE) failed: {error}; name an existing PEM file",
                    path.display()
                )));
            }
        }
        let tls_by_domain = match &self.tls_policy_domains {
            Some(PolicyDomains(domains)) => domains
                .iter()
                .map(|(domain, name)| (domain.clone(), name.policy()))
                .collect(),
            None => BTreeMap::new(),
        };
        if self.relay.is_some() && !tls_by_domain.is_empty() {
            tracing::warn!(
                "CONVENE_TLS_POLICY_DOMAINS has no effect while CONVENE_RELAY is set, because all mail goes to the relay"
            );
        }

        Ok(MailerConfig {
            dns_server: dns.dns_server,
            smtp_port: self.smtp_port,
            helo_name,
            tls: self.tls_policy.policy(),
            tls_by_domain,
            ca_certificates: self.tls_ca_file.clone(),
            relay: self.relay()?,
            ..MailerConfig::default()
        })
    }

    /// Returns the relay with its credentials, checking that the relay settings fit
    /// together.
    fn relay(&self) -> Result<Option<Relay>, SettingsError> {
        let credentials = match (&self.relay_user, &self.relay_password_file) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(SettingsError::new(
                    "--relay-user / CONVENE_RELAY_USER is set without a password; set --relay-password-file / CONVENE_RELAY_PASSWORD_FILE to a file that contains it",
                ));
            }
            (None, Some(_)) => {
                return Err(SettingsError::new(
                    "--relay-password-file / CONVENE_RELAY_PASSWORD_FILE is set without a user name; set --relay-user / CONVENE_RELAY_USER",
                ));
            }
            (Some(user), Some(path)) => Some(Credentials::new(user.clone(), read_password(path)?)),
        };
        let Some(url) = &self.relay else {
            if credentials.is_some() {
                return Err(SettingsError::new(
                    "relay credentials are set without a relay; set --relay / CONVENE_RELAY to smtp://host:587 or smtps://host:465, or remove CONVENE_RELAY_USER and CONVENE_RELAY_PASSWORD_FILE",
                ));
            }
            return Ok(None);
        };
        let address = parse_relay(url).map_err(|error| {
            SettingsError::new(format!("invalid --relay / CONVENE_RELAY: {error}"))
        })?;
        Ok(Some(Relay {
            host: address.host,
            port: address.port,
            security: address.security,
            verify_certificate: true,
            credentials,
        }))
    }
}

impl DkimSettings {
    /// Returns whether any DKIM setting is given.
    fn any(&self) -> bool {
        self.dkim_key.is_some() || self.dkim_domain.is_some() || self.dkim_selector.is_some()
    }

    /// Loads the key and returns the signer, or `None` when no DKIM setting is given.
    ///
    /// # Errors
    ///
    /// Returns an error when only some of the three settings are given, the key file
    /// cannot be read or contains no usable key, or the domain or selector is not a DNS name.
    pub fn signer(&self) -> Result<Option<Signer>, SettingsError> {
        if !self.any() {
            return Ok(None);
        }
        let missing: Vec<&str> = [
            (self.dkim_key.is_none(), "--dkim-key / CONVENE_DKIM_KEY"),
            (
                self.dkim_domain.is_none(),
                "--dkim-domain / CONVENE_DKIM_DOMAIN",
            ),
            (
                self.dkim_selector.is_none(),
                "--dkim-selector / CONVENE_DKIM_SELECTOR",
            ),
        ]
        .into_iter()
        .filter_map(|(missing, setting)| missing.then_some(setting))
        .collect();
        if !missing.is_empty() {
            let verb = if missing.len() == 1 { "is" } else { "are" };
            return Err(SettingsError::new(format!(
                "DKIM signing needs a key, a domain and a selector, but {} {verb} not set; set all three or none",
                missing.join(" and ")
            )));
        }

        let key = self.key()?.expect("the key setting is present");
        let domain = self.dkim_domain.clone().expect("checked above");
        let selector = self.dkim_selector.clone().expect("checked above");
        let signer = Signer::new(SignerConfig::new(domain, selector), key).map_err(|error| {
            SettingsError::new(format!(
                "{error} (--dkim-domain / CONVENE_DKIM_DOMAIN, --dkim-selector / CONVENE_DKIM_SELECTOR)"
            ))
        })?;
        Ok(Some(signer))
    }

    /// Loads the key of `--dkim-key`, or returns `None` when it is not set.
    pub fn key(&self) -> Result<Option<PrivateKey>, SettingsError> {
        let Some(path) = &self.dkim_key else {
            return Ok(None);
        };
        let pem = std::fs::read(path).map_err(|error| {
            SettingsError::new(format!(
                "reading the DKIM key {} (--dkim-key / CONVENE_DKIM_KEY) failed: {error}; name the PEM file written by `convene dkim keygen`",
                path.display()
            ))
        })?;
        let key = PrivateKey::from_pem(&pem).map_err(|error| {
            SettingsError::new(format!(
                "{error} (in {}, --dkim-key / CONVENE_DKIM_KEY)",
                path.display()
            ))
        })?;
        Ok(Some(key))
    }
}

/// Describes the route of `config` for the start-up log: the relay, or MX delivery and
/// its port.
pub fn route(config: &MailerConfig) -> String {
    match &config.relay {
        Some(relay) => {
            let scheme = match relay.security {
                RelaySecurity::StartTls => "smtp",
                RelaySecurity::ImplicitTls => "smtps",
            };
            format!("relay {scheme}://{}:{}", relay.host, relay.port)
        }
        None => format!("MX hosts on port {}", config.smtp_port),
    }
}

/// Logs a warning when `signer` signs for a domain that is neither the domain of `sender`
/// nor a parent of it, because receivers then do not count the signature for DMARC.
pub fn warn_if_unaligned(sender: &Address, signer: &Signer) {
    let domain = &signer.config().domain;
    let sender_domain = sender.domain();
    let aligned = sender_domain == domain || sender_domain.ends_with(&format!(".{domain}"));
    if !aligned {
        tracing::warn!(
            sender = %sender,
            dkim_domain = %domain,
            "mail is signed for another domain than its sender's, so receivers do not count the signature for DMARC; set --dkim-domain / CONVENE_DKIM_DOMAIN to the sender's domain"
        );
    }
}

/// Names the setting behind an error of [`convene_mail::Mailer::new`].
pub fn mailer_error(error: MailerError) -> SettingsError {
    let setting = match &error {
        MailerError::InvalidHeloName { .. } => "--helo-name / CONVENE_HELO_NAME",
        MailerError::InvalidTlsDomain { .. } => "--tls-policy-domains / CONVENE_TLS_POLICY_DOMAINS",
        MailerError::InvalidRelay { .. } => {
            "--relay / CONVENE_RELAY and --relay-user / CONVENE_RELAY_USER"
        }
        MailerError::Resolver { .. } => "--dns-server / CONVENE_DNS_SERVER",
        MailerError::CaCertificates { .. } | MailerError::NoTrustAnchors => {
            "--tls-ca-file / CONVENE_TLS_CA_FILE"
        }
        _ => "the mail settings",
    };
    SettingsError::new(format!("invalid setting {setting}: {error}"))
}

/// Reads the relay password: the file's content without one trailing line break.
fn read_password(path: &Path) -> Result<String, SettingsError> {
    let setting = "--relay-password-file / CONVENE_RELAY_PASSWORD_FILE";
    let content = std::fs::read_to_string(path).map_err(|error| {
        SettingsError::new(format!(
            "reading the relay password file {} ({setting}) failed: {error}; name a readable file that contains the password",
            path.display()
        ))
    })?;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "the relay password file is readable by other users; restrict it with chmod 600"
        );
    }
    let password = content
        .strip_suffix("\r\n")
        .or_else(|| content.strip_suffix('\n'))
        .unwrap_or(&content);
    if password.is_empty() {
        return Err(SettingsError::new(format!(
            "the relay password file {} ({setting}) is empty; write the password into it",
            path.display()
        )));
    }
    Ok(password.to_owned())
}

/// Parses `domain=policy,domain=policy`.
fn parse_policy_domains(text: &str) -> Result<PolicyDomains, String> {
    let mut domains = BTreeMap::new();
    for entry in text
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
    {
        let Some((domain, policy)) = entry.split_once('=') else {
            return Err(format!(
                "{entry:?} is not of the form domain=policy; use a list such as example.org=required,legacy.example=disabled"
            ));
        };
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        if domain.is_empty() {
            return Err(format!("{entry:?} has no domain before '='"));
        }
        let policy = PolicyName::from_str(policy.trim(), true).map_err(|_| {
            format!(
                "{entry:?} has an unknown policy; use opportunistic, required, required-unverified or disabled"
            )
        })?;
        if domains.insert(domain.clone(), policy).is_some() {
            return Err(format!(
                "the domain {domain} is listed twice; keep one policy for it"
            ));
        }
    }
    if domains.is_empty() {
        return Err(
            "the list is empty; use domain=policy entries such as example.org=required".to_owned(),
        );
    }
    Ok(PolicyDomains(domains))
}

/// Parses `smtp://host[:port]` or `smtps://host[:port]`. No error repeats a URL that
/// contains credentials.
fn parse_relay(text: &str) -> Result<RelayAddress, String> {
    if text.contains('@') {
        return Err(
            "the URL contains credentials; set --relay-user / CONVENE_RELAY_USER and --relay-password-file / CONVENE_RELAY_PASSWORD_FILE instead"
                .to_owned(),
        );
    }
    let (security, default_port, rest) = if let Some(rest) = text.strip_prefix("smtp://") {
        (RelaySecurity::StartTls, 587, rest)
    } else if let Some(rest) = text.strip_prefix("smtps://") {
        (RelaySecurity::ImplicitTls, 465, rest)
    } else {
        return Err(format!(
            "{text:?} does not start with smtp:// (STARTTLS, port 587) or smtps:// (implicit TLS, port 465); use a URL such as smtp://mail.example.org:587"
        ));
    };
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains(['/', '?', '#']) {
        return Err(format!(
            "{text:?} has a path or query; use only smtp://host:port or smtps://host:port"
        ));
    }

    // An IPv6 address is written in brackets, as in smtp://[2001:db8::1]:587.
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let Some((host, after)) = bracketed.split_once(']') else {
            return Err(format!(
                "{text:?} has an IPv6 address without the closing ']'"
            ));
        };
        (host, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(format!(
            "{text:?} has no host; use a URL such as smtp://mail.example.org:587"
        ));
    }
    let port = match port {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| format!("{text:?} has an invalid port; use a port from 1 to 65535"))?,
        None => default_port,
    };
    Ok(RelayAddress {
        host: host.to_ascii_lowercase(),
        port,
        security,
    })
}

/// Returns the kernel's host name, or `localhost` when it cannot be read.
fn system_host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Parses `--dns-server`: an IP address and a port, such as `127.0.0.1:53` or `[::1]:53`.
fn parse_dns_server(text: &str) -> Result<SocketAddr, String> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    if text.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!(
            "{text:?} has no port; add one, such as {text}:53 (IPv6 as [::1]:53)"
        ));
    }
    Err(format!(
        "{text:?} is not an IP address and port such as 127.0.0.1:53; host names are not \
         accepted, because the nameserver is what resolves them"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_relay_accepts_both_schemes() {
        let rows = [
            (
                "smtp://mail.example.test",
                "mail.example.test",
                587,
                RelaySecurity::StartTls,
            ),
            (
                "smtp://Mail.Example.test:2525/",
                "mail.example.test",
                2525,
                RelaySecurity::StartTls,
            ),
            (
                "smtps://mail.example.test",
                "mail.example.test",
                465,
                RelaySecurity::ImplicitTls,
            ),
            (
                "smtps://127.0.0.1:4650",
                "127.0.0.1",
                4650,
                RelaySecurity::ImplicitTls,
            ),
            ("smtp://[::1]:587", "::1", 587, RelaySecurity::StartTls),
            ("smtp://[::1]", "::1", 587, RelaySecurity::StartTls),
        ];
        for (text, host, port, security) in rows {
            let relay = parse_relay(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            assert_eq!(relay.host, host, "{text}");
            assert_eq!(relay.port, port, "{text}");
            assert_eq!(relay.security, security, "{text}");
        }
    }

    #[test]
    fn parse_relay_rejects_invalid_urls() {
        let rows = [
            ("http://mail.example.test", "does not start with smtp://"),
            ("mail.example.test:587", "does not start with smtp://"),
            (
                "smtp://user:secret@mail.example.test",
                "contains credentials",
            ),
            ("smtp://mail.example.test/path", "path or query"),
            ("smtp://mail.example.test:0", "invalid port"),
            ("smtp://mail.example.test:70000", "invalid port"),
            ("smtp://:587", "has no host"),
            ("smtp://[::1", "without the closing"),
        ];
        for (text, expected) in rows {
            let error = parse_relay(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
            assert!(!error.contains("secret"), "{text}: {error}");
        }
    }

    #[test]
    fn parse_policy_domains_reads_list() {
        let PolicyDomains(domains) = parse_policy_domains(
            "Example.ORG=required, legacy.test=Disabled,x.test=required-unverified",
        )
        .unwrap();
        assert_eq!(domains.len(), 3);
        assert_eq!(domains["example.org"], PolicyName::Required);
        assert_eq!(domains["legacy.test"], PolicyName::Disabled);
        assert_eq!(domains["x.test"], PolicyName::RequiredUnverified);
    }

    #[test]
    fn parse_policy_domains_rejects_invalid_entries() {
        let rows = [
            ("example.org", "not of the form"),
            ("=required", "no domain"),
            ("example.org=strict", "unknown policy"),
            ("a.test=required,A.test=disabled", "listed twice"),
            (" , ", "empty"),
        ];
        for (text, expected) in rows {
            let error = parse_policy_domains(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn read_password_strips_one_line_break() {
        let dir = tempfile::tempdir().unwrap();
        let rows = [
            ("secret\n", "secret"),
            ("secret\r\n", "secret"),
            ("secret", "secret"),
            ("two words \n\n", "two words \n"),
        ];
        for (content, expected) in rows {
            let path = dir.path().join("password");
            std::fs::write(&path, content).unwrap();
            assert_eq!(read_password(&path).unwrap(), expected, "{content:?}");
        }
        std::fs::write(dir.path().join("empty"), "\n").unwrap();
        let error = read_password(&dir.path().join("empty")).unwrap_err();
        assert!(error.to_string().contains("is empty"), "{error}");
    }
}
