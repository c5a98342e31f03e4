//! `convene dkim keygen`, run as a child process: the key file, the printed record, and a
//! signature by the new key that dkimpy verifies against that record.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use convene_mail::dkim::{Algorithm, PrivateKey, Signer, SignerConfig};
use convene_testkit::{DkimVerdict, DkimVerifier, Peer, TxtRecord, require_peers};
use support::cli::{Output, run};

const DOMAIN: &str = "convene.test";
const SELECTOR: &str = "s2026";

/// The algorithms by command-line name, with the `k=` tag and the key size they give.
const ALGORITHMS: [(&str, &str, Algorithm, u32); 2] = [
    ("rsa", "rsa", Algorithm::RsaSha256, 2048),
    ("ed25519", "ed25519", Algorithm::Ed25519Sha256, 256),
];

fn keygen(algorithm: &str, out: &Path, extra: &[&str]) -> Output {
    keygen_for(DOMAIN, SELECTOR, algorithm, out, extra)
}

fn keygen_for(domain: &str, selector: &str, algorithm: &str, out: &Path, extra: &[&str]) -> Output {
    let out = out.to_str().unwrap();
    let mut args = vec![
        "dkim",
        "keygen",
        "--domain",
        domain,
        "--selector",
        selector,
        "--algorithm",
        algorithm,
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    run(&args, &[], b"")
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn keygen_writes_key_and_prints_record() {
    for (name, key_type, algorithm, bits) in ALGORITHMS {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dkim.pem");

        let output = keygen(name, &out, &[]);

        assert_eq!(output.code, Some(0), "{name}: {}", output.describe());
        assert_eq!(mode(&out), 0o600, "{name}");
        let key = PrivateKey::from_pem(&fs::read(&out).unwrap()).unwrap();
        assert_eq!(key.algorithm(), algorithm, "{name}");
        assert_eq!(key.bits(), bits, "{name}");

        let lines: Vec<&str> = output.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: {}", output.describe());
        let prefix = format!("{SELECTOR}._domainkey.{DOMAIN}. IN TXT \"v=DKIM1; k={key_type}; p=");
        assert!(lines[0].starts_with(&prefix), "{name}: {}", lines[0]);
        assert!(lines[0].ends_with('"'), "{name}: {}", lines[0]);
        // The record contains the public key of the key in the file.
        let joined = lines[0].replace("\" \"", "");
        assert!(joined.contains(&key.dns_record_text()), "{name}: {joined}");
        assert!(
            output.stderr.contains("mode 0600"),
            "{name}: {}",
            output.describe()
        );
    }
}

#[test]
fn keygen_key_verifies_with_printed_record() {
    if !require_peers("keygen_key_verifies_with_printed_record", &[Peer::Dkimpy]) {
        return;
    }
    let message = b"From: Convene <reminders@convene.test>\r\nTo: ada@alpha.test\r\n\
        Subject: Meeting moved\r\nDate: Tue, 14 Nov 2023 22:13:20 +0000\r\n\
        Message-ID: <k1@convene.test>\r\n\r\nThe meeting moved to 10:00.\r\n";
    for (name, _, _, _) in ALGORITHMS {
        // Two keys, so that each message can also be checked against the wrong record.
        let mut keys = Vec::new();
        for _ in 0..2 {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("dkim.pem");
            let output = keygen(name, &out, &[]);
            assert_eq!(output.code, Some(0), "{name}: {}", output.describe());

            // dnspython reads the zone-file line, as a DNS server loading the zone would.
            let records = TxtRecord::parse_zone_lines(&output.stdout).unwrap();
            assert_eq!(records.len(), 1, "{name}: {records:?}");
            assert_eq!(records[0].name, format!("{SELECTOR}._domainkey.{DOMAIN}."));
            let key = PrivateKey::from_pem(&fs::read(&out).unwrap()).unwrap();
            keys.push((key, records));
        }
        let [(key, records), (_, other_records)] = <[_; 2]>::try_from(keys).unwrap();

        let signer = Signer::new(SignerConfig::new(DOMAIN, SELECTOR), key).unwrap();
        let signed = signer.sign(message).unwrap();
        let verdict = DkimVerifier::Dkimpy.verify(&signed, &records).unwrap();
        assert_eq!(verdict, DkimVerdict::Pass, "{name}");
        let verdict = DkimVerifier::Dkimpy
            .verify(&signed, &other_records)
            .unwrap();
        assert!(
            matches!(verdict, DkimVerdict::Fail(_)),
            "{name}: {verdict:?}"
        );
    }
}

#[test]
fn keygen_refuses_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dkim.pem");
    assert_eq!(keygen("ed25519", &out, &[]).code, Some(0));
    let first = fs::read(&out).unwrap();

    let rejected = keygen("ed25519", &out, &[]);

    assert_eq!(rejected.code, Some(1), "{}", rejected.describe());
    assert!(
        rejected.stderr.contains("already exists"),
        "{}",
        rejected.describe()
    );
    assert!(
        rejected.stderr.contains("--force"),
        "{}",
        rejected.describe()
    );
    assert!(rejected.stdout.is_empty(), "{}", rejected.describe());
    assert_eq!(fs::read(&out).unwrap(), first, "the key file is unchanged");

    let forced = keygen("ed25519", &out, &["--force"]);

    assert_eq!(forced.code, Some(0), "{}", forced.describe());
    assert_ne!(fs::read(&out).unwrap(), first, "the key file is replaced");
    assert_eq!(mode(&out), 0o600);
    let names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["dkim.pem"], "no staging file is left behind");
}

#[test]
fn keygen_rejects_invalid_arguments() {
    // (domain, selector, algorithm, extra arguments, the flag the error names)
    let rows: [(&str, &str, &str, &[&str], &str); 5] = [
        (DOMAIN, SELECTOR, "rsa", &["--bits", "1024"], "--bits"),
        (DOMAIN, SELECTOR, "ed25519", &["--bits", "2048"], "--bits"),
        (DOMAIN, SELECTOR, "dsa", &[], "--algorithm"),
        (DOMAIN, "two words", "rsa", &[], "--selector"),
        ("-bad-.test", SELECTOR, "rsa", &[], "--domain"),
    ];
    for (domain, selector, algorithm, extra, flag) in rows {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dkim.pem");

        let output = keygen_for(domain, selector, algorithm, &out, extra);

        assert_eq!(output.code, Some(2), "{flag}: {}", output.describe());
        assert!(
            output.stderr.contains(flag),
            "{flag}: {}",
            output.describe()
        );
        assert!(!out.exists(), "{flag}: no key file is written");
    }
}
