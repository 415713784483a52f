//! The job runner: takes due jobs from the database queue, runs each in its own task (a
//! panic fails that job, not the runner), and records the outcome: done, retry later
//! with exponential backoff and jitter, or dead after the last attempt (kept, visible
//! with `meet-recorder jobs list --dead`, retried with `jobs retry ID`).

use std::time::Duration;

use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::watch;
use uuid::Uuid;

use crate::{app::AppState, db::JobRow};

/// Confirm that a finished recording's file is in storage; payload `{"recording_id"}`.
pub const CONFIRM_RECORDING: &str = "confirm_recording";
/// Email a recording's owners; payload `{"recording_id", "kind": "ready" | "failed"}`.
pub const NOTIFY_OWNERS: &str = "notify_owners";
/// Hand a saved recording to the transcription service; payload `{"recording_id"}`.
pub const TRANSCRIBE: &str = "transcribe";

/// How long a claimed job may run before another runner may take it back.
const LEASE: Duration = Duration::from_secs(300);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// What a job's work says about the job.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// Try again later (counts an attempt).
    Retry(String),
    /// Give up now: the job is dead.
    Abort(String),
}

pub fn confirm_payload(recording_id: Uuid) -> Value {
    json!({ "recording_id": recording_id })
}

pub fn notify_payload(recording_id: Uuid, kind: &str) -> Value {
    json!({ "recording_id": recording_id, "kind": kind })
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

async fn run(state: &AppState, job: &JobRow) -> Outcome {
    let recording_id = job.payload["recording_id"]
        .as_str()
        .and_then(|id| id.parse::<Uuid>().ok());
    let Some(recording_id) = recording_id else {
        return Outcome::Abort(format!("payload has no recording_id: {}", job.payload));
    };
    match job.kind.as_str() {
        CONFIRM_RECORDING => {
            let last_attempt = job.attempts >= job.max_attempts;
            state
                .recorder
                .confirm_file(recording_id, last_attempt)
                .await
        }
        NOTIFY_OWNERS => {
            let kind = job.payload["kind"].as_str().unwrap_or("ready");
            state.recorder.notify_owners(recording_id, kind).await
        }
        TRANSCRIBE => state.recorder.hand_off_transcript(recording_id).await,
        other => Outcome::Abort(format!("unknown job kind {other:?}")),
    }
}

/// Runs one claimed job to its recorded outcome.
async fn execute(state: AppState, worker: String, job: JobRow) {
    let task_state = state.clone();
    let task_job = job.clone();
    let outcome = match tokio::spawn(async move { run(&task_state, &task_job).await }).await {
        Ok(outcome) => outcome,
        Err(panic) => Outcome::Retry(format!("job panicked: {panic}")),
    };
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
    fn backoff_grows_and_is_capped() {
        let base = Duration::from_secs(2);
        let first = backoff(base, 1);
        assert!(first >= Duration::from_millis(1500) && first <= Duration::from_millis(2500));
        let fourth = backoff(base, 4);
        assert!(fourth >= Duration::from_secs(12) && fourth <= Duration::from_secs(20));
        assert!(backoff(base, 40) <= MAX_BACKOFF.mul_f64(1.25));
    }
}
