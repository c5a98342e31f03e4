//! A child process that runs a test peer, with its output captured in a log file.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// A running peer process, killed when dropped.
///
/// Its stderr (and stdout, unless the caller pipes it) goes to a log file in a private
/// temporary directory, which error messages quote when the peer fails to start.
pub(crate) struct PeerProcess {
    name: &'static str,
    child: Child,
    log_path: PathBuf,
    _log_dir: TempDir,
}

impl PeerProcess {
    /// Spawns `command` with stdin closed and stderr sent to the log file. Stdout also goes
    /// to the log file when `pipe_stdout` is false, and to a pipe otherwise.
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        pipe_stdout: bool,
    ) -> io::Result<PeerProcess> {
        let log_dir = tempfile::Builder::new().prefix("convene-peer-").tempdir()?;
        let log_path = log_dir.path().join(format!("{name}.log"));
        let log = File::create(&log_path)?;
        let stdout = if pipe_stdout {
            Stdio::piped()
        } else {
            Stdio::from(log.try_clone()?)
        };
        command.stdin(Stdio::null()).stdout(stdout).stderr(log);

        let child = command.spawn().map_err(|error| {
            io::Error::new(error.kind(), format!("failed to start {name}: {error}"))
        })?;
        Ok(PeerProcess {
            name,
            child,
            log_path,
            _log_dir: log_dir,
        })
    }

    /// Returns the exit status if the process has already exited.
    pub(crate) fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Returns everything the process has logged so far.
    pub(crate) fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Returns the first line that the process prints on its piped stdout, without the line
    /// end, waiting at most `timeout`.
    ///
    /// Peers print such a line once they have bound their port. Waiting for it before
    /// connecting matters when another process has bound the port: a connection alone
    /// would reach that process while the peer fails to bind.
    pub(crate) fn first_stdout_line(&mut self, timeout: Duration) -> io::Result<String> {
        let stdout = self.child.stdout.take().expect("stdout is piped");
        let (sender, receiver) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            let result = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            // The receiver is gone only if the start already failed.
            let _ = sender.send(result);
        });
        match receiver.recv_timeout(timeout) {
            Ok(Ok(line)) if line.is_empty() => Err(self.startup_error("the process exited")),
            Ok(Ok(line)) => Ok(line.trim_end().to_owned()),
            Ok(Err(error)) => {
                Err(self.startup_error(&format!("reading its output failed: {error}")))
            }
            Err(_) => Err(self.startup_error(&format!("not ready within {timeout:?}"))),
        }
    }

    /// Waits until `addr` accepts a TCP connection, failing at `deadline` or when the
    /// process exits first.
    pub(crate) fn wait_for_connection(
        &mut self,
        addr: SocketAddr,
        deadline: Instant,
    ) -> io::Result<()> {
        while Instant::now() < deadline {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if self.exit_status().is_some() {
                return Err(self.startup_error("the process exited"));
            }
            thread::sleep(Duration::from_millis(20));
        }
        Err(self.startup_error(&format!("{addr} accepted no connection")))
    }

    /// Builds an error that explains why the peer did not start, quoting its log.
    pub(crate) fn startup_error(&mut self, reason: &str) -> io::Error {
        let status = match self.exit_status() {
            Some(status) => format!(" ({status})"),
            None => String::new(),
        };
        io::Error::other(format!(
            "{} did not start: {reason}{status}; its log:\n{}",
            self.name,
            self.log()
        ))
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        // Errors mean that the process is already gone, which is the goal.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
