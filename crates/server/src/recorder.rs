//! The recording lifecycle with its side effects: starting and stopping egresses, applying
//! LiveKit webhooks, enforcing the maximum duration, and keeping what participants see
//! (room metadata, data messages) in step.
//!
//! Every status change goes through [`meet_recorder_domain::transition`] and a guarded
//! update, so duplicated, late and out-of-order events change nothing twice. LiveKit side
//! effects happen after the database commit and are best effort: a missed metadata update
//! only affects what participants see until the next change.

use std::sync::Arc;

use livekit_protocol as proto;
use meet_recorder_domain::{
    EgressEnd, Event, Layout, Mode, RecordingOptions, Status, StopAnswer, transition,
};
use proto::EgressStatus;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    config::Config,
    db::{Db, NewRecording, RecordingPatch, RecordingRow, RoomRow, StoreError, now_ms},
    livekit::{EgressRequest, LiveKit, LiveKitError},
};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("a recording is already in progress")]
    AlreadyInProgress,
    #[error("mode {0} is not available")]
    ModeUnavailable(Mode),
    #[error("the egress failed to start: {1}")]
    FailedToStart(Box<RecordingRow>, LiveKitError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, thiserror::Error)]
pub enum StopError {
    #[error("no active recording")]
    NotFound,
    #[error("the egress failed to stop")]
    FailedToStop(Box<RecordingRow>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub struct Recorder {
    pub db: Db,
    pub livekit: Arc<LiveKit>,
    pub config: Arc<Config>,
    pub storage: Arc<dyn crate::storage::ObjectStorage>,
    pub mailer: Arc<dyn crate::mail::Mailer>,
    pub brand: crate::mail::Brand,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Wakes this instance's job runner when a transaction has enqueued work, so jobs
    /// start at once instead of at the next poll.
    pub jobs_wakeup: Arc<tokio::sync::Notify>,
    /// Tells open pages that a room's recordings changed.
    pub events: Arc<crate::events::RoomEvents>,
}

/// A job to enqueue with a status change, in the same transaction.
struct FollowUp {
    kind: &'static str,
    payload: Value,
    dedupe_key: String,
    max_attempts: i64,
}

/// What participants see in the room metadata for one mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RoomState {
    Starting,
    Started,
    Saving,
    Aborted,
}

impl RoomState {
    fn as_str(self) -> &'static str {
        match self {
            RoomState::Starting => "starting",
            RoomState::Started => "started",
            RoomState::Saving => "saving",
            RoomState::Aborted => "aborted",
        }
    }
}

/// `stop_reason` of a recording that its maximum duration ended.
pub const STOP_REASON_LIMIT: &str = "limit";

/// Why an egress LiveKit still lists as running may have ended all the same.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EgressDoubt {
    None,
    /// A stop failed (`failed_to_stop`).
    StopFailed,
    /// Its room closed, and a room composite egress ends with its room.
    RoomClosed,
}

/// What the egress's answer to StopEgress means for the recording.
fn stop_answer(status: EgressStatus) -> StopAnswer {
    match status {
        EgressStatus::EgressEnding
        | EgressStatus::EgressComplete
        | EgressStatus::EgressLimitReached => StopAnswer::Ending,
        EgressStatus::EgressAborted => StopAnswer::Aborted,
        _ => StopAnswer::Failed,
    }
}

/// What reconciling one recording did.
enum Reconciled {
    Changed,
    Unchanged,
    /// LiveKit did not answer: the run stops and the next one tries again.
    LiveKitUnreachable,
}

fn end_of(status: EgressStatus) -> Option<EgressEnd> {
    match status {
        EgressStatus::EgressComplete => Some(EgressEnd::Complete),
        EgressStatus::EgressLimitReached => Some(EgressEnd::LimitReached),
        EgressStatus::EgressFailed => Some(EgressEnd::Failed),
        EgressStatus::EgressAborted => Some(EgressEnd::Aborted),
        _ => None,
    }
}

/// What an ended egress tells about the file.
fn file_patch(info: &proto::EgressInfo) -> RecordingPatch {
    let mut patch = RecordingPatch {
        worker_id: Some(info.egress_id.clone()).filter(|id| !id.is_empty()),
        stopped_at: Some(if info.ended_at > 0 {
            info.ended_at / 1_000_000
        } else {
            now_ms()
        }),
        error: Some(info.error.clone()).filter(|e| !e.is_empty()),
        stop_reason: (info.status() == EgressStatus::EgressLimitReached)
            .then(|| STOP_REASON_LIMIT.to_owned()),
        ..Default::default()
    };
    if let Some(file) = info.file_results.first() {
        patch.duration_ms = Some(file.duration / 1_000_000).filter(|d| *d > 0);
        patch.size_bytes = Some(file.size).filter(|s| *s > 0);
        patch.file_location = Some(file.location.clone()).filter(|l| !l.is_empty());
    }
    patch
}

impl Recorder {
    /// The object key of a recording: `{RECORDING_OUTPUT_FOLDER}/{id}.{ext}`.
    pub fn key(&self, id: Uuid, mode: Mode) -> String {
        format!(
            "{}/{id}.{}",
            self.config.recording.output_folder,
            mode.extension()
        )
    }

    /// When the recording expires (`created_at` + `RECORDING_EXPIRATION_DAYS`), if ever.
    pub fn expires_at(&self, recording: &RecordingRow) -> Option<i64> {
        self.config
            .recording
            .expiration_days
            .map(|days| recording.created_at + i64::from(days) * 86_400_000)
    }

    /// Expired: past its expiry, or already purged.
    pub fn is_expired(&self, recording: &RecordingRow) -> bool {
        recording.status == Status::Expired
            || self.expires_at(recording).is_some_and(|at| at < now_ms())
    }

    /// Finds our recording id in an egress request's file path or its file results, so an
    /// egress can be matched before its start request has returned.
    fn recording_id_in(&self, info: &proto::EgressInfo) -> Option<Uuid> {
        let mut paths: Vec<&str> = info
            .file_results
            .iter()
            .map(|f| f.filename.as_str())
            .collect();
        if let Some(proto::egress_info::Request::RoomComposite(request)) = &info.request {
            paths.extend(request.file_outputs.iter().map(|f| f.filepath.as_str()));
        }
        let prefix = format!("{}/", self.config.recording.output_folder);
        paths.into_iter().find_map(|path| {
            let start = path.rfind(&prefix)? + prefix.len();
            let name = &path[start..];
            let (id, ext) = name.split_once('.')?;
            matches!(ext, "mp4" | "ogg").then_some(())?;
            id.parse().ok()
        })
    }

    pub async fn start(
        &self,
        room: &RoomRow,
        owner: Uuid,
        mode: Mode,
        layout: Option<Layout>,
        options: RecordingOptions,
    ) -> Result<RecordingRow, StartError> {
        let worker = self
            .config
            .recording
            .worker(mode)
            .ok_or(StartError::ModeUnavailable(mode))?;
        let layout = match mode {
            Mode::ScreenRecording => Some(layout.unwrap_or(self.config.recording.layout_default)),
            Mode::Transcript => None,
        };
        let recording = match self
            .db
            .create_recording(NewRecording {
                room_id: room.id,
                mode,
                layout,
                options: options.to_json(),
                owner,
            })
            .await
        {
            Ok(recording) => recording,
            Err(StoreError::Conflict) => return Err(StartError::AlreadyInProgress),
            Err(StoreError::Other(error)) => return Err(error.into()),
        };
        // Participants see "starting" before any webhook about the egress can arrive.
        let shown_mode = options.original_mode.unwrap_or(mode);
        self.show(room.id, mode, shown_mode, Some(RoomState::Starting))
            .await;
        let started = self
            .livekit
            .start_egress(EgressRequest {
                room_name: &room.id.to_string(),
                worker,
                layout: layout.map_or("", |l| l.as_str()),
                filepath: self.key(recording.id, mode),
            })
            .await;
        let mut conn = self.db.pool().acquire().await?;
        let result = self
            .finish_start(&mut conn, room, recording, mode, shown_mode, started)
            .await;
        self.events.publish(room.id).await;
        result
    }

    /// Stores how the egress start went.
    async fn finish_start(
        &self,
        conn: &mut sqlx::AnyConnection,
        room: &RoomRow,
        recording: RecordingRow,
        mode: Mode,
        shown_mode: Mode,
        started: Result<proto::EgressInfo, LiveKitError>,
    ) -> Result<RecordingRow, StartError> {
        match started {
            Ok(info) => {
                let patch = RecordingPatch {
                    worker_id: Some(info.egress_id.clone()),
                    started_at: Some(now_ms()),
                    ..Default::default()
                };
                let moved = self
                    .db
                    .move_recording(
                        &mut *conn,
                        recording.id,
                        Status::Initiated,
                        Status::Active,
                        &patch,
                    )
                    .await?;
                if !moved {
                    // Webhooks overtook the response and already moved it; keep the id.
                    self.db
                        .set_worker_id(&mut *conn, recording.id, &info.egress_id)
                        .await?;
                }
                Ok(self
                    .db
                    .recording_in(&mut *conn, recording.id)
                    .await?
                    .unwrap_or(recording))
            }
            Err(error) => {
                tracing::warn!(recording = %recording.id, %error, "egress failed to start");
                let patch = RecordingPatch {
                    error: Some(error.message.clone()),
                    ..Default::default()
                };
                self.db
                    .move_recording(
                        &mut *conn,
                        recording.id,
                        Status::Initiated,
                        Status::FailedToStart,
                        &patch,
                    )
                    .await?;
                let row = self
                    .db
                    .recording_in(&mut *conn, recording.id)
                    .await?
                    .unwrap_or(recording);
                self.show(room.id, mode, shown_mode, None).await;
                Err(StartError::FailedToStart(Box::new(row), error))
            }
        }
    }

    pub async fn stop(
        &self,
        room: &RoomRow,
        mode: Option<Mode>,
    ) -> Result<RecordingRow, StopError> {
        let recording = self
            .db
            .stoppable_recording(room.id, mode)
            .await?
            .ok_or(StopError::NotFound)?;
        let egress_id = recording.worker_id.clone().unwrap_or_default();
        let answer = match self.livekit.stop_egress(&egress_id).await {
            Ok(info) => stop_answer(info.status()),
            Err(error) if error.code.as_deref() == Some("failed_precondition") => {
                // The egress has already ended and we missed its webhook: settle it now.
                if let Some(row) = self.settle_from_livekit(&recording).await? {
                    return Ok(row);
                }
                StopAnswer::Failed
            }
            Err(error) => {
                tracing::warn!(recording = %recording.id, %error, "egress failed to stop");
                StopAnswer::Failed
            }
        };
        let row = self
            .apply(
                recording.id,
                Event::Stopped(answer),
                RecordingPatch {
                    stopped_at: Some(now_ms()),
                    ..Default::default()
                },
            )
            .await?
            .unwrap_or(recording);
        match row.status {
            Status::Stopped => self.show_for(&row, Some(RoomState::Saving)).await,
            Status::Aborted => self.show_for(&row, None).await,
            Status::FailedToStop => return Err(StopError::FailedToStop(Box::new(row))),
            _ => {}
        }
        Ok(row)
    }

    /// What must follow a status change: confirming the file of an egress that ended
    /// well (unless storage events do that), or telling the owners of a failure.
    fn follow_up(&self, id: Uuid, event: Event, to: Status) -> Option<FollowUp> {
        match (event, to) {
            (
                Event::EgressEnded(EgressEnd::Complete | EgressEnd::LimitReached),
                Status::Stopped,
            ) if !self.config.recording.storage_event_enable => Some(FollowUp {
                kind: crate::jobs::CONFIRM_RECORDING,
                payload: crate::jobs::confirm_payload(id),
                dedupe_key: format!("confirm:{id}"),
                max_attempts: self.config.jobs.confirm_attempts,
            }),
            (Event::EgressEnded(EgressEnd::Failed), Status::Failed) => Some(FollowUp {
                kind: crate::jobs::NOTIFY_OWNERS,
                payload: crate::jobs::notify_payload(id, "failed"),
                dedupe_key: format!("notify:failed:{id}"),
                max_attempts: self.config.jobs.max_attempts,
            }),
            _ => None,
        }
    }

    /// Applies one event to a recording, with its follow-up job in the same transaction,
    /// and returns the recording as stored afterwards.
    async fn apply(
        &self,
        id: Uuid,
        event: Event,
        patch: RecordingPatch,
    ) -> Result<Option<RecordingRow>, sqlx::Error> {
        let mut tx = self.db.pool().begin().await?;
        self.db.lock_recording(&mut tx, id).await?;
        let Some(current) = self.db.recording_in(&mut tx, id).await? else {
            return Ok(None);
        };
        if let Some(to) = transition(current.status, event)
            && self
                .db
                .move_recording(&mut tx, id, current.status, to, &patch)
                .await?
            && let Some(job) = self.follow_up(id, event, to)
        {
            self.db
                .enqueue_job(
                    &mut tx,
                    job.kind,
                    &job.payload,
                    Some(&job.dedupe_key),
                    job.max_attempts,
                )
                .await?;
        }
        let row = self.db.recording_in(&mut tx, id).await?;
        tx.commit().await?;
        self.jobs_wakeup.notify_one();
        self.events.publish(current.room_id).await;
        Ok(row)
    }

    /// Applies one event (for callers outside the lifecycle, such as expiry).
    pub async fn apply_event(
        &self,
        id: Uuid,
        event: Event,
        patch: RecordingPatch,
    ) -> Result<Option<RecordingRow>, sqlx::Error> {
        self.apply(id, event, patch).await
    }

    /// Asks LiveKit how the recording's egress ended and applies it. Returns the updated
    /// recording when LiveKit reported an end.
    pub async fn settle_from_livekit(
        &self,
        recording: &RecordingRow,
    ) -> Result<Option<RecordingRow>, sqlx::Error> {
        let Some(egress_id) = &recording.worker_id else {
            return Ok(None);
        };
        let info = match self.livekit.egress_info(egress_id).await {
            Ok(Some(info)) => info,
            Ok(None) => return Ok(None),
            Err(error) => {
                tracing::warn!(%egress_id, %error, "cannot ask LiveKit about the egress");
                return Ok(None);
            }
        };
        let Some(end) = end_of(info.status()) else {
            return Ok(None);
        };
        let row = self
            .apply(recording.id, Event::EgressEnded(end), file_patch(&info))
            .await?;
        if let Some(row) = &row {
            self.show_for(row, None).await;
        }
        Ok(row)
    }

    /// Handles one verified LiveKit webhook. Unknown egresses and foreign rooms are logged
    /// and ignored; a duplicate event id changes nothing.
    pub async fn handle_webhook(
        &self,
        event: proto::WebhookEvent,
    ) -> Result<&'static str, sqlx::Error> {
        let room_name = event
            .room
            .as_ref()
            .map(|r| r.name.clone())
            .filter(|n| !n.is_empty())
            .or_else(|| event.egress_info.as_ref().map(|e| e.room_name.clone()))
            .unwrap_or_default();
        if !self.livekit.handles_room(&room_name) {
            tracing::debug!(room = %room_name, event = %event.event, "webhook for a room we do not handle");
            return Ok("ignored");
        }
        match event.event.as_str() {
            "egress_started" | "egress_updated" | "egress_ended" => {}
            "room_finished" => {
                self.room_finished(&room_name).await?;
                return Ok("processed");
            }
            other => {
                tracing::debug!(event = %other, "webhook ignored");
                return Ok("ignored");
            }
        }
        let Some(info) = event.egress_info.clone() else {
            tracing::info!(event = %event.event, "egress webhook without egress info");
            return Ok("ignored");
        };

        let mut tx = self.db.pool().begin().await?;
        if !event.id.is_empty()
            && !self
                .db
                .first_time_event(&mut tx, &event.id, &event.event)
                .await?
        {
            tracing::debug!(id = %event.id, "duplicate webhook");
            return Ok("duplicate");
        }
        let mut recording = if info.egress_id.is_empty() {
            None
        } else {
            self.db
                .recording_by_worker(&mut tx, &info.egress_id)
                .await?
        };
        if recording.is_none()
            && let Some(id) = self.recording_id_in(&info)
        {
            recording = self.db.recording_in(&mut tx, id).await?;
        }
        let Some(recording) = recording else {
            tracing::info!(egress = %info.egress_id, event = %event.event, "webhook for an egress we did not start");
            tx.commit().await?;
            self.jobs_wakeup.notify_one();
            return Ok("unknown_egress");
        };

        let status = info.status();
        let (domain_event, patch) = match (event.event.as_str(), status) {
            ("egress_ended", status) => match end_of(status) {
                Some(end) => (Some(Event::EgressEnded(end)), file_patch(&info)),
                None => (None, RecordingPatch::default()),
            },
            (_, EgressStatus::EgressStarting | EgressStatus::EgressActive) => (
                Some(Event::EgressStarted),
                RecordingPatch {
                    worker_id: Some(info.egress_id.clone()),
                    started_at: Some(now_ms()),
                    ..Default::default()
                },
            ),
            (_, EgressStatus::EgressEnding) => (
                Some(Event::EgressEnding),
                RecordingPatch {
                    worker_id: Some(info.egress_id.clone()),
                    stopped_at: Some(now_ms()),
                    ..Default::default()
                },
            ),
            (_, status) => match end_of(status) {
                Some(end) => (Some(Event::EgressEnded(end)), file_patch(&info)),
                None => (None, RecordingPatch::default()),
            },
        };
        let mut moved_to = None;
        if let Some(domain_event) = domain_event
            && let Some(to) = transition(recording.status, domain_event)
            && self
                .db
                .move_recording(&mut tx, recording.id, recording.status, to, &patch)
                .await?
        {
            moved_to = Some(to);
            if let Some(job) = self.follow_up(recording.id, domain_event, to) {
                self.db
                    .enqueue_job(
                        &mut tx,
                        job.kind,
                        &job.payload,
                        Some(&job.dedupe_key),
                        job.max_attempts,
                    )
                    .await?;
            }
        }
        if !info.egress_id.is_empty() {
            self.db
                .set_worker_id(&mut tx, recording.id, &info.egress_id)
                .await?;
        }
        tx.commit().await?;
        self.jobs_wakeup.notify_one();
        if moved_to.is_some() {
            self.events.publish(recording.room_id).await;
        }

        // What participants see.
        let room_id = recording.room_id;
        match (event.event.as_str(), status) {
            ("egress_ended", status) => {
                self.show_for(&recording, None).await;
                // Sent once per egress: the event id was deduplicated above.
                if status == EgressStatus::EgressLimitReached {
                    self.notify(
                        room_id,
                        json!({"type": recording.mode.limit_reached_message()}),
                    )
                    .await;
                }
                if status == EgressStatus::EgressFailed && moved_to == Some(Status::Failed) {
                    self.notify(
                        room_id,
                        json!({"type": "recordingFailed", "mode": recording.mode.as_str()}),
                    )
                    .await;
                }
            }
            (_, EgressStatus::EgressActive) => {
                self.show_for(&recording, Some(RoomState::Started)).await
            }
            (_, EgressStatus::EgressEnding) => {
                self.show_for(&recording, Some(RoomState::Saving)).await
            }
            (_, EgressStatus::EgressAborted) => {
                self.show_for(&recording, Some(RoomState::Aborted)).await
            }
            _ => {}
        }
        Ok("processed")
    }

    /// The LiveKit room closed: any egress of ours still open there has ended with it, or
    /// will end on its own, so each is settled now as reconciliation would, without its
    /// grace period.
    async fn room_finished(&self, room_name: &str) -> Result<(), sqlx::Error> {
        let Ok(room_id) = room_name.parse::<Uuid>() else {
            return Ok(());
        };
        for recording in self.db.recordings_awaiting_egress().await? {
            if recording.room_id == room_id {
                self.reconcile_recording(&recording, EgressDoubt::RoomClosed)
                    .await?;
            }
        }
        Ok(())
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
                    self.settle_from_livekit(&recording).await?;
                    continue;
                }
                Err(error) => {
                    // Like a host's stop that failed: the egress may still be recording,
                    // and reconciliation takes it from here.
                    tracing::warn!(recording = %recording.id, %error, "cannot stop an egress past its maximum duration");
                    self.apply(
                        recording.id,
                        Event::Stopped(StopAnswer::Failed),
                        RecordingPatch::default(),
                    )
                    .await?;
                    continue;
                }
            }
            let row = self
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
            if row.as_ref().is_some_and(|r| r.status == Status::Stopped) {
                stopped += 1;
                tracing::info!(recording = %recording.id, "maximum duration reached; egress stopped");
                self.show_for(&recording, Some(RoomState::Saving)).await;
                self.notify(
                    recording.room_id,
                    json!({"type": recording.mode.limit_reached_message()}),
                )
                .await;
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
        let mut changed = 0;
        for recording in self.db.recordings_awaiting_egress().await? {
            if recording.updated_at > cutoff {
                continue;
            }
            let doubt = if recording.status == Status::FailedToStop {
                EgressDoubt::StopFailed
            } else {
                EgressDoubt::None
            };
            match self.reconcile_recording(&recording, doubt).await? {
                Reconciled::Changed => changed += 1,
                Reconciled::Unchanged => {}
                Reconciled::LiveKitUnreachable => return Ok(changed),
            }
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
    async fn reconcile_recording(
        &self,
        recording: &RecordingRow,
        doubt: EgressDoubt,
    ) -> Result<Reconciled, sqlx::Error> {
        let Some(egress_id) = recording.worker_id.clone() else {
            // The start never returned an egress id (a crash mid-start): it did not start.
            let failed = recording.status == Status::Initiated
                && self
                    .apply(
                        recording.id,
                        Event::StartFailed,
                        RecordingPatch {
                            error: Some("the egress start was interrupted".into()),
                            ..Default::default()
                        },
                    )
                    .await?
                    .is_some_and(|r| r.status != recording.status);
            return Ok(if failed {
                Reconciled::Changed
            } else {
                Reconciled::Unchanged
            });
        };
        let info = match self.livekit.egress_info(&egress_id).await {
            Ok(info) => info,
            Err(error) => {
                tracing::warn!(%error, "LiveKit unreachable; reconciliation will retry");
                return Ok(Reconciled::LiveKitUnreachable);
            }
        };
        let before = recording.status;
        let after = match info {
            Some(info) => match end_of(info.status()) {
                Some(end) => self
                    .apply(recording.id, Event::EgressEnded(end), file_patch(&info))
                    .await?
                    .map(|r| r.status),
                None if doubt == EgressDoubt::None => return Ok(Reconciled::Unchanged),
                None => match self.livekit.stop_egress(&egress_id).await {
                    Ok(info) => self
                        .apply(
                            recording.id,
                            Event::Stopped(stop_answer(info.status())),
                            RecordingPatch {
                                stopped_at: Some(now_ms()),
                                ..Default::default()
                            },
                        )
                        .await?
                        .map(|r| r.status),
                    Err(error) if error.is_unanswered() => {
                        tracing::warn!(recording = %recording.id, %egress_id, %error, "no egress worker answers for this egress; looking for its file");
                        self.confirm_later(recording.id).await?;
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
                self.confirm_later(recording.id).await?;
                Some(before)
            }
        };
        let Some(after) = after else {
            return Ok(Reconciled::Unchanged);
        };
        self.show_for(recording, None).await;
        if after == before {
            return Ok(Reconciled::Unchanged);
        }
        tracing::info!(recording = %recording.id, from = %before, to = %after, "reconciled");
        Ok(Reconciled::Changed)
    }

    /// Enqueues the file check that settles a recording whose egress is gone: `saved` when
    /// the file is there, `failed` when it never appears.
    async fn confirm_later(&self, id: Uuid) -> Result<(), sqlx::Error> {
        let mut tx = self.db.pool().begin().await?;
        self.db
            .enqueue_job(
                &mut tx,
                crate::jobs::CONFIRM_RECORDING,
                &crate::jobs::confirm_payload(id),
                Some(&format!("confirm:{id}")),
                self.config.jobs.confirm_attempts,
            )
            .await?;
        tx.commit().await?;
        self.jobs_wakeup.notify_one();
        Ok(())
    }

    async fn show_for(&self, recording: &RecordingRow, state: Option<RoomState>) {
        let options = RecordingOptions::parse(Some(&recording.options)).unwrap_or_default();
        let shown_mode = options.original_mode.unwrap_or(recording.mode);
        self.show(recording.room_id, recording.mode, shown_mode, state)
            .await;
    }

    /// Updates the room metadata: the reference's `recording_status` / `recording_mode`
    /// keys, plus `recordings` with the state of every mode, since a recording and a
    /// transcript can run at once. `None` removes the mode.
    async fn show(&self, room_id: Uuid, mode: Mode, shown_mode: Mode, state: Option<RoomState>) {
        let result = self
            .livekit
            .update_room_metadata(&room_id.to_string(), |metadata| {
                let mut modes = match metadata.remove("recordings") {
                    Some(Value::Object(map)) => map,
                    _ => serde_json::Map::new(),
                };
                match state {
                    Some(state) => {
                        modes.insert(mode.as_str().to_owned(), json!(state.as_str()));
                        metadata.insert("recording_mode".into(), json!(shown_mode.as_str()));
                        metadata.insert("recording_status".into(), json!(state.as_str()));
                    }
                    None => {
                        modes.remove(mode.as_str());
                        metadata.remove("recording_mode");
                        metadata.remove("recording_status");
                        if let Some((other, other_state)) = modes.iter().next() {
                            metadata.insert("recording_mode".into(), json!(other));
                            metadata.insert("recording_status".into(), other_state.clone());
                        }
                    }
                }
                if !modes.is_empty() {
                    metadata.insert("recordings".into(), Value::Object(modes));
                }
            })
            .await;
        if let Err(error) = result {
            tracing::warn!(room = %room_id, %error, "cannot update the room metadata");
        }
    }

    async fn notify(&self, room_id: Uuid, message: Value) {
        if let Err(error) = self.livekit.send_data(&room_id.to_string(), &message).await {
            tracing::warn!(room = %room_id, %error, "cannot send a data message to the room");
        }
    }
}
