//! `POST rooms/webhooks-livekit/`: LiveKit webhooks, verified on the raw bytes (the JWT in
//! `Authorization` and the body's SHA-256) before anything is parsed. Forged, tampered
//! or expired requests get 401 and change nothing; unknown egresses and event names get
//! 200 so LiveKit does not retry them forever; a database failure gets 500 so it does.

use axum::{
    Json,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use livekit_api::webhooks::WebhookError;
use serde_json::{Value, json};

use super::{error::ApiError, openapi::WebhookStatus, views::ErrorView};
use crate::http::AppState;

/// Logs rejected webhooks at most once per [`REJECTION_LOG_INTERVAL`], with how many
/// there were: a flood of forged requests must not become a flood of log lines (they are
/// all counted in `meet_recorder_webhooks_total{result="rejected"}`).
struct RejectionLog {
    since_last: AtomicU64,
    last_logged_ms: AtomicI64,
}

const REJECTION_LOG_INTERVAL_MS: i64 = 10_000;

static REJECTIONS: RejectionLog = RejectionLog {
    since_last: AtomicU64::new(0),
    last_logged_ms: AtomicI64::new(0),
};

impl RejectionLog {
    /// Counts one rejection; logs (and returns `true`) when the interval has passed.
    fn note(&self, error: &WebhookError) -> bool {
        self.note_at(error, crate::adapters::db::now_ms())
    }

    fn note_at(&self, error: &WebhookError, now: i64) -> bool {
        let count = self.since_last.fetch_add(1, Ordering::Relaxed) + 1;
        let last = self.last_logged_ms.load(Ordering::Relaxed);
        if now - last < REJECTION_LOG_INTERVAL_MS
            || self
                .last_logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        self.since_last.fetch_sub(count, Ordering::Relaxed);
        tracing::warn!(
            rejected = count,
            last_reason = rejection_reason(error),
            "rejected LiveKit webhooks: not signed with our API key and secret, or altered"
        );
        true
    }
}

/// What was wrong with a rejected webhook, in words that fit it (the crate's own
/// messages speak of encoding JWTs).
fn rejection_reason(error: &WebhookError) -> &'static str {
    match error {
        WebhookError::InvalidSignature => "the body does not match the token's sha256 claim",
        WebhookError::InvalidBase64(_) => "the token's sha256 claim is not base64",
        WebhookError::InvalidAuth(_) => {
            "the Authorization token is not a valid JWT signed with our key"
        }
        WebhookError::InvalidData(_) => "the body is not a LiveKit event",
    }
}

#[utoipa::path(
    post,
    path = "/api/v1.0/rooms/webhooks-livekit/",
    tag = "hooks",
    summary = "LiveKit's webhooks (egress and room events)",
    request_body(content = Object, description = "A LiveKit `WebhookEvent` in protobuf JSON.", content_type = "application/webhook+json"),
    security(("livekit_webhook" = [])),
    responses(
        (status = 200, description = "Taken (also for events and egresses the service does not know, so LiveKit does not retry them).", body = WebhookStatus),
        (status = 400, description = "`invalid-webhook-body`: signed, but not a LiveKit event (`status`: `error`).", body = ErrorView),
        (status = 401, description = "`invalid-webhook-signature`: no Authorization, or a token not signed with our key or not matching the body (`status`: `error`).", body = ErrorView),
    ),
)]
pub async fn livekit(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let unauthorized = |detail: &str| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid-webhook-signature",
            detail,
        )
        .with("status", "error")
    };
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| unauthorized("The Authorization header is missing."))?;
    let body = body.map_err(|rejection| {
        ApiError::new(
            rejection.status(),
            "body-too-large",
            "The request body is too large.",
        )
        .with("status", "error")
    })?;
    // A body that is not UTF-8 changes when made text, so it fails the signature check
    // (401) like any other tampered body.
    let body = String::from_utf8_lossy(&body);
    let event = match state.livekit.verify_webhook(&body, authorization) {
        Ok(event) => event,
        Err(WebhookError::InvalidData(error)) => {
            return Err(ApiError::bad_request(
                "invalid-webhook-body",
                format!("The webhook body is not a LiveKit event: {error}"),
            )
            .with("status", "error"));
        }
        Err(error) => {
            state.engine.metrics.webhook("rejected");
            let _ = REJECTIONS.note(&error);
            return Err(unauthorized("The webhook signature is not valid."));
        }
    };
    tracing::debug!(event = %event.event, id = %event.id, "LiveKit webhook");
    let result = state.engine.webhooks.handle_webhook(event).await?;
    state.engine.metrics.webhook(result);
    Ok(Json(json!({"status": "success"})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_forged_webhooks_logs_one_line_per_interval() {
        let log = RejectionLog {
            since_last: AtomicU64::new(0),
            last_logged_ms: AtomicI64::new(0),
        };
        let error = WebhookError::InvalidSignature;
        let start = 1_000_000;
        let logged = (0..2000).filter(|n| log.note_at(&error, start + n)).count();
        assert_eq!(logged, 1, "2,000 forged requests within 2 s: one line");
        assert!(log.note_at(&error, start + REJECTION_LOG_INTERVAL_MS + 1));
    }
}
