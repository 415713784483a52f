//! Local accounts: argon2 password hashes, random session and API tokens stored hashed,
//! and the [`CurrentUser`] extractor (session cookie or `Authorization: Bearer`).

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};
use axum::{extract::FromRequestParts, http::request::Parts};
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{app::AppState, db::UserRow, http::error::ApiError};

pub const SESSION_COOKIE: &str = "meet_recorder_session";
/// API tokens carry a prefix so they are recognisable in logs and secret scanners.
pub const API_TOKEN_PREFIX: &str = "mrt_";

pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("hash password: {e}"))?
        .to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A fresh random token (256 bits, hex).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What is stored for a token.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The signed-in user; rejects with 401 when there is none.
pub struct CurrentUser(pub UserRow);

fn session_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
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
        state.db.user_by_api_token(&token_hash(&token)).await?
    } else if let Some(session) = session_cookie(parts) {
        state.db.user_by_session(&token_hash(&session)).await?
    } else {
        None
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_tokens_are_distinct() {
        let hash = hash_password("correct horse").unwrap();
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("x", "not a hash"));
        assert_ne!(new_token(), new_token());
        assert_eq!(token_hash("a").len(), 64);
    }
}
