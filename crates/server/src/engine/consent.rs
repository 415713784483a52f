//! Consent to being recorded, in a room whose `recording_consent` is `notice` or `ask`.
//!
//! Participants answer for the recordings capturing the room when they answer; the answers
//! are kept per recording for its owners. In an `ask` room, who may publish follows the
//! answers ([`meet_recorder_domain::may_publish`]): a join token withholds publishing
//! until the participant accepts what is recording, and a review job
//! ([`Consent::review_publishing`]) brings LiveKit's permissions of everyone in the room in
//! line whenever that may have changed: a recording started or stopped capturing, someone
//! joined, the setting changed, an answer came. The room's hosts decide to record and are
//! never held back.

use std::{collections::HashSet, sync::Arc};

use livekit_protocol as proto;
use meet_recorder_domain::{ConsentDecision, RecordingConsent, RoomSettings, may_publish};
use uuid::Uuid;

use crate::{
    adapters::{
        db::{ConsentRow, Db, RoomRow, now_ms},
        livekit::LiveKit,
    },
    engine::{
        jobs::{Job, Outcome},
        lifecycle::Lifecycle,
    },
};

/// Why an answer was not taken.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("this room does not ask participants about recordings")]
    NotAsked,
    #[error("nothing is being recorded in this room")]
    NothingRecording,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub struct Consent {
    lifecycle: Arc<Lifecycle>,
    db: Db,
    livekit: Arc<LiveKit>,
}

impl Consent {
    pub fn new(lifecycle: Arc<Lifecycle>, db: Db, livekit: Arc<LiveKit>) -> Self {
        Self {
            lifecycle,
            db,
            livekit,
        }
    }

    /// Whether `identity` may publish on joining `room` now.
    pub async fn may_publish_on_join(
        &self,
        room: &RoomRow,
        identity: &str,
        is_host: bool,
    ) -> Result<bool, sqlx::Error> {
        let consent = consent_of(room);
        if is_host || consent != RecordingConsent::Ask {
            return Ok(true);
        }
        let recording = self.db.recordings_capturing_room(room.id).await?;
        if recording.is_empty() {
            return Ok(true);
        }
        let accepted = self.accepted_by(&recording, identity).await?;
        Ok(may_publish(consent, &recording, &accepted))
    }

    /// Records `identity`'s answer for what is recording now, and in an `ask` room lets
    /// them publish once they accept. Returns whether they may publish.
    pub async fn answer(
        &self,
        room: &RoomRow,
        identity: &str,
        name: &str,
        decision: ConsentDecision,
    ) -> Result<bool, AnswerError> {
        let consent = consent_of(room);
        if consent == RecordingConsent::Off {
            return Err(AnswerError::NotAsked);
        }
        let recording = self.db.recordings_capturing_room(room.id).await?;
        if recording.is_empty() {
            return Err(AnswerError::NothingRecording);
        }
        self.db
            .record_consent(&recording, identity, name, consent, decision)
            .await?;
        let accepted = self.accepted_by(&recording, identity).await?;
        let allowed = may_publish(consent, &recording, &accepted);
        if consent == RecordingConsent::Ask
            && allowed
            && let Err(error) = self
                .livekit
                .set_may_publish(&room.id.to_string(), identity, true)
                .await
        {
            // The review retries until LiveKit takes it (or the participant is gone).
            tracing::warn!(room = %room.id, %error, "cannot let a participant publish; reviewing later");
            self.review_later(room.id, &format!("answer:{identity}:{}", now_ms()))
                .await?;
        }
        Ok(allowed)
    }

    /// Enqueues a review of who may publish in `room`, once per `trigger`.
    pub async fn review_later(&self, room_id: Uuid, trigger: &str) -> Result<(), sqlx::Error> {
        let mut tx = self.db.pool().begin().await?;
        self.lifecycle
            .enqueue_job(
                &mut tx,
                Job::ReviewPublishing {
                    room_id,
                    trigger: trigger.to_owned(),
                },
            )
            .await?;
        tx.commit().await?;
        self.lifecycle.wake_jobs();
        Ok(())
    }

    /// The review job: everyone in the room publishes exactly when the room's setting and
    /// their answers let them. Only differences are sent to LiveKit.
    pub async fn review_publishing(&self, room_id: Uuid) -> Outcome {
        match self.review(room_id).await {
            Ok(Ok(())) => Outcome::Done,
            Ok(Err(error)) => Outcome::Retry(error),
            Err(error) => Outcome::Retry(error.to_string()),
        }
    }

    async fn review(&self, room_id: Uuid) -> Result<Result<(), String>, sqlx::Error> {
        let Some(room) = self.db.room(&room_id.to_string()).await? else {
            return Ok(Ok(()));
        };
        let consent = consent_of(&room);
        let room_name = room.id.to_string();
        let participants = match self.livekit.participants(&room_name).await {
            Ok(participants) => participants,
            Err(error) => return Ok(Err(error.to_string())),
        };
        let people: Vec<&proto::ParticipantInfo> = participants
            .iter()
            .filter(|p| p.kind() == proto::participant_info::Kind::Standard)
            .collect();
        if people.is_empty() {
            return Ok(Ok(()));
        }
        let hosts = self.hosts(room.id).await?;
        let recording = self.db.recordings_capturing_room(room.id).await?;
        let answers = self.db.consents_for(&recording).await?;
        let mut failures = Vec::new();
        let mut withheld = Vec::new();
        for participant in people {
            let allowed = hosts.contains(&participant.identity)
                || may_publish(
                    consent,
                    &recording,
                    &accepted_in(&answers, &participant.identity),
                );
            let allows = participant
                .permission
                .as_ref()
                .is_some_and(|permission| permission.can_publish);
            if allowed == allows {
                continue;
            }
            match self
                .livekit
                .set_may_publish(&room_name, &participant.identity, allowed)
                .await
            {
                Ok(()) if !allowed => withheld.push(participant.identity.clone()),
                Ok(()) => {}
                // Gone since the list: nothing to do for them.
                Err(error)
                    if error.is_unanswered() || error.code.as_deref() == Some("not_found") => {}
                Err(error) => failures.push(format!("{}: {error}", participant.identity)),
            }
        }
        // Someone may have accepted between reading the answers and withholding: their
        // answer let them publish, and the withholding must not undo it.
        for identity in withheld {
            let accepted = self.accepted_by(&recording, &identity).await?;
            if may_publish(consent, &recording, &accepted)
                && let Err(error) = self
                    .livekit
                    .set_may_publish(&room_name, &identity, true)
                    .await
            {
                failures.push(format!("{identity}: {error}"));
            }
        }
        Ok(if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        })
    }

    /// The recordings among `recording` that `identity` accepted.
    async fn accepted_by(
        &self,
        recording: &[Uuid],
        identity: &str,
    ) -> Result<Vec<Uuid>, sqlx::Error> {
        Ok(accepted_in(
            &self.db.consents_for(recording).await?,
            identity,
        ))
    }

    /// The LiveKit identities of the room's hosts (owners and administrators).
    async fn hosts(&self, room: Uuid) -> Result<HashSet<String>, sqlx::Error> {
        Ok(self
            .db
            .room_accesses(room)
            .await?
            .into_iter()
            .filter(|access| access.role.is_privileged())
            .map(|access| access.user_id.to_string())
            .collect())
    }
}

/// The recordings `identity` accepted, among these answers.
fn accepted_in(answers: &[ConsentRow], identity: &str) -> Vec<Uuid> {
    answers
        .iter()
        .filter(|a| a.identity == identity && a.decision == ConsentDecision::Accepted)
        .map(|a| a.recording_id)
        .collect()
}

/// The room's consent setting (a configuration the service stored is well-formed).
pub fn consent_of(room: &RoomRow) -> RecordingConsent {
    RoomSettings::parse(&room.configuration)
        .unwrap_or_default()
        .recording_consent
}
