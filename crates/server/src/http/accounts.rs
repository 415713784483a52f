//! Sign in and out with a session cookie, the current user's profile, API tokens.

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, JsonBody};
use crate::{
    app::AppState,
    auth::{self, CurrentUser, SESSION_COOKIE},
    db::{UserRow, now_ms},
    mail::Language,
};

/// The codes a user's `language` may be: those of [`Language`], the one list the emails
/// and the share page are written in.
pub const LANGUAGES: &[&str] = &Language::CODES;

pub fn user_json(user: &UserRow) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "full_name": user.full_name,
        "language": user.language,
        "timezone": user.timezone,
    })
}

#[derive(Deserialize)]
pub struct Login {
    email: String,
    password: String,
}

pub async fn login(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Login>,
) -> Result<Response, ApiError> {
    let user = state.db.user_by_email(body.email.trim()).await?;
    let valid = user.as_ref().is_some_and(|u| {
        u.password_hash
            .as_deref()
            .is_some_and(|hash| auth::verify_password(&body.password, hash))
    });
    let Some(user) = user.filter(|_| valid) else {
        return Err(ApiError::bad_request(
            "invalid-credentials",
            "Unable to sign in with the provided credentials.",
        ));
    };
    let token = auth::new_token();
    let ttl = state.config.session_ttl;
    state
        .db
        .create_session(
            &auth::token_hash(&token),
            user.id,
            now_ms() + ttl.as_millis() as i64,
        )
        .await?;
    let secure = if state.config.session_cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{secure}",
        ttl.as_secs()
    );
    let mut response = Json(user_json(&user)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(response)
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let session = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned());
    if let Some(session) = session {
        state.db.delete_session(&auth::token_hash(&session)).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "meet_recorder_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
        ),
    );
    Ok(response)
}

pub async fn me(CurrentUser(user): CurrentUser) -> Json<Value> {
    Json(user_json(&user))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    full_name: Option<String>,
    language: Option<String>,
    timezone: Option<String>,
}

pub async fn update_me(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(body): JsonBody<UpdateMe>,
) -> Result<Json<Value>, ApiError> {
    if let Some(language) = &body.language
        && !LANGUAGES.contains(&language.as_str())
    {
        return Err(ApiError::bad_request(
            "invalid-language",
            format!("Language must be one of {}.", LANGUAGES.join(", ")),
        ));
    }
    if let Some(timezone) = &body.timezone
        && timezone.parse::<chrono_tz::Tz>().is_err()
    {
        return Err(ApiError::bad_request(
            "invalid-timezone",
            "Timezone must be an IANA name such as Europe/Paris.",
        ));
    }
    if body
        .full_name
        .as_ref()
        .is_some_and(|n| n.chars().count() > 150)
    {
        return Err(ApiError::bad_request("invalid-name", "Name is too long."));
    }
    let updated = state
        .db
        .update_user_preferences(
            user.id,
            body.full_name.as_deref(),
            body.language.as_deref(),
            body.timezone.as_deref(),
        )
        .await?
        .unwrap_or(user);
    Ok(Json(user_json(&updated)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
}

/// Creates an API token; it is shown once, only its hash is kept.
pub async fn create_token(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(body): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "invalid-name",
            "A token needs a name of 1 to 100 characters.",
        ));
    }
    let token = format!("{}{}", auth::API_TOKEN_PREFIX, auth::new_token());
    let id = state
        .db
        .create_api_token(&auth::token_hash(&token), user.id, name)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "name": name, "token": token})),
    ))
}
