//! Detection of the external programs that the test peers run.

use std::env;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::smtp_sink::SMTP_SINK_PROGRAM;

/// An external program that a test needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// The `dnsmasq` binary, from the Debian package `dnsmasq-base`.
    Dnsmasq,
    /// The Python package `aiosmtpd`, importable by `python3`.
    Aiosmtpd,
    /// Postfix's test server `/usr/sbin/smtp-sink`, from the Debian package `postfix`.
    SmtpSink,
    /// The `python3` interpreter, for checkers such as [`run_python`](crate::run_python).
    Python3,
    /// The Python packages `dkimpy` (module `dkim`) and `pynacl`, which dkimpy needs for
    /// Ed25519, importable by `python3`.
    Dkimpy,
    /// The `opendkim` binary, from the Debian package `opendkim`.
    Opendkim,
    /// The Python package `icalendar`, importable by `python3`.
    PythonIcalendar,
    /// The Python package `schemathesis`, major version 4, importable by `python3`. Its
    /// command-line options changed between major versions.
    Schemathesis,
    /// The Python package `standardwebhooks`, importable by `python3`.
    Standardwebhooks,
    /// The Python packages `http_ece` and `cryptography`, importable by `python3`, which
    /// the Web Push service peer decrypts and verifies with.
    HttpEce,
}

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Dnsmasq => "dnsmasq",
            Peer::Aiosmtpd => "aiosmtpd",
            Peer::SmtpSink => "smtp-sink",
            Peer::Python3 => "python3",
            Peer::Dkimpy => "dkimpy",
            Peer::Opendkim => "opendkim",
            Peer::PythonIcalendar => "icalendar",
            Peer::Schemathesis => "schemathesis 4",
            Peer::Standardwebhooks => "standardwebhooks",
            Peer::HttpEce => "http_ece",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Peer::Dnsmasq => {
                "install the Debian package dnsmasq-base: apt-get install dnsmasq-base"
            }
            Peer::Aiosmtpd => "install the PyPI package aiosmtpd: python3 -m pip install aiosmtpd",
            Peer::SmtpSink => "install the Debian package postfix: apt-get install postfix",
            Peer::Python3 => "install the Debian package python3: apt-get install python3",
            Peer::Dkimpy => {
                "install the PyPI packages dkimpy and pynacl: python3 -m pip install dkimpy pynacl"
            }
            Peer::Opendkim => "install the Debian package opendkim: apt-get install opendkim",
            Peer::PythonIcalendar => {
                "install the PyPI package icalendar: python3 -m pip install icalendar"
            }
            Peer::Schemathesis => {
                "install the PyPI package schemathesis: python3 -m pip install 'schemathesis>=4,<5'"
            }
            Peer::Standardwebhooks => {
                "install the PyPI package standardwebhooks: python3 -m pip install standardwebhooks"
            }
            Peer::HttpEce => {
                "install the PyPI packages http_ece and cryptography: python3 -m pip install http_ece cryptography"
            }
        }
    }

    fn is_installed(self) -> bool {
        static DNSMASQ: OnceLock<bool> = OnceLock::new();
        static AIOSMTPD: OnceLock<bool> = OnceLock::new();
        static PYTHON3: OnceLock<bool> = OnceLock::new();
        static DKIMPY: OnceLock<bool> = OnceLock::new();
        static OPENDKIM: OnceLock<bool> = OnceLock::new();
        static ICALENDAR: OnceLock<bool> = OnceLock::new();
        static SCHEMATHESIS: OnceLock<bool> = OnceLock::new();
        static STANDARDWEBHOOKS: OnceLock<bool> = OnceLock::new();
        static HTTP_ECE: OnceLock<bool> = OnceLock::new();
        match self {
            Peer::Dnsmasq => *DNSMASQ.get_or_init(|| runs_successfully("dnsmasq", &["--version"])),
            Peer::Aiosmtpd => {
                *AIOSMTPD.get_or_init(|| runs_successfully("python3", &["-c", "import aiosmtpd"]))
            }
            // smtp-sink has no option that only prints and exits successfully.
            Peer::SmtpSink => Path::new(SMTP_SINK_PROGRAM).is_file(),
            Peer::Python3 => *PYTHON3.get_or_init(|| runs_successfully("python3", &["--version"])),
            Peer::Dkimpy => {
                *DKIMPY.get_or_init(|| runs_successfully("python3", &["-c", "import dkim, nacl"]))
            }
            Peer::Opendkim => *OPENDKIM.get_or_init(|| runs_successfully("opendkim", &["-V"])),
            Peer::PythonIcalendar => {
                *ICALENDAR.get_or_init(|| runs_successfully("python3", &["-c", "import icalendar"]))
            }
            Peer::Schemathesis => *SCHEMATHESIS.get_or_init(|| {
                let check = "import schemathesis, sys; \
                             sys.exit(not schemathesis.__version__.startswith('4.'))";
                runs_successfully("python3", &["-c", check])
            }),
            Peer::Standardwebhooks => *STANDARDWEBHOOKS
                .get_or_init(|| runs_successfully("python3", &["-c", "import standardwebhooks"])),
            Peer::HttpEce => *HTTP_ECE.get_or_init(|| {
                runs_successfully("python3", &["-c", "import http_ece, cryptography"])
            }),
        }
    }
}

/// Checks that every peer in `peers` is installed and returns whether the test can run.
///
/// When one is missing, this panics if the environment variable `CONVENE_REQUIRE_PEERS` is
/// `1`, naming the package to install. Otherwise it prints
/// `skipped: <test>: <peer> not installed (...)` to stderr and returns `false`, and the test
/// should return at once.
pub fn require_peers(test: &str, peers: &[Peer]) -> bool {
    let required = peers_required();
    for &peer in peers {
        if peer.is_installed() {
            continue;
        }
        if required {
            panic!(
                "{test}: {} is not installed and CONVENE_REQUIRE_PEERS=1; {}",
                peer.name(),
                peer.install_hint()
            );
        }
        eprintln!(
            "skipped: {test}: {} not installed ({})",
            peer.name(),
            peer.install_hint()
        );
        return false;
    }
    true
}

/// Returns whether a missing peer fails a test instead of skipping it: whether the
/// environment variable `CONVENE_REQUIRE_PEERS` is `1`.
pub(crate) fn peers_required() -> bool {
    env::var("CONVENE_REQUIRE_PEERS").is_ok_and(|value| value == "1")
}

fn runs_successfully(program: &str, arguments: &[&str]) -> bool {
    Command::new(program)
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
