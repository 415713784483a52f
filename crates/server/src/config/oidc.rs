//! Sign-in through an OpenID Connect provider (`OIDC_*`, the reference system's names and
//! meanings), and whether local passwords may still be used.

use secrecy::SecretString;
use url::Url;

use super::{ConfigError, Source, invalid};

/// The identity provider users sign in with (`OIDC_*`); present when
/// `OIDC_RP_CLIENT_ID` is set.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The provider's issuer (`OIDC_OP_URL`): its discovery document is read from
    /// `{issuer}/.well-known/openid-configuration`, and ID tokens must come from it.
    /// Without it, every endpoint is given explicitly and the issuer is not checked (as
    /// the reference does).
    pub issuer: Option<Url>,
    pub client_id: String,
    pub client_secret: Option<SecretString>,
    /// The one algorithm ID tokens may be signed with (`OIDC_RP_SIGN_ALGO`).
    pub sign_algo: String,
    /// The scopes asked for, `openid` among them (`OIDC_RP_SCOPES`, space-separated).
    pub scopes: Vec<String>,
    /// Endpoints given explicitly; each wins over the discovered one.
    pub authorization_endpoint: Option<Url>,
    pub token_endpoint: Option<Url>,
    pub userinfo_endpoint: Option<Url>,
    pub jwks_endpoint: Option<Url>,
    /// Where the provider's session is ended at sign-out (RP-initiated logout).
    pub logout_endpoint: Option<Url>,
    /// The client authenticates at the token endpoint with HTTP Basic rather than in the
    /// body (`OIDC_TOKEN_USE_BASIC_AUTH`).
    pub token_use_basic_auth: bool,
    pub use_pkce: bool,
    pub use_nonce: bool,
    /// Whether a first sign-in creates the account (`OIDC_CREATE_USER`).
    pub create_user: bool,
    /// Whether an identity not yet linked is linked to the account with its email
    /// (`OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION`).
    pub fallback_to_email: bool,
    /// The claims joined into the full name (`OIDC_USERINFO_FULLNAME_FIELDS`).
    pub fullname_fields: Vec<String>,
    /// Hosts besides the service's own that `returnTo` may lead to after sign-in
    /// (`OIDC_REDIRECT_ALLOWED_HOSTS`).
    pub redirect_allowed_hosts: Vec<String>,
}

impl OidcSettings {
    /// The algorithms that sign with the client secret rather than the provider's keys.
    pub fn signs_with_client_secret(&self) -> bool {
        self.sign_algo.starts_with("HS")
    }
}

/// The ID token signing algorithms the provider may use (JWA names).
const SIGN_ALGOS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "HS256",
    "HS384", "HS512",
];

fn list(value: &str, separator: char) -> Vec<String> {
    value
        .split(separator)
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(str::to_owned)
        .collect()
}

fn endpoint(source: &Source, name: &str) -> Result<Option<Url>, ConfigError> {
    source
        .get(name)?
        .map(|value| {
            Url::parse(&value)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
                .ok_or_else(|| invalid(name, "must be an http:// or https:// URL"))
        })
        .transpose()
}

pub(super) fn oidc_settings(source: &Source) -> Result<Option<OidcSettings>, ConfigError> {
    let Some(client_id) = source.get("OIDC_RP_CLIENT_ID")? else {
        return Ok(None);
    };
    let issuer = endpoint(source, "OIDC_OP_URL")?;
    let settings = OidcSettings {
        issuer,
        client_id,
        client_secret: source.secret("OIDC_RP_CLIENT_SECRET")?,
        sign_algo: source.string("OIDC_RP_SIGN_ALGO", "RS256")?,
        scopes: list(&source.string("OIDC_RP_SCOPES", "openid email")?, ' '),
        authorization_endpoint: endpoint(source, "OIDC_OP_AUTHORIZATION_ENDPOINT")?,
        token_endpoint: endpoint(source, "OIDC_OP_TOKEN_ENDPOINT")?,
        userinfo_endpoint: endpoint(source, "OIDC_OP_USER_ENDPOINT")?,
        jwks_endpoint: endpoint(source, "OIDC_OP_JWKS_ENDPOINT")?,
        logout_endpoint: endpoint(source, "OIDC_OP_LOGOUT_ENDPOINT")?,
        token_use_basic_auth: source.bool("OIDC_TOKEN_USE_BASIC_AUTH", false)?,
        use_pkce: source.bool("OIDC_USE_PKCE", true)?,
        use_nonce: source.bool("OIDC_USE_NONCE", true)?,
        create_user: source.bool("OIDC_CREATE_USER", true)?,
        fallback_to_email: source.bool("OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", true)?,
        fullname_fields: list(
            &source.string("OIDC_USERINFO_FULLNAME_FIELDS", "given_name,family_name")?,
            ',',
        ),
        redirect_allowed_hosts: list(
            &source
                .get("OIDC_REDIRECT_ALLOWED_HOSTS")?
                .unwrap_or_default()
                .to_ascii_lowercase(),
            ',',
        ),
    };
    if !SIGN_ALGOS.contains(&settings.sign_algo.as_str()) {
        return Err(invalid(
            "OIDC_RP_SIGN_ALGO",
            format!("must be one of {}", SIGN_ALGOS.join(", ")),
        ));
    }
    if !settings.scopes.iter().any(|scope| scope == "openid") {
        return Err(invalid("OIDC_RP_SCOPES", "must include openid"));
    }
    if settings.signs_with_client_secret() && settings.client_secret.is_none() {
        return Err(invalid(
            "OIDC_RP_CLIENT_SECRET",
            format!("is required to verify {} ID tokens", settings.sign_algo),
        ));
    }
    if settings.issuer.is_none() {
        // Without discovery every endpoint a sign-in needs must be given.
        let mut required = vec![
            (
                "OIDC_OP_AUTHORIZATION_ENDPOINT",
                &settings.authorization_endpoint,
            ),
            ("OIDC_OP_TOKEN_ENDPOINT", &settings.token_endpoint),
        ];
        if !settings.signs_with_client_secret() {
            required.push(("OIDC_OP_JWKS_ENDPOINT", &settings.jwks_endpoint));
        }
        if let Some((name, _)) = required.into_iter().find(|(_, value)| value.is_none()) {
            return Err(invalid(
                name,
                "is required when OIDC_OP_URL is not set (no discovery)",
            ));
        }
    }
    Ok(Some(settings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Option<OidcSettings>, ConfigError> {
        oidc_settings(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn off_without_a_client_id_and_the_reference_defaults_with_one() {
        assert!(
            settings(&[("OIDC_OP_URL", "https://id.example.org")])
                .unwrap()
                .is_none()
        );
        let on = settings(&[
            ("OIDC_RP_CLIENT_ID", "meet"),
            ("OIDC_OP_URL", "https://id.example.org/realms/org"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(on.sign_algo, "RS256");
        assert_eq!(on.scopes, ["openid", "email"]);
        assert!(on.use_pkce && on.use_nonce && on.create_user && on.fallback_to_email);
        assert!(!on.token_use_basic_auth);
        assert_eq!(on.fullname_fields, ["given_name", "family_name"]);
    }

    #[test]
    fn unusable_combinations_name_the_variable() {
        let client = ("OIDC_RP_CLIENT_ID", "meet");
        let issuer = ("OIDC_OP_URL", "https://id.example.org");
        let variable = |pairs: &[(&str, &str)]| settings(pairs).unwrap_err().variable;
        assert_eq!(
            variable(&[
                client,
                ("OIDC_OP_TOKEN_ENDPOINT", "https://id.example.org/token")
            ]),
            "OIDC_OP_AUTHORIZATION_ENDPOINT"
        );
        assert_eq!(
            variable(&[
                client,
                (
                    "OIDC_OP_AUTHORIZATION_ENDPOINT",
                    "https://id.example.org/auth"
                ),
                ("OIDC_OP_TOKEN_ENDPOINT", "https://id.example.org/token"),
            ]),
            "OIDC_OP_JWKS_ENDPOINT"
        );
        assert_eq!(
            variable(&[client, issuer, ("OIDC_RP_SIGN_ALGO", "none")]),
            "OIDC_RP_SIGN_ALGO"
        );
        assert_eq!(
            variable(&[client, issuer, ("OIDC_RP_SIGN_ALGO", "HS256")]),
            "OIDC_RP_CLIENT_SECRET"
        );
        assert_eq!(
            variable(&[client, issuer, ("OIDC_RP_SCOPES", "email profile")]),
            "OIDC_RP_SCOPES"
        );
        assert_eq!(
            variable(&[client, ("OIDC_OP_URL", "ftp://id.example.org")]),
            "OIDC_OP_URL"
        );
    }
}
