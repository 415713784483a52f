//! `POST recordings/storage-hook/`: object-created events from the storage (MinIO,
//! RustFS, AWS S3 direct, SNS or EventBridge). Auth, status codes and bodies follow the
//! reference: bearer token (scheme case-insensitive, constant-time compare) → feature
//! flag → parse (403) → bucket (403) → key pattern (200 ignored) → recording (404) →
//! savable (403) → saved (200). A second event for a saved recording changes nothing.

use axum::{
    Json,
    body::Bytes,
    extract::{State, rejection::BytesRejection},
    http::{HeaderMap, StatusCode, header},
};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::{error::ApiError, openapi::HookMessage, views::ErrorView};
use crate::{
    adapters::storage::events::{self as storage_events, Parsed, Relevance},
    engine::completion::StorageEventResult,
    http::AppState,
};

const REALM: &str = "Bearer realm='Storage event API'";

fn unauthorized(detail: &str) -> ApiError {
    let mut error = ApiError::new(StatusCode::UNAUTHORIZED, "invalid-storage-token", detail);
    error.www_authenticate = Some(REALM);
    error
}

fn authorize(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    if !state.config.recording.enable_storage_event_auth {
        return Ok(());
    }
    let Some(expected) = &state.config.recording.storage_event_token else {
        return Err(unauthorized(
            "Storage event authentication is not configured.",
        ));
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or_else(|| unauthorized("Authentication credentials were not provided."))?;
    if bool::from(given.as_bytes().ct_eq(expected.expose_secret().as_bytes())) {
        Ok(())
    } else {
        Err(unauthorized("Invalid token."))
    }
}

#[utoipa::path(
    post,
    path = "/api/v1.0/recordings/storage-hook/",
    tag = "hooks",
    summary = "Object-created events from the storage (MinIO, RustFS, S3, SNS, EventBridge)",
    request_body(content = Object, description = "The storage's event, as RECORDING_STORAGE_EVENT_PARSER reads it.", content_type = "application/json"),
    security((), ("storage_token" = [])),
    responses(
        (status = 200, description = "Processed or ignored (an event that can never apply is answered 2xx too, so the storage does not re-send it).", body = HookMessage),
        (status = 401, description = "`invalid-storage-token`: with RECORDING_ENABLE_STORAGE_EVENT_AUTH, no bearer token or not STORAGE_EVENT_TOKEN.", body = ErrorView),
        (status = 403, description = "`invalid-storage-event`: not an event of the configured parser (`reason`). `invalid-bucket`: an event of another bucket.", body = ErrorView),
        (status = 404, description = "`not-found`: storage events are disabled (RECORDING_STORAGE_EVENT_ENABLE=false).", body = ErrorView),
    ),
)]
pub async fn storage_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    authorize(&state, &headers)?;
    if !state.config.recording.storage_event_enable {
        return Err(ApiError::feature_disabled());
    }
    let body = body.map_err(|rejection| {
        ApiError::new(
            rejection.status(),
            "body-too-large",
            "The request body is too large.",
        )
    })?;
    let invalid = |reason: String| {
        ApiError::forbidden("invalid-storage-event", "Invalid request data.").with("reason", reason)
    };
    let events = match storage_events::parse(state.config.recording.event_parser, &body) {
        Ok(Parsed::Objects(events)) => events,
        Ok(Parsed::SubscriptionConfirmation {
            topic_arn,
            subscribe_url,
        }) => {
            // We never fetch URLs from request bodies; the operator confirms by hand.
            tracing::warn!(%topic_arn, %subscribe_url, "SNS subscription confirmation received: open the SubscribeURL to confirm it");
            return Ok(Json(
                json!({"message": "Subscription confirmation logged for the operator."}),
            ));
        }
        Ok(Parsed::Ignored(reason)) => {
            tracing::debug!(reason, "storage event ignored");
            return Ok(Json(json!({"message": "Notification ignored."})));
        }
        Err(error) => return Err(invalid(error.to_string())),
    };
    let bucket = state
        .config
        .s3
        .as_ref()
        .map_or("meet-media-storage", |s3| s3.bucket.as_str());
    let mut processed = false;
    for event in events {
        let relevance =
            storage_events::classify(&event, bucket, &state.config.recording.output_folder)
                .map_err(|_| ApiError::forbidden("invalid-bucket", "Invalid bucket specified."))?;
        let Relevance::Recording { id, extension } = relevance else {
            continue;
        };
        // An event that can never apply is answered 2xx all the same: MinIO with a
        // `queue_dir` re-sends a refused event forever and holds back every later one.
        let Some(recording) = state.db.queries().recording(id).await? else {
            tracing::info!(recording = %id, "storage event for a recording we do not have");
            continue;
        };
        if extension != recording.mode.extension() {
            tracing::info!(recording = %id, %extension, "storage event for a file of another mode");
            continue;
        }
        match state
            .engine
            .completion
            .file_announced(&recording, event.size)
            .await?
        {
            StorageEventResult::Saved | StorageEventResult::AlreadySaved => processed = true,
            StorageEventResult::NotSavable(status) => {
                tracing::info!(recording = %id, %status, "storage event for a recording that cannot be saved");
            }
        }
    }
    if processed {
        Ok(Json(json!({"message": "Event processed."})))
    } else {
        Ok(Json(json!({"message": "Notification ignored."})))
    }
}
