//! The one place a recording's status changes.
//!
//! [`Lifecycle::apply`] runs one event through one transaction: it locks the recording,
//! asks [`meet_recorder_domain::decide`] what the event means, makes the guarded update
//! and enqueues the follow-up jobs the decision names; after the commit it wakes the job
//! runner, tells open pages, and performs the decision's room effects — only when the
//! move was applied, so duplicated, late and out-of-order events change nothing anyone
//! sees. LiveKit side effects are best effort: a missed metadata update only affects what
//! participants see until the next change.
//!
//! The services that start, stop, ingest webhooks, reconcile, complete and expire
//! recordings all change statuses through it.

use std::{collections::HashMap, sync::Arc};

use livekit_protocol as proto;
use meet_recorder_domain::{
    Circumstances, Decision, Event, FollowUp, Mode, RecordingConsent, RecordingOptions, RoomEffect,
    Status, decide,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{
    adapters::{
        change_feed::RoomEvents,
        db::{Db, RecordingPatch, RecordingRow, STOP_REASON_PAUSE},
        livekit::{LiveKit, LiveKitError},
    },
    config::Config,
    engine::{
        announcements,
        egress::{STOP_REASON_LIMIT, end_of, file_patch, recording_id_in},
        jobs::Job,
    },
};

pub struct Lifecycle {
    db: Db,
    livekit: Arc<LiveKit>,
    config: Arc<Config>,
    /// Wakes this instance's job runner when a transaction has enqueued work, so jobs
    /// start at once instead of at the next poll.
    jobs_wakeup: Arc<tokio::sync::Notify>,
    /// Tells open pages that a room's recordings changed.
    change_feed: Arc<RoomEvents>,
    /// The room effect this process last showed for each recording, so that a decision
    /// that keeps the status (LiveKit repeats `EGRESS_ACTIVE`) shows it once, not once per
    /// webhook: two LiveKit calls a webhook were most of a webhook's cost.
    shown: ShownEffects,
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

/// An event applied to a recording: its status before, the row after, and whether the
/// decision's move was made (a self-move, such as `stopped` taking the file information
/// of `egress_ended`, counts).
pub struct Applied {
    pub before: Status,
    pub row: RecordingRow,
    pub moved: bool,
}

impl Lifecycle {
    pub fn new(
        db: Db,
        livekit: Arc<LiveKit>,
        config: Arc<Config>,
        jobs_wakeup: Arc<tokio::sync::Notify>,
        change_feed: Arc<RoomEvents>,
    ) -> Self {
        Self {
            db,
            livekit,
            config,
            jobs_wakeup,
            change_feed,
            shown: ShownEffects::default(),
        }
    }

    /// Wakes the job runner for jobs committed outside [`Lifecycle::apply`].
    pub fn wake_jobs(&self) {
        self.jobs_wakeup.notify_one();
    }

    /// Participants see `effect` (when the room takes it), remembered so that a decision
    /// keeping the status does not show it again.
    pub(super) async fn show_once(&self, recording: &RecordingRow, effect: RoomEffect) {
        if self.show(recording, effect).await {
            self.shown.note(recording.id, effect);
        }
    }

    /// A transcript recording, or one asked to be transcribed, goes to the transcription
    /// service when one is configured.
    pub fn wants_transcript(&self, recording: &RecordingRow) -> bool {
        self.config.transcription.is_some()
            && (recording.mode == Mode::Transcript
                || RecordingOptions::parse(Some(&recording.options))
                    .is_ok_and(|o| o.wants_transcript()))
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

    /// As [`Lifecycle::apply`], finishing a transaction the caller began (and may have
    /// written in: a webhook's event id is recorded in the same commit).
    pub(super) async fn apply_in(
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
                    self.enqueue(&mut tx, &before, decision.to, *follow_up)
                        .await?;
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
        let announced = decision.is_some()
            && announcements::announce(&self.config, &self.db, &mut tx, before.status, &row)
                .await?;
        tx.commit().await?;
        if let Some(decision) = &decision {
            if !decision.follow_ups.is_empty() || announced {
                self.jobs_wakeup.notify_one();
            }
            // A decision that keeps the status (LiveKit repeats EGRESS_ACTIVE; a late
            // egress_ended adds the file's details) tells pages only when the row changed,
            // and shows the room a state only once.
            let keeps_status = decision.to == before.status;
            if !keeps_status || !row.same_except_update_time(&before) {
                self.change_feed.publish(before.room_id).await;
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
    /// Whether `event` would change nothing of `recording` as read: no move, or a move
    /// to the same status with no follow-up, no message, a room state already shown and
    /// no new value. Such an event needs no transaction: applying it later changes nothing
    /// either, so it is as if it had come before any change made meanwhile. (LiveKit
    /// repeats `egress_updated` while an egress records: most webhooks are these.)
    pub fn changes_nothing(
        &self,
        recording: &RecordingRow,
        event: Event,
        patch: &RecordingPatch,
    ) -> bool {
        match decide(recording.status, event, self.circumstances(recording)) {
            None => true,
            Some(decision) => {
                decision.keeps_everything_but_the_room(recording.status)
                    && decision
                        .room
                        .is_none_or(|effect| self.shown.already(recording.id, effect))
                    && !patch.changes(recording)
            }
        }
    }

    fn circumstances(&self, recording: &RecordingRow) -> Circumstances {
        Circumstances {
            wants_transcript: self.wants_transcript(recording),
            stopping_for_limit: recording.stop_reason.as_deref() == Some(STOP_REASON_LIMIT),
            room_asks_consent: recording.room_consent == RecordingConsent::Ask,
            pausing: recording.stop_reason.as_deref() == Some(STOP_REASON_PAUSE),
            segmented: recording.segments > 1,
        }
    }

    /// Enqueues the job a decision names, in the transaction of the move.
    async fn enqueue(
        &self,
        tx: &mut sqlx::AnyConnection,
        recording: &RecordingRow,
        to: Status,
        follow_up: FollowUp,
    ) -> Result<(), sqlx::Error> {
        let id = recording.id;
        let job = match follow_up {
            FollowUp::ConfirmFile => Job::ConfirmRecording { recording_id: id },
            FollowUp::NotifyOwners(notification) => Job::NotifyOwners {
                recording_id: id,
                notification,
            },
            FollowUp::Transcribe => Job::Transcribe { recording_id: id },
            FollowUp::JoinSegments => Job::JoinSegments { recording_id: id },
            FollowUp::ReviewPublishing => Job::ReviewPublishing {
                room_id: recording.room_id,
                trigger: format!("{id}:{to}"),
            },
        };
        self.enqueue_job(tx, job).await
    }

    /// Enqueues `job` in the caller's transaction (once per recording: see
    /// [`Job::dedupe_key`]).
    pub(super) async fn enqueue_job(
        &self,
        tx: &mut sqlx::AnyConnection,
        job: Job,
    ) -> Result<(), sqlx::Error> {
        let attempts = match &job {
            // Both wait for the egress's upload.
            Job::ConfirmRecording { .. } | Job::JoinSegments { .. } => {
                self.config.jobs.confirm_attempts
            }
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

    /// The egress LiveKit has for this recording's file, if any.
    pub(super) async fn egress_of(
        &self,
        recording: &RecordingRow,
    ) -> Result<Option<proto::EgressInfo>, LiveKitError> {
        Ok(self
            .livekit
            .room_egresses(&recording.room_id.to_string())
            .await?
            .into_iter()
            .find(|info| {
                recording_id_in(&self.config.recording.output_folder, info) == Some(recording.id)
            }))
    }

    /// Enqueues the file check that settles a recording whose egress is gone: `saved` when
    /// the file is there, `failed` when it never appears.
    pub(super) async fn confirm_later(&self, id: Uuid) -> Result<(), sqlx::Error> {
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
