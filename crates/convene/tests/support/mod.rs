//! Runs `convene serve` and the other commands as child processes for black-box tests.

#![allow(dead_code)]

pub mod cli;
pub mod mail;
pub mod world;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The administrator token of every server that [`Convene::start`] runs; its client
/// sends it unless a request names another token.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789abcdefghij";

/// A running `convene serve` process, killed on drop.
pub struct Convene {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    log_path: PathBuf,
}

impl Convene {
    /// Starts `convene serve` on a free loopback port with the SQLite file
    /// `database` and extra `CONVENE_*` settings. Unless the settings name
    /// another DNS server, DNS goes to a closed loopback port, so nothing ever leaves
    /// the machine.
    pub fn start(database: &Path, settings: &[(&str, String)]) -> Convene {
        let url = format!("sqlite:{}", database.display());
        Convene::start_with_url(&url, database, settings)
    }

    /// Starts `convene serve` like [`Convene::start`], on the database that `url` names.
    /// The log goes next to `log_base`, named after it and the HTTP port.
    pub fn start_with_url(url: &str, log_base: &Path, settings: &[(&str, String)]) -> Convene {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log_path = log_base.with_extension(format!("{port}.log"));
        let log = std::fs::File::create(&log_path).unwrap();

        let mut command = Command::new(env!("CARGO_BIN_EXE_convene"));
        command
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CONVENE_LISTEN", addr.to_string())
            .env("CONVENE_DATABASE_URL", url)
            .env("CONVENE_DNS_SERVER", "127.0.0.1:9")
            .env("CONVENE_HELO_NAME", "convene.test")
            .env("CONVENE_MAIL_FROM", "reminders@convene.test")
            .env("CONVENE_LOG", "info,convene_mail=debug")
            .env("CONVENE_ADMIN_TOKEN", ADMIN_TOKEN)
            // Tests send requests in bursts; the tests of rate limiting set their own.
            .env("CONVENE_RATE_LIMIT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (key, value) in settings {
            command.env(key, value);
        }
        let child = command.spawn().expect("starting convene serve failed");

        let convene = Convene {
            child: Some(child),
            addr,
            // A fresh connection for every request: some tests send bodies the server
            // refuses unread, after which it closes the connection, and a pooled client
            // could send the next request on it before it learns of the close.
            client: client(Some(ADMIN_TOKEN)),
            log_path,
        };
        convene.wait_until_listening();
        convene
    }

    fn wait_until_listening(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(self.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "convene did not start listening:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Returns the process id, until the process is killed.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the process with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        decode(response).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .patch(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        decode(response).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: &'static str,
    ) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        decode(response).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        decode(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    /// Sends `GET` and returns the status, the Content-Type and the body as text.
    pub async fn get_text(&self, path: &str) -> (u16, String, String) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, content_type, response.text().await.unwrap())
    }

    /// Sends `POST` with `body` as `content_type`.
    pub async fn post_bytes(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        decode(response).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        decode(self.client.delete(self.url(path)).send().await.unwrap()).await
    }

    /// Creates a user and returns its id.
    pub async fn user(&self, name: &str, email: &str) -> String {
        let (status, body) = self
            .post(
                "/v1/users",
                serde_json::json!({"name": name, "email": email}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }
}

/// Returns an HTTP client that sends `token` as its bearer token, if any.
pub fn client(token: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .pool_max_idle_per_host(0)
        .build()
        .expect("the HTTP client builds")
}

impl Drop for Convene {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Returns the status and JSON body, checking that errors are problem
/// documents.
async fn decode(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body {text:?}"));
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{status} {text}");
        assert_eq!(body["status"], status, "{text}");
    } else {
        assert_eq!(content_type, "application/json", "{status} {text}");
    }
    (status, body)
}
