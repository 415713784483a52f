//! `POST recordings/external-process-hook/`: the transcription service reports its job.
//! Bearer `SUMMARY_SERVICE_WEBHOOK_API_TOKEN`, always required; `{"job_id", "type"?,
//! "status"?, "url"?}`; 400 without `job_id` or with a `url` that is not an http(s) URL;
//! otherwise 200, even for an unknown job. Unlike the reference, only a saved recording
//! moves (to `external_process_successful` / `_failed`); `url`, where the transcript is,
//! is shown to the recording's owners.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use meet_recorder_domain::Event;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::{
    error::{ApiError, JsonBody},
    openapi::HookMessage,
    views::ErrorView,
};

/// The callback's body, as the document shows it; the handler reads it as JSON by hand,
/// ignoring what it does not know.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TranscriptionReport {
    /// The job id the service gave when the recording was handed over.
    #[schema(min_length = 1)]
    job_id: String,
    /// Only `transcript` reports change a recording.
    r#type: Option<String>,
    /// `success` or `failure`.
    status: Option<String>,
    /// Where the transcript is: an http(s) URL of at most 2048 characters.
    #[schema(max_length = 2048)]
    url: Option<String>,
}
use crate::{adapters::db::RecordingPatch, http::AppState};

#[utoipa::path(
    post,
    path = "/api/v1.0/recordings/external-process-hook/",
    tag = "hooks",
    summary = "The transcription service reports a job",
    request_body = TranscriptionReport,
    security(("transcription_token" = [])),
    responses(
        (status = 200, description = "Processed (also for an unknown job).", body = HookMessage),
        (status = 400, description = "`job-id-required`: no `job_id` (`job_id` says so). `invalid-url`: `url` is not an http(s) URL of at most 2048 characters.", body = ErrorView),
        (status = 401, description = "`invalid-token`: no bearer token, or not SUMMARY_SERVICE_WEBHOOK_API_TOKEN (also when none is configured).", body = ErrorView),
    ),
)]
pub async fn external_process_hook(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<JsonBody<Value>, ApiError>,
) -> Result<Json<Value>, ApiError> {
    let expected = state
        .config
        .transcription
        .as_ref()
        .and_then(|t| t.webhook_token.as_ref());
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let authorized = match (expected, given) {
        (Some(expected), Some(given)) => {
            bool::from(given.as_bytes().ct_eq(expected.expose_secret().as_bytes()))
        }
        _ => false,
    };
    if !authorized {
        let mut error = ApiError::new(StatusCode::UNAUTHORIZED, "invalid-token", "Invalid token.");
        error.www_authenticate = Some("Bearer");
        return Err(error);
    }
    let JsonBody(body) = body?;
    let Some(job_id) = body
        .get("job_id")
        .and_then(Value::as_str)
        .filter(|j| !j.is_empty())
    else {
        return Err(
            ApiError::bad_request("job-id-required", "job_id is required.")
                .with("job_id", json!(["This field is required."])),
        );
    };
    let transcript_url = match body.get("url") {
        None | Some(Value::Null) => None,
        Some(Value::String(url)) if is_web_url(url) => Some(url.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid-url",
                "url must be an http or https URL of at most 2048 characters.",
            ));
        }
    };
    let processed = Json(json!({"message": "Event processed."}));
    if body.get("type").and_then(Value::as_str) != Some("transcript") {
        return Ok(processed);
    }
    let success = match body.get("status").and_then(Value::as_str) {
        Some("success") => true,
        Some("failure") => false,
        _ => return Ok(processed),
    };
    let Some(recording) = state.db.recording_by_external_process(job_id).await? else {
        tracing::info!(%job_id, "transcription callback for an unknown job");
        return Ok(processed);
    };
    state
        .engine
        .lifecycle
        .apply(
            recording.id,
            Event::ExternalProcessFinished { success },
            RecordingPatch {
                transcript_url,
                ..Default::default()
            },
        )
        .await?;
    Ok(processed)
}

/// An absolute http(s) URL the recording page may link to.
fn is_web_url(value: &str) -> bool {
    value.len() <= 2048
        && url::Url::parse(value)
            .is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.host_str().is_some())
}
