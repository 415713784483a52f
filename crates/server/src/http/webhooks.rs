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
use livekit_api::webhooks::WebhookError;
use serde_json::{Value, json};

use super::error::ApiError;
use crate::app::AppState;

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
            tracing::warn!(%error, "rejected a LiveKit webhook");
            state.recorder.metrics.webhook("rejected");
            return Err(unauthorized("The webhook signature is not valid."));
        }
    };
    tracing::debug!(event = %event.event, id = %event.id, "LiveKit webhook");
    let result = state.recorder.handle_webhook(event).await?;
    state.recorder.metrics.webhook(result);
    Ok(Json(json!({"status": "success"})))
}
