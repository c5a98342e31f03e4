//! SPF (RFC 7208): finding the domain's one record, and evaluating it for the sending
//! address as far as the record itself and A, AAAA and MX lookups allow.

use std::net::IpAddr;

use super::dns::{self, LookupError};
use super::{Check, Finding};
use crate::mx::{MxError, MxResolver};

/// Maximum number of terms that cause DNS lookups, beyond which receivers return
/// `permerror` (RFC 7208, section 4.6.4).
const MAX_DNS_TERMS: usize = 10;

/// Maximum number of MX hosts that the `mx` mechanism looks at (RFC 7208, section 4.6.4).
const MAX_MX_HOSTS: usize = 10;

/// Checks the SPF record of `domain` and, when `ip` is given, whether it allows `ip`.
pub(super) async fn check(resolver: &MxResolver, domain: &str, ip: Option<IpAddr>) -> Vec<Finding> {
    let example = match ip {
        Some(ip) => format!("\"v=spf1 {} -all\"", ip_mechanism(ip)),
        None => "\"v=spf1 mx -all\"".to_owned(),
    };
    let texts = match dns::txt(resolver, domain).await {
        Ok(texts) => texts,
        Err(LookupError::NotFound) => Vec::new(),
        Err(LookupError::Failed(error)) => {
            return vec![Finding::fail(
                Check::Spf,
                format!("looking up the TXT records of {domain} failed: {error}"),
                "check that the domain's nameservers answer, then run this check again",
            )];
        }
    };

    // RFC 7208, section 4.5: records start with "v=spf1" followed by a space or nothing.
    let records: Vec<&String> = texts.iter().filter(|text| is_spf(text)).collect();
    let text = match records.as_slice() {
        [] => {
            return vec![Finding::fail(
                Check::Spf,
                format!(
                    "{domain} has no SPF record, so receivers cannot tell which hosts may send its mail"
                ),
                format!(
                    "publish one TXT record at {domain} that lists the sending hosts, such as {example}"
                ),
            )];
        }
        [text] => text.as_str(),
        _ => {
            let listed: Vec<String> = records.iter().map(|text| format!("{text:?}")).collect();
            return vec![Finding::fail(
                Check::Spf,
                format!(
                    "{domain} has {} SPF records ({}), and receivers treat that as an error (permerror) and ignore them all",
                    records.len(),
                    listed.join(", ")
                ),
                format!("merge them into one TXT record at {domain}"),
            )];
        }
    };
    let record = match Record::parse(text) {
        Ok(record) => record,
        Err(problem) => {
            return vec![Finding::fail(
                Check::Spf,
                format!(
                    "the SPF record of {domain} ({text:?}) is invalid: {problem}, so receivers treat it as an error (permerror)"
                ),
                format!("correct the record, such as {example}"),
            )];
        }
    };
    if record.dns_terms > MAX_DNS_TERMS {
        return vec![Finding::fail(
            Check::Spf,
            format!(
                "the SPF record of {domain} has {} terms that need DNS lookups, more than the {MAX_DNS_TERMS} receivers allow (permerror)",
                record.dns_terms
            ),
            "replace include, a, mx, ptr and exists terms by ip4 and ip6 terms until at most 10 remain",
        )];
    }

    let mut findings = vec![Finding::ok(
        Check::Spf,
        format!("{domain} has one SPF record: {text:?}"),
    )];
    if let Some(term) = record
        .terms
        .iter()
        .find(|term| term.mechanism == Mechanism::All && term.qualifier == Qualifier::Pass)
    {
        findings.push(Finding::warn(
            Check::Spf,
            format!(
                "`{}` allows every host on the Internet to send mail as {domain}",
                term.text
            ),
            "replace it by -all, or by ~all while you are still collecting the sending hosts",
        ));
    }
    if let Some(ip) = ip {
        let evaluation = evaluate(resolver, domain, ip, &record).await;
        findings.push(ip_finding(domain, ip, &record, &evaluation));
    }
    findings
}

/// Returns whether a TXT record is an SPF record.
fn is_spf(text: &str) -> bool {
    let Some(prefix) = text.get(..6) else {
        return false;
    };
    prefix.eq_ignore_ascii_case("v=spf1") && text[6..].chars().next().is_none_or(|c| c == ' ')
}

/// Returns the mechanism that allows exactly `ip`.
fn ip_mechanism(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(ip) => format!("ip4:{ip}"),
        IpAddr::V6(ip) => format!("ip6:{ip}"),
    }
}

/// The result a matching mechanism gives (RFC 7208, section 4.6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Qualifier {
    Pass,
    Fail,
    SoftFail,
    Neutral,
}

impl Qualifier {
    fn result(self) -> &'static str {
        match self {
            Qualifier::Pass => "pass",
            Qualifier::Fail => "fail",
            Qualifier::SoftFail => "softfail",
            Qualifier::Neutral => "neutral",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Mechanism {
    All,
    /// `ip4` or `ip6`: a network.
    Network {
        address: IpAddr,
        prefix: u8,
    },
    /// `a`: the addresses of a domain, the record's own when `domain` is `None`.
    A {
        domain: Option<String>,
        prefix4: u8,
        prefix6: u8,
    },
    /// `mx`: the addresses of a domain's MX hosts.
    Mx {
        domain: Option<String>,
        prefix4: u8,
        prefix6: u8,
    },
    /// `include`, `exists` and `ptr`, which receivers follow but this check does not.
    NotFollowed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    qualifier: Qualifier,
    mechanism: Mechanism,
    /// The term as written in the record.
    text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    terms: Vec<Term>,
    /// The domain of the `redirect` modifier.
    redirect: Option<String>,
    /// The number of mechanisms and modifiers that cause DNS lookups.
    dns_terms: usize,
}

impl Record {
    /// Parses a record that [`is_spf`] accepted.
    fn parse(text: &str) -> Result<Record, String> {
        let mut record = Record {
            terms: Vec::new(),
            redirect: None,
            dns_terms: 0,
        };
        let mut explanation = false;
        for word in text[6..].split_ascii_whitespace() {
            if let Some((name, value)) = modifier(word) {
                let seen = match name.to_ascii_lowercase().as_str() {
                    "redirect" => {
                        record.dns_terms += 1;
                        record.redirect.replace(value.to_owned()).is_some()
                    }
                    "exp" => std::mem::replace(&mut explanation, true),
                    // Unknown modifiers are ignored (RFC 7208, section 6).
                    _ => false,
                };
                if seen {
                    return Err(format!("the modifier {name}= occurs twice"));
                }
                continue;
            }
            let term = parse_term(word)?;
            if matches!(
                term.mechanism,
                Mechanism::A { .. } | Mechanism::Mx { .. } | Mechanism::NotFollowed
            ) {
                record.dns_terms += 1;
            }
            record.terms.push(term);
        }
        Ok(record)
    }
}

/// Splits a modifier such as `redirect=_spf.example.org` into name and value.
fn modifier(word: &str) -> Option<(&str, &str)> {
    let (name, value) = word.split_once('=')?;
    let valid_name = name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    valid_name.then_some((name, value))
}

fn parse_term(word: &str) -> Result<Term, String> {
    let (qualifier, rest) = match word.as_bytes()[0] {
        b'+' => (Qualifier::Pass, &word[1..]),
        b'-' => (Qualifier::Fail, &word[1..]),
        b'~' => (Qualifier::SoftFail, &word[1..]),
        b'?' => (Qualifier::Neutral, &word[1..]),
        _ => (Qualifier::Pass, word),
    };
    let name_end = rest.find([':', '/']).unwrap_or(rest.len());
    let (name, argument) = rest.split_at(name_end);
    let invalid = |reason: &str| format!("the term `{word}` {reason}");

    let mechanism = match name.to_ascii_lowercase().as_str() {
        "all" if argument.is_empty() => Mechanism::All,
        "ip4" | "ip6" => {
            let Some(network) = argument.strip_prefix(':') else {
                return Err(invalid("needs an address after ':'"));
            };
            let (address, prefix) = match network.split_once('/') {
                Some((address, prefix)) => (address, Some(prefix)),
                None => (network, None),
            };
            let address: IpAddr = address
                .parse()
                .map_err(|_| invalid("has no valid IP address"))?;
            let (max_prefix, family_matches) = match address {
                IpAddr::V4(_) => (32, name.eq_ignore_ascii_case("ip4")),
                IpAddr::V6(_) => (128, name.eq_ignore_ascii_case("ip6")),
            };
            if !family_matches {
                return Err(invalid("has an address of the other IP version"));
            }
            let prefix = match prefix {
                Some(prefix) => parse_prefix(prefix, max_prefix).ok_or_else(|| {
                    invalid(&format!(
                        "has a prefix length that is not 0 to {max_prefix}"
                    ))
                })?,
                None => max_prefix,
            };
            Mechanism::Network { address, prefix }
        }
        kind @ ("a" | "mx") => {
            let (domain, prefix4, prefix6) = parse_domain_and_prefixes(argument)
                .ok_or_else(|| invalid("has an invalid domain or prefix length"))?;
            if kind == "a" {
                Mechanism::A {
                    domain,
                    prefix4,
                    prefix6,
                }
            } else {
                Mechanism::Mx {
                    domain,
                    prefix4,
                    prefix6,
                }
            }
        }
        "include" | "exists" if argument.len() > 1 && argument.starts_with(':') => {
            Mechanism::NotFollowed
        }
        "ptr" if argument.is_empty() || argument.len() > 1 && argument.starts_with(':') => {
            Mechanism::NotFollowed
        }
        _ => {
            return Err(invalid(
                "is not a known mechanism or is missing its argument",
            ));
        }
    };
    Ok(Term {
        qualifier,
        mechanism,
        text: word.to_owned(),
    })
}

/// Parses the argument of `a` and `mx`: `[:domain][/prefix4][//prefix6]`.
fn parse_domain_and_prefixes(argument: &str) -> Option<(Option<String>, u8, u8)> {
    let (rest, prefix6) = match argument.split_once("//") {
        Some((rest, prefix6)) => (rest, parse_prefix(prefix6, 128)?),
        None => (argument, 128),
    };
    let (rest, prefix4) = match rest.split_once('/') {
        Some((rest, prefix4)) => (rest, parse_prefix(prefix4, 32)?),
        None => (rest, 32),
    };
    let domain = match rest.strip_prefix(':') {
        Some("") => return None,
        Some(domain) => Some(domain.to_ascii_lowercase()),
        None if rest.is_empty() => None,
        None => return None,
    };
    Some((domain, prefix4, prefix6))
}

fn parse_prefix(text: &str, max: u8) -> Option<u8> {
    let all_digits = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit());
    let prefix: u8 = text.parse().ok().filter(|_| all_digits)?;
    (prefix <= max).then_some(prefix)
}

/// Returns whether `ip` lies in the network of `address` with `prefix` bits.
fn in_network(ip: IpAddr, address: IpAddr, prefix: u8) -> bool {
    match (ip, address) {
        (IpAddr::V4(ip), IpAddr::V4(address)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(address) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(address)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(address) & mask
        }
        _ => false,
    }
}

/// How far the record could be evaluated for one address.
#[derive(Debug, Default)]
struct Evaluation {
    /// The index of the first term that matched.
    matched: Option<usize>,
    /// The terms before it that were not evaluated, by index, with the reason.
    skipped: Vec<(usize, String)>,
}

/// The result of one term for one address.
enum Step {
    Match,
    NoMatch,
    NotEvaluated(String),
}

/// Evaluates the terms of `record` in order until one matches `ip`, as receivers do
/// (RFC 7208, section 4.6.2), skipping the ones this check cannot evaluate.
async fn evaluate(resolver: &MxResolver, domain: &str, ip: IpAddr, record: &Record) -> Evaluation {
    let mut evaluation = Evaluation::default();
    for (index, term) in record.terms.iter().enumerate() {
        let step = match &term.mechanism {
            Mechanism::All => Step::Match,
            Mechanism::Network { address, prefix } => {
                if in_network(ip, *address, *prefix) {
                    Step::Match
                } else {
                    Step::NoMatch
                }
            }
            Mechanism::A {
                domain: target,
                prefix4,
                prefix6,
            }
            | Mechanism::Mx {
                domain: target,
                prefix4,
                prefix6,
            } => {
                let target = target.as_deref().unwrap_or(domain);
                if target.contains('%') {
                    Step::NotEvaluated(
                        "it contains a macro, which this check does not expand".to_owned(),
                    )
                } else if let Mechanism::A { .. } = term.mechanism {
                    host_step(resolver, target, ip, *prefix4, *prefix6).await
                } else {
                    mx_step(resolver, target, ip, *prefix4, *prefix6).await
                }
            }
            Mechanism::NotFollowed => {
                Step::NotEvaluated("this check does not follow it".to_owned())
            }
        };
        match step {
            Step::Match => {
                evaluation.matched = Some(index);
                break;
            }
            Step::NoMatch => {}
            Step::NotEvaluated(reason) => evaluation.skipped.push((index, reason)),
        }
    }
    evaluation
}

/// Evaluates `a` for `target`.
async fn host_step(
    resolver: &MxResolver,
    target: &str,
    ip: IpAddr,
    prefix4: u8,
    prefix6: u8,
) -> Step {
    match dns::addresses(resolver, target).await {
        Ok(addresses) => match_any(&addresses, ip, prefix4, prefix6),
        Err(LookupError::NotFound) => Step::NoMatch,
        Err(LookupError::Failed(error)) => {
            Step::NotEvaluated(format!("looking up {target} failed: {error}"))
        }
    }
}

/// Evaluates `mx` for `target`: the addresses of its first ten MX hosts. A domain without
/// MX records matches nothing, because SPF uses no implicit MX (RFC 7208, section 5.4).
async fn mx_step(
    resolver: &MxResolver,
    target: &str,
    ip: IpAddr,
    prefix4: u8,
    prefix6: u8,
) -> Step {
    let hosts = match resolver.mx_hosts(target).await {
        Ok(hosts) => hosts,
        Err(MxError::NoSuchDomain | MxError::NullMx) => return Step::NoMatch,
        Err(MxError::LookupFailed(error)) => {
            return Step::NotEvaluated(format!(
                "looking up the MX records of {target} failed: {error}"
            ));
        }
    };
    let mut failure = None;
    for host in hosts
        .iter()
        .filter(|host| !host.implicit)
        .take(MAX_MX_HOSTS)
    {
        match dns::addresses(resolver, &host.name).await {
            Ok(addresses) => {
                if let Step::Match = match_any(&addresses, ip, prefix4, prefix6) {
                    return Step::Match;
                }
            }
            Err(LookupError::NotFound) => {}
            Err(LookupError::Failed(error)) => {
                failure = Some(format!("looking up {} failed: {error}", host.name));
            }
        }
    }
    match failure {
        Some(reason) => Step::NotEvaluated(reason),
        None => Step::NoMatch,
    }
}

fn match_any(addresses: &[IpAddr], ip: IpAddr, prefix4: u8, prefix6: u8) -> Step {
    let matched = addresses.iter().any(|address| {
        let prefix = if address.is_ipv4() { prefix4 } else { prefix6 };
        in_network(ip, *address, prefix)
    });
    if matched { Step::Match } else { Step::NoMatch }
}

/// Describes what the evaluation means for mail from `ip`.
fn ip_finding(domain: &str, ip: IpAddr, record: &Record, evaluation: &Evaluation) -> Finding {
    let allow = ip_mechanism(ip);
    let skipped: Vec<String> = evaluation
        .skipped
        .iter()
        .map(|(index, reason)| format!("`{}` ({reason})", record.terms[*index].text))
        .collect();
    let skipped_list = skipped.join(", ");
    let skipped_qualifiers_pass = evaluation
        .skipped
        .iter()
        .all(|(index, _)| record.terms[*index].qualifier == Qualifier::Pass);

    let Some(index) = evaluation.matched else {
        let mut summary =
            format!("{ip} matches no term of the SPF record of {domain} that this check evaluates");
        if !skipped.is_empty() {
            summary.push_str(&format!("; not evaluated: {skipped_list}"));
        }
        match &record.redirect {
            Some(target) => summary.push_str(&format!(
                ". The result then comes from the record of {target} (redirect=), which this check does not follow"
            )),
            None => summary.push_str(
                ". Without a match the result is neutral, which gives receivers no reason to trust the mail",
            ),
        }
        return Finding::warn(
            Check::Spf,
            summary,
            format!("add `{allow}` to the SPF record of {domain} before its all term"),
        );
    };

    let term = &record.terms[index];
    if term.qualifier == Qualifier::Pass {
        if skipped.is_empty() || skipped_qualifiers_pass {
            return Finding::ok(
                Check::Spf,
                format!("{ip} is allowed by `{}` (result pass)", term.text),
            );
        }
        return Finding::warn(
            Check::Spf,
            format!(
                "{ip} is allowed by `{}`, but earlier terms that could give another result were not evaluated: {skipped_list}",
                term.text
            ),
            "check that those terms do not match this address",
        );
    }

    let consequence = match term.qualifier {
        Qualifier::Fail => "receivers that check SPF may reject the mail",
        Qualifier::SoftFail => "receivers accept the mail but may mark it as suspicious",
        _ => "receivers get no reason to trust the mail",
    };
    if skipped.is_empty() {
        let summary = format!(
            "{ip} is not allowed: it reaches `{}` (result {}), so {consequence}",
            term.text,
            term.qualifier.result()
        );
        let fix = format!(
            "add `{allow}` to the SPF record of {domain} before `{}`",
            term.text
        );
        return match term.qualifier {
            Qualifier::Fail => Finding::fail(Check::Spf, summary, fix),
            _ => Finding::warn(Check::Spf, summary, fix),
        };
    }
    Finding::warn(
        Check::Spf,
        format!(
            "{ip} is not allowed by any ip4, ip6, a or mx term; unless one of {skipped_list} allows it, `{}` gives the result {}, and {consequence}",
            term.text,
            term.qualifier.result()
        ),
        format!(
            "check that one of those terms covers {ip}, or add `{allow}` to the SPF record of {domain}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_spf_needs_version_and_space() {
        assert!(is_spf("v=spf1 -all"));
        assert!(is_spf("V=SPF1 -all"));
        assert!(is_spf("v=spf1"));
        assert!(!is_spf("v=spf10 -all"));
        assert!(!is_spf("spf1 -all"));
        assert!(!is_spf("google-site-verification=abc"));
    }

    #[test]
    fn parse_reads_every_mechanism() {
        let record = Record::parse(
            "v=spf1 ip4:192.0.2.0/24 -ip6:2001:db8::/32 a ~mx:mail.example.test/28//64 \
             ?include:_spf.example.test exists:%{i}.x.test ptr redirect=_spf.example.test exp=x",
        )
        .unwrap();
        let mechanisms: Vec<&Mechanism> = record.terms.iter().map(|term| &term.mechanism).collect();
        assert_eq!(
            mechanisms,
            [
                &Mechanism::Network {
                    address: "192.0.2.0".parse().unwrap(),
                    prefix: 24
                },
                &Mechanism::Network {
                    address: "2001:db8::".parse().unwrap(),
                    prefix: 32
                },
                &Mechanism::A {
                    domain: None,
                    prefix4: 32,
                    prefix6: 128
                },
                &Mechanism::Mx {
                    domain: Some("mail.example.test".to_owned()),
                    prefix4: 28,
                    prefix6: 64
                },
                &Mechanism::NotFollowed,
                &Mechanism::NotFollowed,
                &Mechanism::NotFollowed,
            ]
        );
        let qualifiers: Vec<Qualifier> = record.terms.iter().map(|term| term.qualifier).collect();
        assert_eq!(
            qualifiers,
            [
                Qualifier::Pass,
                Qualifier::Fail,
                Qualifier::Pass,
                Qualifier::SoftFail,
                Qualifier::Neutral,
                Qualifier::Pass,
                Qualifier::Pass
            ]
        );
        assert_eq!(record.redirect.as_deref(), Some("_spf.example.test"));
        // a, mx, include, exists, ptr and redirect.
        assert_eq!(record.dns_terms, 6);
    }

    #[test]
    fn parse_rejects_invalid_terms() {
        let rows = [
            ("v=spf1 ip4:192.0.2.300 -all", "no valid IP address"),
            ("v=spf1 ip4:2001:db8::1 -all", "other IP version"),
            ("v=spf1 ip4:192.0.2.0/33 -all", "prefix length"),
            ("v=spf1 ip4 -all", "needs an address"),
            ("v=spf1 a:/24 -all", "invalid domain or prefix"),
            ("v=spf1 include -all", "not a known mechanism"),
            ("v=spf1 allow -all", "not a known mechanism"),
            (
                "v=spf1 -all redirect=a.test redirect=b.test",
                "occurs twice",
            ),
        ];
        for (text, expected) in rows {
            let error = Record::parse(text).unwrap_err();
            assert!(error.contains(expected), "{text}: {error}");
        }
    }

    #[test]
    fn in_network_compares_prefix_bits() {
        let rows = [
            ("192.0.2.10", "192.0.2.0", 24, true),
            ("192.0.3.10", "192.0.2.0", 24, false),
            ("192.0.2.10", "192.0.2.10", 32, true),
            ("198.51.100.1", "0.0.0.0", 0, true),
            ("2001:db8::1", "2001:db8::", 32, true),
            ("2001:db9::1", "2001:db8::", 32, false),
            ("192.0.2.10", "2001:db8::", 0, false),
        ];
        for (ip, network, prefix, expected) in rows {
            let ip: IpAddr = ip.parse().unwrap();
            let network: IpAddr = network.parse().unwrap();
            assert_eq!(
                in_network(ip, network, prefix),
                expected,
                "{ip} in {network}/{prefix}"
            );
        }
    }
}
