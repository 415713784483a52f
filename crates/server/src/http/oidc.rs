//! Sign-in through the OpenID Connect provider, at the reference's paths:
//! `GET authenticate/?returnTo=…` sends the browser to the provider, and the provider
//! sends it back to `GET callback/`, which signs it in (a session cookie, as a password
//! sign-in gives) and sends it on to `returnTo`.
//!
//! Between the two, what the callback must check (the `state`, the nonce, the PKCE
//! verifier) and where to go after are kept in a short-lived HttpOnly cookie scoped to the
//! callback, so a callback in another browser, or forged, matches nothing.
//!
//! A failed callback sends a browser to the sign-in page with the failure's code
//! (`/signin?error=…`); other clients get the usual JSON error.

use axum::{
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use base64::Engine;
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::{
    accounts::{secure_attribute, start_session},
    error::{ApiError, QueryParams},
};
use crate::{
    adapters::identity_provider::{IdentityProvider, PendingSignIn, SignInError},
    engine::sign_in,
    http::AppState,
};

/// The cookie holding a sign-in in progress.
pub const SIGN_IN_COOKIE: &str = "meet_recorder_sign_in";
/// Where the provider sends the browser back, under the service's public URL.
pub const CALLBACK_PATH: &str = "/api/v1.0/callback/";
/// How long a person has at the provider to sign in.
const SIGN_IN_TTL_S: u64 = 600;

fn provider(state: &AppState) -> Result<&IdentityProvider, ApiError> {
    state.identity_provider.as_deref().ok_or_else(|| {
        ApiError::not_found(
            "oidc-not-configured",
            "Sign-in through an identity provider is not configured.",
        )
    })
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuthenticateQuery {
    /// Where to go once signed in: a path of this service (default `/`), or a URL of the
    /// service or of a host of `OIDC_REDIRECT_ALLOWED_HOSTS`.
    #[serde(rename = "returnTo")]
    #[param(rename = "returnTo")]
    return_to: Option<String>,
}

/// `GET authenticate/`: a redirect to the provider's sign-in page.
#[utoipa::path(
    get,
    path = "/api/v1.0/authenticate/",
    tag = "accounts",
    summary = "Sign in through the organisation's identity provider (OpenID Connect)",
    params(AuthenticateQuery),
    security(()),
    responses(
        (status = 303, description = "To the provider's authorization endpoint (`Location`), with the sign-in in progress in an HttpOnly cookie scoped to `callback/`.", headers(("location" = String, description = "The provider's authorization URL."), ("set-cookie" = String, description = "`meet_recorder_sign_in`, ten minutes."))),
        (status = 400, description = "`redirect-not-allowed`: `returnTo` leads elsewhere than this service or an allowed host.", body = super::views::ErrorView),
        (status = 404, description = "`oidc-not-configured`: no identity provider is configured (`OIDC_RP_CLIENT_ID`).", body = super::views::ErrorView),
        (status = 502, description = "`identity-provider-unavailable`: the provider's metadata or keys cannot be read.", body = super::views::ErrorView),
    ),
)]
pub async fn authenticate(
    State(state): State<AppState>,
    QueryParams(query): QueryParams<AuthenticateQuery>,
) -> Result<Response, ApiError> {
    let provider = provider(&state)?;
    let return_to = checked_return_to(
        query.return_to.as_deref(),
        &state.config.public_url,
        &provider.settings().redirect_allowed_hosts,
    )
    .ok_or_else(|| {
        ApiError::bad_request(
            "redirect-not-allowed",
            "returnTo must be a path of this service or a URL of an allowed host.",
        )
    })?;
    let (url, pending) = provider.begin(return_to).await.map_err(provider_error)?;
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(&pending).map_err(ApiError::internal)?);
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        sign_in_cookie(&state, &value, SIGN_IN_TTL_S)?,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The authorization code.
    code: Option<String>,
    /// The `state` sent to the provider.
    state: Option<String>,
    /// The provider's refusal (`access_denied` when the person cancelled).
    error: Option<String>,
}

/// `GET callback/`: the provider's answer; signs the browser in.
#[utoipa::path(
    get,
    path = "/api/v1.0/callback/",
    tag = "accounts",
    summary = "Where the identity provider sends the browser back: signs it in",
    params(CallbackQuery, ("accept" = Option<String>, Header, description = "With `text/html` (a browser), failures redirect to `/signin?error=CODE` rather than answer JSON.")),
    security(()),
    responses(
        (status = 303, description = "Signed in: to `returnTo`, with the session cookie. For a browser, also a refusal: to `/signin?error=CODE`.", headers(("location" = String, description = "Where the browser goes."), ("set-cookie" = String, description = "`meet_recorder_session` when signed in; `meet_recorder_sign_in` cleared."))),
        (status = 400, description = "`sign-in-not-started`: no sign-in is in progress in this browser (or it expired). `sign-in-state-mismatch`: the answer belongs to another sign-in. `sign-in-no-code`: the answer has no code.", body = super::views::ErrorView),
        (status = 403, description = "`sign-in-cancelled`: the provider did not sign the person in. `sign-in-rejected`: the code was refused or the ID token did not verify. `sign-in-no-subject`, `sign-in-no-email`, `sign-in-email-taken`, `sign-in-email-linked-to-another`, `sign-in-no-account`: the identity signs into no account here.", body = super::views::ErrorView),
        (status = 404, description = "`oidc-not-configured`: no identity provider is configured.", body = super::views::ErrorView),
        (status = 502, description = "`identity-provider-unavailable`: the provider cannot be reached.", body = super::views::ErrorView),
    ),
)]
pub async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    QueryParams(query): QueryParams<CallbackQuery>,
) -> Response {
    let browser = accepts_html(&headers);
    let mut response = match finish(&state, &headers, query).await {
        Ok((cookie, return_to)) => {
            let mut response = Redirect::to(&return_to).into_response();
            response.headers_mut().append(header::SET_COOKIE, cookie);
            response
        }
        Err(error) if browser => {
            tracing::info!(code = error.code, detail = %error.detail, "sign-in refused");
            Redirect::to(&format!("/signin?error={}", error.code)).into_response()
        }
        Err(error) => error.into_response(),
    };
    // The sign-in in progress is used up, whatever came of it.
    if let Ok(expired) = sign_in_cookie(&state, "", 0) {
        response.headers_mut().append(header::SET_COOKIE, expired);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The session cookie and where to go, once the callback is verified.
async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    query: CallbackQuery,
) -> Result<(HeaderValue, String), ApiError> {
    let provider = provider(state)?;
    let pending = pending_sign_in(headers).ok_or_else(|| {
        ApiError::bad_request(
            "sign-in-not-started",
            "No sign-in is in progress in this browser, or it took too long. Sign in again.",
        )
    })?;
    let state_matches = query
        .state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(pending.state.as_bytes())));
    if !state_matches {
        return Err(ApiError::bad_request(
            "sign-in-state-mismatch",
            "This answer does not belong to the sign-in in progress. Sign in again.",
        ));
    }
    if let Some(error) = query.error {
        return Err(ApiError::forbidden(
            "sign-in-cancelled",
            format!("The identity provider did not sign you in ({error})."),
        ));
    }
    let code = query
        .code
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ApiError::bad_request("sign-in-no-code", "The answer has no code."))?;
    let identity = provider
        .finish(code, &pending)
        .await
        .map_err(provider_error)?;
    let user = sign_in::account_for(&state.db, provider.settings(), &identity)
        .await
        .map_err(ApiError::internal)?
        .map_err(|refusal| ApiError::forbidden(refusal.code(), refusal.detail()))?;
    tracing::info!(user = %user.id, "signed in through the identity provider");
    let cookie = start_session(state, &user, Some(&identity.id_token)).await?;
    Ok((cookie, pending.return_to))
}

fn provider_error(error: SignInError) -> ApiError {
    match error {
        SignInError::Unavailable(detail) => {
            tracing::warn!(%detail, "the identity provider is unavailable");
            ApiError::new(
                StatusCode::BAD_GATEWAY,
                "identity-provider-unavailable",
                "The identity provider cannot be reached. Try again later.",
            )
        }
        SignInError::Rejected(detail) => {
            tracing::warn!(%detail, "the identity provider's answer was not accepted");
            ApiError::forbidden(
                "sign-in-rejected",
                "The identity provider's answer could not be verified. Sign in again.",
            )
        }
    }
}

fn pending_sign_in(headers: &HeaderMap) -> Option<PendingSignIn> {
    let value = super::auth::cookie(headers, SIGN_IN_COOKIE)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(value)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

fn sign_in_cookie(state: &AppState, value: &str, max_age: u64) -> Result<HeaderValue, ApiError> {
    let secure = secure_attribute(state);
    // Lax: the provider's redirect back is a top-level navigation, which Lax cookies
    // follow.
    HeaderValue::from_str(&format!(
        "{SIGN_IN_COOKIE}={value}; Path={CALLBACK_PATH}; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .map_err(ApiError::internal)
}

fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Where a sign-in may lead: a path of this service, or an http(s) URL of this service's
/// host or of one of `allowed_hosts`; `None` for anything else (an open redirect).
pub fn checked_return_to(
    return_to: Option<&str>,
    public_url: &str,
    allowed_hosts: &[String],
) -> Option<String> {
    let Some(return_to) = return_to.filter(|r| !r.is_empty()) else {
        return Some("/".to_owned());
    };
    if return_to.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    if return_to.starts_with('/') {
        // `//host/…` is another origin to a browser.
        return (!return_to.starts_with("//")).then(|| return_to.to_owned());
    }
    let url = url::Url::parse(return_to).ok()?;
    if !matches!(url.scheme(), "http" | "https") || !url.username().is_empty() {
        return None;
    }
    let host = url.host_str()?.to_ascii_lowercase();
    let own = url::Url::parse(public_url).ok();
    let is_own = own.as_ref().is_some_and(|own| {
        own.host_str() == Some(host.as_str())
            && own.port_or_known_default() == url.port_or_known_default()
    });
    (is_own || allowed_hosts.contains(&host)).then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::checked_return_to;

    #[test]
    fn only_own_paths_and_allowed_hosts_are_followed() {
        let allowed = vec!["docs.example.org".to_owned()];
        let check = |to| checked_return_to(Some(to), "https://rec.example.org", &allowed);
        assert_eq!(
            checked_return_to(None, "https://rec.example.org", &allowed).as_deref(),
            Some("/")
        );
        assert_eq!(
            check("/recordings?page=2").as_deref(),
            Some("/recordings?page=2")
        );
        assert_eq!(
            check("https://rec.example.org/x").as_deref(),
            Some("https://rec.example.org/x")
        );
        assert_eq!(
            check("https://docs.example.org/d").as_deref(),
            Some("https://docs.example.org/d")
        );
        for refused in [
            "//evil.example/",
            "/\\evil.example/",
            "https://evil.example/",
            "https://rec.example.org:8443/",
            "javascript:alert(1)",
            "https://user@docs.example.org/",
            "/x\n",
            "recordings",
        ] {
            assert_eq!(check(refused), None, "{refused:?}");
        }
    }
}
