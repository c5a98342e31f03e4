//! Reverse DNS of the sending address, confirmed by a forward lookup of each name.

use std::net::IpAddr;

use super::dns::{self, LookupError};
use super::{Check, Finding};
use crate::mx::MxResolver;

/// Checks that `ip` has a PTR record whose name resolves back to `ip`, which many receivers
/// require of a sending host. Without an address there is nothing to check.
pub(super) async fn check(resolver: &MxResolver, ip: Option<IpAddr>) -> Vec<Finding> {
    let Some(ip) = ip else {
        return vec![Finding::warn(
            Check::Ptr,
            "not checked, because no sending address was given",
            "pass the public IP address that this host sends mail from",
        )];
    };
    let fix = format!(
        "ask the owner of {ip} (usually the hosting provider) to set its PTR record to this host's name, and give that name an address record for {ip}"
    );
    let names = match dns::ptr(resolver, ip).await {
        Ok(names) => names,
        Err(LookupError::NotFound) => {
            return vec![Finding::fail(
                Check::Ptr,
                format!(
                    "{ip} has no PTR record, and many receivers reject mail from addresses without one"
                ),
                fix,
            )];
        }
        Err(LookupError::Failed(error)) => {
            return vec![Finding::fail(
                Check::Ptr,
                format!("looking up the PTR record of {ip} failed: {error}"),
                "check that the reverse zone's nameservers answer, then run this check again",
            )];
        }
    };

    let mut mismatches = Vec::new();
    for name in &names {
        match dns::addresses(resolver, name).await {
            Ok(addresses) if addresses.contains(&ip) => {
                return vec![Finding::ok(
                    Check::Ptr,
                    format!("{ip} has the PTR name {name}, which resolves back to {ip}"),
                )];
            }
            Ok(addresses) => {
                let listed: Vec<String> = addresses.iter().map(IpAddr::to_string).collect();
                mismatches.push(format!("{name} resolves to {}", listed.join(", ")));
            }
            Err(LookupError::NotFound) => mismatches.push(format!("{name} has no address record")),
            Err(LookupError::Failed(error)) => {
                mismatches.push(format!("looking up {name} failed: {error}"));
            }
        }
    }
    vec![Finding::fail(
        Check::Ptr,
        format!(
            "the PTR name of {ip} does not resolve back to it ({}), and receivers that confirm reverse DNS treat the host as unnamed",
            mismatches.join("; ")
        ),
        fix,
    )]
}
