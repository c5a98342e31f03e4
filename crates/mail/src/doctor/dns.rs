//! The lookups the checks need, with "no such record" kept apart from a failed query.

use std::net::IpAddr;

use hickory_resolver::net::NetError;
use hickory_resolver::proto::rr::{Name, RData};

use crate::mx::{MxResolver, fully_qualified, host_name};

/// The reason a lookup returned no records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LookupError {
    /// The name does not exist, or has no record of the requested type.
    NotFound,
    /// The query failed, for example with SERVFAIL, REFUSED or a timeout.
    Failed(String),
}

impl LookupError {
    fn from_net(error: NetError) -> LookupError {
        if error.is_no_records_found() {
            LookupError::NotFound
        } else {
            LookupError::Failed(error.to_string())
        }
    }
}

/// Returns the texts of the TXT records at `name`, each record's strings joined without
/// separator, as SPF (RFC 7208, section 3.3), DKIM (RFC 6376, section 3.6.2.2) and DMARC
/// read them. Bytes that are not UTF-8 become U+FFFD.
pub(crate) async fn txt(resolver: &MxResolver, name: &str) -> Result<Vec<String>, LookupError> {
    let lookup = resolver
        .resolver()
        .txt_lookup(fully_qualified(name))
        .await
        .map_err(LookupError::from_net)?;
    let texts: Vec<String> = lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|string| String::from_utf8_lossy(string))
                    .collect(),
            ),
            _ => None,
        })
        .collect();
    if texts.is_empty() {
        return Err(LookupError::NotFound);
    }
    Ok(texts)
}

/// Returns the names that the PTR records of `address` point to, without the final dot.
pub(crate) async fn ptr(
    resolver: &MxResolver,
    address: IpAddr,
) -> Result<Vec<String>, LookupError> {
    let lookup = resolver
        .resolver()
        .reverse_lookup(Name::from(address))
        .await
        .map_err(LookupError::from_net)?;
    let names: Vec<String> = lookup
        .answers()
        .iter()
        .filter_map(|record| match &record.data {
            RData::PTR(ptr) => Some(host_name(&ptr.0)),
            _ => None,
        })
        .collect();
    if names.is_empty() {
        return Err(LookupError::NotFound);
    }
    Ok(names)
}

/// Returns the IPv4 and IPv6 addresses of `name`.
pub(crate) async fn addresses(
    resolver: &MxResolver,
    name: &str,
) -> Result<Vec<IpAddr>, LookupError> {
    let lookup = resolver
        .resolver()
        .lookup_ip(fully_qualified(name))
        .await
        .map_err(LookupError::from_net)?;
    let addresses: Vec<IpAddr> = lookup.iter().collect();
    if addresses.is_empty() {
        return Err(LookupError::NotFound);
    }
    Ok(addresses)
}
