//! Access tokens checked the way the LiveKit server checks them.
//!
//! The auth middleware answers a malformed header, an unknown key, a bad signature or an
//! expired token with a **plain-text 401** before any Twirp handling, worded as the server
//! words it (Go's golang-jwt messages, no trailing newline). Without an `Authorization`
//! header the token may come in the `access_token` query parameter. A request without a
//! token passes the middleware, and then each RPC checks its grant and answers a Twirp
//! `unauthenticated` error ("permissions denied") when it is missing.

use std::collections::BTreeMap;

use base64::Engine;

use axum::{
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use livekit_api::access_token::{Claims, TokenVerifier};

use crate::twirp::TwirpError;

/// The claims of a verified token, or none when the request carried no token.
pub(crate) struct Caller(Option<Claims>);

/// Which grant an RPC needs.
pub(crate) enum Grant<'a> {
    /// `roomRecord`: every egress call.
    Record,
    /// `roomCreate`: CreateRoom, DeleteRoom.
    Create,
    /// `roomList`: ListRooms.
    List,
    /// `roomAdmin` for this very room: metadata, data, participants.
    Admin { room: &'a str },
}

/// The auth middleware's plain-text 401.
pub(crate) struct Unauthorized(String);

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            self.0,
        )
            .into_response()
    }
}

pub(crate) fn authenticate(
    headers: &HeaderMap,
    query: Option<&str>,
    keys: &BTreeMap<String, String>,
) -> Result<Caller, Unauthorized> {
    let token = match headers.get(header::AUTHORIZATION) {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| unauthorized("invalid authorization header. Must start with Bearer "))?
            .to_owned(),
        // Go's `r.FormValue("access_token")`.
        None => query.and_then(access_token_param).unwrap_or_default(),
    };
    if token.is_empty() {
        return Ok(Caller(None));
    }
    let token = token.as_str();
    let unverified =
        Claims::from_unverified(token).map_err(|_| unauthorized("invalid authorization token"))?;
    let secret = keys
        .get(&unverified.iss)
        .ok_or_else(|| unauthorized(&format!("invalid API key: {}", unverified.iss)))?;
    let claims = TokenVerifier::with_api_key(&unverified.iss, secret)
        .verify(token)
        .map_err(|error| {
            unauthorized(&format!(
                "invalid token: {token}, error: {}",
                golang_jwt_message(token, &format!("{error:?}"))
            ))
        })?;
    Ok(Caller(Some(claims)))
}

/// The `access_token` query parameter, form-decoded.
fn access_token_param(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (form_decode(name) == "access_token").then(|| form_decode(value))
    })
}

fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or_default();
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What the real server's verifier (golang-jwt v5) says about a token the `jsonwebtoken`
/// crate refused; `kind` is the crate error's `Debug` text, e.g. `Encoding(Error(ExpiredSignature))`.
fn golang_jwt_message(token: &str, kind: &str) -> String {
    if kind.contains("InvalidAlgorithm") {
        let alg = token
            .split('.')
            .next()
            .and_then(|head| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(head.trim_end_matches('='))
                    .ok()
            })
            .and_then(|head| serde_json::from_slice::<serde_json::Value>(&head).ok())
            .and_then(|head| head["alg"].as_str().map(str::to_owned))
            .unwrap_or_default();
        format!("token signature is invalid: signing method {alg} is invalid")
    } else if kind.contains("InvalidSignature") {
        "token signature is invalid: signature is invalid".into()
    } else if kind.contains("ExpiredSignature") {
        "token has invalid claims: token is expired".into()
    } else if kind.contains("ImmatureSignature") {
        "token has invalid claims: token is not valid yet".into()
    } else if kind.contains("MissingRequiredClaim") {
        // Stricter than v1.13.5, which accepts a token without `exp`; golang-jwt's
        // wording for when it is required.
        "token has invalid claims: token is missing required claim: exp claim is required".into()
    } else {
        format!("token is malformed: {kind}")
    }
}

fn unauthorized(message: &str) -> Unauthorized {
    Unauthorized(message.to_owned())
}

impl Caller {
    pub fn require(&self, grant: Grant<'_>) -> Result<(), TwirpError> {
        let granted = self.0.as_ref().is_some_and(|claims| {
            let video = &claims.video;
            match grant {
                Grant::Record => video.room_record,
                Grant::Create => video.room_create,
                Grant::List => video.room_list,
                Grant::Admin { room } => video.room_admin && video.room == room,
            }
        });
        if granted {
            Ok(())
        } else {
            Err(TwirpError::unauthenticated("permissions denied"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use livekit_api::access_token::{AccessToken, VideoGrants};

    const KEY: &str = "key";
    const SECRET: &str = "a-secret-long-enough-for-hs256-use";

    fn keys() -> BTreeMap<String, String> {
        BTreeMap::from([(KEY.to_owned(), SECRET.to_owned())])
    }

    fn token(secret: &str) -> String {
        AccessToken::with_api_key(KEY, secret)
            .with_grants(VideoGrants {
                room_list: true,
                ..Default::default()
            })
            .to_jwt()
            .unwrap()
    }

    fn refusal(headers: &HeaderMap, query: Option<&str>) -> String {
        match authenticate(headers, query, &keys()) {
            Ok(_) => panic!("the token was accepted"),
            Err(Unauthorized(message)) => message,
        }
    }

    #[test]
    fn the_token_may_come_in_the_query_when_there_is_no_header() {
        let query = format!("x=1&access_token={}", token(SECRET));
        let caller = authenticate(&HeaderMap::new(), Some(&query), &keys())
            .ok()
            .expect("the query token is accepted");
        assert!(caller.require(Grant::List).is_ok());
        assert_eq!(access_token_param("access_token=a%2Bb+c").unwrap(), "a+b c");
        assert!(access_token_param("other=1").is_none());
    }

    #[test]
    fn refusals_are_worded_like_the_real_server() {
        let wrong = token("not-the-secret");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {wrong}")).unwrap(),
        );
        assert_eq!(
            refusal(&headers, None),
            format!(
                "invalid token: {wrong}, error: token signature is invalid: signature is invalid"
            )
        );
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(
            refusal(&headers, None),
            "invalid authorization header. Must start with Bearer "
        );
        // A header wins over the query, as with Go's FormValue fallback.
        let query = format!("access_token={}", token(SECRET));
        assert!(refusal(&headers, Some(&query)).starts_with("invalid authorization header"));
        assert_eq!(
            golang_jwt_message("x", "Encoding(Error(ExpiredSignature))"),
            "token has invalid claims: token is expired"
        );
        let hs512_head = "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9";
        assert_eq!(
            golang_jwt_message(
                &format!("{hs512_head}.e30.x"),
                "Encoding(Error(InvalidAlgorithm))"
            ),
            "token signature is invalid: signing method HS512 is invalid"
        );
    }
}
