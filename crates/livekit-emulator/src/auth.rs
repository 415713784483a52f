//! Access tokens checked the way the LiveKit server checks them.
//!
//! The auth middleware answers a malformed header, an unknown key, a bad signature or an
//! expired token with a **plain-text 401** before any Twirp handling. A request without a
//! token passes the middleware, and then each RPC checks its grant and answers a Twirp
//! `unauthenticated` error ("permissions denied") when it is missing.

use std::collections::BTreeMap;

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
            format!("{}\n", self.0),
        )
            .into_response()
    }
}

pub(crate) fn authenticate(
    headers: &HeaderMap,
    keys: &BTreeMap<String, String>,
) -> Result<Caller, Unauthorized> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Caller(None));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| unauthorized("invalid authorization header. Must start with Bearer "))?;
    let unverified =
        Claims::from_unverified(token).map_err(|_| unauthorized("invalid authorization token"))?;
    let secret = keys
        .get(&unverified.iss)
        .ok_or_else(|| unauthorized(&format!("invalid API key: {}", unverified.iss)))?;
    let claims = TokenVerifier::with_api_key(&unverified.iss, secret)
        .verify(token)
        .map_err(|error| unauthorized(&format!("invalid token, error: {error}")))?;
    Ok(Caller(Some(claims)))
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
