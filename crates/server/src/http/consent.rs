//! Consent to being recorded (see [`crate::engine::consent`]):
//! - `POST rooms/{id}/recording-consent/` `{token, decision}`: a participant answers the
//!   notice or the question for what is recording now. Who answers is proven by the
//!   LiveKit join token this service issued them, which holds their identity.
//! - `GET recordings/{id}/consents/`: the answers given for a recording, for its owners.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use meet_recorder_domain::ConsentDecision;
use serde::Deserialize;

use super::{
    error::{ApiError, JsonBody},
    recordings::{iso, load_recording, require_owner},
    rooms::load_room_as,
    views::{ConsentAnswerView, ConsentView, ErrorView},
};
use crate::{
    engine::consent::AnswerError,
    http::{
        AppState,
        auth::{CurrentUser, MaybeUser},
    },
};

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// The LiveKit join token the participant holds for this room.
    token: String,
    #[schema(value_type = super::views::ConsentDecisionTs)]
    decision: String,
}

#[utoipa::path(
    post,
    path = "/api/v1.0/rooms/{room}/recording-consent/",
    tag = "consent",
    summary = "Answer the room's notice or question about its recording",
    params(("room" = String, Path, description = "The room's id or slug.")),
    request_body = AnswerBody,
    security((), ("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The answer taken, and whether the participant may publish now.", body = ConsentAnswerView),
        (status = 400, description = "`invalid-decision`: not accepted or declined. `invalid-token`: not a valid, unexpired join token for this room.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: signed out, and the room is not public (whether it exists is not told).", body = ErrorView),
        (status = 404, description = "`room-not-found`: no such room, or a restricted room of others.", body = ErrorView),
        (status = 409, description = "`consent-not-asked`: the room asks nothing. `not-recording`: nothing is being recorded.", body = ErrorView),
    ),
)]
pub async fn answer(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
    Path(room): Path<String>,
    JsonBody(body): JsonBody<AnswerBody>,
) -> Result<Json<ConsentAnswerView>, ApiError> {
    let decision = ConsentDecision::parse(&body.decision).ok_or_else(|| {
        ApiError::bad_request("invalid-decision", "decision must be accepted or declined.")
    })?;
    let (room, _) = load_room_as(&state, &room, user.as_ref()).await?;
    let (identity, name) = state
        .livekit
        .join_token_holder(&body.token, &room.id.to_string())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid-token",
                "token must be a valid, unexpired join token for this room.",
            )
        })?;
    let may_publish = state
        .engine
        .consent
        .answer(&room, &identity, &name, decision)
        .await
        .map_err(|error| match error {
            AnswerError::NotAsked => ApiError::new(
                StatusCode::CONFLICT,
                "consent-not-asked",
                "This room does not ask participants about recordings.",
            ),
            AnswerError::NothingRecording => ApiError::new(
                StatusCode::CONFLICT,
                "not-recording",
                "Nothing is being recorded in this room.",
            ),
            AnswerError::Database(error) => error.into(),
        })?;
    Ok(Json(ConsentAnswerView {
        decision: decision.as_str().to_owned(),
        may_publish,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1.0/recordings/{id}/consents/",
    tag = "consent",
    summary = "The participants' answers about a recording (its owners)",
    params(("id" = String, Path, description = "The recording's id.")),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The answers.", body = Vec<ConsentView>),
        (status = 403, description = "`permission-denied`: the user only watches this recording.", body = ErrorView),
        (status = 404, description = "`recording-not-found`: no such recording, or not one of the user's.", body = ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = ErrorView),
    ),
)]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<ConsentView>>, ApiError> {
    let (recording, role) = load_recording(&state, &id, user.id).await?;
    require_owner(role)?;
    let answers = state.db.consents_of(recording.id).await?;
    Ok(Json(
        answers
            .into_iter()
            .map(|answer| ConsentView {
                name: answer.name,
                is_guest: answer.identity.starts_with("guest-"),
                consent: answer.consent.as_str().to_owned(),
                decision: answer.decision.as_str().to_owned(),
                decided_at: iso(answer.decided_at),
            })
            .collect(),
    ))
}
