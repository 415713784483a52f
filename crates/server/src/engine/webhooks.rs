//! LiveKit's webhooks: egress events applied to their recordings (once per event id, in
//! the transaction of the move), and a closed room settling its open recordings.

use std::sync::Arc;

use livekit_protocol as proto;
use meet_recorder_domain::{Event, RecordingConsent, RoomSettings, Status};
use uuid::Uuid;

use crate::{
    adapters::{
        db::{Db, RecordingPatch},
        livekit::LiveKit,
    },
    config::Config,
    engine::{
        consent::consent_of,
        egress::{egress_event, recording_id_in},
        jobs::{AutoRecordAction, Job},
        lifecycle::Lifecycle,
        reconcile::{EgressDoubt, Reconciler},
    },
};

pub struct LiveKitWebhooks {
    lifecycle: Arc<Lifecycle>,
    reconciler: Arc<Reconciler>,
    db: Db,
    livekit: Arc<LiveKit>,
    config: Arc<Config>,
}

impl LiveKitWebhooks {
    pub fn new(
        lifecycle: Arc<Lifecycle>,
        reconciler: Arc<Reconciler>,
        db: Db,
        livekit: Arc<LiveKit>,
        config: Arc<Config>,
    ) -> Self {
        Self {
            lifecycle,
            reconciler,
            db,
            livekit,
            config,
        }
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
            "participant_joined" | "participant_left" => {
                return self.participant_came_or_went(&event, &room_name).await;
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

        // Most egress webhooks repeat what the recording already says: they are answered
        // from a read, with no transaction, no lock and no write.
        if let Some((domain_event, patch)) = egress_event(&event.event, &info)
            && !info.egress_id.is_empty()
            && let Some(recording) = self
                .db
                .queries()
                .recording_by_worker(&info.egress_id)
                .await?
            && recording.worker_id.as_deref() == Some(info.egress_id.as_str())
            && self
                .lifecycle
                .changes_nothing(&recording, domain_event, &patch)
        {
            tracing::debug!(id = %event.id, recording = %recording.id, "webhook changes nothing");
            return Ok("processed");
        }

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
            && let Some(id) = recording_id_in(&self.config.recording.output_folder, &info)
        {
            recording = self.db.on(&mut *tx).recording(id).await?;
        }
        let Some(recording) = recording else {
            tracing::info!(egress = %info.egress_id, event = %event.event, "webhook for an egress we did not start");
            tx.commit().await?;
            return Ok("unknown_egress");
        };

        // A recording paused and resumed has had several egresses: the earlier segments'
        // late events tell nothing about the recording.
        if recording.segments > 1
            && !info.egress_id.is_empty()
            && recording.worker_id.as_deref() != Some(info.egress_id.as_str())
        {
            tracing::debug!(egress = %info.egress_id, recording = %recording.id, "webhook for an earlier segment's egress");
            tx.commit().await?;
            return Ok("processed");
        }
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
        self.lifecycle
            .apply_in(tx, recording.id, domain_event, patch)
            .await?;
        Ok("processed")
    }

    /// Someone joined or left. Auto-record: someone joined an empty room (start its
    /// auto-recorded modes) or the last one left (stop them). Consent: someone joined a
    /// room that asks while it records, perhaps with a token from before the recording
    /// (review who may publish). The work is jobs enqueued with the webhook's event id in
    /// one transaction, so a crash loses none, a repeated webhook asks nothing twice, and
    /// LiveKit has its answer without waiting for an egress to start.
    async fn participant_came_or_went(
        &self,
        event: &proto::WebhookEvent,
        room_name: &str,
    ) -> Result<&'static str, sqlx::Error> {
        use proto::participant_info::Kind;
        let (Ok(room_id), Some(room), Some(participant)) = (
            room_name.parse::<Uuid>(),
            event.room.as_ref(),
            event.participant.as_ref(),
        ) else {
            return Ok("ignored");
        };
        // Recorders and agents come and go with recordings; only people count.
        if matches!(participant.kind(), Kind::Egress | Kind::Agent) {
            return Ok("ignored");
        }
        let joined = event.event == "participant_joined";
        let action = match event.event.as_str() {
            "participant_joined" if room.num_participants <= 1 => Some(AutoRecordAction::Start),
            "participant_left" if room.num_participants == 0 => Some(AutoRecordAction::Stop),
            _ => None,
        };
        if action.is_none() && !joined {
            return Ok("processed");
        }
        let Some(row) = self.db.room(&room_id.to_string()).await? else {
            return Ok("ignored");
        };
        let settings = RoomSettings::parse(&row.configuration).unwrap_or_default();
        let action = action.filter(|_| !settings.auto_record.is_empty());
        let review = joined
            && consent_of(&row) == RecordingConsent::Ask
            && !self.db.recordings_capturing_room(room_id).await?.is_empty();
        if action.is_none() && !review {
            return Ok("processed");
        }
        let mut tx = self.db.pool().begin().await?;
        let trigger = if event.id.is_empty() {
            format!("{}:{}", participant.sid, event.event)
        } else {
            if !self
                .db
                .on(&mut *tx)
                .first_time_event(&event.id, &event.event)
                .await?
            {
                return Ok("duplicate");
            }
            event.id.clone()
        };
        if let Some(action) = action {
            let job = Job::AutoRecord {
                room_id,
                action,
                trigger: trigger.clone(),
            };
            self.lifecycle.enqueue_job(&mut tx, job).await?;
        }
        if review {
            let job = Job::ReviewPublishing { room_id, trigger };
            self.lifecycle.enqueue_job(&mut tx, job).await?;
        }
        tx.commit().await?;
        self.lifecycle.wake_jobs();
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
                self.reconciler
                    .reconcile_recording(&recording, EgressDoubt::RoomClosed)
                    .await?;
            }
        }
        // Nobody is left to resume a paused recording: it ends with the room.
        for recording in self.db.queries().recordings_of_room(room_id).await? {
            if recording.status == Status::Paused {
                let patch = RecordingPatch {
                    stopped_at: recording.paused_at,
                    ..Default::default()
                };
                self.lifecycle
                    .apply(recording.id, Event::StoppedWhilePaused, patch)
                    .await?;
            }
        }
        Ok(())
    }
}
