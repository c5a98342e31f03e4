//! Runs a `convene` command other than `serve` to completion, as a shell would.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Maximum time one command may run. Every peer is on loopback, so a command that takes
/// this long hangs.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// The exit status and output of one command.
#[derive(Debug)]
pub struct Output {
    /// The exit code, or `None` when a signal ended the process.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// Describes the run for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "exit code {:?}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `convene ARGS` with only `PATH` and `settings` in its environment, writes `stdin`
/// to its standard input and waits for it to exit. Unless `settings` name another DNS
/// server, DNS goes to a closed loopback port, so nothing ever leaves the machine.
///
/// # Panics
///
/// Panics when the command does not finish within two minutes.
pub fn run(args: &[&str], settings: &[(&str, String)], stdin: &[u8]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_convene"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CONVENE_DNS_SERVER", "127.0.0.1:9")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in settings {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("starting convene failed");
    // The command may exit before it reads its input, which its status then shows.
    let _ = child.stdin.take().expect("stdin is piped").write_all(stdin);
    // Reading both pipes on threads keeps a full pipe from blocking the command.
    let stdout = read_on_thread(child.stdout.take().expect("stdout is piped"));
    let stderr = read_on_thread(child.stderr.take().expect("stderr is piped"));

    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for convene failed") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "convene {args:?} did not finish within {COMMAND_TIMEOUT:?}; stderr:\n{}",
                stderr.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        code: status.code(),
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

fn read_on_thread(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}
