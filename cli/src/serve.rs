//! `mellow serve`: OpenAI's speech endpoint and a Wyoming server (see the mellow-server crate).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;
use mellow_server::{serve_blocking, Limits, ServerConfig};

#[derive(Args)]
pub struct ServeArgs {
    /// Where the HTTP API listens (POST /v1/audio/speech, GET /v1/voices, /healthz, /readyz,
    /// /metrics).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub http: Option<SocketAddr>,
    /// Where the Wyoming server listens (Home Assistant's protocol), e.g. 0.0.0.0:10200.
    #[arg(long)]
    pub wyoming: Option<SocketAddr>,
    /// Serve no HTTP (Wyoming only).
    #[arg(long)]
    pub no_http: bool,
    /// Synthesis threads: each speaks one request at a time (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Requests that may wait for a worker; beyond that they get 429 and Retry-After.
    #[arg(long, default_value_t = 16)]
    pub queue: usize,
    /// A folder of voice files to offer besides the built-in voice (named by file name).
    #[arg(long)]
    pub voices: Option<PathBuf>,
    /// Bytes of text one request may give.
    #[arg(long, default_value_t = 20_000)]
    pub max_text_bytes: usize,
    /// Seconds a request may take from arrival to its last sample.
    #[arg(long, default_value_t = 120)]
    pub request_timeout: u64,
    /// Seconds in-flight requests get to finish after SIGTERM before they are cancelled.
    #[arg(long, default_value_t = 10)]
    pub shutdown_grace: u64,
}

pub fn run(args: ServeArgs) -> Result<()> {
    let http = if args.no_http { None } else { args.http };
    if http.is_none() && args.wyoming.is_none() {
        bail!("nothing to serve: give --http ADDR, --wyoming ADDR or both");
    }
    let defaults = ServerConfig::default();
    let config = ServerConfig {
        http,
        wyoming: args.wyoming,
        workers: args.workers.unwrap_or(defaults.workers).max(1),
        queue: args.queue,
        voices: args.voices,
        limits: Limits {
            max_text_bytes: args.max_text_bytes,
            request_timeout: Duration::from_secs(args.request_timeout),
            shutdown_grace: Duration::from_secs(args.shutdown_grace),
            ..Limits::default()
        },
    };
    let workers = config.workers;
    serve_blocking(config, |http, wyoming| {
        if let Some(a) = http {
            eprintln!("serving HTTP on http://{a} (POST /v1/audio/speech), {workers} worker(s)");
        }
        if let Some(a) = wyoming {
            eprintln!("serving Wyoming on tcp://{a}");
        }
    })?;
    eprintln!("stopped");
    Ok(())
}
