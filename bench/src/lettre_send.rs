//! lettre 0.11 as a contender, without TLS, sending the same bytes as the others.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::ValueEnum;
use lettre::address::Envelope;
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use crate::LoadArgs;
use crate::message::{RECIPIENT, SENDER};

const HELO_NAME: &str = "client.bench.test";

/// Connection handling of the lettre contender.
#[derive(Clone, Copy, ValueEnum)]
pub enum LettreMode {
    /// `AsyncSmtpTransport::send_raw` with the connection pool (lettre's default features)
    /// sized to the concurrency. A pooled connection gets NOOP before each reuse.
    Pool,
    /// A new connection for every message, closed with QUIT afterwards: what
    /// `AsyncSmtpTransport::send_raw` does when lettre is built without its `pool` feature.
    PerMessage,
    /// One connection per task, kept for all of its messages, on a socket with
    /// TCP_NODELAY set by this program. lettre 0.11.23 never sets TCP_NODELAY itself, so
    /// this mode shows what its SMTP client costs without the waits of Nagle's algorithm.
    KeptNodelay,
}

/// Delivers the message `load.messages` times in the given `mode`.
pub async fn run(load: &LoadArgs, mode: LettreMode) -> Result<()> {
    let message = std::fs::read(&load.message)
        .with_context(|| format!("reading {}", load.message.display()))?;
    let message = Arc::new(message);
    let envelope = Arc::new(Envelope::new(
        Some(SENDER.parse()?),
        vec![RECIPIENT.parse()?],
    )?);
    let port = load.port;
    let hello = ClientId::Domain(HELO_NAME.to_owned());

    match mode {
        LettreMode::Pool => {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
                .port(port)
                .hello_name(hello)
                .pool_config(PoolConfig::new().max_size(u32::try_from(load.concurrency)?))
                .build();
            let send = {
                let transport = transport.clone();
                move || {
                    let transport = transport.clone();
                    let envelope = Arc::clone(&envelope);
                    let message = Arc::clone(&message);
                    async move {
                        transport.send_raw(&envelope, &message).await?;
                        Ok(())
                    }
                }
            };
            crate::load::run(load.messages, load.concurrency, send).await?;
            transport.shutdown().await;
        }
        LettreMode::PerMessage => {
            let send = move || {
                let envelope = Arc::clone(&envelope);
                let message = Arc::clone(&message);
                let hello = hello.clone();
                async move {
                    let mut connection = AsyncSmtpConnection::connect_tokio1(
                        ("127.0.0.1", port),
                        None,
                        &hello,
                        None,
                        None,
                    )
                    .await?;
                    connection.send(&envelope, &message).await?;
                    connection.abort().await;
                    Ok(())
                }
            };
            crate::load::run(load.messages, load.concurrency, send).await?;
        }
        LettreMode::KeptNodelay => {
            // The load driver calls one shared closure, so the kept connections wait in a
            // list: each call takes one (or opens one) and puts it back afterwards. At most
            // `concurrency` connections exist, because that many calls run at once.
            let idle: Arc<Mutex<Vec<AsyncSmtpConnection>>> = Arc::default();
            let send = {
                let idle = Arc::clone(&idle);
                move || {
                    let idle = Arc::clone(&idle);
                    let envelope = Arc::clone(&envelope);
                    let message = Arc::clone(&message);
                    let hello = hello.clone();
                    async move {
                        let idle_connection = idle.lock().await.pop();
                        let mut connection = match idle_connection {
                            Some(connection) => connection,
                            None => {
                                let stream = TcpStream::connect(("127.0.0.1", port)).await?;
                                stream.set_nodelay(true)?;
                                AsyncSmtpConnection::connect_with_transport(
                                    Box::new(stream),
                                    &hello,
                                )
                                .await?
                            }
                        };
                        connection.send(&envelope, &message).await?;
                        idle.lock().await.push(connection);
                        Ok(())
                    }
                }
            };
            crate::load::run(load.messages, load.concurrency, send).await?;
            for mut connection in idle.lock().await.drain(..) {
                connection.quit().await?;
            }
        }
    }
    Ok(())
}
