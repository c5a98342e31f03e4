//! DKIM verification by real verifiers, dkimpy and OpenDKIM, with key records served locally.

use std::fs;
use std::io::{self, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde::Deserialize;

use crate::peers::Peer;

/// The helper script for dkimpy and dnspython, run with `python3`.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/peers/dkim_verify.py");

/// A DNS TXT record: an owner name and the record's strings joined into one text.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TxtRecord {
    /// The owner name, absolute, such as `mail._domainkey.example.test.`.
    pub name: String,
    /// The record text, such as `v=DKIM1; k=rsa; p=MIIB...`.
    pub text: String,
}

impl TxtRecord {
    /// Creates a record for `name` (a trailing dot is added when missing).
    pub fn new(name: &str, text: &str) -> TxtRecord {
        let name = if name.ends_with('.') {
            name.to_owned()
        } else {
            format!("{name}.")
        };
        TxtRecord {
            name,
            text: text.to_owned(),
        }
    }

    /// Parses zone-file lines with dnspython (needs [`Peer::Dkimpy`], which depends on it)
    /// and returns their TXT records.
    ///
    /// This checks a generated record with an independent zone-file parser, including the
    /// split into quoted strings of at most 255 characters.
    pub fn parse_zone_lines(lines: &str) -> io::Result<Vec<TxtRecord>> {
        let mut child = Command::new("python3")
            .arg(SCRIPT)
            .arg("zone")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|error| {
                io::Error::new(error.kind(), format!("starting python3 failed: {error}"))
            })?;
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(lines.as_bytes())?;
        let output = child.wait_with_output()?;
        let stdout = successful_stdout("dkim_verify.py zone", &output)?;
        serde_json::from_str(&stdout).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("invalid output of dkim_verify.py zone {stdout:?}: {error}"),
            )
        })
    }
}

/// The outcome of verifying a message's first DKIM signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DkimVerdict {
    /// The signature verified.
    Pass,
    /// The signature did not verify, or there was none. Contains the verifier's reason.
    Fail(String),
}

/// A real DKIM verifier, run as a child process on one message.
///
/// Key lookups are answered from the records passed to [`DkimVerifier::verify`], never by
/// a DNS server: dkimpy gets a lookup function, and OpenDKIM reads them through its
/// `TestDNSData` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimVerifier {
    /// dkimpy's `dkim.DKIM.verify`, through `peers/dkim_verify.py`.
    Dkimpy,
    /// `opendkim -t` in test mode, reading the message from a file.
    Opendkim,
}

impl DkimVerifier {
    /// Both verifiers, for tests that run every case through each.
    pub const ALL: [DkimVerifier; 2] = [DkimVerifier::Dkimpy, DkimVerifier::Opendkim];

    /// Returns the peer that must be installed for this verifier.
    pub fn peer(self) -> Peer {
        match self {
            DkimVerifier::Dkimpy => Peer::Dkimpy,
            DkimVerifier::Opendkim => Peer::Opendkim,
        }
    }

    /// Verifies the first `DKIM-Signature` field of `message`, looking keys up in `records`.
    ///
    /// # Errors
    ///
    /// Returns an error when the verifier cannot be run or its output cannot be read, never
    /// for a failed verification, which is [`DkimVerdict::Fail`].
    pub fn verify(self, message: &[u8], records: &[TxtRecord]) -> io::Result<DkimVerdict> {
        let directory = tempfile::Builder::new().prefix("convene-dkim-").tempdir()?;
        let message_path = directory.path().join("message.eml");
        fs::write(&message_path, message)?;
        match self {
            DkimVerifier::Dkimpy => verify_with_dkimpy(directory.path(), &message_path, records),
            DkimVerifier::Opendkim => {
                verify_with_opendkim(directory.path(), &message_path, records)
            }
        }
    }
}

#[derive(Deserialize)]
struct DkimpyOutput {
    result: String,
    reason: Option<String>,
}

fn verify_with_dkimpy(
    directory: &Path,
    message_path: &Path,
    records: &[TxtRecord],
) -> io::Result<DkimVerdict> {
    let records_path = directory.join("records.json");
    let records: serde_json::Map<String, serde_json::Value> = records
        .iter()
        .map(|record| (record.name.clone(), record.text.clone().into()))
        .collect();
    fs::write(&records_path, serde_json::to_vec(&records)?)?;

    let output = Command::new("python3")
        .arg(SCRIPT)
        .arg("verify")
        .arg("--records")
        .arg(&records_path)
        .arg(message_path)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| {
            io::Error::new(error.kind(), format!("starting python3 failed: {error}"))
        })?;
    let stdout = successful_stdout("dkim_verify.py verify", &output)?;
    let parsed: DkimpyOutput = serde_json::from_str(&stdout).map_err(|error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("invalid output of dkim_verify.py verify {stdout:?}: {error}"),
        )
    })?;
    Ok(match parsed.result.as_str() {
        "pass" => DkimVerdict::Pass,
        _ => DkimVerdict::Fail(parsed.reason.unwrap_or_default()),
    })
}

fn verify_with_opendkim(
    directory: &Path,
    message_path: &Path,
    records: &[TxtRecord],
) -> io::Result<DkimVerdict> {
    // TestDNSData takes "name text" lines, with names written without the final dot.
    let dns_data_path = directory.join("dns-data");
    let dns_data: String = records
        .iter()
        .map(|record| format!("{} {}\n", record.name.trim_end_matches('.'), record.text))
        .collect();
    fs::write(&dns_data_path, dns_data)?;

    // Nameservers points any query that TestDNSData does not cover at loopback, where
    // nothing answers, so that no query leaves the machine.
    let config_path = directory.join("opendkim.conf");
    fs::write(
        &config_path,
        format!(
            "Mode v\nSyslog no\nAlwaysAddARHeader yes\nNameservers 127.0.0.1\n\
             TestDNSData file:{}\n",
            dns_data_path.display()
        ),
    )?;

    // With -vv, test mode prints the Authentication-Results field it would add.
    let output = Command::new("opendkim")
        .arg("-x")
        .arg(&config_path)
        .arg("-t")
        .arg(message_path)
        .arg("-vv")
        .stdin(Stdio::null())
        .output()
        .map_err(|error| {
            io::Error::new(error.kind(), format!("starting opendkim failed: {error}"))
        })?;
    let stdout = successful_stdout("opendkim -t", &output)?;
    let result = stdout
        .split_whitespace()
        .find_map(|word| word.strip_prefix("dkim="))
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("opendkim -t printed no dkim= result: {stdout:?}"),
            )
        })?;
    if result == "pass" {
        return Ok(DkimVerdict::Pass);
    }
    // The "verification ... failed: <reason>" line explains more than the dkim= word.
    let reason = stdout
        .lines()
        .find(|line| line.contains("verification"))
        .unwrap_or(result)
        .trim()
        .to_owned();
    Ok(DkimVerdict::Fail(reason))
}

/// Returns the standard output of a finished helper, or an error quoting its standard error
/// when it failed.
fn successful_stdout(program: &str, output: &Output) -> io::Result<String> {
    if !output.status.success() {
        return Err(io::Error::other(format!(
            "{program} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}
