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
    views::{ConsentAnswerView, ConsentView},
};
use crate::{
    engine::consent::AnswerError,
    http::{
        AppState,
        auth::{CurrentUser, MaybeUser},
    },
};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    /// The LiveKit join token the participant holds for this room.
    token: String,
    decision: String,
}

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
