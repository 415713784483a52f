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
        media_tools,
        storage::{ObjectStorage, StorageError, guess_content_type},
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

    /// The `join_segments` job, for a recording that was paused and resumed: its egress
    /// segments (the first at the recording's key, the next at `{id}/part-{n}`) are
    /// joined into the recording's key with ffmpeg, without re-encoding, through a local
    /// temporary folder; the result is measured, and confirmed as [`Self::confirm_file`]
    /// confirms an egress's file; then the parts are deleted.
    ///
    /// Safe to repeat at any step: the first part is copied aside before anything
    /// overwrites the recording's key, so a retry after a crash joins the same parts
    /// again, and a recording already saved only has its parts deleted.
    pub async fn join_segments(&self, id: Uuid, last_attempt: bool) -> Outcome {
        let recording = match self.db.queries().recording(id).await {
            Ok(Some(recording)) => recording,
            Ok(None) => return Outcome::Done,
            Err(error) => return Outcome::Retry(error.to_string()),
        };
        if recording.status != Status::Stopped {
            // Saved already (a crash after the save), or failed: only the parts are left.
            return match self.delete_parts(&recording).await {
                Ok(()) => Outcome::Done,
                Err(error) => Outcome::Retry(error),
            };
        }
        let (event, patch) = match self.join(&recording, last_attempt).await {
            Ok(Some(joined)) => (Event::FileConfirmed, joined),
            Ok(None) => (
                Event::FileMissing,
                RecordingPatch {
                    error: Some("none of the recording's parts appeared in storage".into()),
                    ..Default::default()
                },
            ),
            Err(error) => return Outcome::Retry(error),
        };
        if let Err(error) = self.settle_file(id, event, patch).await {
            return Outcome::Retry(error.to_string());
        }
        match self.delete_parts(&recording).await {
            Ok(()) => Outcome::Done,
            // The next attempt finds it saved and deletes what is left.
            Err(error) => Outcome::Retry(error),
        }
    }

    /// The parts' keys: the first copied aside from the recording's key, then the
    /// segments recorded after each resume.
    fn part_keys(&self, recording: &RecordingRow) -> Vec<String> {
        let recordings = &self.config.recording;
        let first = format!(
            "{}/{}/part-1.{}",
            recordings.output_folder,
            recording.id,
            recording.mode.extension()
        );
        std::iter::once(first)
            .chain(
                (2..=recording.segments)
                    .map(|n| recordings.segment_key(recording.id, recording.mode, n)),
            )
            .collect()
    }

    /// Joins the parts into the recording's key; `None` when there is nothing to join.
    /// A part not in storage yet is waited for, except at the last attempt, which joins
    /// what there is.
    async fn join(
        &self,
        recording: &RecordingRow,
        last_attempt: bool,
    ) -> Result<Option<RecordingPatch>, String> {
        let key = self.config.recording.key(recording.id, recording.mode);
        let parts = self.part_keys(recording);
        // Before the recording's key is overwritten, its first segment is kept as part 1.
        match self.storage.head(&parts[0]).await {
            Ok(_) => {}
            Err(StorageError::NotFound) => match self.storage.copy(&key, &parts[0]).await {
                Ok(()) | Err(StorageError::NotFound) => {}
                Err(error) => return Err(format!("copy {key}: {error}")),
            },
            Err(error) => return Err(format!("{}: {error}", parts[0])),
        }
        let folder = tempfile::tempdir().map_err(|e| format!("temporary folder: {e}"))?;
        let mut local = Vec::new();
        let mut expected = std::time::Duration::ZERO;
        for (index, part) in parts.iter().enumerate() {
            let path =
                folder
                    .path()
                    .join(format!("part-{}.{}", index + 1, recording.mode.extension()));
            match self.download(part, &path).await {
                Ok(true) => {}
                Ok(false) if last_attempt => {
                    tracing::warn!(recording = %recording.id, %part, "a part never appeared; joining the others");
                    continue;
                }
                Ok(false) => return Err(format!("{part} is not in storage yet")),
                Err(error) => return Err(error),
            }
            expected += media_tools::duration(&path)
                .await
                .map_err(|e| e.to_string())?;
            local.push(path);
        }
        if local.is_empty() {
            return Ok(None);
        }
        let output = folder
            .path()
            .join(format!("joined.{}", recording.mode.extension()));
        media_tools::concat(&local, &output)
            .await
            .map_err(|e| e.to_string())?;
        let duration = media_tools::duration(&output)
            .await
            .map_err(|e| e.to_string())?;
        // Stream copy keeps every packet: the whole is the sum of its parts, give or take
        // a frame at each joint.
        let tolerance = std::time::Duration::from_millis(500 * local.len() as u64 + 500);
        if duration.abs_diff(expected) > tolerance {
            return Err(format!(
                "the joined file lasts {duration:?}, its parts {expected:?}"
            ));
        }
        let size = tokio::fs::metadata(&output)
            .await
            .map_err(|e| e.to_string())?
            .len();
        self.storage
            .upload_file(&key, &output, guess_content_type(&key))
            .await
            .map_err(|e| format!("upload {key}: {e}"))?;
        tracing::info!(recording = %recording.id, parts = local.len(), ?duration, "joined the recording's segments");
        Ok(Some(RecordingPatch {
            duration_ms: Some(duration.as_millis() as i64),
            size_bytes: Some(size as i64),
            file_location: Some(key),
            ..Default::default()
        }))
    }

    /// Streams the object at `key` into the file at `path`; false when there is none.
    async fn download(&self, key: &str, path: &std::path::Path) -> Result<bool, String> {
        use futures::StreamExt;
        use tokio::io::AsyncWriteExt;
        let mut stream = match self.storage.get(key, None).await {
            Ok(object) => object.body,
            Err(StorageError::NotFound) => return Ok(false),
            Err(error) => return Err(format!("{key}: {error}")),
        };
        let mut file = tokio::fs::File::create(path)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("{key}: {e}"))?;
            file.write_all(&chunk)
                .await
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        file.flush().await.map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// Deletes a joined (or failed) recording's parts; a part already gone is fine.
    async fn delete_parts(&self, recording: &RecordingRow) -> Result<(), String> {
        if recording.segments <= 1 {
            return Ok(());
        }
        for part in self.part_keys(recording) {
            self.storage
                .delete(&part)
                .await
                .map_err(|e| format!("delete {part}: {e}"))?;
        }
        Ok(())
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
