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
    pub share_limiter: std::sync::Arc<crate::http::share_links::AttemptLimiter>,
    /// Set by `meet-recorder dev` only.
    pub dev: Option<Arc<crate::dev::DevMode>>,
}

impl AppState {
    /// Connects to the database (migrating it) and builds the LiveKit clients, the
    /// object storage and the mailer.
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect(config.database_url.expose_secret()).await?;
        db.migrate().await?;
        Self::with_db(config, db).await
    }

    pub async fn with_db(config: Config, db: Db) -> anyhow::Result<Self> {
        let events =
            crate::events::RoomEvents::start(db.clone(), config.database_url.expose_secret())
                .await?;
        let config = Arc::new(config);
        let livekit = Arc::new(LiveKit::new(&config));
        let storage = crate::storage::from_config(&config, &config.storage_dir)
            .map_err(|e| anyhow::anyhow!("object storage: {e}"))?;
        let mailer = crate::mail::mailer(&mail_settings(&config.email))
            .map_err(|e| anyhow::anyhow!("mailer: {e}"))?;
        let brand = crate::mail::Brand {
            name: config.email.brand_name.clone(),
            support_email: config.email.support_email.clone(),
            from: config.email.from.clone(),
        };
        let recorder = Arc::new(Recorder {
            db: db.clone(),
            livekit: livekit.clone(),
            config: config.clone(),
            storage,
            mailer,
            brand,
            metrics: Arc::new(crate::metrics::Metrics::default()),
            jobs_wakeup: Arc::new(tokio::sync::Notify::new()),
            events,
        });
        Ok(Self {
            db,
            config,
            livekit,
            recorder,
            share_limiter: Default::default(),
            dev: None,
        })
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
        let runner = crate::jobs::spawn_runner(self.state.clone(), stopped.clone());
        let app = crate::http::router(self.state.clone());
        let mut stopped_server = stopped.clone();
        let app = app.into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            let _ = stopped_server.wait_for(|s| *s).await;
        });
        let server = tokio::spawn(async move { server.await });
        shutdown.await;
        let _ = stop.send(true);
        server.await??;
        let _ = sweeper.await;
        let _ = runner.await;
        Ok(())
    }
}

/// The mail module's settings from ours.
pub fn mail_settings(email: &crate::config::EmailSettings) -> crate::mail::MailSettings {
    use crate::mail::{MailBackend, SmtpSecurity};
    crate::mail::MailSettings {
        backend: match email.backend.as_str() {
            "smtp" => MailBackend::Smtp,
            "file" => MailBackend::File,
            _ => MailBackend::Console,
        },
        host: email.host.clone(),
        port: email.port,
        user: email.user.clone(),
        password: email.password.clone(),
        security: if email.use_ssl {
            SmtpSecurity::Tls
        } else if email.use_tls {
            SmtpSecurity::StartTls
        } else {
            SmtpSecurity::None
        },
        timeout: email.timeout,
        file_dir: email.file_path.clone(),
    }
}

/// Periodically enforces `RECORDING_MAX_DURATION`, purges expired recordings and
/// reconciles open recordings with LiveKit.
fn spawn_sweeper(state: AppState, mut stopped: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(state.config.sweep_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_reconcile = tokio::time::Instant::now();
        let mut last_purge: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            if state.config.recording.max_duration_ms.is_some()
                && let Err(error) = state.recorder.enforce_max_duration().await
            {
                tracing::warn!(%error, "maximum-duration check failed");
            }
            if state.config.recording.expiration_days.is_some()
                && last_purge.is_none_or(|at| at.elapsed() >= state.config.purge_interval)
            {
                last_purge = Some(tokio::time::Instant::now());
                match state.recorder.purge_expired(false, |_, _| {}).await {
                    Ok(report) if report.expired > 0 || report.failed > 0 => {
                        tracing::info!(?report, "expired recordings purged");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "purge of expired recordings failed"),
                }
            }
            if last_reconcile.elapsed() >= state.config.reconcile_interval {
                last_reconcile = tokio::time::Instant::now();
                let grace = state.config.reconcile_grace.as_millis() as i64;
                if let Err(error) = state.recorder.reconcile(grace).await {
                    tracing::warn!(%error, "reconciliation failed");
                }
            }
        }
    })
}
