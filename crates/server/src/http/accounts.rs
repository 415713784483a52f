//! Sign in and out with a session cookie, the current user's profile, API tokens.

use axum::{
    Json,
    extract::{Path, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use super::{
    client::ClientAddr,
    error::{ApiError, JsonBody},
    recordings::iso,
    views::{ApiTokenView, NewApiTokenView, UserView},
};
use crate::{
    adapters::db::{ApiTokenRow, UserRow, now_ms},
    adapters::mail::Language,
    engine::accounts::{self as auth, SESSION_COOKIE, VerifyError},
    http::AppState,
    http::auth::CurrentUser,
};

/// The codes a user's `language` may be: those of [`Language`], the one list the emails
/// and the share page are written in.
pub const LANGUAGES: &[&str] = &Language::CODES;

pub fn user_view(user: &UserRow) -> UserView {
    UserView {
        id: user.id,
        email: user.email.clone(),
        full_name: user.full_name.clone(),
        language: user.language.clone(),
        timezone: user.timezone.clone(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    email: String,
    password: String,
}

/// `POST auth/login/`. Every attempt does the same work (one lookup, one password
/// verification on the bounded hashing pool, a dummy hash for unknown emails) and counts
/// against the account's and the client address's limits until it succeeds (429 with
/// `Retry-After` beyond them; see [`auth::LoginGuard`]). Refusals are answered after
/// [`auth::REFUSAL_PAUSE`].
#[utoipa::path(
    post,
    path = "/api/v1.0/auth/login/",
    tag = "accounts",
    summary = "Sign in with an email and a password",
    request_body = Login,
    security(()),
    responses(
        (status = 200, description = "Signed in: the user, and the session cookie.", body = UserView, headers(("set-cookie" = String, description = "`meet_recorder_session=...; HttpOnly; SameSite=Lax`"))),
        (status = 400, description = "`invalid-credentials`: no account with this email and password.", body = super::views::ErrorView),
        (status = 403, description = "`password-sign-in-disabled`: signing in with a password is turned off (`MEET_RECORDER_PASSWORD_SIGN_IN=false`).", body = super::views::ErrorView),
        (status = 429, description = "`too-many-login-attempts`: too many failed sign-ins for the account or the address, or too many sign-ins from the address in a minute (`retry_after`).", body = super::views::ErrorView, headers(("retry-after" = u64, description = "Seconds."))),
        (status = 503, description = "`login-busy`: too many sign-ins at once (`retry_after`).", body = super::views::ErrorView, headers(("retry-after" = u64, description = "Seconds."))),
    ),
)]
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    JsonBody(body): JsonBody<Login>,
) -> Result<Response, ApiError> {
    if !state.config.password_sign_in {
        return Err(ApiError::forbidden(
            "password-sign-in-disabled",
            "Signing in with a password is turned off here: sign in with your organisation.",
        ));
    }
    let guard = state.login_guard.clone();
    let email = body.email.trim();
    let attempt = match guard.admit(email, client.0) {
        Ok(attempt) => attempt,
        Err(refusal) => {
            tokio::time::sleep(auth::REFUSAL_PAUSE).await;
            let wait = refusal.wait();
            let seconds = (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1);
            let what = match refusal {
                auth::Refusal::TooManyFailures(_) => "Too many failed sign-ins",
                auth::Refusal::TooManyAttempts(_) => "Too many sign-ins from your address",
            };
            return Ok(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-login-attempts",
                format!("{what}. Try again in {seconds} seconds."),
            )
            .retry_after(seconds));
        }
    };
    // A place among the verifications in flight first: a sign-in beyond them costs no
    // database lookup (a flood of sign-ins would otherwise hold the pool's connections).
    let slot = match auth::reserve_hash() {
        Ok(slot) => slot,
        Err(error) => {
            guard.withdraw(&attempt);
            return unverified(error).await;
        }
    };
    let user = match state.db.user_by_email(email).await {
        Ok(user) => user,
        Err(error) => {
            guard.withdraw(&attempt);
            return Err(error.into());
        }
    };
    let hash = user.as_ref().and_then(|u| u.password_hash.clone());
    let valid = match guard.verify(slot, body.password, hash).await {
        Ok(valid) => valid,
        Err(error) => {
            guard.withdraw(&attempt);
            return unverified(error).await;
        }
    };
    let Some(user) = user.filter(|_| valid) else {
        return Err(ApiError::bad_request(
            "invalid-credentials",
            "Unable to sign in with the provided credentials.",
        ));
    };
    guard.forgive(&attempt);
    let cookie = start_session(&state, &user, None).await?;
    let mut response = Json(user_view(&user)).into_response();
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The answer to a sign-in whose password could not be verified; a refusal for a busy
/// server after [`auth::REFUSAL_PAUSE`].
async fn unverified(error: VerifyError) -> Result<Response, ApiError> {
    match error {
        VerifyError::Busy => {
            tokio::time::sleep(auth::REFUSAL_PAUSE).await;
            Ok(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "login-busy",
                "Too many sign-ins at once. Try again in a second.",
            )
            .retry_after(1))
        }
        VerifyError::Failed => Err(ApiError::internal("password verification failed")),
    }
}

/// `; Secure` for the service's cookies when they must travel over HTTPS only
/// (`MEET_RECORDER_SESSION_COOKIE_SECURE`).
pub(super) fn secure_attribute(state: &AppState) -> &'static str {
    if state.config.session_cookie_secure {
        "; Secure"
    } else {
        ""
    }
}

/// A new sign-in session for `user`: the `Set-Cookie` header that carries it.
/// `id_token`: the provider's, when the sign-in came through OpenID Connect.
pub(super) async fn start_session(
    state: &AppState,
    user: &UserRow,
    id_token: Option<&str>,
) -> Result<HeaderValue, ApiError> {
    let token = auth::new_token();
    let ttl = state.config.session_ttl;
    state
        .db
        .create_session(
            &auth::token_hash(&token),
            user.id,
            now_ms() + ttl.as_millis() as i64,
            id_token,
        )
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        ttl.as_secs(),
        secure_attribute(state)
    );
    HeaderValue::from_str(&cookie).map_err(ApiError::internal)
}

/// `POST auth/logout/` for a session signed in through the identity provider.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SignedOut {
    /// Where the browser goes next to end its session at the identity provider too.
    redirect: String,
}

/// `POST auth/logout/`: ends the session. A session signed in through the identity
/// provider answers 200 with `redirect`, the provider's end-session URL, when the
/// provider has one; otherwise 204.
#[utoipa::path(
    post,
    path = "/api/v1.0/auth/logout/",
    tag = "accounts",
    summary = "Sign out: end the session of the cookie sent",
    security((), ("session" = [])),
    responses(
        (status = 200, description = "Signed out of a session that came from the identity provider: the browser goes to `redirect` to end the provider's session too.", body = SignedOut, headers(("set-cookie" = String, description = "Clears `meet_recorder_session`."))),
        (status = 204, description = "Signed out (also without a session); the cookie is cleared.", headers(("set-cookie" = String, description = "Clears `meet_recorder_session`."))),
    ),
)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut id_token = None;
    if let Some(session) = super::auth::cookie(&headers, SESSION_COOKIE) {
        id_token = state.db.delete_session(&auth::token_hash(&session)).await?;
    }
    let provider_logout = match (&state.identity_provider, &id_token) {
        (Some(provider), Some(id_token)) => {
            let after = format!("{}/", state.config.public_url.trim_end_matches('/'));
            provider.logout_url(Some(id_token), &after).await
        }
        _ => None,
    };
    let mut response = match provider_logout {
        Some(url) => Json(SignedOut {
            redirect: url.to_string(),
        })
        .into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static(
            "meet_recorder_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
        ),
    );
    Ok(response)
}

#[utoipa::path(
    get,
    path = "/api/v1.0/users/me/",
    tag = "accounts",
    summary = "The signed-in user",
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The user.", body = UserView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = super::views::ErrorView),
    ),
)]
pub async fn me(CurrentUser(user): CurrentUser) -> Json<UserView> {
    Json(user_view(&user))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    #[schema(max_length = 150)]
    full_name: Option<String>,
    #[schema(value_type = Option<super::views::LanguageTs>)]
    language: Option<String>,
    /// An IANA time zone, such as `Europe/Paris`.
    timezone: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/api/v1.0/users/me/",
    tag = "accounts",
    summary = "Change the signed-in user's name, language or time zone",
    request_body = Option<UpdateMe>,
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The user, changed.", body = UserView),
        (status = 400, description = "`invalid-language`: not one of the languages. `invalid-timezone`: not an IANA time zone. `invalid-name`: longer than 150 characters.", body = super::views::ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = super::views::ErrorView),
    ),
)]
pub async fn update_me(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(body): JsonBody<UpdateMe>,
) -> Result<Json<UserView>, ApiError> {
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
    Ok(Json(user_view(&updated)))
}

/// An API token as its owner sees it: never the secret.
pub fn token_view(token: &ApiTokenRow) -> ApiTokenView {
    ApiTokenView {
        id: token.id,
        name: token.name.clone(),
        created_at: iso(token.created_at),
        last_used_at: token.last_used_at.map(iso),
        expires_at: token.expires_at.map(iso),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    #[schema(min_length = 1, max_length = 100)]
    name: String,
    /// Valid for this many days; without it, until revoked.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    expires_in_days: Option<i64>,
}

/// `POST users/me/tokens/`: creates an API token; it is shown once, only its hash is kept.
#[utoipa::path(
    post,
    path = "/api/v1.0/users/me/tokens/",
    tag = "accounts",
    summary = "Create an API token (its secret is shown this once)",
    request_body = NewToken,
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 201, description = "The token, with its secret `token`.", body = NewApiTokenView),
        (status = 400, description = "`invalid-name`: a name of 1 to 100 characters is needed. `invalid-expiry`: `expires_in_days` out of 1..=3650.", body = super::views::ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = super::views::ErrorView),
    ),
)]
pub async fn create_token(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    JsonBody(body): JsonBody<NewToken>,
) -> Result<(StatusCode, Json<NewApiTokenView>), ApiError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request(
            "invalid-name",
            "A token needs a name of 1 to 100 characters.",
        ));
    }
    let expires_at = auth::token_expiry(body.expires_in_days)
        .map_err(|detail| ApiError::bad_request("invalid-expiry", detail))?;
    let token = format!("{}{}", auth::API_TOKEN_PREFIX, auth::new_token());
    let row = state
        .db
        .create_api_token_expiring(&auth::token_hash(&token), user.id, name, expires_at)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewApiTokenView {
            info: token_view(&row),
            token,
        }),
    ))
}

/// `GET users/me/tokens/`: the user's API tokens, newest first, expired ones included.
#[utoipa::path(
    get,
    path = "/api/v1.0/users/me/tokens/",
    tag = "accounts",
    summary = "The user's API tokens, newest first (never their secrets)",
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 200, description = "The tokens, expired ones included.", body = Vec<ApiTokenView>),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = super::views::ErrorView),
    ),
)]
pub async fn list_tokens(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Vec<ApiTokenView>>, ApiError> {
    let tokens = state.db.api_tokens_of(user.id).await?;
    Ok(Json(tokens.iter().map(token_view).collect()))
}

/// `DELETE users/me/tokens/{id}/`: revokes one of the user's tokens (404 for anyone
/// else's, without telling whether it exists).
#[utoipa::path(
    delete,
    path = "/api/v1.0/users/me/tokens/{token}/",
    tag = "accounts",
    summary = "Revoke one of the user's API tokens",
    params(("token" = String, Path, description = "The token's id.")),
    security(("session" = []), ("api_token" = [])),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "`token-not-found`: no such token among the user's.", body = super::views::ErrorView),
        (status = 401, description = "`not-authenticated`: no valid session cookie or API token.", body = super::views::ErrorView),
    ),
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let not_found =
        || ApiError::not_found("token-not-found", "No API token matches the given query.");
    let id: uuid::Uuid = id.parse().map_err(|_| not_found())?;
    if state.db.delete_api_token(user.id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found())
    }
}
