//! The OpenID Connect provider users sign in with: the authorization-code flow (with PKCE
//! and a nonce), through the `openidconnect` crate, over our own HTTP client.
//!
//! The provider's metadata and signing keys are read once (discovery, or the endpoints
//! given in the settings) and kept for an hour; an ID token whose signature no kept key
//! verifies has them read again once, so a key rotation at the provider needs no restart.
//! Which account an identity signs into is decided by `engine::sign_in`.

use std::{
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use openidconnect::{
    AsyncHttpClient, AuthType, AuthUrl, AuthenticationFlow, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, EndSessionUrl, HttpRequest, HttpResponse, IssuerUrl, JsonWebKeySet,
    JsonWebKeySetUrl, LogoutProviderMetadata, LogoutRequest, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout,
    RedirectUrl, ResponseTypes, Scope, TokenResponse, TokenUrl, UserInfoUrl,
    core::{
        CoreClient, CoreClientAuthMethod, CoreIdToken, CoreJwsSigningAlgorithm, CoreResponseType,
        CoreSubjectIdentifierType,
    },
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use url::Url;

use crate::config::OidcSettings;

/// How long the provider's metadata and keys are kept before they are read again.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// Each call to the provider; a sign-in waits for at most a few of them.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the provider (metadata, keys, tokens, userinfo).
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// What a sign-in started with and must finish with: kept in the browser (an HttpOnly
/// cookie) between the redirect to the provider and the callback.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// The `state` sent to the provider: the callback must bring it back.
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: Option<String>,
    /// Where the browser goes once signed in (already checked: a path, or an allowed host).
    pub return_to: String,
}

/// Who the provider says signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The provider's stable subject identifier.
    pub sub: String,
    pub email: Option<String>,
    /// `false` only when the provider says the email is not verified.
    pub email_verified: bool,
    /// The full name built from `OIDC_USERINFO_FULLNAME_FIELDS` (or `name`); may be empty.
    pub full_name: String,
    /// The ID token, kept with the session for sign-out.
    pub id_token: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// The provider could not be reached or answered something unusable.
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    /// The provider refused the code, or its answer does not prove an identity.
    #[error("the sign-in was not accepted: {0}")]
    Rejected(String),
}

/// The provider as last read: metadata with its signing keys.
struct Loaded {
    metadata: ProviderMetadataWithLogout,
    read_at: Instant,
}

pub struct IdentityProvider {
    settings: OidcSettings,
    redirect_url: RedirectUrl,
    http: ProviderHttp,
    loaded: tokio::sync::Mutex<Option<Arc<Loaded>>>,
}

impl IdentityProvider {
    /// `callback_url`: where the provider sends the browser back (registered there).
    pub fn new(settings: OidcSettings, callback_url: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            // The provider's endpoints answer themselves; a redirect is not followed.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()?;
        Ok(Self {
            settings,
            redirect_url: RedirectUrl::new(callback_url.to_owned())?,
            http: ProviderHttp(http),
            loaded: tokio::sync::Mutex::new(None),
        })
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// The provider's authorization URL for a new sign-in, and what the callback needs.
    pub async fn begin(&self, return_to: String) -> Result<(Url, PendingSignIn), SignInError> {
        let loaded = self.provider(false).await?;
        let client = self.client(&loaded.metadata);
        let mut request = client.authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in self.settings.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let mut pkce_verifier = None;
        if self.settings.use_pkce {
            let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
            request = request.set_pkce_challenge(challenge);
            pkce_verifier = Some(verifier.secret().clone());
        }
        let (url, state, nonce) = request.url();
        Ok((
            url,
            PendingSignIn {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                pkce_verifier,
                return_to,
            },
        ))
    }

    /// Exchanges the callback's code for tokens, verifies the ID token and reads the
    /// userinfo endpoint: who signed in.
    pub async fn finish(
        &self,
        code: String,
        pending: &PendingSignIn,
    ) -> Result<Identity, SignInError> {
        let loaded = self.provider(false).await?;
        let client = self.client(&loaded.metadata);
        let mut exchange = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| SignInError::Unavailable(e.to_string()))?;
        if let Some(verifier) = &pending.pkce_verifier {
            exchange = exchange.set_pkce_verifier(PkceCodeVerifier::new(verifier.clone()));
        }
        let tokens = exchange.request_async(&self.http).await.map_err(|e| {
            use openidconnect::RequestTokenError;
            match e {
                RequestTokenError::ServerResponse(answer) => {
                    SignInError::Rejected(format!("the token endpoint refused: {answer}"))
                }
                other => SignInError::Unavailable(format!("token endpoint: {other:?}")),
            }
        })?;
        let id_token = tokens
            .id_token()
            .ok_or_else(|| SignInError::Rejected("the provider sent no ID token".into()))?;
        let mut claims = match self.verified_claims(&loaded, id_token, pending) {
            Ok(claims) => claims,
            // Perhaps the provider rotated its keys since they were read: read them again.
            Err(_) if loaded.read_at.elapsed() > Duration::from_secs(10) => {
                let reloaded = self.provider(true).await?;
                self.verified_claims(&reloaded, id_token, pending)?
            }
            Err(error) => return Err(error),
        };
        let sub = claims
            .get("sub")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let userinfo_url = self
            .settings
            .userinfo_endpoint
            .clone()
            .or_else(|| loaded.metadata.userinfo_endpoint().map(|u| u.url().clone()));
        if let Some(url) = userinfo_url {
            let userinfo = self.userinfo(&url, tokens.access_token().secret()).await?;
            // A userinfo answer about someone else is a substitution attack.
            if userinfo.get("sub").and_then(|v| v.as_str()) != Some(sub.as_str()) {
                return Err(SignInError::Rejected(
                    "the userinfo endpoint answered for another subject".into(),
                ));
            }
            claims.extend(userinfo);
        }
        Ok(identity_from_claims(
            &claims,
            &self.settings.fullname_fields,
            id_token.to_string(),
        ))
    }

    /// Where the browser ends the provider's session at sign-out, when the provider has
    /// an end-session endpoint; `None` otherwise (or when it cannot be read now).
    pub async fn logout_url(&self, id_token: Option<&str>, after: &str) -> Option<Url> {
        let endpoint = match &self.settings.logout_endpoint {
            Some(url) => EndSessionUrl::from_url(url.clone()),
            None => self
                .provider(false)
                .await
                .ok()?
                .metadata
                .additional_metadata()
                .end_session_endpoint
                .clone()?,
        };
        let mut request = LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.settings.client_id.clone()));
        if let Ok(after) = PostLogoutRedirectUrl::new(after.to_owned()) {
            request = request.set_post_logout_redirect_uri(after);
        }
        if let Some(token) = id_token.and_then(|t| t.parse::<CoreIdToken>().ok()) {
            request = request.set_id_token_hint(&token);
        }
        Some(request.http_get_url())
    }

    /// The ID token's claims once its signature, issuer, audience, expiry and nonce are
    /// verified, as JSON.
    fn verified_claims(
        &self,
        loaded: &Loaded,
        id_token: &CoreIdToken,
        pending: &PendingSignIn,
    ) -> Result<serde_json::Map<String, serde_json::Value>, SignInError> {
        let client = self.client(&loaded.metadata);
        let algorithm: CoreJwsSigningAlgorithm =
            serde_json::from_value(serde_json::Value::String(self.settings.sign_algo.clone()))
                .map_err(|e| SignInError::Unavailable(e.to_string()))?;
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs([algorithm])
            .require_issuer_match(self.settings.issuer.is_some());
        let use_nonce = self.settings.use_nonce;
        let claims = id_token
            .claims(&verifier, |nonce: Option<&Nonce>| {
                let matches = nonce.is_some_and(|nonce| {
                    bool::from(nonce.secret().as_bytes().ct_eq(pending.nonce.as_bytes()))
                });
                if !use_nonce || matches {
                    Ok(())
                } else {
                    Err("the nonce does not match the sign-in's".to_owned())
                }
            })
            .map_err(|e| SignInError::Rejected(format!("ID token: {e}")))?;
        match serde_json::to_value(claims) {
            Ok(serde_json::Value::Object(map)) => Ok(map),
            _ => Err(SignInError::Rejected("ID token claims".into())),
        }
    }

    async fn userinfo(
        &self,
        url: &Url,
        access_token: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, SignInError> {
        let request = http::Request::get(url.as_str())
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {access_token}"),
            )
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| SignInError::Unavailable(e.to_string()))?;
        let answer = self
            .http
            .call(request)
            .await
            .map_err(|e| SignInError::Unavailable(format!("userinfo endpoint: {e}")))?;
        if !answer.status().is_success() {
            return Err(SignInError::Rejected(format!(
                "the userinfo endpoint answered {}",
                answer.status()
            )));
        }
        serde_json::from_slice(answer.body()).map_err(|_| {
            SignInError::Unavailable("the userinfo endpoint did not answer a JSON object".into())
        })
    }

    fn client(
        &self,
        metadata: &ProviderMetadataWithLogout,
    ) -> CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        let secret = self
            .settings
            .client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose_secret().to_owned()));
        // The reference posts the client's credentials in the body unless told to use
        // HTTP Basic; a provider whose metadata offers only Basic gets Basic.
        let basic = self.settings.token_use_basic_auth
            || metadata
                .token_endpoint_auth_methods_supported()
                .is_some_and(|methods| {
                    !methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                        && methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
                });
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            secret,
        )
        .set_redirect_uri(self.redirect_url.clone())
        .set_auth_type(if basic {
            AuthType::BasicAuth
        } else {
            AuthType::RequestBody
        })
    }

    /// The provider's metadata and keys: kept ones while fresh, else read again.
    async fn provider(&self, refresh: bool) -> Result<Arc<Loaded>, SignInError> {
        let mut loaded = self.loaded.lock().await;
        if let Some(current) = loaded.as_ref()
            && !refresh
            && current.read_at.elapsed() < METADATA_TTL
        {
            return Ok(current.clone());
        }
        let fresh = Arc::new(Loaded {
            metadata: self.read_metadata().await?,
            read_at: Instant::now(),
        });
        *loaded = Some(fresh.clone());
        Ok(fresh)
    }

    async fn read_metadata(&self) -> Result<ProviderMetadataWithLogout, SignInError> {
        let s = &self.settings;
        let unavailable = |e: &dyn std::fmt::Display| SignInError::Unavailable(e.to_string());
        let mut metadata = match &s.issuer {
            Some(issuer) => {
                let issuer = IssuerUrl::new(issuer.as_str().trim_end_matches('/').to_owned())
                    .map_err(|e| unavailable(&e))?;
                ProviderMetadataWithLogout::discover_async(issuer, &self.http)
                    .await
                    .map_err(|e| unavailable(&format!("discovery: {e}")))?
            }
            None => {
                // The settings were checked: without discovery these are given.
                let (Some(authorization), Some(token)) =
                    (&s.authorization_endpoint, &s.token_endpoint)
                else {
                    return Err(SignInError::Unavailable("no endpoints configured".into()));
                };
                let jwks = s.jwks_endpoint.clone().unwrap_or_else(|| token.clone());
                ProviderMetadataWithLogout::new(
                    // Not checked without OIDC_OP_URL (`require_issuer_match(false)`).
                    IssuerUrl::from_url(authorization.clone()),
                    AuthUrl::from_url(authorization.clone()),
                    JsonWebKeySetUrl::from_url(jwks),
                    vec![ResponseTypes::new(vec![CoreResponseType::Code])],
                    vec![CoreSubjectIdentifierType::Public],
                    Vec::new(),
                    LogoutProviderMetadata {
                        end_session_endpoint: None,
                        additional_metadata: Default::default(),
                    },
                )
                .set_token_endpoint(Some(TokenUrl::from_url(token.clone())))
            }
        };
        if let Some(url) = &s.authorization_endpoint {
            metadata = metadata.set_authorization_endpoint(AuthUrl::from_url(url.clone()));
        }
        if let Some(url) = &s.token_endpoint {
            metadata = metadata.set_token_endpoint(Some(TokenUrl::from_url(url.clone())));
        }
        if let Some(url) = &s.userinfo_endpoint {
            metadata = metadata.set_userinfo_endpoint(Some(UserInfoUrl::from_url(url.clone())));
        }
        let keys_given = s.jwks_endpoint.is_some();
        if let Some(url) = &s.jwks_endpoint {
            metadata = metadata.set_jwks_uri(JsonWebKeySetUrl::from_url(url.clone()));
        }
        if s.issuer.is_none() || keys_given {
            // Discovery read the discovered keys; explicit ones are read here. HMAC-signed
            // ID tokens are verified with the client secret and need none.
            let jwks = if s.signs_with_client_secret() && !keys_given {
                JsonWebKeySet::new(Vec::new())
            } else {
                JsonWebKeySet::fetch_async(metadata.jwks_uri(), &self.http)
                    .await
                    .map_err(|e| unavailable(&format!("signing keys: {e}")))?
            };
            metadata = metadata.set_jwks(jwks);
        }
        Ok(metadata)
    }
}

/// The claims as an identity: the subject, the email, and the full name joined from
/// `fullname_fields` (or the `name` claim when those are all empty).
fn identity_from_claims(
    claims: &serde_json::Map<String, serde_json::Value>,
    fullname_fields: &[String],
    id_token: String,
) -> Identity {
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let mut full_name = fullname_fields
        .iter()
        .filter_map(|field| text(field))
        .collect::<Vec<_>>()
        .join(" ");
    if full_name.is_empty() {
        full_name = text("name").unwrap_or_default().to_owned();
    }
    let email_verified = match claims.get("email_verified") {
        Some(serde_json::Value::Bool(verified)) => *verified,
        Some(serde_json::Value::String(verified)) => verified != "false",
        _ => true,
    };
    Identity {
        sub: text("sub").unwrap_or_default().to_owned(),
        email: text("email").map(str::to_lowercase),
        email_verified,
        full_name,
        id_token,
    }
}

/// Our HTTP client as the `openidconnect` crate calls it: no redirects, a timeout, and
/// answers bounded in size.
struct ProviderHttp(reqwest::Client);

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ProviderHttpError(String);

impl<'c> AsyncHttpClient<'c> for ProviderHttp {
    type Error = ProviderHttpError;
    type Future =
        Pin<Box<dyn Future<Output = Result<HttpResponse, ProviderHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            // The whole chain: reqwest's own message is only "error sending request".
            let error = |e: &dyn std::error::Error| {
                let mut text = e.to_string();
                let mut source = e.source();
                while let Some(cause) = source {
                    text.push_str(": ");
                    text.push_str(&cause.to_string());
                    source = cause.source();
                }
                ProviderHttpError(text)
            };
            let request = reqwest::Request::try_from(request).map_err(|e| error(&e))?;
            let mut answer = self.0.execute(request).await.map_err(|e| error(&e))?;
            let mut response = http::Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                response = response.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = answer.chunk().await.map_err(|e| error(&e))? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(ProviderHttpError("the answer is too large".into()));
                }
                body.extend_from_slice(&chunk);
            }
            response.body(body).map_err(|e| error(&e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn the_full_name_joins_the_configured_claims_or_falls_back_to_name() {
        let fields = ["given_name".to_owned(), "usual_name".to_owned()];
        let identity = identity_from_claims(
            &claims(serde_json::json!({
                "sub": "s1", "email": "Ada@Example.test",
                "given_name": "Ada", "usual_name": " Lovelace ", "name": "ignored",
            })),
            &fields,
            "t".into(),
        );
        assert_eq!(identity.full_name, "Ada Lovelace");
        assert_eq!(identity.email.as_deref(), Some("ada@example.test"));
        assert!(identity.email_verified);
        let identity = identity_from_claims(
            &claims(
                serde_json::json!({"sub": "s2", "name": "Grace Hopper", "email_verified": false}),
            ),
            &fields,
            "t".into(),
        );
        assert_eq!(identity.full_name, "Grace Hopper");
        assert_eq!(identity.email, None);
        assert!(!identity.email_verified);
    }
}
