//! `POST rooms/{id}/request-recording/` `{mode}`: someone in the room without rights asks
//! its hosts for a recording (see [`crate::engine::requests`]). Signed-in members and
//! guests of public rooms may ask; hosts start recordings themselves.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use meet_recorder_domain::Mode;
use serde::Deserialize;

use super::{
    client::ClientAddr,
    error::{ApiError, JsonBody, QueryParams},
    recordings::iso,
    room_events::client_bucket,
    rooms::{GuestName, load_room_as, participant},
    views::{ErrorView, RecordingRequestView},
};
use crate::{
    adapters::db::Asked,
    engine::requests::may_ask,
    http::{AppState, auth::MaybeUser},
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    #[schema(value_type = super::views::ModeTs)]
    mode: String,
}

#[utoipa::path(
    post,
    path = "/api/v1.0/rooms/{room}/request-recording/",
    tag = "recordings",
    summary = "Ask the room's hosts for a recording (participants and guests)",
    params(("room" = String, Path, description = "The room's id or slug."), GuestName),
    request_body = RequestBody,
    security((), ("session" = []), ("api_token" = [])),
    responses(
        (status = 202, description = "Asked: the hosts are told.", body = RecordingRequestView),
        (status = 400, description = "`invalid-mode`: not a mode this service records. `already-host`: hosts start recordings themselves. `invalid-name`: a guest's name over 64 characters or with control characters.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: signed out, and the room is not public (whether it exists is not told).", body = ErrorView),
        (status = 404, description = "`not-found`: recording is disabled (RECORDING_ENABLE=false). `room-not-found`: no such room, or a restricted room of others.", body = ErrorView),
        (status = 409, description = "`recording-in-progress`: the room is being recorded in this mode.", body = ErrorView),
        (status = 429, description = "`too-many-requests`: asked too recently (`retry_after`).", body = ErrorView, headers(("retry-after" = u64, description = "Seconds."))),
    ),
)]
pub async fn request_recording(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    MaybeUser(user): MaybeUser,
    Path(room): Path<String>,
    QueryParams(guest): QueryParams<GuestName>,
    JsonBody(body): JsonBody<RequestBody>,
) -> Result<Response, ApiError> {
    if !state.config.recording.enable {
        return Err(ApiError::feature_disabled());
    }
    let mode: Mode = body.mode.parse().map_err(|_| {
        ApiError::bad_request(
            "invalid-mode",
            "mode must be screen_recording or transcript.",
        )
    })?;
    if !state.config.recording.available_modes().contains(&mode) {
        return Err(ApiError::bad_request(
            "invalid-mode",
            format!("mode {mode} is not available."),
        ));
    }
    let (room, role) = load_room_as(&state, &room, user.as_ref()).await?;
    if !may_ask(role) {
        return Err(ApiError::bad_request(
            "already-host",
            "Hosts start recordings themselves.",
        ));
    }
    if state
        .db
        .stoppable_recording(room.id, Some(mode))
        .await?
        .is_some()
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "recording-in-progress",
            "This room is already being recorded.",
        ));
    }
    let (_, name) = participant(user.as_ref(), &guest)?;
    // Who asked, for the limit: the account, or a guest's address (a guest's identity is
    // new on every page).
    let requester = match &user {
        Some(user) => user.id.to_string(),
        None => format!("guest:{}", client_bucket(client)),
    };
    match state
        .engine
        .requests
        .ask(room.id, mode, &requester, &name)
        .await?
    {
        Asked::Recorded(request) => Ok((
            StatusCode::ACCEPTED,
            Json(RecordingRequestView {
                id: request.id,
                mode: request.mode,
                name: request.requester_name,
                created_at: iso(request.created_at),
            }),
        )
            .into_response()),
        Asked::RoomGone => Err(ApiError::not_found(
            "room-not-found",
            "No Room matches the given query.",
        )),
        Asked::TooSoon(wait_ms) => {
            let seconds = (wait_ms.max(0) as u64).div_ceil(1000).max(1);
            Ok(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                format!("You asked already. You may ask again in {seconds} seconds."),
            )
            .retry_after(seconds))
        }
    }
}
