//! Background jobs: what the queue holds ([`Job`], typed, stored as a kind and a JSON
//! payload) and what running one can come to ([`Outcome`]). The runner is
//! [`crate::engine::runner`].

use meet_recorder_domain::Notification;
use serde_json::{Value, json};
use uuid::Uuid;

/// The stored kind of [`Job::ConfirmRecording`].
pub const CONFIRM_RECORDING: &str = "confirm_recording";
/// The stored kind of [`Job::NotifyOwners`].
pub const NOTIFY_OWNERS: &str = "notify_owners";
/// The stored kind of [`Job::Transcribe`].
pub const TRANSCRIBE: &str = "transcribe";
/// The stored kind of [`Job::DeleteFile`].
pub const DELETE_FILE: &str = "delete_file";
/// The stored kind of [`Job::AutoRecord`].
pub const AUTO_RECORD: &str = "auto_record";
/// The stored kind of [`Job::JoinSegments`].
pub const JOIN_SEGMENTS: &str = "join_segments";
/// The stored kind of [`Job::DeliverWebhook`].
pub const DELIVER_WEBHOOK: &str = "deliver_webhook";
/// The stored kind of [`Job::ReviewPublishing`].
pub const REVIEW_PUBLISHING: &str = "review_publishing";

/// A background job: its kind names the variant (the `kind` column), its fields are the
/// JSON payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Confirm that a finished recording's file is in storage; `{"recording_id"}`.
    ConfirmRecording { recording_id: Uuid },
    /// Email a recording's owners; `{"recording_id", "kind": "ready" | "failed"}`.
    NotifyOwners {
        recording_id: Uuid,
        notification: Notification,
    },
    /// Join the egress segments of a recording that was paused into its one file, then
    /// confirm it; `{"recording_id"}`.
    JoinSegments { recording_id: Uuid },
    /// Hand a saved recording to the transcription service; `{"recording_id"}`.
    Transcribe { recording_id: Uuid },
    /// Delete an object whose recording row is gone (its room was deleted); `{"key"}`.
    DeleteFile { key: String },
    /// Start or stop a room's auto-recorded modes, because someone joined an empty room or
    /// the last one left; `{"room_id", "action": "start" | "stop", "trigger"}` (the webhook
    /// that asked, so each asks once).
    AutoRecord {
        room_id: Uuid,
        action: AutoRecordAction,
        trigger: String,
    },
    /// Grant or withdraw publishing in a room that asks (or asked) for consent, so that
    /// exactly those who accepted what it records publish; `{"room_id", "trigger"}` (what
    /// changed: a recording's move, a join, the setting).
    ReviewPublishing { room_id: Uuid, trigger: String },
    /// Send one outbound webhook message to one endpoint; `{"url", "id", "body"}`: the
    /// message id and the exact body, signed anew at each attempt. Runs after the earlier
    /// messages about the same recording to the same endpoint.
    DeliverWebhook {
        url: String,
        id: String,
        body: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRecordAction {
    Start,
    Stop,
}

impl AutoRecordAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AutoRecordAction::Start => "start",
            AutoRecordAction::Stop => "stop",
        }
    }
}

impl Job {
    pub fn kind(&self) -> &'static str {
        match self {
            Job::ConfirmRecording { .. } => CONFIRM_RECORDING,
            Job::NotifyOwners { .. } => NOTIFY_OWNERS,
            Job::Transcribe { .. } => TRANSCRIBE,
            Job::JoinSegments { .. } => JOIN_SEGMENTS,
            Job::DeleteFile { .. } => DELETE_FILE,
            Job::AutoRecord { .. } => AUTO_RECORD,
            Job::ReviewPublishing { .. } => REVIEW_PUBLISHING,
            Job::DeliverWebhook { .. } => DELIVER_WEBHOOK,
        }
    }

    pub fn payload(&self) -> Value {
        match self {
            Job::ConfirmRecording { recording_id }
            | Job::Transcribe { recording_id }
            | Job::JoinSegments { recording_id } => {
                json!({ "recording_id": recording_id })
            }
            Job::NotifyOwners {
                recording_id,
                notification,
            } => json!({ "recording_id": recording_id, "kind": notification.as_str() }),
            Job::DeleteFile { key } => json!({ "key": key }),
            Job::AutoRecord {
                room_id,
                action,
                trigger,
            } => json!({ "room_id": room_id, "action": action.as_str(), "trigger": trigger }),
            Job::ReviewPublishing { room_id, trigger } => {
                json!({ "room_id": room_id, "trigger": trigger })
            }
            Job::DeliverWebhook { url, id, body } => json!({ "url": url, "id": id, "body": body }),
        }
    }

    /// At most one such job per recording (and notification) is ever enqueued.
    pub fn dedupe_key(&self) -> String {
        match self {
            Job::ConfirmRecording { recording_id } => format!("confirm:{recording_id}"),
            Job::NotifyOwners {
                recording_id,
                notification,
            } => format!("notify:{}:{recording_id}", notification.as_str()),
            Job::Transcribe { recording_id } => format!("transcribe:{recording_id}"),
            Job::JoinSegments { recording_id } => format!("join:{recording_id}"),
            Job::DeleteFile { key } => format!("delete:{key}"),
            Job::AutoRecord {
                room_id,
                action,
                trigger,
            } => format!("auto-record:{}:{room_id}:{trigger}", action.as_str()),
            Job::ReviewPublishing { room_id, trigger } => {
                format!("review-publishing:{room_id}:{trigger}")
            }
            Job::DeliverWebhook { url, id, .. } => format!("webhook:{id}:{url}"),
        }
    }

    /// The job a stored row holds.
    pub fn parse(kind: &str, payload: &Value) -> Result<Self, String> {
        if kind == DELETE_FILE {
            let key = payload["key"]
                .as_str()
                .filter(|key| !key.is_empty())
                .ok_or_else(|| format!("payload has no key: {payload}"))?;
            return Ok(Job::DeleteFile {
                key: key.to_owned(),
            });
        }
        let room_id = || {
            payload["room_id"]
                .as_str()
                .and_then(|id| id.parse::<Uuid>().ok())
                .ok_or_else(|| format!("payload has no room_id: {payload}"))
        };
        let trigger = || payload["trigger"].as_str().unwrap_or_default().to_owned();
        if kind == DELIVER_WEBHOOK {
            let field = |name: &str| {
                payload[name]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("payload has no {name}: {payload}"))
            };
            return Ok(Job::DeliverWebhook {
                url: field("url")?,
                id: field("id")?,
                body: field("body")?,
            });
        }
        if kind == REVIEW_PUBLISHING {
            return Ok(Job::ReviewPublishing {
                room_id: room_id()?,
                trigger: trigger(),
            });
        }
        if kind == AUTO_RECORD {
            let room_id = room_id()?;
            let action = match payload["action"].as_str() {
                Some("start") => AutoRecordAction::Start,
                Some("stop") => AutoRecordAction::Stop,
                _ => return Err(format!("payload has no action: {payload}")),
            };
            return Ok(Job::AutoRecord {
                room_id,
                action,
                trigger: trigger(),
            });
        }
        let recording_id = payload["recording_id"]
            .as_str()
            .and_then(|id| id.parse::<Uuid>().ok())
            .ok_or_else(|| format!("payload has no recording_id: {payload}"))?;
        Ok(match kind {
            CONFIRM_RECORDING => Job::ConfirmRecording { recording_id },
            NOTIFY_OWNERS => Job::NotifyOwners {
                recording_id,
                notification: match payload["kind"].as_str() {
                    Some("failed") => Notification::Failed,
                    _ => Notification::Ready,
                },
            },
            TRANSCRIBE => Job::Transcribe { recording_id },
            JOIN_SEGMENTS => Job::JoinSegments { recording_id },
            other => return Err(format!("unknown job kind {other:?}")),
        })
    }
}

/// What a job's work says about the job.
#[derive(Debug)]
pub enum Outcome {
    Done,
    /// Try again later (counts an attempt).
    Retry(String),
    /// Give up now: the job is dead.
    Abort(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_round_trip_through_their_stored_form() {
        let recording_id = Uuid::new_v4();
        for job in [
            Job::ConfirmRecording { recording_id },
            Job::NotifyOwners {
                recording_id,
                notification: Notification::Failed,
            },
            Job::Transcribe { recording_id },
            Job::JoinSegments { recording_id },
            Job::DeleteFile {
                key: "recordings/x.mp4".into(),
            },
            Job::AutoRecord {
                room_id: recording_id,
                action: AutoRecordAction::Stop,
                trigger: "EV_1".into(),
            },
            Job::ReviewPublishing {
                room_id: recording_id,
                trigger: "EV_2".into(),
            },
            Job::DeliverWebhook {
                url: "https://hooks.example/in".into(),
                id: "msg_1".into(),
                body: "{}".into(),
            },
        ] {
            assert_eq!(Job::parse(job.kind(), &job.payload()), Ok(job.clone()));
        }
        assert!(Job::parse("teleport", &json!({"recording_id": recording_id})).is_err());
        assert!(Job::parse(CONFIRM_RECORDING, &json!({})).is_err());
    }
}
