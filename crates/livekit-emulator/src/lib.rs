//! A stand-in for a LiveKit server with LiveKit Egress attached, for development and tests.
//!
//! LiveKit and Egress cannot run on our machines, yet every recording capability talks to
//! them. This crate speaks their wire protocol closely enough that the official SDKs cannot
//! tell the difference: the Twirp API (`livekit.Egress`, `livekit.RoomService`) in protobuf
//! and JSON, JWT authentication with grants, signed webhooks with LiveKit's retry rules,
//! real media files rendered by ffmpeg and uploaded the way Egress uploads them, and faults
//! injected on demand.
//!
//! # Layout
//! - [`EmulatorConfig`] / [`Emulator::start`]: configure and run one instance (port 0 in tests).
//! - `twirp`: request decoding, response encoding, Twirp errors, the RPC dispatch.
//! - `auth`: access-token verification and grant checks, with the real server's replies.
//! - `rooms`: rooms, simulated participants, received metadata and data messages.
//! - `egress`: the egress lifecycle STARTING → ACTIVE → ENDING → COMPLETE and its endings.
//! - `media`: ffmpeg test-pattern rendering. [`storage`]: uploads to S3 or a directory.
//! - `webhooks`: per-resource ordered, signed, retried webhook delivery.
//! - [`faults`]: what a test can break, and when. `admin`: the HTTP admin API under `/admin/`.

mod admin;
mod auth;
mod egress;
pub mod faults;
mod media;
mod protojson;
mod rooms;
mod state;
pub mod storage;
mod twirp;
pub mod webhooks;

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub use faults::Fault;

/// Everything an emulator instance needs to know; see the README for the matching flags.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    /// API key → API secret. Tokens are verified with the secret of their `iss`.
    pub keys: BTreeMap<String, String>,
    /// Where every webhook goes (the server's `webhook.urls`).
    pub webhook_urls: Vec<String>,
    /// Which key signs webhooks (the server's `webhook.api_key`); the first key when unset.
    pub webhook_api_key: Option<String>,
    /// Where files go when a request carries no upload configuration.
    pub storage_dir: PathBuf,
    /// Egress session limit: an egress active this long ends with `EGRESS_LIMIT_REACHED`.
    pub max_duration: Option<Duration>,
    /// How long an egress stays STARTING before it becomes ACTIVE.
    pub start_delay: Duration,
    /// First webhook retry delay; doubles on each retry, capped at 30 s (LiveKit: 1 s).
    pub webhook_retry_base: Duration,
    /// The ffmpeg executable used to render media.
    pub ffmpeg: PathBuf,
}

impl EmulatorConfig {
    /// A configuration with one key pair and LiveKit's own timings.
    pub fn new(api_key: &str, api_secret: &str) -> Self {
        Self {
            keys: BTreeMap::from([(api_key.to_owned(), api_secret.to_owned())]),
            webhook_urls: Vec::new(),
            webhook_api_key: None,
            storage_dir: std::env::temp_dir().join("livekit-emulator"),
            max_duration: None,
            start_delay: Duration::from_millis(500),
            webhook_retry_base: Duration::from_secs(1),
            ffmpeg: PathBuf::from("ffmpeg"),
        }
    }

    /// Parses `KEY:SECRET[,KEY2:SECRET2]` as given to `--keys`.
    pub fn parse_keys(spec: &str) -> anyhow::Result<BTreeMap<String, String>> {
        let mut keys = BTreeMap::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (key, secret) = pair
                .split_once(':')
                .with_context(|| format!("key pair {pair:?} is not KEY:SECRET"))?;
            anyhow::ensure!(
                !key.is_empty() && !secret.is_empty(),
                "key pair {pair:?} has an empty key or secret"
            );
            keys.insert(key.to_owned(), secret.to_owned());
        }
        anyhow::ensure!(!keys.is_empty(), "at least one KEY:SECRET pair is needed");
        Ok(keys)
    }
}

/// A running emulator. Dropping it leaves the server running until the runtime ends;
/// call [`Emulator::shutdown`] to stop it.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<state::Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    idle_rooms: JoinHandle<()>,
}

impl Emulator {
    /// Binds `bind` (use port 0 for a free port) and serves the API in the background.
    pub async fn start(config: EmulatorConfig, bind: SocketAddr) -> anyhow::Result<Self> {
        anyhow::ensure!(
            !config.keys.is_empty(),
            "the emulator needs at least one API key"
        );
        if let Some(key) = &config.webhook_api_key {
            anyhow::ensure!(
                config.keys.contains_key(key),
                "webhook key {key:?} is not one of the API keys"
            );
        }
        tokio::fs::create_dir_all(&config.storage_dir)
            .await
            .with_context(|| format!("create storage dir {}", config.storage_dir.display()))?;
        let listener = TcpListener::bind(bind)
            .await
            .with_context(|| format!("bind {bind}"))?;
        let addr = listener.local_addr()?;
        let shared = state::Shared::new(config);
        let app = twirp::router(shared.clone()).merge(admin::router(shared.clone()));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "emulator server stopped");
            }
        });
        // The real server checks once a second for rooms to close (empty or departed).
        let idle_rooms = tokio::spawn({
            let shared = Arc::downgrade(&shared);
            async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    let Some(shared) = shared.upgrade() else {
                        break;
                    };
                    shared.close_idle_rooms();
                }
            }
        });
        tracing::info!(%addr, "LiveKit emulator listening");
        Ok(Self {
            addr,
            shared,
            stop: Some(stop),
            server: Some(server),
            idle_rooms,
        })
    }

    /// The socket address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give LiveKit clients (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a simulated participant, creating the room if needed (as joining does).
    pub fn join(&self, room: &str, identity: &str) {
        self.shared.join_participant(room, identity, identity, "");
    }

    /// A handle that adds and removes simulated participants, usable after the emulator
    /// has been moved (dev mode gives one to the service's room pages).
    pub fn participants(&self) -> Participants {
        Participants {
            shared: self.shared.clone(),
        }
    }

    /// Injects a fault; see [`Fault`].
    pub fn inject(&self, fault: Fault) {
        self.shared.add_fault(fault);
    }

    /// Waits until every egress has ended and every queued webhook has been delivered or
    /// given up on, or the timeout passes. Returns whether everything settled.
    pub async fn settle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.shared.is_idle() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        false
    }

    /// Every webhook delivery so far (what `GET /admin/webhooks` shows).
    pub fn webhook_log(&self) -> Vec<webhooks::DeliveryRecord> {
        self.shared.webhooks.log()
    }

    /// Stops accepting requests and waits for the server task to end.
    pub async fn shutdown(mut self) {
        self.idle_rooms.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }
}

/// Adds and removes simulated participants of a running emulator; see
/// [`Emulator::participants`].
#[derive(Clone)]
pub struct Participants {
    shared: Arc<state::Shared>,
}

impl Participants {
    /// Joins `identity` (shown as `name`) to `room`, creating the room as a join would.
    /// Joining twice is one participant.
    pub fn join(&self, room: &str, identity: &str, name: &str) {
        self.shared.join_participant(room, identity, name, "");
    }

    /// `identity` leaves `room`; the last one leaving ends the room's egresses, and the
    /// room closes `departure_timeout` seconds later (`room_finished`), as on a real
    /// server. Returns false when there was no such participant.
    pub fn leave(&self, room: &str, identity: &str) -> bool {
        self.shared.leave_participant(room, identity)
    }
}
