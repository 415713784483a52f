//! Outbound webhooks: each status change that [`meet_recorder_domain::announced_as`]
//! names is announced to every configured endpoint (`MEET_RECORDER_WEBHOOK_URLS`) as a
//! Standard Webhooks message whose body is `{"type", "timestamp", "data": recording}`.
//!
//! The messages are jobs enqueued in the transaction of the move, so a crash loses none;
//! the jobs about one recording to one endpoint run in order (a job sequence), each
//! retried with backoff until it is delivered or dead (`meet-recorder jobs list --dead`,
//! `jobs retry ID`); a dead one no longer holds back the next.

use std::sync::Arc;

use meet_recorder_domain::{Status, announced_as};
use serde_json::json;
use uuid::Uuid;

use crate::{
    adapters::{
        db::{Db, RecordingRow},
        outbound_webhooks::WebhookSender,
    },
    config::Config,
    engine::jobs::{Job, Outcome},
};

pub struct Announcements {
    config: Arc<Config>,
    sender: WebhookSender,
}

impl Announcements {
    pub fn new(config: Arc<Config>) -> Self {
        Self {
            config,
            sender: WebhookSender::new(),
        }
    }

    /// The `deliver_webhook` job. A message for an endpoint no longer configured is
    /// dropped.
    pub async fn deliver(&self, url: &str, id: &str, body: &str) -> Outcome {
        let Some(endpoint) = self.config.webhooks.iter().find(|e| e.url == url) else {
            tracing::warn!(%url, %id, "a webhook for an endpoint no longer configured is dropped");
            return Outcome::Done;
        };
        match self.sender.deliver(endpoint, id, body).await {
            Ok(()) => Outcome::Done,
            Err(error) => Outcome::Retry(error),
        }
    }
}

/// Enqueues, in the caller's transaction (the move's, which holds the recording's lock and
/// so orders its messages), one message per endpoint announcing the move from `from` to
/// the recording's status. Returns whether anything was enqueued.
pub async fn announce(
    config: &Config,
    db: &Db,
    tx: &mut sqlx::AnyConnection,
    from: Status,
    recording: &RecordingRow,
) -> Result<bool, sqlx::Error> {
    let Some(kind) = announced_as(from, recording.status) else {
        return Ok(false);
    };
    if config.webhooks.is_empty() {
        return Ok(false);
    }
    let id = format!("msg_{}", Uuid::new_v4().simple());
    let body = json!({
        "type": kind,
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "data": recording_json(config, recording),
    })
    .to_string();
    for endpoint in &config.webhooks {
        let job = Job::DeliverWebhook {
            url: endpoint.url.clone(),
            id: id.clone(),
            body: body.clone(),
        };
        db.on(&mut *tx)
            .enqueue_job_in_sequence(
                job.kind(),
                &job.payload(),
                &job.dedupe_key(),
                config.jobs.max_attempts,
                &format!("webhook:{}:{}", endpoint.url, recording.id),
            )
            .await?;
    }
    Ok(true)
}

/// The recording as announced: what the API shows of it, with a link to its page.
fn recording_json(config: &Config, recording: &RecordingRow) -> serde_json::Value {
    let iso = |ms: Option<i64>| {
        ms.and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
    };
    json!({
        "id": recording.id,
        "room": {
            "id": recording.room_id,
            "name": recording.room_name,
            "slug": recording.room_slug,
        },
        "mode": recording.mode.as_str(),
        "status": recording.status.as_str(),
        "layout": recording.layout.map(|l| l.as_str()),
        "created_at": iso(Some(recording.created_at)),
        "started_at": iso(recording.started_at),
        "stopped_at": iso(recording.stopped_at),
        "duration_ms": recording.duration_ms,
        "size_bytes": recording.size_bytes,
        "stop_reason": recording.stop_reason,
        "error": recording.error,
        "url": format!("{}/recording/{}", config.public_url.trim_end_matches('/'), recording.id),
    })
}
