//! The job runner: takes due jobs from the database queue, runs each in its own task (a
//! panic fails that job, not the runner), and records the outcome: done, retry later
//! with exponential backoff and jitter, or dead after the last attempt (kept, visible
//! with `meet-recorder jobs list --dead`, retried with `jobs retry ID`).
//!
//! A claim is a short lease that the runner renews while the job runs (a heartbeat), so
//! the jobs of an instance that died come back to the queue within seconds.

use std::{sync::Arc, time::Duration};

use rand::Rng;
use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    adapters::{
        db::{Db, JobRow},
        storage::{ObjectStorage, StorageError},
    },
    config::Config,
    engine::{
        announcements::Announcements,
        completion::Completion,
        consent::Consent,
        control::RecordingControl,
        jobs::{Job, Outcome},
        metrics::Metrics,
    },
};

/// How long a claimed job may go without a heartbeat before another runner takes it back.
const LEASE: Duration = Duration::from_secs(15);
/// How often a running job's lease is renewed.
const HEARTBEAT: Duration = Duration::from_secs(5);
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// The delay before attempt `attempts + 1`: base × 2^(attempts-1), ±25 % jitter, capped.
pub fn backoff(base: Duration, attempts: i64) -> Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    let delay = base
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(MAX_BACKOFF);
    let jitter = rand::rng().random_range(0.75..1.25);
    delay.mul_f64(jitter)
}

/// The services that do the jobs' work.
pub struct JobWork {
    pub announcements: Arc<Announcements>,
    pub completion: Arc<Completion>,
    pub control: Arc<RecordingControl>,
    pub consent: Arc<Consent>,
    pub storage: Arc<dyn ObjectStorage>,
}

/// Runs the queued jobs: this instance's background runner, or [`JobRunner::drain`].
pub struct JobRunner {
    db: Db,
    config: Arc<Config>,
    work: JobWork,
    metrics: Arc<Metrics>,
    /// Notified when a transaction has enqueued work (see `Lifecycle`).
    wakeup: Arc<tokio::sync::Notify>,
}

impl JobRunner {
    pub fn new(
        db: Db,
        config: Arc<Config>,
        work: JobWork,
        metrics: Arc<Metrics>,
        wakeup: Arc<tokio::sync::Notify>,
    ) -> Self {
        Self {
            db,
            config,
            work,
            metrics,
            wakeup,
        }
    }

    async fn run(&self, row: &JobRow) -> Outcome {
        let job = match Job::parse(&row.kind, &row.payload) {
            Ok(job) => job,
            Err(error) => return Outcome::Abort(error),
        };
        match job {
            Job::ConfirmRecording { recording_id } => {
                let last_attempt = row.attempts >= row.max_attempts;
                self.work
                    .completion
                    .confirm_file(recording_id, last_attempt)
                    .await
            }
            Job::NotifyOwners {
                recording_id,
                notification,
            } => {
                self.work
                    .completion
                    .notify_owners(recording_id, notification.as_str())
                    .await
            }
            Job::JoinSegments { recording_id } => {
                let last_attempt = row.attempts >= row.max_attempts;
                self.work
                    .completion
                    .join_segments(recording_id, last_attempt)
                    .await
            }
            Job::Transcribe { recording_id } => {
                self.work.completion.hand_off_transcript(recording_id).await
            }
            Job::AutoRecord {
                room_id, action, ..
            } => match self.work.control.auto_record(room_id, action).await {
                Ok(()) => Outcome::Done,
                Err(error) => Outcome::Retry(error.to_string()),
            },
            Job::ReviewPublishing { room_id, .. } => {
                self.work.consent.review_publishing(room_id).await
            }
            Job::DeliverWebhook { url, id, body } => {
                self.work.announcements.deliver(&url, &id, &body).await
            }
            Job::DeleteFile { key } => match self.work.storage.delete(&key).await {
                Ok(()) | Err(StorageError::NotFound) => Outcome::Done,
                Err(error) => Outcome::Retry(format!("delete {key}: {error}")),
            },
        }
    }

    /// Runs one claimed job to its recorded outcome.
    async fn execute(self: Arc<Self>, worker: String, job: JobRow) {
        let task_runner = self.clone();
        let task_job = job.clone();
        let heartbeat = tokio::spawn(self.clone().renew_lease(worker.clone(), job.id));
        let outcome = match tokio::spawn(async move { task_runner.run(&task_job).await }).await {
            Ok(outcome) => outcome,
            Err(panic) => Outcome::Retry(format!("job panicked: {panic}")),
        };
        heartbeat.abort();
        if !matches!(outcome, Outcome::Done) {
            self.metrics.job_failed(&job.kind);
        }
        let recorded = match &outcome {
            Outcome::Done => self.db.finish_job(job.id, &worker).await,
            Outcome::Retry(error) if job.attempts < job.max_attempts => {
                let delay = backoff(self.config.jobs.retry_base, job.attempts);
                tracing::info!(job = %job.id, kind = %job.kind, attempt = job.attempts, %error, ?delay, "job will be retried");
                let retry_at = crate::adapters::db::now_ms() + delay.as_millis() as i64;
                self.db
                    .fail_job(job.id, &worker, error, Some(retry_at))
                    .await
            }
            Outcome::Retry(error) | Outcome::Abort(error) => {
                tracing::warn!(job = %job.id, kind = %job.kind, %error, "job is dead");
                self.db.fail_job(job.id, &worker, error, None).await
            }
        };
        if let Err(error) = recorded {
            // The lease runs out and the job is requeued: it runs again, never lost.
            tracing::error!(job = %job.id, %error, "cannot record a job outcome");
        }
    }

    /// Keeps a running job's lease alive until aborted.
    async fn renew_lease(self: Arc<Self>, worker: String, id: Uuid) {
        loop {
            tokio::time::sleep(HEARTBEAT).await;
            if let Err(error) = self
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
    pub async fn drain(self: &Arc<Self>) -> anyhow::Result<usize> {
        let worker = format!("drain-{}", Uuid::new_v4());
        let mut ran = 0;
        while let Some(job) = self.db.claim_job(&worker, LEASE.as_millis() as i64).await? {
            self.clone().execute(worker.clone(), job).await;
            ran += 1;
        }
        Ok(ran)
    }

    /// The background runner: polls, requeues stalled jobs, runs due jobs concurrently.
    pub fn spawn(
        self: Arc<Self>,
        mut stopped: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            if !self.config.jobs.run {
                return;
            }
            let worker = format!("runner-{}", Uuid::new_v4());
            let poll = self.config.jobs.poll_interval;
            let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + poll, poll);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut running = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = interval.tick() => {}
                    _ = self.wakeup.notified() => {}
                    _ = stopped.wait_for(|s| *s) => break,
                }
                if let Err(error) = self.db.requeue_stalled().await {
                    tracing::warn!(%error, "cannot requeue stalled jobs");
                }
                while running.try_join_next().is_some() {}
                while running.len() < 8 {
                    match self.db.claim_job(&worker, LEASE.as_millis() as i64).await {
                        Ok(Some(job)) => {
                            running.spawn(self.clone().execute(worker.clone(), job));
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missed_heartbeat_does_not_lose_the_lease() {
        assert!(HEARTBEAT * 2 < LEASE);
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
