//! Building and running the application: the shared state, the HTTP server and the
//! background loops, all stopped by one shutdown signal.

use std::{
    convert::Infallible,
    future::Future,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use axum::response::IntoResponse;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use secrecy::ExposeSecret;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::{Semaphore, watch},
    task::JoinHandle,
};

use crate::{
    adapters::{
        change_feed::RoomEvents,
        db::Db,
        identity_provider::IdentityProvider,
        livekit::LiveKit,
        mail::{self, Brand, MailSettings},
        storage,
    },
    config::{Config, ConnectionSettings, EmailSettings},
    engine::{Adapters, Engine, accounts::LoginGuard},
    http::AppState,
};

impl AppState {
    /// Connects to the database and builds the LiveKit clients, the object storage and the
    /// mailer. The database must have this build's schema already: this is how the operator's
    /// commands open it, and none of them may create or change tables (see
    /// [`Db::connect_current`]). `serve` and `dev` use [`AppState::migrated`].
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect_current(config.database_url.expose_secret()).await?;
        Self::with_db(config, db).await
    }

    /// As [`AppState::new`], applying pending migrations first: what the service does when
    /// it starts, so an upgrade needs no separate step.
    pub async fn migrated(config: Config) -> anyhow::Result<Self> {
        let db = Db::connect_serving(config.database_url.expose_secret()).await?;
        db.migrate().await?;
        Self::with_db(config, db).await
    }

    /// Builds the adapters and the engine on `db`.
    pub async fn with_db(config: Config, db: Db) -> anyhow::Result<Self> {
        let change_feed =
            RoomEvents::start(db.clone(), config.database_url.expose_secret()).await?;
        let config = Arc::new(config);
        let livekit = Arc::new(LiveKit::new(&config));
        let storage = storage::from_config(&config, &config.storage_dir)
            .map_err(|e| anyhow::anyhow!("object storage: {e}"))?;
        let mailer = mail::mailer(&mail_settings(&config.email))
            .map_err(|e| anyhow::anyhow!("mailer: {e}"))?;
        let brand = brand(&config.email);
        let engine = Engine::new(
            config.clone(),
            Adapters {
                db: db.clone(),
                livekit: livekit.clone(),
                storage: storage.clone(),
                mailer,
                brand,
                change_feed: change_feed.clone(),
            },
        );
        let identity_provider = match &config.oidc {
            Some(settings) => Some(Arc::new(IdentityProvider::new(
                settings.clone(),
                &format!(
                    "{}{}",
                    config.public_url.trim_end_matches('/'),
                    crate::http::oidc::CALLBACK_PATH
                ),
            )?)),
            None => None,
        };
        let login_guard = Arc::new(LoginGuard::new(config.sign_in_attempts_per_minute));
        Ok(Self {
            identity_provider,
            db,
            config,
            livekit,
            storage,
            change_feed,
            engine,
            share_limiter: Default::default(),
            login_guard,
            room_states: Arc::default(),
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
        let runner = self.state.engine.jobs.clone().spawn(stopped.clone());
        warn_if_storage_hook_is_open(&self.state.config);
        // Whether ffmpeg is here (pausing needs it) is learned once, off the request path.
        tokio::task::spawn_blocking(|| {
            if !crate::adapters::media_tools::available() {
                tracing::warn!("ffmpeg or ffprobe is not on PATH: recordings cannot be paused");
            }
        });
        let app = crate::http::router(self.state.clone());
        let limits = self.state.config.connections.clone();
        let server = tokio::spawn(serve(self.listener, app, limits, stopped.clone()));
        shutdown.await;
        let _ = stop.send(true);
        server.await?;
        let _ = sweeper.await;
        let _ = runner.await;
        Ok(())
    }
}

/// How long open connections get to finish once shutting down: an event stream never
/// ends by itself, and nothing else should take longer.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// Connections beyond `MEET_RECORDER_MAX_CONNECTIONS` answered 503 at once; beyond these,
/// they are closed unanswered. Each has this long to send its headers and read the answer.
const MAX_REFUSING: usize = 64;
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);
/// File descriptors the process needs besides its connections: the database pool (and
/// SQLite's journal files), files being served, LiveKit, S3 and SMTP clients, logs.
pub const FD_RESERVE: u64 = 256;

/// The HTTP server, until `stopped`. HTTP/1.1 over hyper directly rather than
/// `axum::serve`, which has no header-read timeout (a client sending a byte now and
/// then held a connection for minutes) and no connection limit (1,100 event streams
/// exhausted the file descriptors). Not hyper-util's `auto` builder either: it reads the
/// first bytes to tell HTTP/2 apart with no time limit, so a client that connects and
/// sends nothing would stay forever.
///
/// - A client has `MEET_RECORDER_HEADER_TIMEOUT_S` to send each request's headers; the
///   same bounds how long an idle keep-alive connection is kept.
/// - At most `MEET_RECORDER_MAX_CONNECTIONS` connections are served at once; a new one
///   beyond is answered 503 (`Retry-After`) and closed.
/// - Shutting down, each connection finishes its request (keep-alive off), and is closed
///   after [`SHUTDOWN_GRACE`] at the latest.
async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ConnectionSettings,
    stopped: watch::Receiver<bool>,
) {
    warn_if_few_file_descriptors(limits.max_connections);
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let max = limits.max_connections.min(Semaphore::MAX_PERMITS) as u32;
    let connections = Arc::new(Semaphore::new(max as usize));
    let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let header_timeout = limits.header_timeout;
    let mut refusals = RateLimitedWarning::default();
    let mut accept_errors = RateLimitedWarning::default();
    let mut stopping = stopped.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopping.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                if !matches!(
                    error.kind(),
                    std::io::ErrorKind::ConnectionAborted
                        | std::io::ErrorKind::ConnectionReset
                        | std::io::ErrorKind::ConnectionRefused
                ) {
                    // Out of file descriptors (EMFILE), most likely: wait for some.
                    accept_errors
                        .warn(|n| tracing::warn!(%error, errors = n, "cannot accept connections"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                continue;
            }
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            refusals.warn(|n| {
                tracing::warn!(
                    limit = max,
                    refused = n,
                    "connection limit reached (MEET_RECORDER_MAX_CONNECTIONS): connections refused"
                )
            });
            refuse(stream, &refusing);
            continue;
        };
        let service = {
            use tower_service::Service;
            std::future::poll_fn(|cx| Service::<SocketAddr>::poll_ready(&mut make_service, cx))
                .await
                .unwrap_or_else(|never: Infallible| match never {});
            make_service
                .call(peer)
                .await
                .unwrap_or_else(|never: Infallible| match never {})
        };
        let builder = builder.clone();
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(stream) = crate::http::stream_connections::serve_if_event_stream(
                stream,
                service.clone(),
                header_timeout,
                stopped.clone(),
            )
            .await
            else {
                return;
            };
            // Boxed: an event stream's task (above) need not keep room for hyper's state.
            let mut connection = Box::pin(
                builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service)),
            );
            let mut stopping = stopped;
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                    return;
                }
                _ = stopping.wait_for(|s| *s) => connection.as_mut().graceful_shutdown(),
            }
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
        });
    }
    drop(listener);
    // Every connection gives its permit back when it ends.
    let _ = connections.acquire_many(max).await;
}

/// A connection beyond the limit: a short 503 if few are being refused, else just closed.
fn refuse(stream: TcpStream, refusing: &Arc<Semaphore>) {
    let Ok(permit) = refusing.clone().try_acquire_owned() else {
        return;
    };
    tokio::spawn(async move {
        let _permit = permit;
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(REFUSAL_TIMEOUT)
            .keep_alive(false);
        let service = hyper::service::service_fn(|_request| async {
            let mut response = crate::http::error::ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "too-many-connections",
                "The server is at its connection limit; try again shortly.",
            )
            .into_response();
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
            Ok::<_, Infallible>(response)
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let _ = tokio::time::timeout(REFUSAL_TIMEOUT * 2, connection).await;
    });
}

/// A warning logged at most once a minute, with how many times it happened meanwhile: a
/// flood must not flood the logs.
#[derive(Default)]
struct RateLimitedWarning {
    last: Option<Instant>,
    count: u64,
}

impl RateLimitedWarning {
    fn warn(&mut self, log: impl FnOnce(u64)) {
        self.count += 1;
        if self
            .last
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(60))
        {
            log(self.count);
            self.last = Some(Instant::now());
            self.count = 0;
        }
    }
}

/// The soft open-file limit (`ulimit -n`), where the system tells (Linux).
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    match line["Max open files".len()..].split_whitespace().next()? {
        "unlimited" => Some(u64::MAX),
        soft => soft.parse().ok(),
    }
}

/// Each connection is a file descriptor: with too low a limit, the process runs out of
/// them before it reaches `MEET_RECORDER_MAX_CONNECTIONS`, and then cannot open its
/// database or a file either.
/// Without authentication, anyone who can reach the storage hook can announce files.
fn warn_if_storage_hook_is_open(config: &crate::config::Config) {
    let recording = &config.recording;
    if recording.storage_event_enable && !recording.enable_storage_event_auth {
        tracing::warn!(
            "THE STORAGE HOOK RUNS WITHOUT AUTHENTICATION (RECORDING_ENABLE_STORAGE_EVENT_AUTH=false): \
             anyone who can reach /api/v1.0/recordings/storage-hook/ can announce recording files; \
             keep it reachable only from the storage server, or set RECORDING_STORAGE_EVENT_TOKEN"
        );
    }
}

fn warn_if_few_file_descriptors(max_connections: usize) {
    let needed = max_connections as u64 + FD_RESERVE;
    if let Some(limit) = open_file_limit()
        && limit < needed
    {
        tracing::warn!(
            open_file_limit = limit,
            max_connections,
            needed,
            "the open-file limit is too low for MEET_RECORDER_MAX_CONNECTIONS: raise it \
             (systemd LimitNOFILE=, docker --ulimit nofile=, ulimit -n) or lower the setting"
        );
    }
}

/// The mail module's settings from ours.
/// How emails name and sign the service.
pub fn brand(email: &EmailSettings) -> Brand {
    Brand {
        name: email.brand_name.clone(),
        support_email: email.support_email.clone(),
        from: email.from.clone(),
    }
}

pub fn mail_settings(email: &EmailSettings) -> MailSettings {
    use crate::adapters::mail::{MailBackend, SmtpSecurity};
    MailSettings {
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
        let mut last_prune = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = stopped.wait_for(|s| *s) => return,
            }
            if state.config.recording.max_duration_ms.is_some()
                && let Err(error) = state.engine.reconciler.enforce_max_duration().await
            {
                tracing::warn!(%error, "maximum-duration check failed");
            }
            if state.config.recording.expiration_days.is_some()
                && last_purge.is_none_or(|at| at.elapsed() >= state.config.purge_interval)
            {
                last_purge = Some(tokio::time::Instant::now());
                match state.engine.expiry.purge_expired(false, |_, _| {}).await {
                    Ok(report) if report.expired > 0 || report.failed > 0 => {
                        tracing::info!(?report, "expired recordings purged");
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "purge of expired recordings failed"),
                }
            }
            if last_prune.elapsed() >= state.config.prune_interval {
                last_prune = tokio::time::Instant::now();
                match state.engine.expiry.prune().await {
                    Ok(pruned) => tracing::debug!(?pruned, "old webhook ids and sessions pruned"),
                    Err(error) => tracing::warn!(%error, "pruning failed"),
                }
            }
            if last_reconcile.elapsed() >= state.config.reconcile_interval {
                last_reconcile = tokio::time::Instant::now();
                let grace = state.config.reconcile_grace.as_millis() as i64;
                if let Err(error) = state.engine.reconciler.reconcile(grace).await {
                    tracing::warn!(%error, "reconciliation failed");
                }
            }
        }
    })
}
