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
    views::RecordingRequestView,
};
use crate::{
    adapters::db::Asked,
    engine::requests::may_ask,
    http::{AppState, auth::MaybeUser},
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestBody {
    mode: String,
}

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
