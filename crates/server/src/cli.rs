//! The subcommands of the `meet-recorder` binary.

use std::{io::Read, path::PathBuf, time::Duration};

use anyhow::Context;
use clap::{Parser, Subcommand};
#[cfg(feature = "dev-tools")]
use livekit_emulator::{Emulator, EmulatorConfig};
use secrecy::ExposeSecret;

use crate::{
    adapters::db::Db,
    app::Application,
    config::{Config, Source},
    engine::accounts as auth,
    http::AppState,
};

#[derive(Parser)]
#[command(name = "meet-recorder", version, about = "Records LiveKit rooms")]
pub struct Cli {
    /// A KEY=VALUE settings file read under the environment.
    #[arg(long, global = true, env = "MEET_RECORDER_CONFIG_FILE")]
    config_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the service (migrating the database first).
    Serve,
    /// Applies pending database migrations.
    Migrate,
    /// Prints the effective configuration, secrets redacted.
    Config,
    /// Exits 0 when the running service answers /readyz.
    Healthcheck {
        /// Base URL of the service (default: http:// + MEET_RECORDER_LISTEN).
        #[arg(long)]
        url: Option<String>,
    },
    /// Manages accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Inspects egresses.
    #[command(subcommand)]
    Egress(EgressCommand),
    /// Inspects and retries background jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Compares open recordings with LiveKit now and closes those whose egress is gone.
    Reconcile {
        /// Only recordings untouched for this many seconds.
        #[arg(long, default_value_t = 0)]
        grace_seconds: u64,
    },
    /// Sends a test email through the configured mailer.
    SendTestEmail { address: String },
    /// Deletes the files of recordings past RECORDING_EXPIRATION_DAYS and marks them expired.
    PurgeExpired {
        /// Only lists what would be purged.
        #[arg(long)]
        dry_run: bool,
    },
    /// Object storage administration.
    #[command(subcommand)]
    Storage(StorageCommand),
    /// Runs the service with the in-process LiveKit emulator, SQLite and a demo account.
    #[cfg(feature = "dev-tools")]
    Dev(DevArgs),
    /// Runs the LiveKit server + Egress emulator (development and tests).
    #[cfg(feature = "dev-tools")]
    LivekitEmulator(EmulatorArgs),
    /// Measures webhook throughput and start/stop latency on SQLite and PostgreSQL.
    #[cfg(feature = "dev-tools")]
    Bench(BenchArgs),
}

#[cfg(feature = "dev-tools")]
#[derive(clap::Args)]
struct BenchArgs {
    /// Databases to measure: sqlite, postgres, or both.
    #[arg(long, value_delimiter = ',', default_value = "sqlite,postgres")]
    databases: Vec<String>,
    /// PostgreSQL server where a temporary database is created and dropped.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// Signed egress_updated webhooks to send.
    #[arg(long, default_value_t = 2000)]
    webhooks: usize,
    /// Webhooks in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Start/stop pairs to time.
    #[arg(long, default_value_t = 100)]
    recordings: usize,
    /// Recordings taken all the way to the owner's email.
    #[arg(long, default_value_t = 10)]
    completions: usize,
    /// Size of the file for the download benchmark, in MiB (0 skips it). Uses the AWS_S3_*
    /// settings from the environment when set, else a local directory.
    #[arg(long, default_value_t = 200)]
    download_mib: u64,
    /// Room pages following one room's live state while it is recorded (0 skips it).
    #[arg(long, default_value_t = 500)]
    pages: usize,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Creates a local account.
    Create {
        email: String,
        /// The password (prefer --password-stdin: command lines are visible to others).
        #[arg(long, conflicts_with = "password_stdin")]
        password: Option<String>,
        /// Reads the password from standard input.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "en")]
        language: String,
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// Also creates an API token and prints it.
        #[arg(long)]
        api_token: bool,
        /// The API token is valid for this many days (default: until revoked).
        #[arg(long, requires = "api_token", value_parser = clap::value_parser!(i64).range(1..=auth::MAX_TOKEN_EXPIRY_DAYS))]
        expires_in_days: Option<i64>,
    },
    /// Lists or revokes a user's API tokens.
    #[command(subcommand)]
    Tokens(TokensCommand),
}

#[derive(Subcommand)]
enum TokensCommand {
    /// Lists a user's API tokens (never their secrets): id, name, created, last used, expiry.
    List { email: String },
    /// Revokes (deletes) one of a user's API tokens.
    Revoke { email: String, id: uuid::Uuid },
}

#[derive(Subcommand)]
enum JobsCommand {
    /// Lists queued, running and dead jobs (newest first).
    List {
        /// Only dead jobs (out of attempts).
        #[arg(long)]
        dead: bool,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Gives a dead job a fresh set of attempts.
    Retry { id: uuid::Uuid },
    /// Runs every due job now, in this process.
    Run,
}

#[derive(Subcommand)]
enum StorageCommand {
    /// Sets the bucket lifecycle rule that expires recordings after RECORDING_EXPIRATION_DAYS
    /// (plus one day, so the service's own purge runs first) and prints what was set.
    ApplyLifecycle,
}

#[derive(Subcommand)]
enum EgressCommand {
    /// Lists the egresses LiveKit reports as running, with their recordings.
    List,
}

#[cfg(feature = "dev-tools")]
#[derive(clap::Args)]
struct DevArgs {
    /// Where the emulator listens.
    #[arg(long, default_value = "127.0.0.1:7880")]
    livekit_bind: std::net::SocketAddr,
}

#[cfg(feature = "dev-tools")]
#[derive(clap::Args)]
struct EmulatorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:7880")]
    bind: std::net::SocketAddr,
    /// API keys as KEY:SECRET[,KEY2:SECRET2].
    #[arg(long, env = "LIVEKIT_EMULATOR_KEYS", default_value = "devkey:secret")]
    keys: String,
    /// Where webhooks are sent (repeat or separate with commas).
    #[arg(long = "webhook-url", value_delimiter = ',')]
    webhook_urls: Vec<String>,
    /// Which API key signs webhooks (default: the first of --keys).
    #[arg(long)]
    webhook_key: Option<String>,
    /// Directory for recordings whose request has no upload configuration.
    #[arg(long, default_value = "./data/egress")]
    storage_dir: PathBuf,
    /// Egress session limit in seconds: longer egresses end with EGRESS_LIMIT_REACHED.
    #[arg(long)]
    max_duration: Option<u64>,
    /// How long an egress stays STARTING before it is ACTIVE, in milliseconds.
    #[arg(long, default_value_t = 500)]
    start_delay_ms: u64,
    /// The ffmpeg executable that renders the media.
    #[arg(long, default_value = "ffmpeg")]
    ffmpeg: PathBuf,
}

fn load_config(file: Option<&std::path::Path>) -> anyhow::Result<Config> {
    let source = Source::load(file)?;
    for name in source.unknown_variables() {
        tracing::warn!(variable = %name, "unknown setting (typo?) ignored");
    }
    Ok(Config::from_source(&source)?)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down");
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let file = cli.config_file.as_deref();
    match cli.command {
        Command::Serve => {
            let state = AppState::migrated(load_config(file)?).await?;
            let app = Application::build(state).await?;
            tracing::info!(addr = %app.addr(), "meet-recorder listening");
            app.run(shutdown_signal()).await
        }
        Command::Migrate => {
            let config = load_config(file)?;
            let db = Db::connect(config.database_url.expose_secret()).await?;
            db.migrate().await?;
            println!("Database is up to date ({:?}).", db.backend());
            Ok(())
        }
        Command::Config => {
            print!("{}", load_config(file)?.describe());
            Ok(())
        }
        Command::Healthcheck { url } => {
            let base = match url {
                Some(url) => url,
                None => format!("http://{}", load_config(file)?.listen),
            };
            let response = reqwest::Client::new()
                .get(format!("{}/readyz", base.trim_end_matches('/')))
                .timeout(Duration::from_secs(5))
                .send()
                .await
                .with_context(|| format!("{base} does not answer"))?;
            anyhow::ensure!(
                response.status().is_success(),
                "{base} is not ready: {}",
                response.status()
            );
            println!("ok");
            Ok(())
        }
        Command::Users(UsersCommand::Create {
            email,
            password,
            password_stdin,
            name,
            language,
            timezone,
            api_token,
            expires_in_days,
        }) => {
            let password = match (password, password_stdin) {
                (Some(password), _) => Some(password),
                (None, true) => {
                    let mut text = String::new();
                    std::io::stdin().read_to_string(&mut text)?;
                    Some(text.trim_end_matches(['\n', '\r']).to_owned())
                }
                (None, false) => None,
            };
            anyhow::ensure!(
                crate::http::LANGUAGES.contains(&language.as_str()),
                "--language must be one of {}",
                crate::http::LANGUAGES.join(", ")
            );
            anyhow::ensure!(
                timezone.parse::<chrono_tz::Tz>().is_ok(),
                "--timezone must be an IANA name such as Europe/Paris"
            );
            let state = AppState::new(load_config(file)?).await?;
            let hash = password.as_deref().map(auth::hash_password).transpose()?;
            let user = state
                .db
                .create_user(&email, &name, hash.as_deref(), &language, &timezone)
                .await
                .map_err(|e| anyhow::anyhow!("cannot create {email}: {e}"))?;
            println!("Created user {} ({})", user.email, user.id);
            if api_token {
                let token = format!("{}{}", auth::API_TOKEN_PREFIX, auth::new_token());
                let expires_at = auth::token_expiry(expires_in_days).map_err(anyhow::Error::msg)?;
                let row = state
                    .db
                    .create_api_token_expiring(
                        &auth::token_hash(&token),
                        user.id,
                        "cli",
                        expires_at,
                    )
                    .await?;
                println!("API token: {token}");
                if let Some(at) = row.expires_at {
                    println!("Expires: {}", utc(at));
                }
            }
            Ok(())
        }
        Command::Users(UsersCommand::Tokens(command)) => {
            let state = AppState::new(load_config(file)?).await?;
            let email = match &command {
                TokensCommand::List { email } | TokensCommand::Revoke { email, .. } => email,
            };
            let user = state
                .db
                .user_by_email(email.trim())
                .await?
                .with_context(|| format!("no user has the email {email}"))?;
            match command {
                TokensCommand::List { .. } => {
                    print!("{}", tokens_table(&state.db.api_tokens_of(user.id).await?));
                }
                TokensCommand::Revoke { id, .. } => {
                    anyhow::ensure!(
                        state.db.delete_api_token(user.id, id).await?,
                        "{} has no API token {id}",
                        user.email
                    );
                    println!("Revoked API token {id} of {}.", user.email);
                }
            }
            Ok(())
        }
        Command::Egress(EgressCommand::List) => {
            let state = AppState::new(load_config(file)?).await?;
            print!("{}", egress_table(&state).await?);
            Ok(())
        }
        Command::Jobs(JobsCommand::List { dead, limit }) => {
            let state = AppState::new(load_config(file)?).await?;
            let jobs = state.db.jobs(dead, limit).await?;
            println!(
                "{:<36}  {:<18}  {:<7}  {:>8}  {:<20}  LAST ERROR",
                "ID", "KIND", "STATUS", "ATTEMPTS", "NEXT RUN (UTC)"
            );
            for job in jobs {
                let next = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(job.run_at)
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                    .unwrap_or_default();
                println!(
                    "{:<36}  {:<18}  {:<7}  {:>3}/{:<4}  {:<20}  {}",
                    job.id,
                    job.kind,
                    job.status,
                    job.attempts,
                    job.max_attempts,
                    next,
                    job.last_error.unwrap_or_default()
                );
            }
            Ok(())
        }
        Command::Jobs(JobsCommand::Retry { id }) => {
            let state = AppState::new(load_config(file)?).await?;
            anyhow::ensure!(
                state.db.retry_job(id).await?,
                "job {id} is not dead (or does not exist)"
            );
            println!("Job {id} queued again.");
            Ok(())
        }
        Command::Jobs(JobsCommand::Run) => {
            let state = AppState::new(load_config(file)?).await?;
            let ran = state.engine.jobs.drain().await?;
            println!("Ran {ran} job(s).");
            Ok(())
        }
        Command::Reconcile { grace_seconds } => {
            let state = AppState::new(load_config(file)?).await?;
            let changed = state
                .engine
                .reconciler
                .reconcile(grace_seconds as i64 * 1000)
                .await?;
            let ran = state.engine.jobs.drain().await?;
            println!("Reconciled {changed} recording(s); ran {ran} job(s).");
            Ok(())
        }
        Command::PurgeExpired { dry_run } => {
            let state = AppState::new(load_config(file)?).await?;
            let Some(days) = state.config.recording.expiration_days else {
                anyhow::bail!("RECORDING_EXPIRATION_DAYS is not set: nothing expires");
            };
            let report = state
                .engine
                .expiry
                .purge_expired(dry_run, progress_bar)
                .await?;
            eprintln!();
            if dry_run {
                println!(
                    "{} recording(s) are older than {days} days and would be purged.",
                    report.candidates
                );
            } else {
                println!(
                    "Purged {} recording(s) older than {days} days; {} could not be deleted (retried next time).",
                    report.expired, report.failed
                );
            }
            Ok(())
        }
        Command::Storage(StorageCommand::ApplyLifecycle) => {
            let config = load_config(file)?;
            println!(
                "{}",
                crate::adapters::storage::expiration_rule::apply_expiration_rule(&config).await?
            );
            Ok(())
        }
        Command::SendTestEmail { address } => {
            // Only the mailer: no database or LiveKit is needed to test email.
            let config = load_config(file)?;
            let brand = crate::app::brand(&config.email);
            let mailer = crate::adapters::mail::mailer(&crate::app::mail_settings(&config.email))
                .map_err(|e| anyhow::anyhow!("mailer: {e}"))?;
            let message = crate::adapters::mail::Outgoing {
                from: brand.from.clone(),
                to: address.clone(),
                subject: format!("{}: test email", brand.name),
                text: "This is a test email from meet-recorder. Email delivery works.".into(),
                html: "<p>This is a test email from meet-recorder. Email delivery works.</p>"
                    .into(),
                message_key: None,
            };
            mailer
                .send(&message)
                .await
                .map_err(|e| anyhow::anyhow!("sending failed: {e}"))?;
            println!("Test email sent to {address}.");
            Ok(())
        }
        #[cfg(feature = "dev-tools")]
        Command::Dev(args) => crate::dev::run(file, args.livekit_bind, shutdown_signal()).await,
        #[cfg(feature = "dev-tools")]
        Command::LivekitEmulator(args) => run_emulator(args).await,
        #[cfg(feature = "dev-tools")]
        Command::Bench(args) => {
            crate::dev::bench::run(crate::dev::bench::BenchOptions {
                databases: args.databases,
                postgres_admin_url: args.postgres_url,
                webhooks: args.webhooks,
                concurrency: args.concurrency,
                recordings: args.recordings,
                completions: args.completions,
                download_mib: args.download_mib,
                pages: args.pages,
                s3: std::env::vars()
                    .filter(|(k, _)| k.starts_with("AWS_S3_") || k == "AWS_STORAGE_BUCKET_NAME")
                    .collect(),
            })
            .await
        }
    }
}

#[cfg(feature = "dev-tools")]
async fn run_emulator(args: EmulatorArgs) -> anyhow::Result<()> {
    let mut config = EmulatorConfig::new("unused", "unused");
    config.keys = EmulatorConfig::parse_keys(&args.keys)?;
    config.webhook_urls = args.webhook_urls;
    config.webhook_api_key = args.webhook_key;
    config.storage_dir = args.storage_dir;
    config.max_duration = args.max_duration.map(Duration::from_secs);
    config.start_delay = Duration::from_millis(args.start_delay_ms);
    config.ffmpeg = args.ffmpeg;
    let emulator = Emulator::start(config, args.bind).await?;
    println!("LiveKit emulator listening on {}", emulator.url());
    shutdown_signal().await;
    emulator.shutdown().await;
    Ok(())
}

/// `egress list`: running egresses as LiveKit reports them, joined with our recordings,
/// plus recordings we still think are running that LiveKit no longer lists.
async fn egress_table(state: &AppState) -> anyhow::Result<String> {
    let egresses = state.livekit.active_egresses().await?;
    let recordings = state.db.recordings_awaiting_egress().await?;
    let mut rows = vec![[
        "EGRESS ID".to_owned(),
        "EGRESS STATUS".into(),
        "ROOM".into(),
        "STARTED (UTC)".into(),
        "RECORDING".into(),
        "MODE".into(),
        "RECORDING STATUS".into(),
    ]];
    for egress in &egresses {
        let recording = recordings
            .iter()
            .find(|r| r.worker_id.as_deref() == Some(egress.egress_id.as_str()));
        let started = if egress.started_at > 0 {
            chrono::DateTime::<chrono::Utc>::from_timestamp_nanos(egress.started_at)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        } else {
            "-".into()
        };
        rows.push([
            egress.egress_id.clone(),
            egress
                .status()
                .as_str_name()
                .trim_start_matches("EGRESS_")
                .to_owned(),
            recording.map_or(egress.room_name.clone(), |r| r.room_slug.clone()),
            started,
            recording.map_or("-".into(), |r| r.id.to_string()),
            recording.map_or("-".into(), |r| r.mode.to_string()),
            recording.map_or("(not ours)".into(), |r| r.status.to_string()),
        ]);
    }
    for recording in recordings.iter().filter(|r| {
        !egresses
            .iter()
            .any(|e| Some(e.egress_id.as_str()) == r.worker_id.as_deref())
    }) {
        rows.push([
            recording.worker_id.clone().unwrap_or_else(|| "-".into()),
            "(not running)".into(),
            recording.room_slug.clone(),
            "-".into(),
            recording.id.to_string(),
            recording.mode.to_string(),
            recording.status.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..7)
        .map(|i| {
            rows.iter()
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    Ok(out)
}

/// A one-line progress bar on standard error: `[#####.....] 5/10`.
fn progress_bar(done: usize, total: usize) {
    const WIDTH: usize = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    eprint!(
        "\r[{}{}] {done}/{total}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled)
    );
}

/// A time for people: UTC, to the minute.
fn utc(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// `users tokens list`: one line per token, never its secret; expired tokens say so.
fn tokens_table(tokens: &[crate::adapters::db::ApiTokenRow]) -> String {
    let now = crate::adapters::db::now_ms();
    let mut out = format!(
        "{:<36}  {:<24}  {:<20}  {:<20}  EXPIRES\n",
        "ID", "NAME", "CREATED", "LAST USED"
    );
    for token in tokens {
        let expires = match token.expires_at {
            None => "never".to_owned(),
            Some(at) if at <= now => format!("{} (expired)", utc(at)),
            Some(at) => utc(at),
        };
        out.push_str(&format!(
            "{:<36}  {:<24}  {:<20}  {:<20}  {}\n",
            token.id,
            token.name,
            utc(token.created_at),
            token.last_used_at.map_or_else(|| "never".to_owned(), utc),
            expires
        ));
    }
    out
}
