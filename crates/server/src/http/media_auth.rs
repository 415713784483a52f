//! `GET recordings/media-auth/`: the nginx `auth_request` (ingress `auth-url`) check that
//! lets a recording's owners download its file straight from S3. nginx asks with the
//! browser's session and the URL it was asked for (`X-Original-URL`,
//! `/media/{RECORDING_OUTPUT_FOLDER}/{id}.{ext}`); we check it as the reference does (§2.6)
//! and answer 200 with SigV4 headers for `GET {AWS_S3_ENDPOINT_URL}/{bucket}/{key}`, which
//! nginx forwards to S3 while rewriting `/media/…` to `/{bucket}/…`. So the bytes never pass
//! through the service, and S3 credentials never reach the browser. Unlike the reference,
//! an expired recording is refused with 410 rather than served until the file disappears.

use std::sync::OnceLock;

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderName, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use meet_recorder_domain::Status;
use regex::Regex;
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::{error::ApiError, views::ErrorView};
use crate::{
    adapters::storage::sigv4::{self, SigningKey},
    http::AppState,
    http::auth::CurrentUser,
};

/// The path pattern of the reference, searched (not anchored) in the original URL's path.
/// Compiled once for the configured folder; another folder (a test's) gets its own.
fn media_pattern(folder: &str) -> Regex {
    static CACHE: OnceLock<(String, Regex)> = OnceLock::new();
    let build = || {
        Regex::new(&format!(
            r"/media/{}/(?P<recording_id>[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}})\.(?P<extension>[a-zA-Z0-9]{{1,10}})",
            regex::escape(folder)
        ))
        .expect("the media path pattern is a valid regex")
    };
    let (cached_folder, regex) = CACHE.get_or_init(|| (folder.to_owned(), build()));
    if cached_folder == folder {
        regex.clone()
    } else {
        build()
    }
}

/// The path of `X-Original-URL`, which may be an absolute URL or just a path.
fn original_path(original: &str) -> String {
    match url::Url::parse(original) {
        Ok(url) => url.path().to_owned(),
        Err(_) => original
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

fn denied(code: &'static str, detail: &str) -> ApiError {
    ApiError::forbidden(code, detail)
}

#[utoipa::path(
    get,
    path = "/api/v1.0/recordings/media-auth/",
    tag = "recordings",
    summary = "nginx `auth_request`: may the user download this file from S3?",
    params(("x-original-url" = String, Header, description = "The URL nginx was asked for: `/media/{RECORDING_OUTPUT_FOLDER}/{id}.{ext}`.")),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "Allowed: SigV4 headers (`Authorization`, `X-Amz-Date`, `X-Amz-Content-Sha256`) for nginx to forward to S3.", body = String),
        (status = 400, description = "`unsupported-extension`: not `.mp4` or `.ogg`.", body = ErrorView),
        (status = 403, description = "`media-url-missing`: no X-Original-URL. `media-url-invalid`: not a recording's media URL. `permission-denied`: not an owner of the recording. `recording-not-saved`: not saved yet.", body = ErrorView),
        (status = 404, description = "`media-auth-needs-s3`: the storage is not S3. `recording-not-found`: no such recording. `recording-extension-mismatch`: the recording has another extension.", body = ErrorView),
        (status = 410, description = "`recording-expired`: the recording expired.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn media_auth(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // Nothing to sign without a bucket: say so rather than fail every check below.
    let Some(s3) = state.config.s3.as_ref() else {
        return Err(ApiError::not_found(
            "media-auth-needs-s3",
            "Media authorization needs S3 storage (AWS_S3_ENDPOINT_URL); \
             recordings are not in a bucket.",
        ));
    };

    let original = headers
        .get("x-original-url")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| denied("media-url-missing", "The X-Original-URL header is missing."))?;
    let pattern = media_pattern(&state.config.recording.output_folder);
    let path = original_path(original);
    let captures = pattern.captures(&path).ok_or_else(|| {
        denied(
            "media-url-invalid",
            "The requested URL is not a recording's media URL.",
        )
    })?;
    let extension = &captures["extension"];
    if !matches!(extension, "ogg" | "mp4") {
        return Err(ApiError::bad_request(
            "unsupported-extension",
            "Unsupported extension.",
        ));
    }
    let id: Uuid = captures["recording_id"]
        .parse()
        .map_err(|_| denied("media-url-invalid", "The recording id is not a UUID."))?;

    let recording = state.db.queries().recording(id).await?.ok_or_else(|| {
        ApiError::not_found("recording-not-found", "No recording found for this event.")
    })?;
    if recording.mode.extension() != extension {
        return Err(ApiError::not_found(
            "recording-extension-mismatch",
            "No recording found with this extension.",
        ));
    }
    let role = state.db.recording_role(id, user.id).await?;
    if !role.is_some_and(|role| role.is_privileged()) {
        return Err(denied(
            "permission-denied",
            "You do not have permission to perform this action.",
        ));
    }
    // Checked before `is_saved` (an `expired` row is not saved) so the owner learns why.
    let past_expiry = state.config.recording.expiration_days.is_some_and(|days| {
        recording.created_at + i64::from(days) * 86_400_000 < crate::adapters::db::now_ms()
    });
    if recording.status == Status::Expired || past_expiry {
        return Err(ApiError::new(
            StatusCode::GONE,
            "recording-expired",
            "This recording has expired.",
        ));
    }
    if !recording.status.is_saved() {
        return Err(denied(
            "recording-not-saved",
            "This recording is not saved yet.",
        ));
    }

    let key = state.config.recording.key(recording.id, recording.mode);
    let url = url::Url::parse(&format!("{}/{}/{key}", s3.endpoint, s3.bucket))
        .map_err(ApiError::internal)?;
    let signed = sigv4::sign_request(
        &SigningKey {
            access_key_id: &s3.access_key_id,
            secret_access_key: s3.secret_access_key.expose_secret(),
            region: &s3.region,
        },
        "GET",
        &url,
        &[],
        b"",
        std::time::SystemTime::now(),
    )
    .map_err(ApiError::internal)?;
    let mut response = (StatusCode::OK, Json("authorized")).into_response();
    for (name, value) in signed {
        let name = HeaderName::try_from(name).map_err(ApiError::internal)?;
        let value = HeaderValue::try_from(value).map_err(ApiError::internal)?;
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pattern_is_searched_in_the_original_path() {
        let pattern = media_pattern("recordings");
        let id = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
        let path = original_path(&format!(
            "https://meet.example.com/media/recordings/{id}.mp4?x=1"
        ));
        let captures = pattern.captures(&path).unwrap();
        assert_eq!(&captures["recording_id"], id);
        assert_eq!(&captures["extension"], "mp4");
        // A bare path works too, and a prefix before /media/ is allowed (searched).
        assert!(
            pattern
                .captures(&original_path(&format!("/x/media/recordings/{id}.txt")))
                .is_some()
        );
        // Another folder, a missing id or an over-long extension does not match.
        assert!(
            pattern
                .captures(&format!("/media/other/{id}.mp4"))
                .is_none()
        );
        assert!(pattern.captures("/media/recordings/abc.mp4").is_none());
        assert!(
            pattern
                .captures(&format!("/media/recordings/{id}."))
                .is_none()
        );
        // The folder is a literal, not a pattern.
        assert!(
            media_pattern("rec.rdings")
                .captures(&format!("/media/recXrdings/{id}.mp4"))
                .is_none()
        );
    }
}
