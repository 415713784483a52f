//! Keeping the database true to LiveKit: reconciliation of open recordings (ended,
//! forgotten and orphaned egresses, egresses whose worker died, starts whose answer was
//! lost) and the maximum duration.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use livekit_protocol as proto;
use meet_recorder_domain::{Event, Status, StopAnswer};

use crate::{
    adapters::{
        db::{Db, RecordingPatch, RecordingRow, now_ms},
        livekit::LiveKit,
    },
    config::Config,
    engine::{
        egress::{
            STOP_REASON_LIMIT, egress_event, end_of, file_patch, recording_id_in, stop_answer,
        },
        lifecycle::Lifecycle,
    },
};

/// Why an egress LiveKit still lists as running may have ended all the same.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum EgressDoubt {
    None,
    /// A stop failed (`failed_to_stop`).
    StopFailed,
    /// Its room closed, and a room composite egress ends with its room.
    RoomClosed,
}

/// What reconciling one recording did.
pub(super) enum Reconciled {
    Changed,
    Unchanged,
    /// LiveKit did not answer: the run stops and the next one tries again.
    LiveKitUnreachable,
}

pub struct Reconciler {
    lifecycle: Arc<Lifecycle>,
    db: Db,
    livekit: Arc<LiveKit>,
    config: Arc<Config>,
}

impl Reconciler {
    pub fn new(
        lifecycle: Arc<Lifecycle>,
        db: Db,
        livekit: Arc<LiveKit>,
        config: Arc<Config>,
    ) -> Self {
        Self {
            lifecycle,
            db,
            livekit,
            config,
        }
    }

    /// Stops every egress that has run longer than `RECORDING_MAX_DURATION` and tells the
    /// room. Returns how many were stopped. Runs periodically; a LiveKit error leaves the
    /// recording for the next run.
    pub async fn enforce_max_duration(&self) -> Result<usize, sqlx::Error> {
        let Some(max) = self.config.recording.max_duration_ms else {
            return Ok(0);
        };
        let cutoff = now_ms() - max as i64;
        let mut stopped = 0;
        for recording in self.db.active_since_before(cutoff).await? {
            let Some(egress_id) = recording.worker_id.clone() else {
                continue;
            };
            self.db
                .set_stop_reason(recording.id, STOP_REASON_LIMIT)
                .await?;
            match self.livekit.stop_egress(&egress_id).await {
                Ok(_) => {}
                Err(error) if error.code.as_deref() == Some("failed_precondition") => {
                    self.lifecycle.settle_from_livekit(&recording).await?;
                    continue;
                }
                Err(error) => {
                    // Like a host's stop that failed: the egress may still be recording,
                    // and reconciliation takes it from here.
                    tracing::warn!(recording = %recording.id, %error, "cannot stop an egress past its maximum duration");
                    self.lifecycle
                        .apply(
                            recording.id,
                            Event::Stopped(StopAnswer::Failed),
                            RecordingPatch::default(),
                        )
                        .await?;
                    continue;
                }
            }
            let row = self
                .lifecycle
                .apply(
                    recording.id,
                    Event::MaxDurationReached,
                    RecordingPatch {
                        stopped_at: Some(now_ms()),
                        stop_reason: Some(STOP_REASON_LIMIT.to_owned()),
                        ..Default::default()
                    },
                )
                .await?;
            if row.is_some_and(|applied| applied.moved) {
                stopped += 1;
                tracing::info!(recording = %recording.id, "maximum duration reached; egress stopped");
            }
        }
        Ok(stopped)
    }

    /// Reconciliation: every recording still waiting on its egress and untouched for
    /// `grace_ms` is checked against LiveKit (`ListEgress`) and closed as its egress's end
    /// implies; one LiveKit no longer knows gets its file looked for, and fails if absent.
    /// LiveKit unreachable: nothing changes, the next run tries again. Returns how many
    /// recordings changed.
    pub async fn reconcile(&self, grace_ms: i64) -> Result<usize, sqlx::Error> {
        let cutoff = now_ms() - grace_ms;
        // One call lists every running egress, so a healthy recording costs no call of its
        // own (10,000 open recordings: one ListEgress, not 10,000); only egresses missing
        // from it, ended or forgotten, are asked about one by one.
        let running = match self.livekit.active_egresses().await {
            Ok(running) => running,
            Err(error) => {
                tracing::warn!(%error, "LiveKit unreachable; reconciliation will retry");
                return Ok(0);
            }
        };
        let running_by_id: HashMap<&str, &proto::EgressInfo> = running
            .iter()
            .map(|info| (info.egress_id.as_str(), info))
            .collect();
        let mut changed = 0;
        let awaiting = self.db.recordings_awaiting_egress().await?;
        // The egresses of the recordings read open here: when none changes below, an egress
        // among them is its recording's and needs no look-up of its own (10,000 open
        // recordings: one query, not 10,001). One closed meanwhile by another instance has
        // its egress stopped by that instance, or by the next run.
        let open_egresses: HashSet<&str> = awaiting
            .iter()
            .filter(|recording| recording.status.awaits_egress())
            .filter_map(|recording| recording.worker_id.as_deref())
            .collect();
        for recording in &awaiting {
            if recording.updated_at > cutoff {
                continue;
            }
            let doubt = if recording.status == Status::FailedToStop {
                EgressDoubt::StopFailed
            } else {
                EgressDoubt::None
            };
            let known = recording
                .worker_id
                .as_deref()
                .and_then(|id| running_by_id.get(id).copied());
            match self.reconcile_known(recording, doubt, known).await? {
                Reconciled::Changed => changed += 1,
                Reconciled::Unchanged => {}
                Reconciled::LiveKitUnreachable => return Ok(changed),
            }
        }
        if changed == 0 {
            self.stop_orphans_among(running, &open_egresses).await?;
        } else {
            // Recordings closed above: their egresses may have ended since the list.
            self.stop_orphan_egresses().await?;
        }
        Ok(changed)
    }

    /// Compares one open recording with what LiveKit says of its egress and closes it as
    /// the egress's end implies; an egress LiveKit no longer knows gets its file looked
    /// for (the confirmation job fails the recording when there is none).
    ///
    /// LiveKit keeps listing an egress as running when its worker died (nothing tells the
    /// server), so an egress in `doubt` is asked to stop again: a stop nobody answers
    /// (`deadline_exceeded`, `unavailable`) means no worker holds it any more.
    pub(super) async fn reconcile_recording(
        &self,
        recording: &RecordingRow,
        doubt: EgressDoubt,
    ) -> Result<Reconciled, sqlx::Error> {
        self.reconcile_known(recording, doubt, None).await
    }

    /// [`Self::reconcile_recording`] with the egress's state when the caller already has
    /// it from the list of running egresses.
    async fn reconcile_known(
        &self,
        recording: &RecordingRow,
        doubt: EgressDoubt,
        known: Option<&proto::EgressInfo>,
    ) -> Result<Reconciled, sqlx::Error> {
        let Some(egress_id) = recording.worker_id.clone() else {
            // The start never stored an egress id (a crash, or a start whose answer was
            // lost): LiveKit may be recording all the same.
            return self.adopt_or_fail(recording).await;
        };
        let info = match known {
            Some(info) => Some(info.clone()),
            None => match self.livekit.egress_info(&egress_id).await {
                Ok(info) => info,
                Err(error) => {
                    tracing::warn!(%error, "LiveKit unreachable; reconciliation will retry");
                    return Ok(Reconciled::LiveKitUnreachable);
                }
            },
        };
        let before = recording.status;
        let after = match info {
            Some(info) => match end_of(info.status()) {
                Some(end) => self
                    .lifecycle
                    .apply(recording.id, Event::EgressEnded(end), file_patch(&info))
                    .await?
                    .map(|a| a.row.status),
                None if doubt == EgressDoubt::None => return Ok(Reconciled::Unchanged),
                None => match self.livekit.stop_egress(&egress_id).await {
                    Ok(info) => self
                        .lifecycle
                        .apply(
                            recording.id,
                            Event::Stopped(stop_answer(info.status())),
                            RecordingPatch {
                                stopped_at: Some(now_ms()),
                                ..Default::default()
                            },
                        )
                        .await?
                        .map(|a| a.row.status),
                    Err(error) if error.is_unanswered() => {
                        tracing::warn!(recording = %recording.id, %egress_id, %error, "no egress worker answers for this egress; looking for its file");
                        self.lifecycle.confirm_later(recording.id).await?;
                        Some(before)
                    }
                    Err(error) => {
                        tracing::warn!(recording = %recording.id, %egress_id, %error, "the egress in doubt did not stop; reconciliation will retry");
                        return Ok(Reconciled::Unchanged);
                    }
                },
            },
            None => {
                // LiveKit forgot the egress (restart, or 24 h later): look for the file.
                self.lifecycle.confirm_later(recording.id).await?;
                Some(before)
            }
        };
        let Some(after) = after else {
            return Ok(Reconciled::Unchanged);
        };
        if after == before {
            return Ok(Reconciled::Unchanged);
        }
        tracing::info!(recording = %recording.id, from = %before, to = %after, "reconciled");
        Ok(Reconciled::Changed)
    }

    /// An `initiated` recording with no egress id: the room's egresses are looked up in
    /// `ListEgress` by the recording's file path; one found is adopted (its id stored, its
    /// state applied), and only when there is none did the start fail.
    async fn adopt_or_fail(&self, recording: &RecordingRow) -> Result<Reconciled, sqlx::Error> {
        if recording.status != Status::Initiated {
            return Ok(Reconciled::Unchanged);
        }
        let found = match self.lifecycle.egress_of(recording).await {
            Ok(found) => found,
            Err(error) => {
                tracing::warn!(%error, "LiveKit unreachable; reconciliation will retry");
                return Ok(Reconciled::LiveKitUnreachable);
            }
        };
        let (event, patch) = match &found {
            Some(info) => {
                tracing::warn!(recording = %recording.id, egress = %info.egress_id, "adopting an egress whose start was never recorded");
                match egress_event("egress_updated", info) {
                    Some((event, mut patch)) => {
                        patch.worker_id = Some(info.egress_id.clone());
                        (event, patch)
                    }
                    None => return Ok(Reconciled::Unchanged),
                }
            }
            None => (
                Event::StartFailed,
                RecordingPatch {
                    error: Some("the egress start was interrupted".into()),
                    ..Default::default()
                },
            ),
        };
        if let Some(info) = &found {
            self.db
                .queries()
                .set_worker_id(recording.id, &info.egress_id)
                .await?;
        }
        let changed = self
            .lifecycle
            .apply(recording.id, event, patch)
            .await?
            .is_some_and(|a| a.row.status != recording.status);
        Ok(if changed {
            Reconciled::Changed
        } else {
            Reconciled::Unchanged
        })
    }

    /// Stops every egress LiveKit runs for a recording of ours that is no longer open
    /// (its start was given up, or it was settled without it), or is paused (a resume that
    /// crashed before it recorded its egress), or for an earlier segment of one, so nothing
    /// records a room without an open recording that shows it. Returns how many were stopped.
    pub async fn stop_orphan_egresses(&self) -> Result<usize, sqlx::Error> {
        let running = match self.livekit.active_egresses().await {
            Ok(running) => running,
            Err(error) => {
                tracing::warn!(%error, "LiveKit unreachable; orphaned egresses are looked for later");
                return Ok(0);
            }
        };
        self.stop_orphans_among(running, &HashSet::new()).await
    }

    /// [`Self::stop_orphan_egresses`] over a list of running egresses already fetched;
    /// those in `known_open` are known to be their open recording's current egress.
    async fn stop_orphans_among(
        &self,
        running: Vec<proto::EgressInfo>,
        known_open: &HashSet<&str>,
    ) -> Result<usize, sqlx::Error> {
        let mut stopped = 0;
        for info in running {
            if known_open.contains(info.egress_id.as_str()) {
                continue;
            }
            let Some(id) = recording_id_in(&self.config.recording.output_folder, &info) else {
                continue;
            };
            let Some(recording) = self.db.queries().recording(id).await? else {
                tracing::warn!(egress = %info.egress_id, recording = %id, "an egress records for a recording we do not have");
                continue;
            };
            // An egress of an earlier segment of a recording paused and resumed is not the
            // recording's: it may not record on.
            let earlier_segment = recording.segments > 1
                && recording.worker_id.as_deref() != Some(info.egress_id.as_str());
            if recording.status.awaits_egress() && !earlier_segment {
                continue;
            }
            match self.livekit.stop_egress(&info.egress_id).await {
                Ok(_) => {
                    stopped += 1;
                    tracing::warn!(egress = %info.egress_id, recording = %id, status = %recording.status, "stopped an egress whose recording is closed");
                }
                Err(error) => {
                    tracing::warn!(egress = %info.egress_id, %error, "cannot stop an orphaned egress")
                }
            }
        }
        Ok(stopped)
    }
}
