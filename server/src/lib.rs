//! Mellow as a service: OpenAI's `POST /v1/audio/speech` (streamed as it is made), the Wyoming
//! protocol Home Assistant speaks, health, readiness and Prometheus metrics, on tokio + hyper
//! (through axum's router). Synthesis runs on a bounded pool of worker threads, each owning its
//! synthesizers and speaking through the engine's one utterance loop; a full queue is refused at
//! once (HTTP 429 with Retry-After), never held in memory.
//!
//! ```no_run
//! # async fn run() -> Result<(), mellow_server::ServerError> {
//! use mellow_server::{Server, ServerConfig};
//! let config = ServerConfig {
//!     http: Some("127.0.0.1:8080".parse().unwrap()),
//!     wyoming: Some("127.0.0.1:10200".parse().unwrap()),
//!     ..ServerConfig::default()
//! };
//! let server = Server::start(config).await?;
//! server.run_until_signal().await
//! # }
//! ```

pub mod http;
pub mod metrics;
pub mod request;
pub mod voices;
pub mod workers;
pub mod wyoming;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use metrics::Metrics;
use voices::Catalogue;
use workers::Workers;

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Engine(#[from] mellow_engine::Error),
    #[error("{0}")]
    Runtime(String),
}

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the HTTP API listens (`None`: no HTTP).
    pub http: Option<SocketAddr>,
    /// Where the Wyoming server listens (`None`: no Wyoming).
    pub wyoming: Option<SocketAddr>,
    /// Synthesis threads (each speaks one request at a time).
    pub workers: usize,
    /// Requests that may wait for a worker; beyond that they are refused.
    pub queue: usize,
    /// Voice files offered besides the built-in voice.
    pub voices: Option<PathBuf>,
    pub limits: Limits,
}

/// Per-request bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes of text one request may give.
    pub max_text_bytes: usize,
    /// Bytes of a request body (JSON included).
    pub max_body_bytes: usize,
    /// Longest a request may take from arrival to its last sample.
    pub request_timeout: Duration,
    /// Longest a client may take to send its headers and body (slow clients are dropped).
    pub read_timeout: Duration,
    /// Longest a Wyoming connection may stay silent between events.
    pub idle_timeout: Duration,
    /// Longest in-flight work may take to finish after SIGTERM before it is cancelled.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_text_bytes: 20_000,
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(120),
            read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            http: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            wyoming: None,
            workers: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            queue: 16,
            voices: None,
            limits: Limits::default(),
        }
    }
}

/// What every connection shares.
pub struct Shared {
    pub workers: Workers,
    pub catalogue: Catalogue,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// True from SIGTERM on: readiness fails and new work is refused.
    pub draining: watch::Receiver<bool>,
}

/// A started server: its addresses, and the handle that stops it.
pub struct Server {
    pub http_addr: Option<SocketAddr>,
    pub wyoming_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    drain: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Server {
    /// Loads the voices, starts the workers and binds the listeners (port 0 picks a free one).
    pub async fn start(config: ServerConfig) -> Result<Self, ServerError> {
        let catalogue = Catalogue::load(config.voices.as_deref())?;
        let metrics = Arc::new(Metrics::default());
        let workers = Workers::start(
            config.workers.max(1),
            config.queue,
            catalogue.clone(),
            metrics.clone(),
        )?;
        let (drain, draining) = watch::channel(false);
        let shared = Arc::new(Shared {
            workers,
            catalogue,
            metrics,
            limits: config.limits.clone(),
            draining,
        });
        let mut tasks = Vec::new();
        let mut http_addr = None;
        if let Some(addr) = config.http {
            let listener = bind(addr).await?;
            http_addr = listener.local_addr().ok();
            tasks.push(tokio::spawn(http::serve(listener, shared.clone())));
        }
        let mut wyoming_addr = None;
        if let Some(addr) = config.wyoming {
            let listener = bind(addr).await?;
            wyoming_addr = listener.local_addr().ok();
            tasks.push(tokio::spawn(wyoming::serve(listener, shared.clone())));
        }
        Ok(Self {
            http_addr,
            wyoming_addr,
            shared,
            drain,
            tasks,
        })
    }

    /// Serves until SIGTERM or Ctrl-C, then shuts down (see [`Server::shutdown`]).
    pub async fn run_until_signal(self) -> Result<(), ServerError> {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| ServerError::Runtime(format!("cannot watch for SIGTERM: {e}")))?;
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        self.shutdown().await;
        Ok(())
    }

    /// Stops accepting, lets in-flight requests finish for the grace period, then cancels what
    /// is left at its next chunk.
    pub async fn shutdown(self) {
        let _ = self.drain.send(true);
        let grace = self.shared.limits.shutdown_grace;
        let deadline = tokio::time::Instant::now() + grace;
        while self.shared.metrics.in_flight() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.shared.workers.cancel_all();
        for task in self.tasks {
            task.abort();
        }
    }

    /// The shared state (for tests and embedding).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }
}

/// Runs a server on a runtime of its own until SIGTERM or Ctrl-C: the whole of `mellow serve`.
/// `on_ready` is called with the addresses once it listens.
pub fn serve_blocking(
    config: ServerConfig,
    on_ready: impl FnOnce(Option<SocketAddr>, Option<SocketAddr>),
) -> Result<(), ServerError> {
    // The network needs little: synthesis runs on the worker threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("mellow-net")
        .enable_all()
        .build()
        .map_err(|e| ServerError::Runtime(format!("cannot start the network runtime: {e}")))?;
    runtime.block_on(async {
        let server = Server::start(config).await?;
        on_ready(server.http_addr, server.wyoming_addr);
        server.run_until_signal().await
    })
}

/// Accepts connections on `listener` until the server drains, each handled by `handle` on a task
/// of its own.
async fn accept_until_drained<F, Fut>(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    handle: F,
) where
    F: Fn(tokio::net::TcpStream, Arc<Shared>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut draining = shared.draining.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = draining.changed() => break,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: back off a little rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(handle(stream, shared.clone()));
    }
}

async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener, ServerError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}
