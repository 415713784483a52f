//! Serving a recording's file: `GET recordings/{id}/media/` for its owners, and (through
//! [`serve_file`]) share links. The file is streamed from storage chunk by chunk, so memory
//! stays flat whatever its size, with HTTP Range (206, suffix and open-ended ranges, 416),
//! `ETag` / `If-None-Match`, the right content type and `Content-Disposition` (inline, or
//! attachment with `?download=1`). With `RECORDING_MEDIA_REDIRECT=true` and S3 storage,
//! the answer is instead a redirect to a short-lived presigned URL.

use std::time::Duration;

use axum::{
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures::StreamExt;
use serde::Deserialize;

use super::{error::ApiError, error::QueryParams, recordings::load_recording, views::ErrorView};
use crate::{
    adapters::db::RecordingRow,
    adapters::storage::{ByteRange, StorageError},
    http::AppState,
    http::auth::CurrentUser,
};

/// How long a redirect's presigned URL stays valid.
const REDIRECT_TTL: Duration = Duration::from_secs(300);

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MediaQuery {
    /// `1`, `true` or `yes`: as an attachment (`Content-Disposition`), else inline.
    #[serde(default)]
    download: Option<String>,
}

impl MediaQuery {
    pub fn wants_download(&self) -> bool {
        matches!(self.download.as_deref(), Some("1" | "true" | "yes"))
    }
}

#[utoipa::path(
    get,
    path = "/api/v1.0/recordings/{id}/media/",
    tag = "recordings",
    summary = "A saved recording's file, whole or by range",
    params(("id" = String, Path, description = "The recording's id."), MediaQuery, ("range" = Option<String>, Header, description = "One byte range: `bytes=0-99`, `bytes=100-`, `bytes=-100`; others are served whole."), ("if-none-match" = Option<String>, Header, description = "The file's `ETag`: 304 when unchanged.")),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The file (`video/mp4` or `audio/ogg`).", content((Vec<u8> = "video/mp4"), (Vec<u8> = "audio/ogg"))),
        (status = 206, description = "The range asked for (`Content-Range`).", content((Vec<u8> = "video/mp4"), (Vec<u8> = "audio/ogg"))),
        (status = 302, description = "With RECORDING_MEDIA_REDIRECT and S3 storage: a short-lived presigned URL (`Location`)."),
        (status = 304, description = "Unchanged since the `If-None-Match` ETag."),
        (status = 404, description = "`recording-not-found`: no such recording, or not one of the user's. `recording-file-missing`: the file is not in storage.", body = ErrorView),
        (status = 409, description = "`recording-not-ready`: the recording is not saved yet.", body = ErrorView),
        (status = 410, description = "`recording-expired`: the recording expired and its file was deleted.", body = ErrorView),
        (status = 416, description = "`range-not-satisfiable`: the range starts past the end (`Content-Range: bytes */size`).", body = ErrorView),
        (status = 502, description = "`storage-unavailable`: the file cannot be read right now.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn media(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
    QueryParams(query): QueryParams<MediaQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (recording, _) = load_recording(&state, &id, user.id).await?;
    serve_file(&state, &recording, &headers, query.wants_download()).await
}

/// Parses a `Range` header. `None` for anything we serve whole: no header, another unit,
/// several ranges, or a syntax error (RFC 9110 lets a server ignore those).
pub fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    match (start.is_empty(), end.is_empty()) {
        (true, false) => end.parse().ok().map(ByteRange::Suffix),
        (false, true) => start.parse().ok().map(ByteRange::From),
        (false, false) => {
            let start: u64 = start.parse().ok()?;
            let end: u64 = end.parse().ok()?;
            (start <= end).then_some(ByteRange::Bounded {
                start,
                end_inclusive: end,
            })
        }
        (true, true) => None,
    }
}

/// A file name for `Content-Disposition`: the room slug and the recording's date.
fn file_name(recording: &RecordingRow) -> String {
    let date = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(recording.created_at)
        .unwrap_or_default()
        .format("%Y-%m-%d-%H%M");
    let slug: String = recording
        .room_slug
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(60)
        .collect();
    format!("{slug}-{date}.{}", recording.mode.extension())
}

/// A recording's file can be served (or shared) once saved and until it expires:
/// 410 once expired, 409 before it is saved (with `not_ready` as the detail).
pub fn ensure_servable(
    state: &AppState,
    recording: &RecordingRow,
    not_ready: &str,
) -> Result<(), ApiError> {
    if state.engine.expiry.is_expired(recording) {
        return Err(ApiError::new(
            StatusCode::GONE,
            "recording-expired",
            "This recording has expired and its file was deleted.",
        ));
    }
    if !recording.status.is_saved() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "recording-not-ready",
            not_ready,
        ));
    }
    Ok(())
}

/// Streams a saved, unexpired recording's file. 409 before it is saved, 410 once expired.
pub async fn serve_file(
    state: &AppState,
    recording: &RecordingRow,
    headers: &HeaderMap,
    download: bool,
) -> Result<Response, ApiError> {
    ensure_servable(state, recording, "This recording is not available yet.")?;
    let key = state.config.recording.key(recording.id, recording.mode);
    let storage = &state.storage;
    let unavailable = |error: StorageError| match error {
        StorageError::NotFound => ApiError::not_found(
            "recording-file-missing",
            "The recording file is missing from storage.",
        ),
        other => {
            tracing::warn!(%key, error = %other, "storage error while serving a recording");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "storage-unavailable",
                "The recording file cannot be read right now.",
            )
        }
    };

    if state.config.recording.media_redirect
        && let Some(url) = storage
            .presigned_get(&key, REDIRECT_TTL)
            .await
            .map_err(unavailable)?
    {
        let mut response = StatusCode::FOUND.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::LOCATION,
            HeaderValue::from_str(url.as_str()).map_err(ApiError::internal)?,
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok(response);
    }

    let info = storage.head(&key).await.map_err(unavailable)?;
    if let (Some(e_tag), Some(wanted)) = (&info.e_tag, headers.get(header::IF_NONE_MATCH))
        && wanted
            .to_str()
            .is_ok_and(|w| w.split(',').any(|t| t.trim() == e_tag || t.trim() == "*"))
    {
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response.headers_mut().insert(
            header::ETAG,
            HeaderValue::from_str(e_tag).map_err(ApiError::internal)?,
        );
        return Ok(response);
    }
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    let stream = match storage.get(&key, range).await {
        Ok(stream) => stream,
        Err(StorageError::RangeNotSatisfiable { size }) => {
            let mut response = ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range-not-satisfiable",
                "The requested range is outside the file.",
            )
            .into_response();
            response.headers_mut().insert(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{size}")).map_err(ApiError::internal)?,
            );
            return Ok(response);
        }
        Err(error) => return Err(unavailable(error)),
    };

    let content_type = stream
        .info
        .content_type
        .clone()
        .filter(|t| t.starts_with("video/") || t.starts_with("audio/"))
        .unwrap_or_else(|| match recording.mode {
            meet_recorder_domain::Mode::ScreenRecording => "video/mp4".into(),
            meet_recorder_domain::Mode::Transcript => "audio/ogg".into(),
        });
    let disposition = format!(
        "{}; filename=\"{}\"",
        if download { "attachment" } else { "inline" },
        file_name(recording)
    );
    let length = stream.content_length();
    let status = if stream.range.is_some() {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let mut response_headers = vec![
        (header::CONTENT_TYPE, content_type),
        (header::CONTENT_LENGTH, length.to_string()),
        (header::ACCEPT_RANGES, "bytes".to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, "private, max-age=0".to_owned()),
        (
            header::LAST_MODIFIED,
            stream
                .info
                .last_modified
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        ),
    ];
    if let Some((start, end)) = stream.range {
        response_headers.push((
            header::CONTENT_RANGE,
            format!("bytes {start}-{end}/{}", stream.info.size),
        ));
    }
    if let Some(e_tag) = &stream.info.e_tag {
        response_headers.push((header::ETAG, e_tag.clone()));
    }
    let body = Body::from_stream(
        stream
            .body
            .map(|chunk| chunk.map_err(std::io::Error::other)),
    );
    let mut response = (status, body).into_response();
    for (name, value) in response_headers {
        response.headers_mut().insert(
            name,
            HeaderValue::from_str(&value).map_err(ApiError::internal)?,
        );
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_headers_parse_like_http() {
        assert_eq!(
            parse_range("bytes=0-99"),
            Some(ByteRange::Bounded {
                start: 0,
                end_inclusive: 99
            })
        );
        assert_eq!(parse_range("bytes=100-"), Some(ByteRange::From(100)));
        assert_eq!(parse_range("bytes=-500"), Some(ByteRange::Suffix(500)));
        for ignored in [
            "bytes=5-1",
            "items=0-1",
            "bytes=0-1,5-6",
            "bytes=-",
            "bytes=a-b",
            "",
        ] {
            assert_eq!(parse_range(ignored), None, "{ignored}");
        }
    }
}
