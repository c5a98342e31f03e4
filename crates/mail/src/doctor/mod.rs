//! Checks of the DNS records that receivers use to judge a sender domain's mail: SPF, DKIM,
//! DMARC and the reverse DNS of the sending address.
//!
//! This module hides how the records are found and read: which names are looked up, how
//! an SPF record is evaluated for one address, how a DKIM key record is compared with the
//! signing key, and which DMARC record applies. Callers get one [`Finding`] per question,
//! each with a [`Level`], what was found and how to fix it.
//!
//! It only reads DNS, through the same resolver settings as the [`Mailer`](crate::Mailer),
//! and never connects to a mail server or sends anything. It evaluates the SPF mechanisms
//! that depend only on the record itself and on A, AAAA and MX lookups (`ip4`, `ip6`, `a`,
//! `mx` and `all`). It names the mechanisms it does not follow (`include`, `exists`,
//! `ptr`, `redirect` and macros) instead of guessing their result.
//!
//! # Layout
//!
//! - `dns`: TXT, PTR and address lookups with "not found" kept apart from failures.
//! - `tags`: the tag lists of DKIM key records and DMARC records.
//! - `spf`, `dkim`, `dmarc`, `ptr`: one check each.

mod dkim;
mod dmarc;
mod dns;
mod ptr;
mod spf;
mod tags;

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use thiserror::Error;

use crate::address::check_domain;
use crate::dkim::PrivateKey;
use crate::mx::MxResolver;

/// The questions a [`Doctor`] answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Check {
    /// The domain's SPF record, and whether it allows the sending address.
    Spf,
    /// The DKIM key record of the selector, and whether it matches the signing key.
    Dkim,
    /// The domain's DMARC record and its policy.
    Dmarc,
    /// The PTR record of the sending address, confirmed by a forward lookup.
    Ptr,
}

impl Check {
    /// Returns the name shown to people, such as `SPF`.
    pub fn name(self) -> &'static str {
        match self {
            Check::Spf => "SPF",
            Check::Dkim => "DKIM",
            Check::Dmarc => "DMARC",
            Check::Ptr => "PTR",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// The severity of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Nothing to do.
    Ok,
    /// Mail may still be accepted, but some receivers will treat it with suspicion, or a
    /// part could not be checked.
    Warn,
    /// Receivers that check this record will reject or distrust the mail.
    Fail,
}

impl Level {
    /// Returns the label shown to people: `OK`, `WARN` or `FAIL`.
    pub fn label(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.label())
    }
}

/// The answer to one question about the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The record this finding is about.
    pub check: Check,
    /// Its severity.
    pub level: Level,
    /// The finding, in one or more sentences.
    pub summary: String,
    /// The change that fixes a warning or failure, when one does.
    pub fix: Option<String>,
}

impl Finding {
    pub(crate) fn ok(check: Check, summary: impl Into<String>) -> Finding {
        Finding {
            check,
            level: Level::Ok,
            summary: summary.into(),
            fix: None,
        }
    }

    pub(crate) fn warn(
        check: Check,
        summary: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            check,
            level: Level::Warn,
            summary: summary.into(),
            fix: Some(fix.into()),
        }
    }

    pub(crate) fn fail(
        check: Check,
        summary: impl Into<String>,
        fix: impl Into<String>,
    ) -> Finding {
        Finding {
            check,
            level: Level::Fail,
            summary: summary.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The domain, selector, key and address to check.
#[derive(Debug, Clone, Copy)]
pub struct Checkup<'a> {
    /// The sender domain: the domain of the `From` address, such as `example.org`.
    pub domain: &'a str,
    /// The DKIM selector whose key record is checked, or `None` to skip the DKIM check.
    pub selector: Option<&'a str>,
    /// The signing key, whose public key the published record must contain. Without it,
    /// the record is checked for syntax only.
    pub key: Option<&'a PrivateKey>,
    /// The domain the signer writes in `d=`, when it is configured. A warning is given
    /// unless it is `domain` or one of the two is a subdomain of the other, because DMARC
    /// passes only for aligned domains.
    pub signing_domain: Option<&'a str>,
    /// The address mail is sent from, whose SPF authorization and reverse DNS are checked.
    /// Without it, SPF is checked for syntax only and PTR is not checked.
    pub ip: Option<IpAddr>,
}

/// The reason a [`Doctor`] could not start its checks.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum DoctorError {
    /// The DNS resolver could not be created.
    #[error(
        "creating the DNS resolver failed: {reason}; check /etc/resolv.conf or set a DNS server"
    )]
    Resolver { reason: String },
    /// The domain is not a host name.
    #[error(
        "invalid domain {domain:?}: {reason}; use the domain of the sender address, such as example.org"
    )]
    InvalidDomain {
        domain: String,
        reason: &'static str,
    },
    /// The selector is not a sequence of DNS labels.
    #[error("invalid DKIM selector {selector:?}: {reason}; use DNS labels such as \"mail2026\"")]
    InvalidSelector {
        selector: String,
        reason: &'static str,
    },
}

/// Checks a sender domain's DNS records through one resolver.
pub struct Doctor {
    resolver: MxResolver,
}

impl Doctor {
    /// Creates a doctor that queries `dns_server`, or the servers of `/etc/resolv.conf` when it
    /// is `None`, waiting up to `timeout` for each response.
    pub fn new(dns_server: Option<SocketAddr>, timeout: Duration) -> Result<Doctor, DoctorError> {
        let resolver =
            MxResolver::new(dns_server, timeout).map_err(|error| DoctorError::Resolver {
                reason: error.to_string(),
            })?;
        Ok(Doctor { resolver })
    }

    /// Runs every check that `checkup` allows and returns the findings in the order SPF,
    /// DKIM, DMARC and PTR.
    ///
    /// A DNS failure, such as a timeout, is a [`Level::Fail`] finding of the check that
    /// needed the answer, never an error.
    ///
    /// # Errors
    ///
    /// Returns an error when the domain or the selector is not a valid DNS name.
    pub async fn diagnose(&self, checkup: &Checkup<'_>) -> Result<Vec<Finding>, DoctorError> {
        let domain = checkup.domain.trim_end_matches('.').to_ascii_lowercase();
        check_domain(&domain).map_err(|reason| DoctorError::InvalidDomain {
            domain: checkup.domain.to_owned(),
            reason,
        })?;
        if let Some(selector) = checkup.selector {
            check_domain(selector).map_err(|reason| DoctorError::InvalidSelector {
                selector: selector.to_owned(),
                reason,
            })?;
        }

        let mut findings = spf::check(&self.resolver, &domain, checkup.ip).await;
        findings.extend(dkim::check(&self.resolver, &domain, checkup).await);
        findings.extend(dmarc::check(&self.resolver, &domain).await);
        findings.extend(ptr::check(&self.resolver, checkup.ip).await);
        Ok(findings)
    }
}
