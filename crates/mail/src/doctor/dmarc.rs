//! DMARC (RFC 7489): the record that applies to the domain, and its policy.

use super::dns::{self, LookupError};
use super::tags::Tags;
use super::{Check, Finding};
use crate::mx::MxResolver;

/// The record suggested to a domain that has none.
const EXAMPLE: &str = "\"v=DMARC1; p=quarantine\"";

/// Checks the DMARC record of `domain`, or of a parent domain when it has none.
///
/// Receivers fall back to the record of the organizational domain (RFC 7489, section
/// 6.6.3). NOTE: which parent that is depends on the Public Suffix List, which this check
/// does not have, so it takes the nearest parent with a record, stopping before the top
/// level domain. Under a suffix of several labels, such as `co.uk`, it can take a record
/// that receivers would not.
pub(super) async fn check(resolver: &MxResolver, domain: &str) -> Vec<Finding> {
    let labels: Vec<&str> = domain.split('.').collect();
    // The domain itself, then its parents with at least two labels.
    let candidates =
        (0..labels.len().saturating_sub(1).max(1)).map(|skip| labels[skip..].join("."));
    for owner in candidates {
        let name = format!("_dmarc.{owner}");
        let texts = match dns::txt(resolver, &name).await {
            Ok(texts) => texts,
            Err(LookupError::NotFound) => continue,
            Err(LookupError::Failed(error)) => {
                return vec![Finding::fail(
                    Check::Dmarc,
                    format!("looking up the TXT records of {name} failed: {error}"),
                    "check that the domain's nameservers answer, then run this check again",
                )];
            }
        };
        // RFC 7489, section 6.6.3: records that do not start with v=DMARC1 are discarded.
        let records: Vec<&String> = texts
            .iter()
            .filter(|text| text.trim_start().starts_with("v=DMARC1"))
            .collect();
        match records.as_slice() {
            [] => continue,
            [text] => return vec![policy_finding(domain, &owner, &name, text)],
            _ => {
                return vec![Finding::fail(
                    Check::Dmarc,
                    format!(
                        "{name} has {} DMARC records, so receivers apply none of them",
                        records.len()
                    ),
                    format!("keep one DMARC record at {name}"),
                )];
            }
        }
    }
    vec![Finding::fail(
        Check::Dmarc,
        format!(
            "_dmarc.{domain} has no DMARC record, and many large receivers reject or file as spam the mail of bulk senders without one"
        ),
        format!("publish a TXT record at _dmarc.{domain} such as {EXAMPLE}"),
    )]
}

/// Reads the policy of the record `text` found at `name`, the record of `owner`.
fn policy_finding(domain: &str, owner: &str, name: &str, text: &str) -> Finding {
    let tags = match Tags::parse(text) {
        Ok(tags) if tags.first() == Some(("v", "DMARC1")) => tags,
        Ok(_) => {
            return invalid(name, text, "v=DMARC1 must be the first tag".to_owned());
        }
        Err(problem) => return invalid(name, text, problem),
    };
    // A subdomain that inherits its parent's record gets the sp= policy, if there is one.
    let inherited = owner != domain;
    let (tag, policy) = match (inherited, tags.get("sp")) {
        (true, Some(policy)) => ("sp", policy),
        _ => match tags.get("p") {
            Some(policy) => ("p", policy),
            None => return invalid(name, text, "it has no p= tag".to_owned()),
        },
    };
    let source = if inherited {
        format!("{domain} has no DMARC record of its own and inherits the one at {name}")
    } else {
        format!("{name} has a DMARC record")
    };
    let percent = tags.get("pct").unwrap_or("100");

    match policy {
        "reject" | "quarantine" if percent == "100" => Finding::ok(
            Check::Dmarc,
            format!(
                "{source} with {tag}={policy}: receivers {} mail that fails DMARC",
                action(policy)
            ),
        ),
        "reject" | "quarantine" => Finding::warn(
            Check::Dmarc,
            format!(
                "{source} with {tag}={policy}, but pct={percent} applies it to only part of the failing mail"
            ),
            format!("remove pct= from the record at {name} once no legitimate mail fails"),
        ),
        "none" => Finding::warn(
            Check::Dmarc,
            format!(
                "{source} with {tag}=none: receivers only report mail that fails DMARC and still deliver it, so others can send as {domain}"
            ),
            format!(
                "change {tag}= to quarantine, and later to reject, once the reports show that all legitimate mail passes"
            ),
        ),
        _ => invalid(
            name,
            text,
            format!("{tag}={policy} is not none, quarantine or reject"),
        ),
    }
}

fn action(policy: &str) -> &'static str {
    match policy {
        "reject" => "reject",
        _ => "file as spam",
    }
}

fn invalid(name: &str, text: &str, problem: String) -> Finding {
    Finding::fail(
        Check::Dmarc,
        format!(
            "the DMARC record at {name} ({text:?}) is invalid: {problem}, so receivers ignore it"
        ),
        format!("replace it with a valid record such as {EXAMPLE}"),
    )
}
