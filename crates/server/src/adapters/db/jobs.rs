//! The job queue's rows. A job is claimed by one runner at a time: on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so instances sharing the database never take the same job;
//! on SQLite with one `UPDATE ... WHERE status = 'queued'`, which SQLite runs alone.
//! A claim is a lease: a runner that dies leaves a job whose lease expires, and
//! [`Db::requeue_stalled`] puts it back.

use serde_json::Value;
use sqlx::{AnyExecutor, Row, any::AnyRow};
use uuid::Uuid;

use super::{Backend, Db, Queries, now_ms, parse_column};

#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: Uuid,
    pub kind: String,
    pub payload: Value,
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub run_at: i64,
    pub last_error: Option<String>,
    pub dedupe_key: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl JobRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let payload: String = row.try_get("payload")?;
        Ok(Self {
            id: parse_column(row, "id")?,
            kind: row.try_get("kind")?,
            payload: serde_json::from_str(&payload).unwrap_or_default(),
            status: row.try_get("status")?,
            attempts: row.try_get("attempts")?,
            max_attempts: row.try_get("max_attempts")?,
            run_at: row.try_get("run_at")?,
            last_error: row.try_get("last_error")?,
            dedupe_key: row.try_get("dedupe_key")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

const COLUMNS: &str = "id, kind, payload, status, attempts, max_attempts, run_at, last_error, \
     dedupe_key, created_at, updated_at";

/// Queue depth by status, for metrics and the CLI.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueDepth {
    pub queued: i64,
    pub running: i64,
    pub dead: i64,
}

/// A job runs in its turn: it is in no sequence, or every earlier job of its sequence is
/// done or dead.
const IN_TURN: &str = "(jobs.sequence_key IS NULL OR NOT EXISTS (SELECT 1 FROM jobs earlier \
     WHERE earlier.sequence_key = jobs.sequence_key AND earlier.sequence < jobs.sequence \
     AND earlier.status IN ('queued', 'running')))";

impl Db {
    /// Takes the next due job for `worker`, leased for `lease_ms`.
    pub async fn claim_job(
        &self,
        worker: &str,
        lease_ms: i64,
    ) -> Result<Option<JobRow>, sqlx::Error> {
        // On SQLite the job picked by the sub-select may be taken by another runner before
        // this update runs; the update then changes nothing, and we pick again.
        for _ in 0..8 {
            if let Some(job) = self.try_claim_job(worker, lease_ms).await? {
                return Ok(Some(job));
            }
            if !self.has_due_job().await? {
                return Ok(None);
            }
        }
        Ok(None)
    }

    async fn has_due_job(&self) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM jobs WHERE status = 'queued' AND run_at <= $1 \
             AND {IN_TURN}"
        ))
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    async fn try_claim_job(
        &self,
        worker: &str,
        lease_ms: i64,
    ) -> Result<Option<JobRow>, sqlx::Error> {
        let now = now_ms();
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let pick = format!(
            "SELECT id FROM jobs WHERE status = 'queued' AND run_at <= $4 AND {IN_TURN} \
             ORDER BY run_at LIMIT 1{lock}"
        );
        let row = sqlx::query(&format!(
            "UPDATE jobs SET status = 'running', locked_by = $1, locked_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id = ({pick}) AND status = 'queued' RETURNING {COLUMNS}"
        ))
        .bind(worker)
        .bind(now + lease_ms)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(JobRow::from_row).transpose()
    }

    /// Extends the lease of a job this worker still holds (the runner's heartbeat).
    pub async fn renew_job_lease(
        &self,
        id: Uuid,
        worker: &str,
        lease_ms: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE jobs SET locked_until = $1 \
             WHERE id = $2 AND locked_by = $3 AND status = 'running'",
        )
        .bind(now_ms() + lease_ms)
        .bind(id.to_string())
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a job this worker holds as done.
    pub async fn finish_job(&self, id: Uuid, worker: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE jobs SET status = 'done', locked_by = NULL, locked_until = NULL, \
             last_error = NULL, updated_at = $1 WHERE id = $2 AND locked_by = $3",
        )
        .bind(now_ms())
        .bind(id.to_string())
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a failure: back in the queue at `retry_at`, or dead when `None`.
    pub async fn fail_job(
        &self,
        id: Uuid,
        worker: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        let status = if retry_at.is_some() { "queued" } else { "dead" };
        sqlx::query(
            "UPDATE jobs SET status = $1, run_at = COALESCE($2, run_at), last_error = $3, \
             locked_by = NULL, locked_until = NULL, updated_at = $4 \
             WHERE id = $5 AND locked_by = $6",
        )
        .bind(status)
        .bind(retry_at)
        .bind(error)
        .bind(now_ms())
        .bind(id.to_string())
        .bind(worker)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Puts back jobs whose runner stopped before finishing (lease expired); jobs out of
    /// attempts become dead. Returns how many were requeued.
    pub async fn requeue_stalled(&self) -> Result<u64, sqlx::Error> {
        let now = now_ms();
        sqlx::query(
            "UPDATE jobs SET status = 'dead', last_error = 'stalled: runner stopped', \
             locked_by = NULL, locked_until = NULL, updated_at = $1 \
             WHERE status = 'running' AND locked_until < $2 AND attempts >= max_attempts",
        )
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        let result = sqlx::query(
            "UPDATE jobs SET status = 'queued', locked_by = NULL, locked_until = NULL, \
             updated_at = $1 WHERE status = 'running' AND locked_until < $2",
        )
        .bind(now)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected())
    }

    pub async fn jobs(&self, dead_only: bool, limit: i64) -> Result<Vec<JobRow>, sqlx::Error> {
        let filter = if dead_only {
            "WHERE status = 'dead'"
        } else {
            "WHERE status <> 'done'"
        };
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM jobs {filter} ORDER BY created_at DESC LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(JobRow::from_row).collect()
    }

    pub async fn job(&self, id: Uuid) -> Result<Option<JobRow>, sqlx::Error> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM jobs WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(JobRow::from_row).transpose()
    }

    /// Gives a dead job a fresh set of attempts, due now. False when it is not dead.
    pub async fn retry_job(&self, id: Uuid) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let result = sqlx::query(
            "UPDATE jobs SET status = 'queued', attempts = 0, run_at = $1, updated_at = $2 \
             WHERE id = $3 AND status = 'dead'",
        )
        .bind(now)
        .bind(now)
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn queue_depth(&self) -> Result<QueueDepth, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM jobs WHERE status <> 'done' GROUP BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut depth = QueueDepth::default();
        for row in rows {
            let status: String = row.try_get("status")?;
            let n: i64 = row.try_get("n")?;
            match status.as_str() {
                "queued" => depth.queued = n,
                "running" => depth.running = n,
                "dead" => depth.dead = n,
                _ => {}
            }
        }
        Ok(depth)
    }

    /// The due time of the earliest queued job, if any.
    pub async fn next_job_at(&self) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query("SELECT MIN(run_at) AS at FROM jobs WHERE status = 'queued'")
            .fetch_one(&self.pool)
            .await?;
        row.try_get("at")
    }

    /// Whether this owner was already emailed about this recording.
    pub async fn notification_sent(
        &self,
        recording: Uuid,
        user: Uuid,
        kind: &str,
    ) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM notifications_sent \
             WHERE recording_id = $1 AND user_id = $2 AND kind = $3",
        )
        .bind(recording.to_string())
        .bind(user.to_string())
        .bind(kind)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    pub async fn mark_notification_sent(
        &self,
        recording: Uuid,
        user: Uuid,
        kind: &str,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO notifications_sent (recording_id, user_id, kind, sent_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(recording.to_string())
        .bind(user.to_string())
        .bind(kind)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Owners of a recording, with what an email needs.
    pub async fn recording_owners(
        &self,
        recording: Uuid,
    ) -> Result<Vec<super::UserRow>, sqlx::Error> {
        // Whoever started it first, then the room's hosts (its owners and administrators
        // own its recordings), each once.
        let rows = sqlx::query(
            "SELECT u.id AS id, u.email, u.full_name, u.password_hash, u.language, u.timezone, \
             0 AS rank, a.created_at AS since \
             FROM users u JOIN recording_accesses a ON a.user_id = u.id \
             WHERE a.recording_id = $1 AND a.role = 'owner' \
             UNION ALL \
             SELECT u.id AS id, u.email, u.full_name, u.password_hash, u.language, u.timezone, \
             1 AS rank, ra.created_at AS since \
             FROM users u JOIN room_accesses ra ON ra.user_id = u.id \
             JOIN recordings rec ON rec.room_id = ra.room_id \
             WHERE rec.id = $1 AND ra.role IN ('owner', 'administrator') \
             ORDER BY rank, since, id",
        )
        .bind(recording.to_string())
        .fetch_all(&self.pool)
        .await?;
        let mut owners: Vec<super::UserRow> = Vec::new();
        for row in &rows {
            let user = super::users::user_from_row(row)?;
            if !owners.iter().any(|owner| owner.id == user.id) {
                owners.push(user);
            }
        }
        Ok(owners)
    }
}

/// Enqueueing, which a transaction does along with the change that needs the job (see
/// [`Queries`]).
impl<'e, E: AnyExecutor<'e>> Queries<E> {
    /// Enqueues a job; in the caller's transaction, it commits (or not) with the change that
    /// needs it. With a `dedupe_key` already used, nothing is enqueued and `false` is
    /// returned.
    pub async fn enqueue_job(
        self,
        kind: &str,
        payload: &Value,
        dedupe_key: Option<&str>,
        max_attempts: i64,
    ) -> Result<bool, sqlx::Error> {
        self.enqueue_job_at(kind, payload, dedupe_key, max_attempts, now_ms())
            .await
    }

    /// As [`Queries::enqueue_job`], due at `run_at` (Unix milliseconds) rather than now.
    pub async fn enqueue_job_at(
        self,
        kind: &str,
        payload: &Value,
        dedupe_key: Option<&str>,
        max_attempts: i64,
        run_at: i64,
    ) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        let result = sqlx::query(
            "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, \
             dedupe_key, created_at, updated_at) \
             VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7, $8) \
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(kind)
        .bind(payload.to_string())
        .bind(max_attempts)
        .bind(run_at)
        .bind(dedupe_key)
        .bind(now)
        .bind(now)
        .execute(self.executor)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Enqueues a job that runs after every job enqueued before it with the same
    /// `sequence_key` (see [`IN_TURN`]). The caller's transaction must hold what
    /// serialises the sequence's writers (a webhook delivery: the recording's lock).
    pub async fn enqueue_job_in_sequence(
        self,
        kind: &str,
        payload: &Value,
        dedupe_key: &str,
        max_attempts: i64,
        sequence_key: &str,
    ) -> Result<bool, sqlx::Error> {
        let now = now_ms();
        // SQLite reads `INSERT ... SELECT ... ON CONFLICT` right only with a WHERE clause,
        // which this SELECT has.
        let result = sqlx::query(
            "INSERT INTO jobs (id, kind, payload, status, attempts, max_attempts, run_at, \
             dedupe_key, created_at, updated_at, sequence_key, sequence) \
             SELECT $1, $2, $3, 'queued', 0, $4, $5, $6, $7, $8, $9, COALESCE(MAX(sequence), 0) + 1 \
             FROM jobs WHERE sequence_key = $9 \
             ON CONFLICT (dedupe_key) DO NOTHING",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(kind)
        .bind(payload.to_string())
        .bind(max_attempts)
        .bind(now)
        .bind(dedupe_key)
        .bind(now)
        .bind(now)
        .bind(sequence_key)
        .execute(self.executor)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
