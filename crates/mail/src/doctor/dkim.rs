//! DKIM: the key record of a selector (RFC 6376, section 3.6.1), compared with the signing
//! key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::dns::{self, LookupError};
use super::tags::Tags;
use super::{Check, Checkup, Finding};
use crate::mx::MxResolver;

/// Checks the key record of the selector of `checkup`, if it names one.
pub(super) async fn check(
    resolver: &MxResolver,
    domain: &str,
    checkup: &Checkup<'_>,
) -> Vec<Finding> {
    let mut findings = Vec::new();
    if let Some(signing_domain) = checkup.signing_domain {
        let signing_domain = signing_domain.trim_end_matches('.').to_ascii_lowercase();
        if !aligned(&signing_domain, domain) {
            findings.push(Finding::warn(
                Check::Dkim,
                format!(
                    "messages are signed for d={signing_domain}, which is neither {domain} nor a parent or subdomain of it, so their signatures do not count for DMARC"
                ),
                format!("sign with the DKIM domain {domain}"),
            ));
        }
    }
    let Some(selector) = checkup.selector else {
        findings.push(Finding::warn(
            Check::Dkim,
            "not checked, because no DKIM selector is known",
            "pass the selector that signs mail for this domain, or configure the DKIM settings",
        ));
        return findings;
    };

    let name = format!("{selector}._domainkey.{domain}");
    let publish = match checkup.key {
        Some(key) => format!(
            "publish the TXT record {name} \"{}\"",
            key.dns_record_text()
        ),
        None => format!(
            "publish the TXT record that `convene dkim keygen` printed for the key, at {name}"
        ),
    };
    let texts = match dns::txt(resolver, &name).await {
        Ok(texts) => texts,
        Err(LookupError::NotFound) => {
            findings.push(Finding::fail(
                Check::Dkim,
                format!("{name} has no TXT record, so receivers cannot verify signatures by selector {selector}"),
                publish,
            ));
            return findings;
        }
        Err(LookupError::Failed(error)) => {
            findings.push(Finding::fail(
                Check::Dkim,
                format!("looking up the TXT record of {name} failed: {error}"),
                "check that the domain's nameservers answer, then run this check again",
            ));
            return findings;
        }
    };
    let [text] = texts.as_slice() else {
        findings.push(Finding::fail(
            Check::Dkim,
            format!(
                "{name} has {} TXT records, so receivers may pick any one of them",
                texts.len()
            ),
            format!("keep only the key record at {name}"),
        ));
        return findings;
    };
    findings.push(record_finding(&name, text, checkup, publish));
    findings
}

/// Returns whether signatures for `signing_domain` can pass DMARC for mail from `domain`
/// under relaxed alignment.
///
/// NOTE: relaxed alignment compares organizational domains, which need the Public Suffix
/// List. Without it, a signing domain that shares only a parent with `domain`, such as
/// `mail.example.org` for `www.example.org`, is reported as not aligned.
fn aligned(signing_domain: &str, domain: &str) -> bool {
    let is_subdomain = |child: &str, parent: &str| {
        child == parent
            || child
                .strip_suffix(parent)
                .is_some_and(|rest| rest.ends_with('.'))
    };
    is_subdomain(signing_domain, domain) || is_subdomain(domain, signing_domain)
}

/// Checks one key record's tags and compares its key with the configured one.
fn record_finding(name: &str, text: &str, checkup: &Checkup<'_>, publish: String) -> Finding {
    let invalid = |problem: String| {
        Finding::fail(
            Check::Dkim,
            format!(
                "the key record at {name} ({text:?}) is invalid: {problem}, so receivers cannot verify signatures"
            ),
            publish.clone(),
        )
    };
    let tags = match Tags::parse(text) {
        Ok(tags) => tags,
        Err(problem) => return invalid(problem),
    };
    // RFC 6376, section 3.6.1: v= is optional, but when present it comes first.
    if let Some(version) = tags.get("v")
        && (version != "DKIM1" || tags.first().map(|(tag, _)| tag) != Some("v"))
    {
        return invalid("v= must be the first tag and read DKIM1".to_owned());
    }
    let key_type = tags.get("k").unwrap_or("rsa");
    if key_type != "rsa" && key_type != "ed25519" {
        return invalid(format!(
            "k={key_type} is not a key type that receivers verify (rsa or ed25519)"
        ));
    }
    let Some(published) = tags.get("p") else {
        return invalid("it has no p= tag with the public key".to_owned());
    };
    let published: String = published
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    if published.is_empty() {
        return Finding::fail(
            Check::Dkim,
            format!(
                "the key at {name} is revoked (empty p=), so every signature by this selector fails"
            ),
            publish,
        );
    }
    let Ok(published_bytes) = STANDARD.decode(&published) else {
        return invalid("p= is not valid base64".to_owned());
    };
    let testing = tags
        .get("t")
        .is_some_and(|flags| flags.split(':').any(|flag| flag.trim() == "y"));

    if let Some(key) = checkup.key
        && (key.algorithm().key_type() != key_type || key.public_key_bytes() != published_bytes)
    {
        return Finding::fail(
            Check::Dkim,
            format!(
                "the {key_type} key at {name} is not the public key of the configured {} signing key, so every signature fails",
                key.algorithm().key_type()
            ),
            publish,
        );
    }
    if testing {
        return Finding::warn(
            Check::Dkim,
            format!("{name} is marked as a test (t=y), so receivers may ignore failed signatures"),
            "remove t=y from the record once signing works",
        );
    }
    match checkup.key {
        Some(_) => Finding::ok(
            Check::Dkim,
            format!("{name} publishes the public key of the signing key"),
        ),
        None => Finding::ok(
            Check::Dkim,
            format!(
                "{name} publishes a key (k={key_type}); no signing key is configured to compare it with"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_accepts_parents_and_subdomains() {
        let rows = [
            ("example.test", "example.test", true),
            ("example.test", "mail.example.test", true),
            ("mail.example.test", "example.test", true),
            ("other.test", "example.test", false),
            ("ample.test", "example.test", false),
        ];
        for (signing_domain, domain, expected) in rows {
            assert_eq!(
                aligned(signing_domain, domain),
                expected,
                "{signing_domain} for {domain}"
            );
        }
    }
}
