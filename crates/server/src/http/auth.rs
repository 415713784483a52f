//! The signed-in user of a request: [`CurrentUser`] (401 without one) and [`MaybeUser`]
//! (guests of public rooms), from the session cookie or `Authorization: Bearer` (API
//! tokens record when they were last used).

use axum::{extract::FromRequestParts, http::request::Parts};

use crate::{
    adapters::db::{UserRow, now_ms},
    engine::accounts::{SESSION_COOKIE, token_hash},
    http::{AppState, error::ApiError},
};

/// The signed-in user; rejects with 401 when there is none.
pub struct CurrentUser(pub UserRow);

/// The value of the cookie `name` the request carries.
pub fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(cookie, _)| *cookie == name)
        .map(|(_, value)| value.to_owned())
}

/// The signed-in user if there is one; pages open to guests (public rooms) use it.
pub struct MaybeUser(pub Option<UserRow>);

/// The user a request's bearer token or session cookie belongs to.
async fn user_of(parts: &Parts, state: &AppState) -> Result<Option<UserRow>, ApiError> {
    let bearer = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    Ok(if let Some(token) = bearer {
        user_of_api_token(state, &token).await?
    } else if let Some(session) = cookie(&parts.headers, SESSION_COOKIE) {
        state.db.user_by_session(&token_hash(&session)).await?
    } else {
        None
    })
}

/// How stale a token's `last_used_at` may be before a use records it again: at most one
/// write per token per minute, however busy the token is.
const TOKEN_USE_RESOLUTION_MS: i64 = 60_000;

/// The user of an API token that exists and has not expired; records its use.
async fn user_of_api_token(state: &AppState, token: &str) -> Result<Option<UserRow>, ApiError> {
    let now = now_ms();
    let Some((user, token)) = state.db.user_by_api_token(&token_hash(token), now).await? else {
        return Ok(None);
    };
    let stale_before = now - TOKEN_USE_RESOLUTION_MS;
    if token.last_used_at.is_none_or(|at| at < stale_before)
        && let Err(error) = state.db.touch_api_token(token.id, now, stale_before).await
    {
        // Bookkeeping only: the request goes on.
        tracing::warn!(%error, token = %token.id, "could not record an API token's use");
    }
    Ok(Some(user))
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        user_of(parts, state)
            .await?
            .map(CurrentUser)
            .ok_or_else(ApiError::not_authenticated)
    }
}

impl FromRequestParts<AppState> for MaybeUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(MaybeUser(user_of(parts, state).await?))
    }
}
