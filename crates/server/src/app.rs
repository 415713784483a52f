//! Building and running the application: the shared state, the HTTP server and the
//! background loops, all stopped by one shutdown signal.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

use crate::{config::Config, db::Db, livekit::LiveKit, recorder::Recorder};

/// What every handler and background task shares.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub livekit: Arc<LiveKit>,
    pub recorder: Arc<Recorder>,
}

impl AppState {
    /// Connects to the database (migrating it) and builds the LiveKit clients.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect(config.database_url.expose_secret()).await?;
        db.migrate().await?;
        Ok(Self::with_db(config, db))
    }

    pub fn with_db(config: Config, db: Db) -> Self {
        let config = Arc::new(config);
        let livekit = Arc::new(LiveKit::new(&config));
        let recorder = Arc::new(Recorder {
            db: db.clone(),
            livekit: livekit.clone(),
            config: config.clone(),
        });
        Self {
            db,
            config,
            livekit,
            recorder,
        }
    }
}

/// A bound, not yet running application.
pub struct Application {
    listener: TcpListener,
    state: AppState,
}

impl Application {
    /// Binds `config.listen` (port 0 picks a free port).
    pub async fn build(state: AppState) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(state.config.listen)
            .await
            .with_context(|| format!("bind {}", state.config.listen))?;
        Ok(Self { listener, state })
    }

    /// Uses an already bound listener (tests bind first to learn the address).
    pub fn with_listener(listener: TcpListener, state: AppState) -> Self {
        Self { listener, state }
    }

    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener")
    }

    /// Serves until `shutdown` resolves, then stops the background loops.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let sweeper = spawn_sweeper(self.state.clone(), stopped.clone());
        let app = crate::http::router(self.state.clone());
        let mut stopped_server = stopped.clone();
        let server = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            let _ = stopped_server.wait_for(|s| *s).await;
        });
        let server = tokio::spawn(async move { server.await });
        shutdown.await;
        let _ = stop.send(true);
        server.await??;
        let _ = sweeper.await;
        Ok(())
    }
}

/// Periodically enforces `RECORDING_MAX_DURATION`.
fn spawn_sweeper(state: AppState, mut stopped: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        if state.config.recording.max_duration_ms.is_none() {
            return;
        }
        let mut interval = tokio::time::interval(state.config.sweep_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            if let Err(error) = state.recorder.enforce_max_duration().await {
                tracing::warn!(%error, "maximum-duration check failed");
            }
        }
    })
}
