//! The database: SQLite (embedded default) or PostgreSQL, picked from `DATABASE_URL`.
//!
//! Queries are written once in the SQL both engines share (`$n` parameters in ascending
//! order, `RETURNING`, `ON CONFLICT`, partial unique indexes) and run through sqlx's `Any`
//! driver; each backend owns its migrations (`migrations/sqlite`, `migrations/postgres`).
//! Times are Unix milliseconds, identifiers UUID text, JSON text.
//!
//! # Layout
//! - `mod.rs`: connecting, migrating, readiness, shared helpers.
//! - `users.rs`: accounts, sessions, API tokens.
//! - `rooms.rs`: rooms and their accesses.
//! - `recordings.rs`: recordings, their accesses, guarded status changes, webhook dedupe.
//! - `jobs.rs`: the durable job queue and the record of sent notifications.

mod jobs;
mod recordings;
mod retention;
mod rooms;
mod share_links;
mod users;

pub use jobs::{JobRow, QueueDepth};
pub use recordings::{NewRecording, RecordingPatch, RecordingRow};
pub use retention::Pruned;
pub use rooms::{AccessRemoval, RoomAccessRow, RoomRow};
pub use share_links::ShareLinkRow;
pub use users::{ApiTokenRow, UserRow};

use std::str::FromStr;

use anyhow::Context;
use sqlx::{
    AnyPool, Executor,
    any::{AnyPoolOptions, install_default_drivers},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

/// A store-level failure the HTTP layer maps to a 4xx.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("already exists")]
    Conflict,
    #[error(transparent)]
    Other(#[from] sqlx::Error),
}

impl StoreError {
    fn from_sqlx(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict,
            _ => StoreError::Other(error),
        }
    }
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Db {
    /// Connects (creating a SQLite file and its folder when needed).
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        install_default_drivers();
        let (backend, url) = if url.starts_with("sqlite:") {
            (Backend::Sqlite, sqlite_url(url)?)
        } else {
            (Backend::Postgres, url.to_owned())
        };
        let mut options = AnyPoolOptions::new().max_connections(match backend {
            // SQLite lets one writer in at a time and makes the others wait in its busy
            // handler, which sleeps in growing steps (up to 100 ms): with several
            // connections one write in a hundred waited 150-250 ms behind others. One
            // connection queues every statement in the pool's fair FIFO instead, each of
            // them taking microseconds, so no write ever meets a lock held in this process
            // (`busy_timeout` still covers other processes, such as the CLI).
            Backend::Sqlite => 1,
            Backend::Postgres => 16,
        });
        if backend == Backend::Sqlite {
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 15000; \
                         PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
                    )
                    .await?;
                    Ok(())
                })
            });
        }
        let pool = options
            .connect(&url)
            .await
            .with_context(|| format!("connect to the {backend:?} database"))?;
        Ok(Self { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Applies the backend's pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run(&self.pool).await.context("apply migrations")?;
        Ok(())
    }

    /// Whether the database answers (`/readyz`).
    pub async fn is_ready(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// `sqlite://path` → an absolute-or-relative file URL that creates the file when missing.
fn sqlite_url(url: &str) -> anyhow::Result<String> {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path != ":memory:"
        && let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("create the database folder {}", parent.display()))?;
    }
    let query = if query.contains("mode=") {
        query.to_owned()
    } else if query.is_empty() {
        "mode=rwc".to_owned()
    } else {
        format!("{query}&mode=rwc")
    };
    Ok(format!("sqlite://{path}?{query}"))
}

/// Reads a text column into a type parsed from it (statuses, modes, roles, UUIDs).
fn parse_column<T: FromStr>(row: &sqlx::any::AnyRow, column: &str) -> Result<T, sqlx::Error>
where
    T::Err: std::fmt::Display,
{
    use sqlx::Row;
    let text: String = row.try_get(column)?;
    text.parse().map_err(|e: T::Err| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: e.to_string().into(),
    })
}
