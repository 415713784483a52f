//! The database: SQLite (embedded default) or PostgreSQL, picked from `DATABASE_URL`.
//!
//! Queries are written once in the SQL both engines share (`$n` parameters in ascending
//! order, `RETURNING`, `ON CONFLICT`, partial unique indexes) and run through sqlx's `Any`
//! driver; so are the migrations, one folder for both backends (`migrations/`). A migration
//! is never edited once released: sqlx keeps each applied one's checksum and refuses a
//! database whose history differs. Times are Unix milliseconds, identifiers UUID text, JSON
//! text.
//!
//! Only `serve`, `dev` and `migrate` change the schema ([`Db::migrate`]); every other
//! command opens the database with [`Db::connect_current`], which refuses one whose schema
//! is not this build's, so a read-only command never creates or alters tables.
//!
//! Most queries are methods of [`Db`] and run on its pool. Those a caller may need inside
//! its own transaction are methods of [`Queries`], which runs them on any executor:
//! `db.on(&mut *tx).recording(id)` in a transaction, `db.queries().recording(id)` on the
//! pool.
//!
//! # Layout
//! - `mod.rs`: connecting, migrating and the schema check, readiness, [`Queries`], shared
//!   helpers.
//! - `users.rs`: accounts, sessions, API tokens.
//! - `rooms.rs`: rooms and their accesses.
//! - `recordings.rs`: recordings, their accesses, guarded status changes, webhook dedupe.
//! - `jobs.rs`: the durable job queue and the record of sent notifications.
//! - `share_links.rs`: share links (stored by token hash).
//! - `retention.rs`: pruning what is kept only for a while.

mod consents;
mod jobs;
mod recordings;
mod requests;
mod retention;
mod rooms;
mod share_links;
mod users;

pub use consents::ConsentRow;
pub use jobs::{JobRow, QueueDepth};
pub use recordings::{NewRecording, RecordingPatch, RecordingRow, STOP_REASON_PAUSE};
pub use requests::{Asked, RecordingRequestRow};
pub use retention::Pruned;
pub use rooms::{AccessRemoval, RoomAccessRow, RoomRow};
pub use share_links::ShareLinkRow;
pub use users::{ApiTokenRow, UserRow};

use std::str::FromStr;

use anyhow::Context;
use sqlx::{
    AnyExecutor, AnyPool, Executor,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::{Migrate, Migrator},
};

/// The migrations, the same SQL for both backends. Their versions and checksums are what
/// existing databases recorded when they applied them: see the test that pins them.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// The message of a command that needs a migrated database; `meet-recorder migrate` (or
/// starting `serve`) is the fix.
pub const SCHEMA_BEHIND: &str = "the database schema is behind: run `meet-recorder migrate`";

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

/// The queries that run on any executor: the pool ([`Db::queries`]) or a transaction or
/// connection the caller holds ([`Db::on`]), so the same function serves a lone read and a
/// step of a larger transaction. Each query takes the executor by value: call `db.on(...)`
/// again for the next one.
#[derive(Clone, Copy)]
pub struct Queries<E> {
    executor: E,
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
        Self::open(url, false).await
    }

    /// As [`Db::connect`], for the service: on PostgreSQL the pool keeps all its connections
    /// open. A burst that had to open connections waited for them (a new server process, its
    /// caches cold), its slowest requests 140 ms where the rest took under 10. The operator's
    /// commands, short-lived, open only what they use.
    pub async fn connect_serving(url: &str) -> anyhow::Result<Self> {
        Self::open(url, true).await
    }

    async fn open(url: &str, keep_connections_open: bool) -> anyhow::Result<Self> {
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
        if backend == Backend::Postgres && keep_connections_open {
            options = options.min_connections(16);
        }
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

    /// The [`Queries`] on the pool: each runs on a connection of its own.
    pub fn queries(&self) -> Queries<&AnyPool> {
        self.on(&self.pool)
    }

    /// The [`Queries`] on `executor`, typically the caller's transaction (`&mut *tx`).
    pub fn on<'e, E: AnyExecutor<'e>>(&self, executor: E) -> Queries<E> {
        Queries {
            executor,
            backend: self.backend,
        }
    }

    /// Connects to a database that must already have this build's schema, for the commands
    /// that only use it: refuses (with [`SCHEMA_BEHIND`] when migrating would help) rather
    /// than create or change anything. A missing SQLite file is not created.
    pub async fn connect_current(url: &str) -> anyhow::Result<Self> {
        if let Some(path) = sqlite_path(url)
            && path != ":memory:"
            && !std::path::Path::new(path).exists()
        {
            anyhow::bail!("{SCHEMA_BEHIND} (there is no database file {path} yet)");
        }
        let db = Self::connect(url).await?;
        db.check_schema().await?;
        Ok(db)
    }

    /// Applies the pending migrations.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(&self.pool).await.context("apply migrations")?;
        Ok(())
    }

    /// Checks, reading only, that every migration of this build was applied, unchanged, and
    /// nothing else: what [`Db::migrate`] would find with nothing to do.
    pub async fn check_schema(&self) -> anyhow::Result<()> {
        // sqlx's own listing needs its table, which it would create: look for it first.
        let table_query = match self.backend {
            Backend::Sqlite => {
                "SELECT COUNT(*) AS n FROM sqlite_master \
                 WHERE type = 'table' AND name = '_sqlx_migrations'"
            }
            Backend::Postgres => {
                "SELECT COUNT(*) AS n FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = '_sqlx_migrations'"
            }
        };
        let tables: i64 =
            sqlx::Row::try_get(&sqlx::query(table_query).fetch_one(&self.pool).await?, "n")?;
        let applied = if tables == 0 {
            Vec::new()
        } else {
            let mut conn = self.pool.acquire().await?;
            if let Some(version) = conn.dirty_version().await? {
                anyhow::bail!(
                    "the database schema is broken: migration {version} failed part-way; \
                     repair it, then run `meet-recorder migrate`"
                );
            }
            conn.list_applied_migrations().await?
        };
        schema_verdict(&MIGRATOR, &applied)
    }

    /// Whether the database answers (`/readyz`).
    pub async fn is_ready(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// How the migrations applied to a database compare with this build's: `Ok` when they are
/// the same, the operator's next step otherwise.
fn schema_verdict(
    migrator: &Migrator,
    applied: &[sqlx::migrate::AppliedMigration],
) -> anyhow::Result<()> {
    let known = |version: i64| migrator.iter().find(|m| m.version == version);
    for migration in applied {
        match known(migration.version) {
            None => anyhow::bail!(
                "the database schema is newer than this meet-recorder (it has migration {}, \
                 unknown to this build): run a newer release",
                migration.version
            ),
            Some(ours) if ours.checksum != migration.checksum => anyhow::bail!(
                "the database schema differs from this build's: migration {} ({}) was applied \
                 with other contents",
                ours.version,
                ours.description
            ),
            Some(_) => {}
        }
    }
    let pending: Vec<_> = migrator
        .iter()
        .filter(|m| m.migration_type.is_up_migration())
        .filter(|m| !applied.iter().any(|a| a.version == m.version))
        .collect();
    match pending.first() {
        None => Ok(()),
        Some(first) => anyhow::bail!(
            "{SCHEMA_BEHIND} ({} migration(s) pending, from {} {})",
            pending.len(),
            first.version,
            first.description
        ),
    }
}

/// The file path of a `sqlite:` URL (without its query), `None` for another database.
fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    Some(rest.split_once('?').map_or(rest, |(path, _)| path))
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use sqlx::migrate::AppliedMigration;

    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn applied(versions: &[i64]) -> Vec<AppliedMigration> {
        versions
            .iter()
            .map(|&version| AppliedMigration {
                version,
                checksum: MIGRATOR
                    .iter()
                    .find(|m| m.version == version)
                    .map_or(Cow::Borrowed(&[][..]), |m| m.checksum.clone()),
            })
            .collect()
    }

    /// Databases migrated before the two backends shared one folder recorded these: a
    /// changed file (even a byte of whitespace) would make `migrate` refuse them.
    #[test]
    fn released_migrations_keep_their_versions_and_checksums() {
        let pinned = [
            (
                1,
                "initial",
                "94bc9b2af60b37a6fb526290d011e8a492927586b223b146947796406d524d42be07499b0a4d870a4fefac8cf1e24b48",
            ),
            (
                2,
                "jobs",
                "39580ccfb98a17b787ffbd0efc71e70b1bd7d645270b238587f3b5f08f4111ec9c9bba30964fdfaf96c77ac00e973352",
            ),
            (
                3,
                "share links",
                "19c7d9bb1cd08b1b1040080685c8796ae54af667af041da5ffc64d15889d491ceec3386a62ff43ebf888baa32ab9251b",
            ),
            (
                4,
                "stop reason",
                "a3096a32ccaa2c3a46ba7d63436aa8aa9e523298ddf101fbf86d7a6bac3755384f7e2b0341788572a0dedf957368397f",
            ),
            (
                5,
                "api token expiry",
                "49cad3a792b1a3ee4aa024ed4803c71856e330e83768651873693bd383f88f1887992303c62f3221c7d9aeb6cd3f282b",
            ),
            (
                6,
                "recording requests",
                "9389b8fafe38536bbbbc3d120ae77518935676570cda6aef9e65f318849912d4b5099f745c01673699a5bb475d7d9f7c",
            ),
            (
                7,
                "transcript url",
                "aada4ae89ab2dc76365b9ad907361f8178c624b0e0cdc801945265213bb02332c00e9c35564e17438f2b15ba308fffea",
            ),
            (
                8,
                "recordings visible to",
                "9c2becfa9b64f39f52ea03cb06199653dde644ab9305d111a50de06e3de86f1d285fc18c0ab46e60a500219f17712525",
            ),
            (
                9,
                "recording consents",
                "3bd1edc236e7fe2af616cfaa79208f6ead2a882b82e9be683a30c52818e9a306e4be6bec522f60efefaa6f4991b238ec",
            ),
            (
                10,
                "pause and resume",
                "a8e64d61f3512dccdcd957af4f685ce61e565670716eb2de214c31b8d6faf0720811afd9cc95d4b4e4c314e3f94906a1",
            ),
            (
                11,
                "job sequences",
                "0ef79ea438365655d1ab8aab0477c48e1fe2b2699c03f5d1a1af7681260aec5140949b9ddcd56cbe70c7e1c640dccc2d",
            ),
            (
                12,
                "sign in sessions",
                "c113da03183c8bce93fa54245fc13716d468ae05a76713edeaa7b6a4ec77136a681613f2a026904dbadf3a5717333e07",
            ),
        ];
        for (version, description, checksum) in pinned {
            let migration = MIGRATOR
                .iter()
                .find(|m| m.version == version)
                .unwrap_or_else(|| panic!("migration {version} is gone"));
            assert_eq!(migration.description, description);
            assert_eq!(hex(&migration.checksum), checksum, "migration {version}");
        }
    }

    #[test]
    fn a_database_with_every_migration_is_current() {
        let all: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        schema_verdict(&MIGRATOR, &applied(&all)).unwrap();
    }

    #[test]
    fn a_database_missing_migrations_is_behind() {
        for versions in [&[][..], &[1, 2][..]] {
            let error = schema_verdict(&MIGRATOR, &applied(versions)).unwrap_err();
            assert!(error.to_string().starts_with(SCHEMA_BEHIND), "{error}");
        }
    }

    #[test]
    fn a_database_with_an_unknown_or_changed_migration_is_refused_without_migrating() {
        let mut newer = applied(&[1, 2, 3, 4, 5]);
        newer.push(AppliedMigration {
            version: 99,
            checksum: Cow::Borrowed(&[1, 2, 3]),
        });
        let error = schema_verdict(&MIGRATOR, &newer).unwrap_err().to_string();
        assert!(error.contains("newer than this meet-recorder"), "{error}");

        let mut changed = applied(&[1, 2, 3, 4, 5]);
        changed[1].checksum = Cow::Borrowed(&[0; 48]);
        let error = schema_verdict(&MIGRATOR, &changed).unwrap_err().to_string();
        assert!(error.contains("migration 2 (jobs)"), "{error}");
        assert!(!error.contains("run `meet-recorder migrate`"), "{error}");
    }
}
