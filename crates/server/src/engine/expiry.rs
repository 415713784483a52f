//! Expiry: recordings past `RECORDING_EXPIRATION_DAYS` have their file deleted and are
//! marked `expired`. Runs periodically inside `serve` and as `meet-recorder
//! purge-expired`. Idempotent: deleting a missing file is fine, an expired recording is
//! not touched again, and a file that cannot be deleted now is retried on the next run.
//! Also what the database keeps only for a while (handled webhook ids, expired sessions).

use std::sync::Arc;

use meet_recorder_domain::{Event, Status};

use crate::{
    adapters::{
        db::{Db, Pruned, RecordingPatch, RecordingRow, now_ms},
        storage::ObjectStorage,
    },
    config::Config,
    engine::{lifecycle::Lifecycle, metrics::Metrics},
};

/// What one purge did (or, dry, would do).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PurgeReport {
    pub candidates: usize,
    pub expired: usize,
    pub failed: usize,
}

pub struct Expiry {
    lifecycle: Arc<Lifecycle>,
    db: Db,
    config: Arc<Config>,
    storage: Arc<dyn ObjectStorage>,
    metrics: Arc<Metrics>,
}

impl Expiry {
    pub fn new(
        lifecycle: Arc<Lifecycle>,
        db: Db,
        config: Arc<Config>,
        storage: Arc<dyn ObjectStorage>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            lifecycle,
            db,
            config,
            storage,
            metrics,
        }
    }

    /// When the recording expires (`created_at` + `RECORDING_EXPIRATION_DAYS`), if ever.
    pub fn expires_at(&self, recording: &RecordingRow) -> Option<i64> {
        self.config.recording.expires_at(recording.created_at)
    }

    /// Expired: past its expiry, or already purged.
    pub fn is_expired(&self, recording: &RecordingRow) -> bool {
        recording.status == Status::Expired
            || self.expires_at(recording).is_some_and(|at| at < now_ms())
    }

    /// Deletes expired files and marks their recordings `expired`. `progress` is called
    /// with (done, total) after each recording.
    pub async fn purge_expired(
        &self,
        dry_run: bool,
        mut progress: impl FnMut(usize, usize),
    ) -> Result<PurgeReport, sqlx::Error> {
        let Some(days) = self.config.recording.expiration_days else {
            return Ok(PurgeReport::default());
        };
        let cutoff = now_ms() - i64::from(days) * 86_400_000;
        let candidates = self.db.saved_created_before(cutoff).await?;
        let mut report = PurgeReport {
            candidates: candidates.len(),
            ..Default::default()
        };
        for (done, recording) in candidates.iter().enumerate() {
            if !dry_run {
                let key = self.config.recording.key(recording.id, recording.mode);
                match self.storage.delete(&key).await {
                    Ok(()) => {
                        let row = self
                            .lifecycle
                            .apply(recording.id, Event::Expire, RecordingPatch::default())
                            .await?;
                        if row.is_some_and(|applied| applied.moved) {
                            report.expired += 1;
                            tracing::info!(recording = %recording.id, %key, "recording expired; file deleted");
                        }
                    }
                    Err(error) => {
                        report.failed += 1;
                        tracing::warn!(recording = %recording.id, %key, %error, "cannot delete an expired recording's file; will retry");
                    }
                }
            }
            progress(done + 1, candidates.len());
        }
        Ok(report)
    }

    /// Prunes what the database keeps only for a while (handled webhook ids, expired
    /// sessions) and counts it in the metrics.
    pub async fn prune(&self) -> Result<Pruned, sqlx::Error> {
        let pruned = self
            .db
            .prune(
                self.config.webhook_event_retention.as_millis() as i64,
                self.config.expired_session_retention.as_millis() as i64,
            )
            .await?;
        self.metrics.pruned(pruned);
        Ok(pruned)
    }
}
