//! `convene mail doctor`: prints the findings of [`convene_mail::doctor`] for a sender
//! domain, one line per finding with its fix below.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use convene_mail::doctor::{Checkup, Doctor, DoctorError, Finding, Level};

use crate::config::SettingsError;
use crate::mail_settings::{DkimSettings, DnsSettings};

/// Maximum time to wait for each DNS response; the same default as the Mailer's.
const DNS_TIMEOUT: Duration = Duration::from_secs(5);

/// Arguments of `convene mail doctor`.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Sender domain to check: the domain of the From address.
    #[arg(long)]
    pub domain: String,

    /// DKIM selector whose key record is checked. Default: --dkim-selector /
    /// CONVENE_DKIM_SELECTOR.
    #[arg(long)]
    pub selector: Option<String>,

    /// Public IP address this host sends mail from, whose SPF authorization and reverse
    /// DNS are checked.
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<IpAddr>,

    #[command(flatten, next_help_heading = "DNS")]
    pub dns: DnsSettings,

    // The key is compared with the published one, and the domain checked for alignment
    // with --domain.
    #[command(flatten, next_help_heading = "DKIM key")]
    pub dkim: DkimSettings,
}

/// Runs the checks, prints the findings and returns 1 if any failed.
pub async fn run(args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let key = args.dkim.key()?;
    let doctor = Doctor::new(args.dns.dns_server, DNS_TIMEOUT).map_err(doctor_error)?;
    let checkup = Checkup {
        domain: &args.domain,
        selector: args
            .selector
            .as_deref()
            .or(args.dkim.dkim_selector.as_deref()),
        key: key.as_ref(),
        signing_domain: args.dkim.dkim_domain.as_deref(),
        ip: args.ip,
    };
    let findings = doctor.diagnose(&checkup).await.map_err(doctor_error)?;

    for finding in &findings {
        println!("{}", format_finding(finding));
    }
    let failed = findings.iter().any(|finding| finding.level == Level::Fail);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Names the flag behind an error of the doctor.
fn doctor_error(error: DoctorError) -> SettingsError {
    let flag = match error {
        DoctorError::InvalidDomain { .. } => "--domain",
        DoctorError::InvalidSelector { .. } => "--selector",
        DoctorError::Resolver { .. } => "--dns-server / CONVENE_DNS_SERVER",
        _ => "the doctor settings",
    };
    SettingsError::new(format!("invalid {flag}: {error}"))
}

/// Formats a finding as `LEVEL CHECK  summary`, with `fix: ...` on an indented line.
fn format_finding(finding: &Finding) -> String {
    let mut text = format!(
        "{:<4}  {:<5}  {}",
        finding.level.label(),
        finding.check.name(),
        finding.summary
    );
    if let Some(fix) = &finding.fix {
        text.push_str(&format!("\n{:13}fix: {fix}", ""));
    }
    text
}

#[cfg(test)]
mod tests {
    use convene_mail::doctor::Check;

    use super::*;

    #[test]
    fn format_finding_puts_fix_below() {
        let finding = Finding {
            check: Check::Dmarc,
            level: Level::Warn,
            summary: "p=none".to_owned(),
            fix: Some("use p=quarantine".to_owned()),
        };
        assert_eq!(
            format_finding(&finding),
            "WARN  DMARC  p=none\n             fix: use p=quarantine"
        );
        let finding = Finding {
            check: Check::Spf,
            level: Level::Ok,
            summary: "one record".to_owned(),
            fix: None,
        };
        assert_eq!(format_finding(&finding), "OK    SPF    one record");
    }
}
