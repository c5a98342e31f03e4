//! `convene mail doctor`, run as a child process against dnsmasq serving the SPF, DKIM,
//! DMARC, MX, address and PTR records of one good domain and of domains with each problem.

mod support;

use std::fs;
use std::net::IpAddr;
use std::path::Path;

use convene_mail::dkim::PrivateKey;
use convene_testkit::{DnsConfig, Dnsmasq, Peer, require_peers};
use support::cli::{Output, run};

/// The key that the doctor is configured with, and another one.
struct Keys {
    _dir: tempfile::TempDir,
    path: String,
    record: String,
    other_record: String,
}

fn generate_keys() -> Keys {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, algorithm) in [("configured.pem", "rsa"), ("other.pem", "ed25519")] {
        let path = dir.path().join(name);
        let path = path.to_str().unwrap().to_owned();
        let output = run(
            &[
                "dkim",
                "keygen",
                "--domain",
                "good.test",
                "--selector",
                "s1",
                "--algorithm",
                algorithm,
                "--out",
                &path,
            ],
            &[],
            b"",
        );
        assert_eq!(output.code, Some(0), "{}", output.describe());
        paths.push(path);
    }
    let record = |path: &str| {
        PrivateKey::from_pem(&fs::read(Path::new(path)).unwrap())
            .unwrap()
            .dns_record_text()
    };
    Keys {
        record: record(&paths[0]),
        other_record: record(&paths[1]),
        path: paths.remove(0),
        _dir: dir,
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Starts dnsmasq with the records of every domain the tests check.
fn start_dns(keys: &Keys) -> Dnsmasq {
    let config = DnsConfig::new()
        .local_domain("2.0.192.in-addr.arpa")
        // good.test: every record right. Its SPF record allows its MX host.
        .txt("good.test", "v=spf1 mx ip4:198.51.100.0/24 -all")
        .mx("good.test", "mail.good.test", 10)
        .host("mail.good.test", ip("192.0.2.10"))
        .txt("s1._domainkey.good.test", &keys.record)
        .txt(
            "_dmarc.good.test",
            "v=DMARC1; p=reject; rua=mailto:dmarc@good.test",
        )
        // sub.good.test: no DMARC record of its own.
        .txt("sub.good.test", "v=spf1 ip4:192.0.2.10 -all")
        // relaxed.test: warnings only.
        .txt("relaxed.test", "v=spf1 a:mail.good.test ~all")
        .txt("s1._domainkey.relaxed.test", &keys.record)
        .txt("_dmarc.relaxed.test", "v=DMARC1; p=none")
        // weak.test: soft SPF, another key, p=none, a PTR name pointing elsewhere.
        .txt("weak.test", "v=spf1 ip4:198.51.100.1 ~all")
        .txt("s1._domainkey.weak.test", &keys.other_record)
        .txt("_dmarc.weak.test", "v=DMARC1; p=none")
        .ptr(ip("192.0.2.20"), "mail.weak.test")
        .host("mail.weak.test", ip("192.0.2.21"))
        // strict.test: SPF rejects the address, the key is revoked, pct below 100.
        .txt("strict.test", "v=spf1 ip4:198.51.100.1 -all")
        .txt("s1._domainkey.strict.test", "v=DKIM1; k=rsa; p=")
        .txt("_dmarc.strict.test", "v=DMARC1; p=quarantine; pct=50")
        // twice.test: two SPF and two DMARC records, a key in test mode.
        .txt("twice.test", "v=spf1 -all")
        .txt("twice.test", "v=spf1 ip4:192.0.2.10 -all")
        .txt("s1._domainkey.twice.test", &format!("{}; t=y", keys.record))
        .txt("_dmarc.twice.test", "v=DMARC1; p=reject")
        .txt("_dmarc.twice.test", "v=DMARC1; p=none")
        // include.test: SPF depends on an include, and the DMARC policy is invalid.
        .txt("include.test", "v=spf1 include:_spf.other.test -all")
        .txt("_dmarc.include.test", "v=DMARC1; p=maybe");
    Dnsmasq::start(config).expect("dnsmasq starts")
}

fn doctor(dns: &Dnsmasq, args: &[&str], settings: &[(&'static str, String)]) -> Output {
    let mut all_args = vec!["mail", "doctor"];
    all_args.extend_from_slice(args);
    let mut all_settings = vec![("CONVENE_DNS_SERVER", dns.addr().to_string())];
    all_settings.extend_from_slice(settings);
    run(&all_args, &all_settings, b"")
}

/// Checks that `output` has a finding of `level` and `check` whose text contains
/// `text`, and, unless it is OK, a fix on the line below it.
fn assert_finding(output: &Output, level: &str, check: &str, text: &str) {
    let prefix = format!("{level:<4}  {check:<5}  ");
    let lines: Vec<&str> = output.stdout.lines().collect();
    let Some(index) = lines
        .iter()
        .position(|line| line.starts_with(&prefix) && line.contains(text))
    else {
        panic!(
            "no {level} {check} finding with {text:?}: {}",
            output.describe()
        );
    };
    if level != "OK" {
        let fix = lines.get(index + 1).copied().unwrap_or_default();
        assert!(
            fix.trim_start().starts_with("fix: "),
            "{level} {check} {text:?} has no fix below it: {}",
            output.describe()
        );
    }
}

#[test]
fn doctor_passes_good_domain() {
    if !require_peers("doctor_passes_good_domain", &[Peer::Dnsmasq]) {
        return;
    }
    let keys = generate_keys();
    let dns = start_dns(&keys);

    let output = doctor(
        &dns,
        &["--domain", "good.test", "--ip", "192.0.2.10"],
        &[
            ("CONVENE_DKIM_KEY", keys.path.clone()),
            ("CONVENE_DKIM_DOMAIN", "good.test".to_owned()),
            ("CONVENE_DKIM_SELECTOR", "s1".to_owned()),
        ],
    );

    assert_eq!(output.code, Some(0), "{}", output.describe());
    assert_finding(&output, "OK", "SPF", "good.test has one SPF record");
    assert_finding(
        &output,
        "OK",
        "SPF",
        "192.0.2.10 is allowed by `mx` (result pass)",
    );
    assert_finding(
        &output,
        "OK",
        "DKIM",
        "s1._domainkey.good.test publishes the public key of the signing key",
    );
    assert_finding(
        &output,
        "OK",
        "DMARC",
        "_dmarc.good.test has a DMARC record with p=reject",
    );
    assert_finding(
        &output,
        "OK",
        "PTR",
        "has the PTR name mail.good.test, which resolves back",
    );
    let findings = output
        .stdout
        .lines()
        .filter(|line| !line.starts_with(' '))
        .count();
    assert_eq!(findings, 5, "{}", output.describe());
    assert!(
        !output.stdout.contains("WARN") && !output.stdout.contains("FAIL"),
        "{}",
        output.describe()
    );
}

#[test]
fn doctor_reports_each_problem() {
    if !require_peers("doctor_reports_each_problem", &[Peer::Dnsmasq]) {
        return;
    }
    let keys = generate_keys();
    let dns = start_dns(&keys);
    let with_key = vec![("CONVENE_DKIM_KEY", keys.path.clone())];
    // (arguments, settings, expected exit code, expected findings)
    type Settings = Vec<(&'static str, String)>;
    type Expected = &'static [(&'static str, &'static str, &'static str)];
    let rows: Vec<(Vec<&str>, Settings, i32, Expected)> = vec![
        (
            vec![
                "--domain",
                "nothing.test",
                "--selector",
                "s1",
                "--ip",
                "192.0.2.30",
            ],
            with_key.clone(),
            1,
            &[
                ("FAIL", "SPF", "nothing.test has no SPF record"),
                (
                    "FAIL",
                    "DKIM",
                    "s1._domainkey.nothing.test has no TXT record",
                ),
                ("FAIL", "DMARC", "_dmarc.nothing.test has no DMARC record"),
                ("FAIL", "PTR", "192.0.2.30 has no PTR record"),
            ],
        ),
        (
            vec![
                "--domain",
                "weak.test",
                "--selector",
                "s1",
                "--ip",
                "192.0.2.20",
            ],
            with_key.clone(),
            1,
            &[
                ("OK", "SPF", "weak.test has one SPF record"),
                ("WARN", "SPF", "it reaches `~all` (result softfail)"),
                (
                    "FAIL",
                    "DKIM",
                    "is not the public key of the configured rsa signing key",
                ),
                ("WARN", "DMARC", "with p=none"),
                (
                    "FAIL",
                    "PTR",
                    "does not resolve back to it (mail.weak.test resolves to 192.0.2.21)",
                ),
            ],
        ),
        (
            vec![
                "--domain",
                "strict.test",
                "--selector",
                "s1",
                "--ip",
                "192.0.2.10",
            ],
            with_key.clone(),
            1,
            &[
                (
                    "FAIL",
                    "SPF",
                    "192.0.2.10 is not allowed: it reaches `-all` (result fail)",
                ),
                ("FAIL", "DKIM", "is revoked (empty p=)"),
                ("WARN", "DMARC", "pct=50"),
                ("OK", "PTR", "mail.good.test"),
            ],
        ),
        (
            vec!["--domain", "twice.test", "--selector", "s1"],
            with_key.clone(),
            1,
            &[
                ("FAIL", "SPF", "twice.test has 2 SPF records"),
                ("WARN", "DKIM", "marked as a test (t=y)"),
                ("FAIL", "DMARC", "_dmarc.twice.test has 2 DMARC records"),
                ("WARN", "PTR", "not checked"),
            ],
        ),
        (
            vec!["--domain", "include.test", "--ip", "192.0.2.10"],
            vec![],
            1,
            &[
                ("WARN", "SPF", "unless one of `include:_spf.other.test`"),
                (
                    "WARN",
                    "DKIM",
                    "not checked, because no DKIM selector is known",
                ),
                ("FAIL", "DMARC", "p=maybe is not none, quarantine or reject"),
            ],
        ),
        // Warnings alone do not fail the check.
        (
            vec!["--domain", "relaxed.test", "--ip", "192.0.2.10"],
            vec![
                ("CONVENE_DKIM_KEY", keys.path.clone()),
                ("CONVENE_DKIM_DOMAIN", "elsewhere.test".to_owned()),
                ("CONVENE_DKIM_SELECTOR", "s1".to_owned()),
            ],
            0,
            &[
                ("OK", "SPF", "192.0.2.10 is allowed by `a:mail.good.test`"),
                ("WARN", "DKIM", "messages are signed for d=elsewhere.test"),
                (
                    "OK",
                    "DKIM",
                    "s1._domainkey.relaxed.test publishes the public key",
                ),
                ("WARN", "DMARC", "with p=none"),
                ("OK", "PTR", "resolves back"),
            ],
        ),
        (
            vec!["--domain", "sub.good.test", "--ip", "192.0.2.10"],
            vec![],
            0,
            &[
                ("OK", "SPF", "192.0.2.10 is allowed by `ip4:192.0.2.10`"),
                (
                    "OK",
                    "DMARC",
                    "inherits the one at _dmarc.good.test with p=reject",
                ),
            ],
        ),
    ];
    for (args, settings, expected_code, expected) in rows {
        let output = doctor(&dns, &args, &settings);

        assert_eq!(
            output.code,
            Some(expected_code),
            "{args:?}: {}",
            output.describe()
        );
        for (level, check, text) in expected {
            assert_finding(&output, level, check, text);
        }
    }
}

#[test]
fn doctor_rejects_invalid_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.pem").to_str().unwrap().to_owned();
    type Settings = Vec<(&'static str, String)>;
    let rows: Vec<(Vec<&str>, Settings, &str)> = vec![
        (vec![], vec![], "--domain"),
        (vec!["--domain", "bad domain.test"], vec![], "--domain"),
        (
            vec!["--domain", "good.test", "--selector", "s 1"],
            vec![],
            "--selector",
        ),
        (
            vec!["--domain", "good.test", "--ip", "192.0.2"],
            vec![],
            "--ip",
        ),
        (
            vec!["--domain", "good.test"],
            vec![("CONVENE_DKIM_KEY", missing)],
            "CONVENE_DKIM_KEY",
        ),
    ];
    for (args, settings, expected) in rows {
        let mut all_args = vec!["mail", "doctor"];
        all_args.extend_from_slice(&args);

        let output = run(&all_args, &settings, b"");

        assert_eq!(output.code, Some(2), "{args:?}: {}", output.describe());
        assert!(
            output.stderr.contains(expected),
            "{args:?}: {}",
            output.describe()
        );
        assert!(output.stdout.is_empty(), "{args:?}: {}", output.describe());
    }
}
