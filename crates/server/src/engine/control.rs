//! What hosts ask for: starting and stopping a room's recording, and deleting a room; and
//! what a room's auto-record setting asks for when people come and go.

use std::sync::Arc;

use livekit_protocol as proto;
use meet_recorder_domain::{
    Event, Layout, Mode, ON_CREATE, RecordingConsent, RecordingOptions, RoomSettings, Status,
    StopAnswer,
};
use uuid::Uuid;

use crate::{
    adapters::{
        db::{Db, NewRecording, RecordingPatch, RecordingRow, RoomRow, StoreError, now_ms},
        livekit::{EgressRequest, LiveKit, LiveKitError},
    },
    config::Config,
    engine::{
        consent::{Consent, consent_of},
        egress::stop_answer,
        jobs::{AutoRecordAction, Job, Outcome},
        lifecycle::Lifecycle,
    },
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
pub enum PauseError {
    #[error("no active recording")]
    NotFound,
    #[error("the recording is not active")]
    NotActive,
    #[error("the egress does not record yet")]
    NotRecordingYet,
    #[error("the egress did not stop")]
    EgressDidNotStop,
    #[error("the recording is not paused")]
    NotPaused,
    #[error("the next egress segment failed to start: {0}")]
    ResumeFailed(LiveKitError),
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

pub struct RecordingControl {
    lifecycle: Arc<Lifecycle>,
    consent: Arc<Consent>,
    db: Db,
    livekit: Arc<LiveKit>,
    config: Arc<Config>,
}

impl RecordingControl {
    pub fn new(
        lifecycle: Arc<Lifecycle>,
        consent: Arc<Consent>,
        db: Db,
        livekit: Arc<LiveKit>,
        config: Arc<Config>,
    ) -> Self {
        Self {
            lifecycle,
            consent,
            db,
            livekit,
            config,
        }
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
        // In a room that asks for consent, those who have not accepted stop publishing
        // before the egress is asked for: reviewed here, and by a job should this fail
        // (LiveKit unreachable) or the service stop. A crash before the job is enqueued
        // leaves a recording whose egress was never asked for, which reconciliation fails.
        if consent_of(room) == RecordingConsent::Ask {
            self.consent
                .review_later(room.id, &format!("{}:created", recording.id))
                .await?;
            if let Outcome::Retry(error) | Outcome::Abort(error) =
                self.consent.review_publishing(room.id).await
            {
                tracing::warn!(room = %room.id, %error, "publishing not reviewed before the recording; the job retries");
            }
        }
        // Participants see "starting" before any webhook about the egress can arrive.
        self.lifecycle.show_once(&recording, ON_CREATE).await;
        let started = self
            .livekit
            .start_egress(EgressRequest {
                room_name: &room.id.to_string(),
                worker,
                layout: layout.map_or("", |l| l.as_str()),
                filepath: self.config.recording.key(recording.id, mode),
            })
            .await;
        match started {
            // Webhooks may have overtaken this answer and moved it already; their egress
            // info carried the same id.
            Ok(info) => Ok(self.started(recording, &info.egress_id).await?),
            Err(error) if error.code.is_none() || error.is_unanswered() => {
                // No answer is not a no: the egress may be starting. Adopt it if LiveKit
                // has it, else the start failed.
                tracing::warn!(recording = %recording.id, %error, "no answer to the egress start; looking for the egress");
                if let Ok(Some(info)) = self.lifecycle.egress_of(&recording).await {
                    return Ok(self.started(recording, &info.egress_id).await?);
                }
                self.start_failed(recording, error).await
            }
            Err(error) => self.start_failed(recording, error).await,
        }
    }

    /// Applies LiveKit's word that the egress `egress_id` is starting.
    async fn started(
        &self,
        recording: RecordingRow,
        egress_id: &str,
    ) -> Result<RecordingRow, sqlx::Error> {
        let patch = RecordingPatch {
            worker_id: Some(egress_id.to_owned()),
            started_at: Some(now_ms()),
            ..Default::default()
        };
        let applied = self
            .lifecycle
            .apply(recording.id, Event::EgressStarted, patch)
            .await?;
        Ok(applied.map_or(recording, |a| a.row))
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
        let applied = self
            .lifecycle
            .apply(recording.id, Event::StartFailed, patch)
            .await?;
        let row = applied.map_or(recording, |a| a.row);
        Err(StartError::FailedToStart(Box::new(row), error))
    }

    /// Pauses the room's active recording of `mode`: its egress segment ends (LiveKit
    /// Egress has no pause), and the recording waits, `paused`, for a resume or a stop.
    pub async fn pause(
        &self,
        room: &RoomRow,
        mode: Option<Mode>,
    ) -> Result<RecordingRow, PauseError> {
        let recording = self
            .db
            .stoppable_recording(room.id, mode)
            .await?
            .ok_or(PauseError::NotFound)?;
        if recording.status != Status::Active {
            return Err(PauseError::NotActive);
        }
        // An egress stopped before it records is aborted and leaves no file: pausing waits
        // until it records.
        let egress_id = recording.worker_id.clone().unwrap_or_default();
        let recording_now = matches!(
            self.livekit.egress_info(&egress_id).await,
            Ok(Some(info)) if info.status() == proto::EgressStatus::EgressActive
        );
        if !recording_now {
            return Err(PauseError::NotRecordingYet);
        }
        // Marked first: the egress's own end may overtake the stop's answer, and must
        // pause it rather than end it.
        if !self.db.mark_pausing(recording.id).await? {
            return Err(PauseError::NotActive);
        }
        let answer = match self.livekit.stop_egress(&egress_id).await {
            Ok(info) => stop_answer(info.status()),
            Err(error) => {
                tracing::warn!(recording = %recording.id, %error, "the egress did not stop for a pause");
                StopAnswer::Failed
            }
        };
        if answer == StopAnswer::Failed {
            self.db.clear_pausing(recording.id).await?;
            return Err(PauseError::EgressDidNotStop);
        }
        let applied = self
            .lifecycle
            .apply(
                recording.id,
                Event::Stopped(answer),
                RecordingPatch::default(),
            )
            .await?;
        Ok(applied.map_or(recording, |a| a.row))
    }

    /// Resumes the room's paused recording of `mode`: a new egress records the next
    /// segment into its own file. LiveKit refusing leaves it paused.
    pub async fn resume(
        &self,
        room: &RoomRow,
        mode: Option<Mode>,
    ) -> Result<RecordingRow, PauseError> {
        let recording = self
            .db
            .stoppable_recording(room.id, mode)
            .await?
            .ok_or(PauseError::NotFound)?;
        if recording.status != Status::Paused {
            return Err(PauseError::NotPaused);
        }
        let worker = self
            .config
            .recording
            .worker(recording.mode)
            .ok_or(PauseError::NotFound)?;
        let segment = recording.segments + 1;
        // An egress started here but never recorded below (a crash) writes for a paused
        // recording: reconciliation stops it, and the join ignores its part.
        let info = self
            .livekit
            .start_egress(EgressRequest {
                room_name: &room.id.to_string(),
                worker,
                layout: recording.layout.map_or("", |l| l.as_str()),
                filepath: self
                    .config
                    .recording
                    .segment_key(recording.id, recording.mode, segment),
            })
            .await
            .map_err(PauseError::ResumeFailed)?;
        let mut tx = self.db.pool().begin().await?;
        self.db
            .on(&mut *tx)
            .resume_segment(recording.id, &info.egress_id, segment)
            .await?;
        let applied = self
            .lifecycle
            .apply_in(tx, recording.id, Event::Resumed, RecordingPatch::default())
            .await?;
        Ok(applied.map_or(recording, |a| a.row))
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
        if recording.status == Status::Paused {
            return Ok(self.stop_paused(recording).await?);
        }
        // A pause that never reached the egress (a crash between marking and stopping)
        // must not turn this stop into a pause.
        self.db.clear_pausing(recording.id).await?;
        let egress_id = recording.worker_id.clone().unwrap_or_default();
        let answer = match self.livekit.stop_egress(&egress_id).await {
            Ok(info) => stop_answer(info.status()),
            Err(error) if error.code.as_deref() == Some("failed_precondition") => {
                // The egress has already ended and we missed its webhook: settle it now.
                if let Some(row) = self.lifecycle.settle_from_livekit(&recording).await? {
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
            .lifecycle
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

    /// Ends a paused recording: no egress runs, so its parts are complete.
    pub async fn stop_paused(&self, recording: RecordingRow) -> Result<RecordingRow, sqlx::Error> {
        let patch = RecordingPatch {
            stopped_at: recording.paused_at,
            ..Default::default()
        };
        let applied = self
            .lifecycle
            .apply(recording.id, Event::StoppedWhilePaused, patch)
            .await?;
        Ok(applied.map_or(recording, |a| a.row))
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
        if recordings
            .iter()
            .any(|r| r.status.awaits_egress() || r.status.may_be_recording())
        {
            return Err(DeleteRoomError::RecordingInProgress);
        }
        for recording in &recordings {
            // A paused recording's parts not joined yet go too.
            for segment in 1..=recording.segments {
                let key = self
                    .config
                    .recording
                    .segment_key(recording.id, recording.mode, segment);
                self.lifecycle
                    .enqueue_job(&mut tx, Job::DeleteFile { key })
                    .await?;
            }
        }
        self.db.on(&mut *tx).delete_room(room).await?;
        tx.commit().await?;
        self.lifecycle.wake_jobs();
        Ok(())
    }

    /// Starts (or stops) the room's auto-recorded modes. A mode already recording, or
    /// not recorded by this instance, is left alone; a start LiveKit refuses leaves its
    /// `failed_to_start` recording for the owners to see, and is not retried. The room's
    /// first owner owns what it records.
    pub async fn auto_record(
        &self,
        room_id: Uuid,
        action: AutoRecordAction,
    ) -> Result<(), sqlx::Error> {
        let Some(room) = self.db.room(&room_id.to_string()).await? else {
            return Ok(());
        };
        let settings = RoomSettings::parse(&room.configuration).unwrap_or_default();
        for mode in settings.auto_record {
            match action {
                AutoRecordAction::Start => {
                    let Some(owner) = self.db.first_room_owner(room.id).await? else {
                        tracing::warn!(room = %room.id, "auto-record: the room has no owner");
                        return Ok(());
                    };
                    match self
                        .start(&room, owner, mode, None, RecordingOptions::default())
                        .await
                    {
                        Ok(recording) => {
                            tracing::info!(room = %room.id, recording = %recording.id, %mode, "auto-record started")
                        }
                        Err(StartError::AlreadyInProgress) => {}
                        Err(StartError::Database(error)) => return Err(error),
                        Err(error) => {
                            tracing::warn!(room = %room.id, %mode, %error, "auto-record did not start")
                        }
                    }
                }
                AutoRecordAction::Stop => match self.stop(&room, Some(mode)).await {
                    Ok(recording) => {
                        tracing::info!(room = %room.id, recording = %recording.id, %mode, "auto-record stopped: the room is empty")
                    }
                    Err(StopError::NotFound) => {}
                    Err(StopError::Database(error)) => return Err(error),
                    // Reconciliation takes a failed stop from here.
                    Err(error) => {
                        tracing::warn!(room = %room.id, %mode, %error, "auto-record did not stop")
                    }
                },
            }
        }
        Ok(())
    }
}
