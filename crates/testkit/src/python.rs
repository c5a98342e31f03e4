//! Python scripts as independent checkers, such as a MIME parser built on Python's `email`
//! package.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `script` with `python3 -c`, writes `input` to its stdin and returns its stdout.
///
/// # Panics
///
/// Panics when `python3` cannot be started or the script fails, quoting its stderr.
pub fn run_python(script: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    // The script may exit before reading everything, which its status then reports.
    let _ = child.stdin.take().expect("stdin is piped").write_all(input);
    let output = child.wait_with_output().expect("python3 runs");
    assert!(
        output.status.success(),
        "the Python script failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}
