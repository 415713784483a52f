//! Recordings: start and stop on a room, list, retrieve, delete. Bodies, status codes and
//! check order (auth → feature flag → body → object → permission) follow the reference.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use chrono::{DateTime, Utc};
use meet_recorder_domain::{
    Layout, Mode, RecordingAbilities, RecordingOptions, Role, TranscriptState,
};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::{
    error::{ApiError, JsonBody, QueryParams},
    rooms::load_room,
    views::{
        ErrorView, LayoutTs, ModeTs, PageView, RecordingMessageView, RecordingRoomView,
        RecordingView, TranscriptView,
    },
};
use crate::{
    adapters::{
        db::{RecordingRow, RoomRow, UserRow},
        media_tools,
    },
    engine::control::{PauseError, StartError, StopError},
    http::AppState,
    http::auth::CurrentUser,
};

const PAGE_SIZE: i64 = 20;
const MAX_PAGE_SIZE: i64 = 100;

pub fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// `?page=` and `?page_size=` (≤ 100), as the reference paginates.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// From 1.
    #[param(value_type = Option<i64>, minimum = 1)]
    page: Option<String>,
    /// A whole number from 1: 20 by default, at most 100 (a larger size gives 100). As the
    /// reference does, a size that is not such a number is ignored (20): hence a string.
    #[param(value_type = Option<String>)]
    page_size: Option<String>,
}

impl Page {
    fn number(&self) -> Result<i64, ApiError> {
        match &self.page {
            None => Ok(1),
            Some(p) => p
                .parse::<i64>()
                .ok()
                .filter(|p| *p >= 1)
                .ok_or_else(invalid_page),
        }
    }

    fn size(&self) -> i64 {
        self.page_size
            .as_deref()
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|s| *s >= 1)
            .map_or(PAGE_SIZE, |s| s.min(MAX_PAGE_SIZE))
    }

    /// `(limit, offset)` for the query. A page whose offset does not fit in 64 bits is
    /// past the end of any list: 404 "Invalid page." like any page past the end, never an
    /// overflow (a panic in debug builds, a negative `OFFSET` PostgreSQL refuses in release).
    pub fn limits(&self) -> Result<(i64, i64), ApiError> {
        let offset = (self.number()? - 1)
            .checked_mul(self.size())
            .ok_or_else(invalid_page)?;
        Ok((self.size(), offset))
    }
}

fn invalid_page() -> ApiError {
    ApiError::not_found("invalid-page", "Invalid page.")
}

/// `{"count", "next", "previous", "results"}`; a page past the end is 404 "Invalid page."
pub fn paginate<T>(
    state: &AppState,
    path: &str,
    page: &Page,
    count: i64,
    results: Vec<T>,
) -> Result<PageView<T>, ApiError> {
    let number = page.number()?;
    let size = page.size();
    let last = ((count + size - 1) / size).max(1);
    if number > last {
        return Err(invalid_page());
    }
    let link = |n: i64| {
        let mut url = format!("{}/api/v1.0/{path}?page={n}", state.config.public_url);
        if page.page_size.is_some() {
            url.push_str(&format!("&page_size={size}"));
        }
        url
    };
    Ok(PageView {
        count,
        next: (number < last).then(|| link(number + 1)),
        previous: (number > 1).then(|| link(number - 1)),
        results,
    })
}

pub fn recording_view(
    state: &AppState,
    recording: &RecordingRow,
    role: Option<Role>,
) -> RecordingView {
    RecordingView {
        id: recording.id,
        room: RecordingRoomView {
            id: recording.room_id,
            name: recording.room_name.clone(),
            slug: recording.room_slug.clone(),
            access_level: recording.room_access_level.clone(),
        },
        created_at: iso(recording.created_at),
        updated_at: iso(recording.updated_at),
        status: recording.status,
        mode: recording.mode,
        layout: recording.layout,
        options: recording.options.clone(),
        key: state.config.recording.key(recording.id, recording.mode),
        is_expired: state.engine.expiry.is_expired(recording),
        expired_at: state.engine.expiry.expires_at(recording).map(iso),
        stop_reason: recording.stop_reason.clone(),
        duration_ms: recording.duration_ms,
        size_bytes: recording.size_bytes,
        worker_id: recording.worker_id.clone(),
        abilities: RecordingAbilities::of(role, recording.status).into(),
        transcript: state
            .engine
            .lifecycle
            .wants_transcript(recording)
            .then(|| TranscriptState::of(recording.status, recording.external_process_id.is_some()))
            .flatten()
            .map(|transcript_state| TranscriptView {
                state: transcript_state,
                url: recording.transcript_url.clone(),
            }),
    }
}

/// An unreadable body is the reference's 400 "Invalid request."; a too large one stays 413.
fn body_error(error: ApiError) -> ApiError {
    if error.status == StatusCode::PAYLOAD_TOO_LARGE {
        error
    } else {
        invalid_request(error.detail)
    }
}

fn invalid_request(reason: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid-request", "Invalid request.").with("reason", reason.to_string())
}

/// The start body, as the document shows it. [`parse_start`] reads it by hand, with the
/// reference's error (`invalid-request` and a `reason`) for anything else.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct StartRecording {
    #[schema(value_type = ModeTs)]
    mode: String,
    /// Only for `screen_recording`.
    #[schema(value_type = Option<LayoutTs>)]
    layout: Option<String>,
    options: Option<StartOptions>,
}

/// A start's `options`: other keys are refused, `null` values ignored.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct StartOptions {
    /// The language spoken, for the transcription.
    #[schema(max_length = 64)]
    language: Option<String>,
    transcribe: Option<bool>,
    collect_metadata: Option<bool>,
    #[schema(value_type = Option<ModeTs>)]
    original_mode: Option<String>,
}

/// The start body: `mode` (required), optional `layout` and `options`.
fn parse_start(
    body: &Value,
    state: &AppState,
) -> Result<(Mode, Option<Layout>, RecordingOptions), ApiError> {
    let body = body
        .as_object()
        .ok_or_else(|| invalid_request("the body must be a JSON object"))?;
    let mode: Mode = body
        .get("mode")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_request("mode is required"))?
        .parse()
        .map_err(invalid_request)?;
    if !state.config.recording.available_modes().contains(&mode) {
        return Err(invalid_request(format!("mode {mode} is not available")));
    }
    let layout = match body.get("layout") {
        None | Some(Value::Null) => None,
        Some(Value::String(layout)) => Some(layout.parse::<Layout>().map_err(invalid_request)?),
        Some(_) => return Err(invalid_request("layout must be a string")),
    };
    if layout.is_some() && mode == Mode::Transcript {
        return Err(invalid_request("a transcript has no layout"));
    }
    let options = RecordingOptions::parse(body.get("options")).map_err(invalid_request)?;
    Ok((mode, layout, options))
}

#[utoipa::path(
    post,
    path = "/api/v1.0/rooms/{room}/start-recording/",
    tag = "recordings",
    summary = "Start recording a room (its owners and administrators)",
    params(("room" = String, Path, description = "The room's id or slug.")),
    request_body = StartRecording,
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 201, description = "Started: the recording, `initiated` until its egress records.", body = RecordingMessageView),
        (status = 400, description = "`invalid-request`: the body is not of the documented shape, or names a mode this service does not record (`reason` says why).", body = ErrorView),
        (status = 403, description = "`room-privileges-required`: the user is not an owner or administrator of the room.", body = ErrorView),
        (status = 404, description = "`not-found`: recording is disabled (RECORDING_ENABLE=false). `room-not-found`: no such room, or a restricted room of others.", body = ErrorView),
        (status = 409, description = "`recording-in-progress`: the room is being recorded in this mode already (`error`).", body = ErrorView),
        (status = 502, description = "`recording-failed-to-start`: LiveKit refused the egress (`error`, and the failed `recording`).", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn start(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(room): Path<String>,
    body: Result<JsonBody<Value>, ApiError>,
) -> Result<(StatusCode, Json<RecordingMessageView>), ApiError> {
    if !state.config.recording.enable {
        return Err(ApiError::feature_disabled());
    }
    let JsonBody(body) = body.map_err(body_error)?;
    let (mode, layout, options) = parse_start(&body, &state)?;
    let (room, role) = load_room(&state, &room, &user).await?;
    if !role.is_some_and(Role::is_privileged) {
        return Err(ApiError::forbidden(
            "room-privileges-required",
            "You must have privileges on room to perform this action.",
        ));
    }
    match state
        .engine
        .control
        .start(&room, user.id, mode, layout, options)
        .await
    {
        Ok(recording) => Ok((
            StatusCode::CREATED,
            Json(RecordingMessageView {
                message: format!("Recording successfully started for room {}", room.slug),
                recording: recording_view(&state, &recording, Some(Role::Owner)),
            }),
        )),
        Err(StartError::AlreadyInProgress) => {
            let message = format!("A recording is already in progress for room {}", room.slug);
            Err(ApiError::new(
                StatusCode::CONFLICT,
                "recording-in-progress",
                message.clone(),
            )
            .with("error", message))
        }
        Err(StartError::FailedToStart(recording, _)) => {
            let message = format!("Recording failed to start for room {}", room.slug);
            Err(ApiError::new(
                StatusCode::BAD_GATEWAY,
                "recording-failed-to-start",
                message.clone(),
            )
            .with("error", message)
            .with(
                "recording",
                serde_json::to_value(recording_view(&state, &recording, Some(Role::Owner)))
                    .map_err(ApiError::internal)?,
            ))
        }
        Err(StartError::ModeUnavailable(mode)) => {
            Err(invalid_request(format!("mode {mode} is not available")))
        }
        Err(StartError::Database(error)) => Err(error.into()),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopBody {
    /// The recording of this mode; without it, the room's open recording.
    #[serde(default)]
    #[schema(value_type = Option<ModeTs>)]
    mode: Option<String>,
}

/// The room and mode a stop, pause or resume is for, once the caller may change the
/// room's recordings.
async fn hosted_room(
    state: &AppState,
    user: &UserRow,
    room: &str,
    body: Result<JsonBody<StopBody>, ApiError>,
) -> Result<(RoomRow, Option<Mode>), ApiError> {
    if !state.config.recording.enable {
        return Err(ApiError::feature_disabled());
    }
    let JsonBody(body) = body.map_err(body_error)?;
    let mode = body
        .mode
        .as_deref()
        .map(str::parse::<Mode>)
        .transpose()
        .map_err(invalid_request)?;
    let (room, role) = load_room(state, room, user).await?;
    if !role.is_some_and(Role::is_privileged) {
        return Err(ApiError::forbidden(
            "room-privileges-required",
            "You must have privileges on room to perform this action.",
        ));
    }
    Ok((room, mode))
}

/// `POST rooms/{id}/pause-recording/` and `resume-recording/` `{mode?}`: LiveKit Egress
/// has no pause, so a pause ends the egress segment and a resume starts the next; the
/// parts become one file when the recording ends (see `engine::completion`).
#[utoipa::path(
    post,
    path = "/api/v1.0/rooms/{room}/pause-recording/",
    tag = "recordings",
    summary = "Pause the room's recording",
    params(("room" = String, Path, description = "The room's id or slug.")),
    request_body = Option<StopBody>,
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "Paused: the recording.", body = RecordingMessageView),
        (status = 400, description = "`invalid-request`: the body is not of the documented shape, or names a mode this service does not record (`reason` says why).", body = ErrorView),
        (status = 403, description = "`room-privileges-required`: the user is not an owner or administrator of the room.", body = ErrorView),
        (status = 404, description = "`not-found`: recording is disabled (RECORDING_ENABLE=false). `room-not-found`: no such room, or a restricted room of others. `no-active-recording`: nothing to pause.", body = ErrorView),
        (status = 409, description = "`recording-not-active`: the recording is not recording. `recording-not-started`: its egress has not started recording yet.", body = ErrorView),
        (status = 500, description = "`recording-failed-to-pause`: the egress did not stop; it is still recording.", body = ErrorView),
        (status = 503, description = "`pause-unavailable`: pausing needs ffmpeg on the server.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn pause(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(room): Path<String>,
    body: Result<JsonBody<StopBody>, ApiError>,
) -> Result<Json<RecordingMessageView>, ApiError> {
    let (room, mode) = hosted_room(&state, &user, &room, body).await?;
    if !media_tools::available() {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "pause-unavailable",
            "Pausing needs ffmpeg on the server, to join the parts of the recording.",
        ));
    }
    let recording = state
        .engine
        .control
        .pause(&room, mode)
        .await
        .map_err(pause_error)?;
    Ok(told_host(
        &state,
        format!("Recording paused for room {}.", room.slug),
        &recording,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1.0/rooms/{room}/resume-recording/",
    tag = "recordings",
    summary = "Resume the room's paused recording",
    params(("room" = String, Path, description = "The room's id or slug.")),
    request_body = Option<StopBody>,
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "Resumed: the recording.", body = RecordingMessageView),
        (status = 400, description = "`invalid-request`: the body is not of the documented shape, or names a mode this service does not record (`reason` says why).", body = ErrorView),
        (status = 403, description = "`room-privileges-required`: the user is not an owner or administrator of the room.", body = ErrorView),
        (status = 404, description = "`not-found`: recording is disabled (RECORDING_ENABLE=false). `room-not-found`: no such room, or a restricted room of others. `no-active-recording`: nothing to resume.", body = ErrorView),
        (status = 409, description = "`recording-not-paused`: the recording is not paused.", body = ErrorView),
        (status = 502, description = "`recording-failed-to-resume`: LiveKit refused the next egress; the recording stays paused (`error`).", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn resume(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(room): Path<String>,
    body: Result<JsonBody<StopBody>, ApiError>,
) -> Result<Json<RecordingMessageView>, ApiError> {
    let (room, mode) = hosted_room(&state, &user, &room, body).await?;
    let recording = state
        .engine
        .control
        .resume(&room, mode)
        .await
        .map_err(pause_error)?;
    Ok(told_host(
        &state,
        format!("Recording resumed for room {}.", room.slug),
        &recording,
    ))
}

/// What a host who stopped, paused or resumed a recording is answered.
fn told_host(
    state: &AppState,
    message: String,
    recording: &RecordingRow,
) -> Json<RecordingMessageView> {
    Json(RecordingMessageView {
        message,
        recording: recording_view(state, recording, Some(Role::Owner)),
    })
}

fn pause_error(error: PauseError) -> ApiError {
    match error {
        PauseError::NotFound => ApiError::not_found(
            "no-active-recording",
            "No active recording found for this room.",
        ),
        PauseError::NotActive => ApiError::new(
            StatusCode::CONFLICT,
            "recording-not-active",
            "Only a recording that is recording can be paused.",
        ),
        PauseError::NotRecordingYet => ApiError::new(
            StatusCode::CONFLICT,
            "recording-not-started",
            "The recording is still starting; pause it once it records.",
        ),
        PauseError::NotPaused => ApiError::new(
            StatusCode::CONFLICT,
            "recording-not-paused",
            "Only a paused recording can be resumed.",
        ),
        PauseError::EgressDidNotStop => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "recording-failed-to-pause",
            "The recording could not be paused; it is still recording.",
        ),
        PauseError::ResumeFailed(error) => ApiError::new(
            StatusCode::BAD_GATEWAY,
            "recording-failed-to-resume",
            "The recording could not be resumed; it is still paused.",
        )
        .with("error", error.message),
        PauseError::Database(error) => error.into(),
    }
}

#[utoipa::path(
    post,
    path = "/api/v1.0/rooms/{room}/stop-recording/",
    tag = "recordings",
    summary = "Stop the room's recording (of `mode`, or the one open)",
    params(("room" = String, Path, description = "The room's id or slug.")),
    request_body = Option<StopBody>,
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "Stopping: the recording.", body = RecordingMessageView),
        (status = 400, description = "`invalid-request`: the body is not of the documented shape, or names a mode this service does not record (`reason` says why).", body = ErrorView),
        (status = 403, description = "`room-privileges-required`: the user is not an owner or administrator of the room.", body = ErrorView),
        (status = 404, description = "`not-found`: recording is disabled (RECORDING_ENABLE=false). `room-not-found`: no such room, or a restricted room of others. `no-active-recording`: nothing to stop.", body = ErrorView),
        (status = 500, description = "`recording-failed-to-stop`: LiveKit did not stop the egress (`error`).", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn stop(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(room): Path<String>,
    body: Result<JsonBody<StopBody>, ApiError>,
) -> Result<Json<RecordingMessageView>, ApiError> {
    let (room, mode) = hosted_room(&state, &user, &room, body).await?;
    match state.engine.control.stop(&room, mode).await {
        Ok(recording) => Ok(told_host(
            &state,
            format!("Recording stopped for room {}.", room.slug),
            &recording,
        )),
        Err(StopError::NotFound) => Err(ApiError::not_found(
            "no-active-recording",
            "No active recording found for this room.",
        )),
        Err(StopError::FailedToStop(_)) => {
            let message = format!("Recording failed to stop for room {}", room.slug);
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "recording-failed-to-stop",
                message.clone(),
            )
            .with("error", message))
        }
        Err(StopError::Database(error)) => Err(error.into()),
    }
}

#[utoipa::path(
    get,
    path = "/api/v1.0/recordings/",
    tag = "recordings",
    summary = "The recordings the user may see, newest first",
    params(Page),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "A page of recordings.", body = PageView<RecordingView>),
        (status = 404, description = "`invalid-page`: a page past the end, or not a number.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    QueryParams(page): QueryParams<Page>,
) -> Result<Json<PageView<RecordingView>>, ApiError> {
    let (limit, offset) = page.limits()?;
    let (recordings, count) = state.db.recordings_of(user.id, limit, offset).await?;
    let results = recordings
        .iter()
        .map(|(recording, role)| recording_view(&state, recording, Some(*role)))
        .collect();
    Ok(Json(paginate(
        &state,
        "recordings/",
        &page,
        count,
        results,
    )?))
}

/// The recording and the user's role on it; 404 when the user has none (see
/// [`crate::adapters::db::Db::recording_role`]).
pub async fn load_recording(
    state: &AppState,
    id: &str,
    user: Uuid,
) -> Result<(RecordingRow, Role), ApiError> {
    let not_found = || {
        ApiError::not_found(
            "recording-not-found",
            "No Recording matches the given query.",
        )
    };
    let id: Uuid = id.parse().map_err(|_| not_found())?;
    let recording = state
        .db
        .queries()
        .recording(id)
        .await?
        .ok_or_else(not_found)?;
    let role = state
        .db
        .recording_role(id, user)
        .await?
        .ok_or_else(not_found)?;
    Ok((recording, role))
}

/// 403 unless `role` owns the recording (members of its room may only see it).
pub fn require_owner(role: Role) -> Result<(), ApiError> {
    if role.is_privileged() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "permission-denied",
            "You do not have permission to perform this action.",
        ))
    }
}

#[utoipa::path(
    get,
    path = "/api/v1.0/recordings/{id}/",
    tag = "recordings",
    summary = "A recording",
    params(("id" = String, Path, description = "The recording's id.")),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The recording.", body = RecordingView),
        (status = 404, description = "`recording-not-found`: no such recording, or not one of the user's.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn retrieve(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<RecordingView>, ApiError> {
    let (recording, role) = load_recording(&state, &id, user.id).await?;
    Ok(Json(recording_view(&state, &recording, Some(role))))
}

#[utoipa::path(
    delete,
    path = "/api/v1.0/recordings/{id}/",
    tag = "recordings",
    summary = "Delete an ended recording and its file (its owners)",
    params(("id" = String, Path, description = "The recording's id.")),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, description = "`permission-denied`: the user only watches this recording. `recording-not-final`: it has not ended.", body = ErrorView),
        (status = 404, description = "`recording-not-found`: no such recording, or not one of the user's.", body = ErrorView),
        (status = 502, description = "`storage-unavailable`: the file could not be deleted; try again.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn destroy(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (recording, role) = load_recording(&state, &id, user.id).await?;
    require_owner(role)?;
    if !RecordingAbilities::of(Some(role), recording.status).destroy {
        return Err(ApiError::forbidden(
            "recording-not-final",
            "A recording can only be deleted once it has ended.",
        ));
    }
    // The file goes first: if storage is down the row stays, and the delete can be retried.
    let key = state.config.recording.key(recording.id, recording.mode);
    if let Err(error) = state.storage.delete(&key).await {
        tracing::warn!(%key, %error, "cannot delete a recording's file");
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "storage-unavailable",
            "The recording file could not be deleted; try again later.",
        ));
    }
    state.db.delete_recording(recording.id).await?;
    Ok(StatusCode::NO_CONTENT)
}
