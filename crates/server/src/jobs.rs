//! The job runner: takes due jobs from the database queue, runs each in its own task (a
//! panic fails that job, not the runner), and records the outcome: done, retry later
//! with exponential backoff and jitter, or dead after the last attempt (kept, visible
//! with `meet-recorder jobs list --dead`, retried with `jobs retry ID`).
//!
//! A claim is a short lease that the runner renews while the job runs (a heartbeat), so
//! the jobs of an instance that died come back to the queue within seconds.

use std::time::Duration;

use meet_recorder_domain::Notification;
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::watch;
use uuid::Uuid;

use crate::{app::AppState, db::JobRow};

/// The stored kind of [`Job::ConfirmRecording`].
pub const CONFIRM_RECORDING: &str = "confirm_recording";
/// The stored kind of [`Job::NotifyOwners`].
pub const NOTIFY_OWNERS: &str = "notify_owners";
/// The stored kind of [`Job::Transcribe`].
pub const TRANSCRIBE: &str = "transcribe";
/// The stored kind of [`Job::DeleteFile`].
pub const DELETE_FILE: &str = "delete_file";

/// How long a claimed job may go without a heartbeat before another runner takes it back.
const LEASE: Duration = Duration::from_secs(15);
/// How often a running job's lease is renewed.
const HEARTBEAT: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// A background job: its kind names the variant (the `kind` column), its fields are the
/// JSON payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Confirm that a finished recording's file is in storage; `{"recording_id"}`.
    ConfirmRecording { recording_id: Uuid },
    /// Email a recording's owners; `{"recording_id", "kind": "ready" | "failed"}`.
    NotifyOwners {
        recording_id: Uuid,
        notification: Notification,
    },
    /// Hand a saved recording to the transcription service; `{"recording_id"}`.
    Transcribe { recording_id: Uuid },
    /// Delete an object whose recording row is gone (its room was deleted); `{"key"}`.
    DeleteFile { key: String },
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::ConfirmRecording { .. } => CONFIRM_RECORDING,
            Job::NotifyOwners { .. } => NOTIFY_OWNERS,
            Job::Transcribe { .. } => TRANSCRIBE,
            Job::DeleteFile { .. } => DELETE_FILE,
        }
    }

    pub fn payload(&self) -> Value {
        match self {
            Job::ConfirmRecording { recording_id } | Job::Transcribe { recording_id } => {
                json!({ "recording_id": recording_id })
            }
            Job::NotifyOwners {
                recording_id,
                notification,
            } => json!({ "recording_id": recording_id, "kind": notification.as_str() }),
            Job::DeleteFile { key } => json!({ "key": key }),
        }
    }

    /// At most one such job per recording (and notification) is ever enqueued.
    pub fn dedupe_key(&self) -> String {
        match self {
            Job::ConfirmRecording { recording_id } => format!("confirm:{recording_id}"),
            Job::NotifyOwners {
                recording_id,
                notification,
            } => format!("notify:{}:{recording_id}", notification.as_str()),
            Job::Transcribe { recording_id } => format!("transcribe:{recording_id}"),
            Job::DeleteFile { key } => format!("delete:{key}"),
        }
    }

    /// The job a stored row holds.
    pub fn parse(kind: &str, payload: &Value) -> Result<Self, String> {
        if kind == DELETE_FILE {
            let key = payload["key"]
                .as_str()
                .filter(|key| !key.is_empty())
                .ok_or_else(|| format!("payload has no key: {payload}"))?;
            return Ok(Job::DeleteFile {
                key: key.to_owned(),
            });
        }
        let recording_id = payload["recording_id"]
            .as_str()
            .and_then(|id| id.parse::<Uuid>().ok())
            .ok_or_else(|| format!("payload has no recording_id: {payload}"))?;
        Ok(match kind {
            CONFIRM_RECORDING => Job::ConfirmRecording { recording_id },
            NOTIFY_OWNERS => Job::NotifyOwners {
                recording_id,
                notification: match payload["kind"].as_str() {
                    Some("failed") => Notification::Failed,
                    _ => Notification::Ready,
                },
            },
            TRANSCRIBE => Job::Transcribe { recording_id },
            other => return Err(format!("unknown job kind {other:?}")),
        })
    }
}

/// What a job's work says about the job.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// Try again later (counts an attempt).
    Retry(String),
    /// Give up now: the job is dead.
    Abort(String),
}

/// The delay before attempt `attempts + 1`: base × 2^(attempts-1), ±25 % jitter, capped.
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    let delay = base
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(MAX_BACKOFF);
    let jitter = rand::rng().random_range(0.75..1.25);
    delay.mul_f64(jitter)
}

async fn run(state: &AppState, row: &JobRow) -> Outcome {
    let job = match Job::parse(&row.kind, &row.payload) {
        Ok(job) => job,
        Err(error) => return Outcome::Abort(error),
    };
    match job {
        Job::ConfirmRecording { recording_id } => {
            let last_attempt = row.attempts >= row.max_attempts;
            state
                .recorder
                .confirm_file(recording_id, last_attempt)
                .await
        }
        Job::NotifyOwners {
            recording_id,
            notification,
        } => {
            state
                .recorder
                .notify_owners(recording_id, notification.as_str())
                .await
        }
        Job::Transcribe { recording_id } => state.recorder.hand_off_transcript(recording_id).await,
        Job::DeleteFile { key } => match state.recorder.storage.delete(&key).await {
            Ok(()) | Err(crate::storage::StorageError::NotFound) => Outcome::Done,
            Err(error) => Outcome::Retry(format!("delete {key}: {error}")),
        },
    }
}

/// Runs one claimed job to its recorded outcome.
async fn execute(state: AppState, worker: String, job: JobRow) {
    let task_state = state.clone();
    let task_job = job.clone();
    let heartbeat = tokio::spawn(renew_lease(state.clone(), worker.clone(), job.id));
    let outcome = match tokio::spawn(async move { run(&task_state, &task_job).await }).await {
        Ok(outcome) => outcome,
        Err(panic) => Outcome::Retry(format!("job panicked: {panic}")),
    };
    heartbeat.abort();
    if !matches!(outcome, Outcome::Done) {
        state.recorder.metrics.job_failed(&job.kind);
    }
    let recorded = match &outcome {
        Outcome::Done => state.db.finish_job(job.id, &worker).await,
        Outcome::Retry(error) if job.attempts < job.max_attempts => {
            let delay = backoff(state.config.jobs.retry_base, job.attempts);
            tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, %error, ?delay, "job will be retried");
            let retry_at = crate::db::now_ms() + delay.as_millis() as i64;
            state
                .db
                .fail_job(job.id, &worker, error, Some(retry_at))
                .await
        }
        Outcome::Retry(error) | Outcome::Abort(error) => {
            tracing::warn!(job = %job.id, kind = %job.kind, %error, "job is dead");
            state.db.fail_job(job.id, &worker, error, None).await
        }
    };
    if let Err(error) = recorded {
        // The lease runs out and the job is requeued: it runs again, never lost.
        tracing::error!(job = %job.id, %error, "cannot record a job outcome");
    }
}

/// Keeps a running job's lease alive until aborted.
async fn renew_lease(state: AppState, worker: String, id: Uuid) {
    loop {
        tokio::time::sleep(HEARTBEAT).await;
        if let Err(error) = state
            .db
            .renew_job_lease(id, &worker, LEASE.as_millis() as i64)
            .await
        {
            tracing::warn!(job = %id, %error, "cannot renew a job's lease");
        }
    }
}

/// Runs every job that is due now, one after another, and returns how many ran.
/// Tests and the CLI use it to make asynchronous work deterministic.
pub async fn drain(state: &AppState) -> anyhow::Result<usize> {
    let worker = format!("drain-{}", Uuid::new_v4());
    let mut ran = 0;
    while let Some(job) = state
        .db
        .claim_job(&worker, LEASE.as_millis() as i64)
        .await?
    {
        execute(state.clone(), worker.clone(), job).await;
        ran += 1;
    }
    Ok(ran)
}

/// The background runner: polls, requeues stalled jobs, runs due jobs concurrently.
pub fn spawn_runner(
    state: AppState,
    mut stopped: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if !state.config.jobs.run {
            return;
        }
        let worker = format!("runner-{}", Uuid::new_v4());
        let poll = state.config.jobs.poll_interval;
        let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + poll, poll);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut running = tokio::task::JoinSet::new();
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = state.recorder.jobs_wakeup.notified() => {}
                _ = stopped.wait_for(|s| *s) => break,
            }
            if let Err(error) = state.db.requeue_stalled().await {
                tracing::warn!(%error, "cannot requeue stalled jobs");
            }
            while running.try_join_next().is_some() {}
            while running.len() < 8 {
                match state.db.claim_job(&worker, LEASE.as_millis() as i64).await {
                    Ok(Some(job)) => {
                        running.spawn(execute(state.clone(), worker.clone(), job));
                    }
                    Ok(None) => break,
                    Err(error) => {
                        tracing::warn!(%error, "cannot claim a job");
                        break;
                    }
                }
            }
        }
        // Let running jobs finish their current attempt.
        while running.join_next().await.is_some() {}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_their_stored_form() {
        let recording_id = Uuid::new_v4();
        for job in [
            Job::ConfirmRecording { recording_id },
            Job::NotifyOwners {
                recording_id,
                notification: Notification::Failed,
            },
            Job::Transcribe { recording_id },
            Job::DeleteFile {
                key: "recordings/x.mp4".into(),
            },
        ] {
            assert_eq!(Job::parse(job.kind(), &job.payload()), Ok(job.clone()));
        }
        assert!(Job::parse("teleport", &json!({"recording_id": recording_id})).is_err());
        assert!(Job::parse(CONFIRM_RECORDING, &json!({})).is_err());
        assert!(
            HEARTBEAT * 2 < LEASE,
            "a missed heartbeat does not lose the lease"
        );
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(2);
        let first = backoff(base, 1);
        assert!(first >= Duration::from_millis(1500) && first <= Duration::from_millis(2500));
        let fourth = backoff(base, 4);
        assert!(fourth >= Duration::from_secs(12) && fourth <= Duration::from_secs(20));
        assert!(backoff(base, 40) <= MAX_BACKOFF.mul_f64(1.25));
    }
}
