//! Front-end configuration, health and readiness, and the catch-alls.

use std::any::Any;

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};

use super::{
    error::ApiError,
    views::{
        ConfigView, DemoAccountView, LiveKitConfigView, RecordingConfigView, RoomMedia,
        SignInConfigView,
    },
};
use crate::http::AppState;

/// `GET config/`: what the front end needs to show recording controls.
#[utoipa::path(
    get,
    path = "/api/v1.0/config/",
    tag = "system",
    summary = "What the front end needs: recording, LiveKit, dev mode",
    security(()),
    responses(
        (status = 200, description = "The configuration.", body = ConfigView),
    ),
)]
pub async fn config(State(state): State<AppState>) -> Json<ConfigView> {
    let recording = &state.config.recording;
    Json(ConfigView {
        recording: RecordingConfigView {
            is_enabled: recording.enable,
            available_modes: recording.available_modes(),
            expiration_days: recording.expiration_days,
            max_duration: recording.max_duration_ms,
            layouts: meet_recorder_domain::Layout::ALL,
            default_layout: recording.layout_default,
            transcription_service: state.config.transcription.is_some(),
            can_pause: crate::adapters::media_tools::available(),
        },
        livekit: LiveKitConfigView {
            url: state.livekit.public_url().to_owned(),
        },
        // The emulator has no media: pages then show a simulated presence instead of
        // connecting to LiveKit.
        room_media: if state.dev.is_some() {
            RoomMedia::Simulated
        } else {
            RoomMedia::Livekit
        },
        sign_in: SignInConfigView {
            password: state.config.password_sign_in,
            identity_provider: state.identity_provider.is_some(),
        },
        demo: state.dev.as_ref().map(|dev| DemoAccountView {
            email: dev.demo_email,
            password: dev.demo_password,
        }),
    })
}

/// Prometheus metrics.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let text = state.engine.metrics.render(&state.db).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        text,
    )
        .into_response())
}

/// Liveness: the process answers.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.db.is_ready().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
    }
}

pub async fn not_found() -> ApiError {
    ApiError::not_found("not-found", "Not found.")
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed.",
    )
}

/// A handler panic becomes a plain 500 in our format, never a dropped connection.
pub fn panic_response(_panic: Box<dyn Any + Send + 'static>) -> Response {
    ApiError::internal("handler panicked").into_response()
}
