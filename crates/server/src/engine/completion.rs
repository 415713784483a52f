//! Completion: from "the egress has ended" to "the owners have their link".
//!
//! Without storage events (the default), `egress_ended` COMPLETE or LIMIT_REACHED
//! enqueues a `confirm_recording` job in the same transaction; the job HEADs the object
//! and saves the recording (retrying with backoff while the object is missing, failing
//! the recording after the last attempt). With storage events, the storage hook saves it.
//! Saving enqueues `notify_owners`, which emails each owner once and then marks the
//! recording `notification_succeeded`. A failed recording emails its owners too.

use std::sync::Arc;

use meet_recorder_domain::{Event, RecordingOptions, Status};
use serde_json::json;
use uuid::Uuid;

use crate::{
    adapters::{
        db::{Db, RecordingPatch, RecordingRow},
        mail::{Brand, EmailKind, Mailer, Outgoing, RecordingEmail},
        storage::{ObjectStorage, StorageError},
        transcription::{HandOffError, TranscriptionService},
    },
    config::Config,
    engine::{jobs::Outcome, lifecycle::Lifecycle, metrics::Metrics},
};

/// What a storage event did to a recording, for the hook's answer.
#[derive(Debug)]
pub enum StorageEventResult {
    Saved,
    /// Already saved: nothing changes, no second email.
    AlreadySaved,
    /// In an error state or otherwise not savable.
    NotSavable(Status),
}

pub struct Completion {
    lifecycle: Arc<Lifecycle>,
    db: Db,
    config: Arc<Config>,
    storage: Arc<dyn ObjectStorage>,
    mailer: Arc<dyn Mailer>,
    brand: Brand,
    transcription: Option<TranscriptionService>,
    metrics: Arc<Metrics>,
}

impl Completion {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        lifecycle: Arc<Lifecycle>,
        db: Db,
        config: Arc<Config>,
        storage: Arc<dyn ObjectStorage>,
        mailer: Arc<dyn Mailer>,
        brand: Brand,
        transcription: Option<TranscriptionService>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            lifecycle,
            db,
            config,
            storage,
            mailer,
            brand,
            transcription,
            metrics,
        }
    }

    /// The `transcribe` job: hands the file to the transcription service (the reference's
    /// v2 payload) and keeps its job id for the callback.
    pub async fn hand_off_transcript(&self, id: Uuid) -> Outcome {
        let Some(service) = &self.transcription else {
            return Outcome::Done;
        };
        let recording = match self.db.queries().recording(id).await {
            Ok(Some(recording)) => recording,
            Ok(None) => return Outcome::Done,
            Err(error) => return Outcome::Retry(error.to_string()),
        };
        let owner = match self.db.recording_owners(id).await {
            Ok(owners) => match owners.into_iter().next() {
                Some(owner) => owner,
                None => return Outcome::Abort("the recording has no owner".into()),
            },
            Err(error) => return Outcome::Retry(error.to_string()),
        };
        let settings = service.settings();
        let key = self.config.recording.key(id, recording.mode);
        let link = self.download_link(id);
        let cloud_storage_url = match self
            .storage
            .presigned_get(&key, settings.signed_url_expiry)
            .await
        {
            Ok(Some(url)) => url.to_string(),
            Ok(None) => link.clone(),
            Err(error) => return Outcome::Retry(error.to_string()),
        };
        let options = RecordingOptions::parse(Some(&recording.options)).unwrap_or_default();
        let timezone: chrono_tz::Tz = owner.timezone.parse().unwrap_or(chrono_tz::UTC);
        let title = match recording
            .started_at
            .and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
        {
            Some(started) => {
                let local = started.with_timezone(&timezone);
                format!(
                    "Meeting \"{}\" on {} at {}",
                    recording.room_name,
                    local.format("%Y-%m-%d"),
                    local.format("%H:%M")
                )
            }
            None => "Transcription".to_owned(),
        };
        let payload = json!({
            "user_sub": owner.id,
            "user_email": owner.email,
            "cloud_storage_url": cloud_storage_url,
            "language": options.language.clone().unwrap_or_else(|| owner.language.clone()),
            "context_language": owner.language,
            "push_to_docs_config": {
                "user_email": owner.email,
                "title": title,
                "download_link": link,
                "form_link": settings.form_base_url,
                "auto_create_summary": true,
            },
            "metadata": null,
        });
        let job_id = match service.hand_off(&payload).await {
            Ok(job_id) => job_id,
            Err(error @ HandOffError::Unavailable(_)) => return Outcome::Retry(error.to_string()),
            Err(error @ HandOffError::Refused(_)) => return Outcome::Abort(error.to_string()),
        };
        match self.db.set_external_process_id(id, &job_id).await {
            Ok(()) => Outcome::Done,
            Err(error) => Outcome::Retry(error.to_string()),
        }
    }

    /// `{RECORDING_DOWNLOAD_BASE_URL}/{id}`, or the service's own recording page.
    pub fn download_link(&self, id: Uuid) -> String {
        let base = self
            .config
            .recording
            .download_base_url
            .clone()
            .unwrap_or_else(|| format!("{}/recording", self.config.public_url));
        format!("{base}/{id}")
    }

    /// Moves a recording that awaits its file to `saved` (or `failed`); the decision
    /// enqueues the owners' notification with it. Returns the status it was in and the
    /// one it is in now.
    async fn settle_file(
        &self,
        id: Uuid,
        event: Event,
        patch: RecordingPatch,
    ) -> Result<Option<(Status, Status)>, sqlx::Error> {
        let Some(applied) = self.lifecycle.apply(id, event, patch).await? else {
            return Ok(None);
        };
        if applied.moved
            && applied.row.status == Status::Saved
            && let Some(stopped_at) = applied.row.stopped_at
        {
            let elapsed = (crate::adapters::db::now_ms() - stopped_at).max(0) as u64;
            self.metrics
                .stop_to_saved(std::time::Duration::from_millis(elapsed));
        }
        Ok(Some((applied.before, applied.row.status)))
    }

    /// The `confirm_recording` job: is the file in storage?
    pub async fn confirm_file(&self, id: Uuid, last_attempt: bool) -> Outcome {
        let recording = match self.db.queries().recording(id).await {
            Ok(Some(recording)) => recording,
            Ok(None) => return Outcome::Done,
            Err(error) => return Outcome::Retry(error.to_string()),
        };
        if !recording.status.awaits_egress() {
            return Outcome::Done;
        }
        let key = self.config.recording.key(id, recording.mode);
        let (event, patch) = match self.storage.head(&key).await {
            Ok(info) if info.size > 0 => (
                Event::FileConfirmed,
                RecordingPatch {
                    size_bytes: Some(info.size as i64),
                    ..Default::default()
                },
            ),
            Ok(_) | Err(StorageError::NotFound) if !last_attempt => {
                return Outcome::Retry(format!("{key} is not in storage yet"));
            }
            Ok(_) | Err(StorageError::NotFound) => (
                Event::FileMissing,
                RecordingPatch {
                    error: Some(format!(
                        "the recording file {key} never appeared in storage"
                    )),
                    ..Default::default()
                },
            ),
            Err(error) => return Outcome::Retry(error.to_string()),
        };
        match self.settle_file(id, event, patch).await {
            Ok(_) => Outcome::Done,
            Err(error) => Outcome::Retry(error.to_string()),
        }
    }

    /// The storage hook: an object-created event for this recording's key.
    pub async fn file_announced(
        &self,
        recording: &RecordingRow,
        size: Option<u64>,
    ) -> Result<StorageEventResult, sqlx::Error> {
        if recording.status.is_saved() {
            return Ok(StorageEventResult::AlreadySaved);
        }
        let patch = RecordingPatch {
            size_bytes: size.map(|s| s as i64).filter(|s| *s > 0),
            ..Default::default()
        };
        match self
            .settle_file(recording.id, Event::FileAnnounced, patch)
            .await?
        {
            Some((_, Status::Saved)) => Ok(StorageEventResult::Saved),
            Some((_, now)) if now.is_saved() => Ok(StorageEventResult::AlreadySaved),
            Some((_, now)) => Ok(StorageEventResult::NotSavable(now)),
            None => Ok(StorageEventResult::NotSavable(recording.status)),
        }
    }

    /// The `notify_owners` job: one email per owner, never twice, then
    /// `notification_succeeded` for a saved recording.
    pub async fn notify_owners(&self, id: Uuid, kind: &str) -> Outcome {
        let recording = match self.db.queries().recording(id).await {
            Ok(Some(recording)) => recording,
            Ok(None) => return Outcome::Done,
            Err(error) => return Outcome::Retry(error.to_string()),
        };
        let owners = match self.db.recording_owners(id).await {
            Ok(owners) => owners,
            Err(error) => return Outcome::Retry(error.to_string()),
        };
        let email_kind = if kind == "failed" {
            EmailKind::Failed
        } else {
            EmailKind::Ready
        };
        let settings = &self.config.recording;
        let expires_at = settings.expiration_days.and_then(|days| {
            chrono::DateTime::<chrono::Utc>::from_timestamp_millis(
                recording.created_at + i64::from(days) * 86_400_000,
            )
        });
        for owner in owners {
            match self.db.notification_sent(id, owner.id, kind).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(error) => return Outcome::Retry(error.to_string()),
            }
            let email = RecordingEmail {
                kind: email_kind,
                to: owner.email.clone(),
                language: owner.language.clone(),
                timezone: owner.timezone.clone(),
                room_name: recording.room_name.clone(),
                recorded_at: chrono::DateTime::<chrono::Utc>::from_timestamp_millis(
                    recording.started_at.unwrap_or(recording.created_at),
                )
                .unwrap_or_default(),
                link: (email_kind == EmailKind::Ready).then(|| self.download_link(id)),
                expires_at,
                expiration_days: settings.expiration_days,
                mode: recording.mode,
            };
            let rendered = crate::adapters::mail::render(&email, &self.brand);
            // One id per recording, owner and kind: a retry after a crash that came between
            // the SMTP server's answer and our record of it is recognisably the same email.
            let message = Outgoing::from_rendered(&self.brand, &owner.email, rendered)
                .keyed(format!("recording-{id}-{kind}-{}", owner.id));
            if let Err(error) = self.mailer.send(&message).await {
                return Outcome::Retry(format!("email to owner {}: {error}", owner.id));
            }
            if let Err(error) = self.db.mark_notification_sent(id, owner.id, kind).await {
                return Outcome::Retry(error.to_string());
            }
            tracing::info!(recording = %id, owner = %owner.id, kind, "owner notified");
        }
        if email_kind == EmailKind::Ready {
            match self
                .lifecycle
                .apply(id, Event::NotificationsSent, RecordingPatch::default())
                .await
            {
                Ok(Some(applied)) if applied.moved => {
                    // `updated_at` was the moment it was saved.
                    let elapsed =
                        (crate::adapters::db::now_ms() - recording.updated_at).max(0) as u64;
                    self.metrics
                        .saved_to_notified(std::time::Duration::from_millis(elapsed));
                }
                Ok(_) => {}
                Err(error) => return Outcome::Retry(error.to_string()),
            }
        }
        Outcome::Done
    }
}
