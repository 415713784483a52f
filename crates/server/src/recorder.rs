//! The recording lifecycle with its side effects: starting and stopping egresses, applying
//! LiveKit webhooks, enforcing the maximum duration, and keeping what participants see
//! (room metadata, data messages) in step.
//!
//! Every status change goes through [`Recorder::apply`]: one transaction that locks the
//! recording, asks [`meet_recorder_domain::decide`] what the event means, makes the
//! guarded update and enqueues the follow-up jobs the decision names; after the commit it
//! wakes the job runner, tells open pages, and performs the decision's room effects — only
//! when the move was applied, so duplicated, late and out-of-order events change nothing
//! anyone sees. LiveKit side effects are best effort: a missed metadata update only
//! affects what participants see until the next change.

use std::{collections::HashMap, sync::Arc};

use livekit_protocol as proto;
use meet_recorder_domain::{
    Circumstances, Decision, EgressEnd, Event, FollowUp, Layout, Mode, ON_CREATE, RecordingOptions,
    RoomEffect, Status, StopAnswer, decide,
};
use proto::EgressStatus;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    config::Config,
    db::{Db, NewRecording, RecordingPatch, RecordingRow, RoomRow, StoreError, now_ms},
    jobs::Job,
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
pub enum DeleteRoomError {
    #[error("a recording of the room is in progress")]
    RecordingInProgress,
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
    /// The room effect this process last showed for each recording, so that a decision
    /// that keeps the status (LiveKit repeats `EGRESS_ACTIVE`) shows it once, not once per
    /// webhook: two LiveKit calls a webhook were most of a webhook's cost.
    pub shown: ShownEffects,
}

/// Room effects shown per recording, bounded: past [`ShownEffects::CAPACITY`] entries it
/// starts afresh, which only costs one more metadata update per recording.
#[derive(Default)]
pub struct ShownEffects(std::sync::Mutex<HashMap<Uuid, RoomEffect>>);

impl ShownEffects {
    const CAPACITY: usize = 10_000;

    fn already(&self, id: Uuid, effect: RoomEffect) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&id) == Some(&effect)
    }

    fn note(&self, id: Uuid, effect: RoomEffect) {
        let mut shown = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if shown.len() >= Self::CAPACITY {
            shown.clear();
        }
        shown.insert(id, effect);
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

/// An event applied to a recording: its status before, the row after, and whether the
/// decision's move was made (a self-move, such as `stopped` taking the file information
/// of `egress_ended`, counts).
pub struct Applied {
    pub before: Status,
    pub row: RecordingRow,
    pub moved: bool,
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

/// The domain event an egress webhook stands for, with what it tells about the
/// recording; `None` for a status that moves nothing.
fn egress_event(name: &str, info: &proto::EgressInfo) -> Option<(Event, RecordingPatch)> {
    let egress_id = Some(info.egress_id.clone()).filter(|id| !id.is_empty());
    let ended = |status| end_of(status).map(|end| (Event::EgressEnded(end), file_patch(info)));
    match (name, info.status()) {
        ("egress_ended", status) => ended(status),
        (_, status @ (EgressStatus::EgressStarting | EgressStatus::EgressActive)) => {
            let event = if status == EgressStatus::EgressActive {
                Event::EgressRecording
            } else {
                Event::EgressStarted
            };
            let patch = RecordingPatch {
                worker_id: egress_id,
                started_at: Some(now_ms()),
                ..Default::default()
            };
            Some((event, patch))
        }
        (_, EgressStatus::EgressEnding) => {
            let patch = RecordingPatch {
                worker_id: egress_id,
                stopped_at: Some(now_ms()),
                ..Default::default()
            };
            Some((Event::EgressEnding, patch))
        }
        (_, status) => ended(status),
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
        if self.show(&recording, ON_CREATE).await {
            self.shown.note(recording.id, ON_CREATE);
        }
        let started = self
            .livekit
            .start_egress(EgressRequest {
                room_name: &room.id.to_string(),
                worker,
                layout: layout.map_or("", |l| l.as_str()),
                filepath: self.key(recording.id, mode),
            })
            .await;
        match started {
            Ok(info) => {
                let patch = RecordingPatch {
                    worker_id: Some(info.egress_id.clone()),
                    started_at: Some(now_ms()),
                    ..Default::default()
                };
                // Webhooks may have overtaken this answer and moved it already; their
                // egress info carried the same id.
                let applied = self
                    .apply(recording.id, Event::EgressStarted, patch)
                    .await?;
                Ok(applied.map_or(recording, |a| a.row))
            }
            Err(error) if error.code.is_none() || error.is_unanswered() => {
                // No answer is not a no: the egress may be starting. Adopt it if LiveKit
                // has it, else the start failed.
                tracing::warn!(recording = %recording.id, %error, "no answer to the egress start; looking for the egress");
                if let Ok(Some(info)) = self.egress_of(&recording).await {
                    let patch = RecordingPatch {
                        worker_id: Some(info.egress_id.clone()),
                        started_at: Some(now_ms()),
                        ..Default::default()
                    };
                    let applied = self
                        .apply(recording.id, Event::EgressStarted, patch)
                        .await?;
                    return Ok(applied.map_or(recording, |a| a.row));
                }
                self.start_failed(recording, error).await
            }
            Err(error) => self.start_failed(recording, error).await,
        }
    }

    async fn start_failed(
        &self,
        recording: RecordingRow,
        error: LiveKitError,
    ) -> Result<RecordingRow, StartError> {
        tracing::warn!(recording = %recording.id, %error, "egress failed to start");
        let patch = RecordingPatch {
            error: Some(error.message.clone()),
            ..Default::default()
        };
        let applied = self.apply(recording.id, Event::StartFailed, patch).await?;
        let row = applied.map_or(recording, |a| a.row);
        Err(StartError::FailedToStart(Box::new(row), error))
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
            .map_or(recording, |a| a.row);
        if row.status == Status::FailedToStop {
            return Err(StopError::FailedToStop(Box::new(row)));
        }
        Ok(row)
    }

    /// Applies one event to a recording (see the module documentation) and returns the
    /// recording as stored afterwards, or `None` when there is no such recording.
    pub async fn apply(
        &self,
        id: Uuid,
        event: Event,
        patch: RecordingPatch,
    ) -> Result<Option<Applied>, sqlx::Error> {
        let tx = self.db.pool().begin().await?;
        self.apply_in(tx, id, event, patch).await
    }

    /// As [`Recorder::apply`], finishing a transaction the caller began (and may have
    /// written in: a webhook's event id is recorded in the same commit).
    async fn apply_in(
        &self,
        mut tx: sqlx::Transaction<'static, sqlx::Any>,
        id: Uuid,
        event: Event,
        patch: RecordingPatch,
    ) -> Result<Option<Applied>, sqlx::Error> {
        let Some(before) = self.db.locked_recording(&mut tx, id).await? else {
            tx.commit().await?;
            return Ok(None);
        };
        let decision = match decide(before.status, event, self.circumstances(&before)) {
            Some(decision)
                if self
                    .db
                    .on(&mut *tx)
                    .move_recording(id, before.status, decision.to, &patch)
                    .await? =>
            {
                for follow_up in &decision.follow_ups {
                    self.enqueue(&mut tx, id, *follow_up).await?;
                }
                Some(decision)
            }
            _ => None,
        };
        let row = match decision {
            Some(_) => self
                .db
                .on(&mut *tx)
                .recording(id)
                .await?
                .unwrap_or_else(|| before.clone()),
            // Nothing changed: most webhooks (LiveKit repeats EGRESS_ACTIVE) end here.
            None => before.clone(),
        };
        tx.commit().await?;
        if let Some(decision) = &decision {
            if !decision.follow_ups.is_empty() {
                self.jobs_wakeup.notify_one();
            }
            // A decision that keeps the status (LiveKit repeats EGRESS_ACTIVE; a late
            // egress_ended adds the file's details) tells pages only when the row changed,
            // and shows the room a state only once.
            let keeps_status = decision.to == before.status;
            if !keeps_status || !row.same_except_update_time(&before) {
                self.events.publish(before.room_id).await;
            }
            self.perform(&before, decision, keeps_status).await;
        }
        Ok(Some(Applied {
            before: before.status,
            row,
            moved: decision.is_some(),
        }))
    }

    /// The facts besides status and event that the decision depends on.
    fn circumstances(&self, recording: &RecordingRow) -> Circumstances {
        Circumstances {
            wants_transcript: self.wants_transcript(recording),
            stopping_for_limit: recording.stop_reason.as_deref() == Some(STOP_REASON_LIMIT),
        }
    }

    /// Enqueues the job a decision names, in the transaction of the move.
    async fn enqueue(
        &self,
        tx: &mut sqlx::AnyConnection,
        id: Uuid,
        follow_up: FollowUp,
    ) -> Result<(), sqlx::Error> {
        let job = match follow_up {
            FollowUp::ConfirmFile => Job::ConfirmRecording { recording_id: id },
            FollowUp::NotifyOwners(notification) => Job::NotifyOwners {
                recording_id: id,
                notification,
            },
            FollowUp::Transcribe => Job::Transcribe { recording_id: id },
        };
        self.enqueue_job(tx, job).await
    }

    /// Enqueues `job` in the caller's transaction (once per recording: see
    /// [`Job::dedupe_key`]).
    async fn enqueue_job(&self, tx: &mut sqlx::AnyConnection, job: Job) -> Result<(), sqlx::Error> {
        let attempts = match &job {
            Job::ConfirmRecording { .. } => self.config.jobs.confirm_attempts,
            _ => self.config.jobs.max_attempts,
        };
        self.db
            .on(tx)
            .enqueue_job(
                job.kind(),
                &job.payload(),
                Some(&job.dedupe_key()),
                attempts,
            )
            .await?;
        Ok(())
    }

    /// What participants see and are told after an applied move.
    async fn perform(&self, recording: &RecordingRow, decision: &Decision, keeps_status: bool) {
        if let Some(effect) = decision.room
            && !(keeps_status && self.shown.already(recording.id, effect))
            && self.show(recording, effect).await
        {
            self.shown.note(recording.id, effect);
        }
        if let Some(message) = decision.message {
            let mut body = json!({"type": message.message_type(recording.mode)});
            if message == meet_recorder_domain::RoomMessage::Failed {
                body["mode"] = json!(recording.mode.as_str());
            }
            self.notify(recording.room_id, body).await;
        }
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
        Ok(self
            .apply(recording.id, Event::EgressEnded(end), file_patch(&info))
            .await?
            .map(|a| a.row))
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
                .on(&mut *tx)
                .first_time_event(&event.id, &event.event)
                .await?
        {
            tracing::debug!(id = %event.id, "duplicate webhook");
            return Ok("duplicate");
        }
        let mut recording = if info.egress_id.is_empty() {
            None
        } else {
            self.db
                .on(&mut *tx)
                .recording_by_worker(&info.egress_id)
                .await?
        };
        if recording.is_none()
            && let Some(id) = self.recording_id_in(&info)
        {
            recording = self.db.on(&mut *tx).recording(id).await?;
        }
        let Some(recording) = recording else {
            tracing::info!(egress = %info.egress_id, event = %event.event, "webhook for an egress we did not start");
            tx.commit().await?;
            return Ok("unknown_egress");
        };

        let Some((domain_event, patch)) = egress_event(&event.event, &info) else {
            tx.commit().await?;
            return Ok("processed");
        };
        if !info.egress_id.is_empty() && recording.worker_id.is_none() {
            self.db
                .on(&mut *tx)
                .set_worker_id(recording.id, &info.egress_id)
                .await?;
        }
        self.apply_in(tx, recording.id, domain_event, patch).await?;
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
        for recording in self.db.recordings_awaiting_egress().await? {
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
            match self.reconcile_known(&recording, doubt, known).await? {
                Reconciled::Changed => changed += 1,
                Reconciled::Unchanged => {}
                Reconciled::LiveKitUnreachable => return Ok(changed),
            }
        }
        if changed == 0 {
            self.stop_orphans_among(running).await?;
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
    async fn reconcile_recording(
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
                    .apply(recording.id, Event::EgressEnded(end), file_patch(&info))
                    .await?
                    .map(|a| a.row.status),
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
                        .map(|a| a.row.status),
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
        let found = match self.egress_of(recording).await {
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
            .apply(recording.id, event, patch)
            .await?
            .is_some_and(|a| a.row.status != recording.status);
        Ok(if changed {
            Reconciled::Changed
        } else {
            Reconciled::Unchanged
        })
    }

    /// The egress LiveKit has for this recording's file, if any.
    async fn egress_of(
        &self,
        recording: &RecordingRow,
    ) -> Result<Option<proto::EgressInfo>, LiveKitError> {
        Ok(self
            .livekit
            .room_egresses(&recording.room_id.to_string())
            .await?
            .into_iter()
            .find(|info| self.recording_id_in(info) == Some(recording.id)))
    }

    /// Deletes a room: refused while one of its recordings may still be recording or
    /// writing its file; otherwise the rows go and every recording's file is deleted by a
    /// job enqueued in the same transaction (storage down: the job retries).
    pub async fn delete_room(&self, room: Uuid) -> Result<(), DeleteRoomError> {
        let mut tx = self.db.pool().begin().await?;
        // A start for this room waits for this transaction, or this one sees its row.
        if !self.db.on(&mut *tx).lock_room(room).await? {
            return Ok(());
        }
        let recordings = self.db.on(&mut *tx).recordings_of_room(room).await?;
        if recordings.iter().any(|r| r.status.awaits_egress()) {
            return Err(DeleteRoomError::RecordingInProgress);
        }
        for recording in &recordings {
            let key = self.key(recording.id, recording.mode);
            self.enqueue_job(&mut tx, Job::DeleteFile { key }).await?;
        }
        self.db.on(&mut *tx).delete_room(room).await?;
        tx.commit().await?;
        self.jobs_wakeup.notify_one();
        Ok(())
    }

    /// Stops every egress LiveKit runs for a recording of ours that is no longer open
    /// (its start was given up, or it was settled without it), so nothing records a room
    /// without an open recording that shows it. Returns how many were stopped.
    pub async fn stop_orphan_egresses(&self) -> Result<usize, sqlx::Error> {
        let running = match self.livekit.active_egresses().await {
            Ok(running) => running,
            Err(error) => {
                tracing::warn!(%error, "LiveKit unreachable; orphaned egresses are looked for later");
                return Ok(0);
            }
        };
        self.stop_orphans_among(running).await
    }

    /// [`Self::stop_orphan_egresses`] over a list of running egresses already fetched.
    async fn stop_orphans_among(
        &self,
        running: Vec<proto::EgressInfo>,
    ) -> Result<usize, sqlx::Error> {
        let mut stopped = 0;
        for info in running {
            let Some(id) = self.recording_id_in(&info) else {
                continue;
            };
            let Some(recording) = self.db.queries().recording(id).await? else {
                tracing::warn!(egress = %info.egress_id, recording = %id, "an egress records for a recording we do not have");
                continue;
            };
            if recording.status.awaits_egress() {
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

    /// Enqueues the file check that settles a recording whose egress is gone: `saved` when
    /// the file is there, `failed` when it never appears.
    async fn confirm_later(&self, id: Uuid) -> Result<(), sqlx::Error> {
        let mut tx = self.db.pool().begin().await?;
        self.enqueue_job(&mut tx, Job::ConfirmRecording { recording_id: id })
            .await?;
        tx.commit().await?;
        self.jobs_wakeup.notify_one();
        Ok(())
    }

    /// Updates the room metadata for the recording's mode: the reference's
    /// `recording_status` / `recording_mode` keys, plus `recordings` with the state of every
    /// mode, since a recording and a transcript can run at once.
    /// Returns whether LiveKit took the update.
    async fn show(&self, recording: &RecordingRow, effect: RoomEffect) -> bool {
        let options = RecordingOptions::parse(Some(&recording.options)).unwrap_or_default();
        let shown_mode = options.original_mode.unwrap_or(recording.mode);
        let mode = recording.mode;
        let result = self
            .livekit
            .update_room_metadata(&recording.room_id.to_string(), |metadata| {
                let mut modes = match metadata.remove("recordings") {
                    Some(Value::Object(map)) => map,
                    _ => serde_json::Map::new(),
                };
                match effect {
                    RoomEffect::Show(state) => {
                        modes.insert(mode.as_str().to_owned(), json!(state.as_str()));
                        metadata.insert("recording_mode".into(), json!(shown_mode.as_str()));
                        metadata.insert("recording_status".into(), json!(state.as_str()));
                    }
                    RoomEffect::Clear => {
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
        match result {
            Ok(()) => true,
            Err(error) => {
                tracing::warn!(room = %recording.room_id, %error, "cannot update the room metadata");
                false
            }
        }
    }

    async fn notify(&self, room_id: Uuid, message: Value) {
        if let Err(error) = self.livekit.send_data(&room_id.to_string(), &message).await {
            tracing::warn!(room = %room_id, %error, "cannot send a data message to the room");
        }
    }
}
