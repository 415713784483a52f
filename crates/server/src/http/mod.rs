//! The HTTP interface: thin handlers that parse, check permissions, call the database or
//! one of the engine's services, and shape JSON. Paths are the reference system's,
//! under `/api/v1.0/` with trailing slashes.
//!
//! # Layout
//! - `state.rs`: [`AppState`], what handlers share (built by `crate::app`), and the dev
//!   mode hooks. `auth.rs`: the signed-in user (session cookie or bearer token).
//! - `error.rs`: `ApiError` (status, `code`, `detail`) and the `JsonBody` extractor.
//! - `accounts.rs`: sign in/out, the current user, API tokens. `oidc.rs`: sign-in through
//!   the OpenID Connect provider.
//! - `rooms.rs`: rooms, accesses, LiveKit join tokens. `room_events.rs`: the live
//!   recording state of a room (server-sent events); `stream_connections.rs` serves their
//!   connections without hyper's per-connection buffers.
//! - `recordings.rs`: start/stop, list, retrieve, delete. `media.rs`: streaming the file.
//!   `requests.rs`: participants asking the hosts for a recording.
//! - `webhooks.rs`: LiveKit webhooks. `storage_hook.rs`: storage events.
//!   `external_process.rs`: the transcription service's callback.
//! - `media_auth.rs`: nginx `auth_request` compatibility. `share_links.rs`: share links and
//!   the public `/s/{token}` page.
//! - `system.rs`: `config/`, health and readiness. `openapi.rs`: `openapi.json`, the
//!   API's OpenAPI document, from the handlers' annotations.
//! - `guard.rs`: cross-site requests (own origin, JSON bodies), dev mode's host names,
//!   security headers on every response. `client.rs`: the client's address.
//!
//! Everything else is the browser app ([`web`]).

mod accounts;
pub mod auth;
pub mod client;
mod consent;
pub use accounts::LANGUAGES;
pub mod error;
mod external_process;
pub mod guard;
pub mod media;
mod media_auth;
pub mod oidc;
pub mod openapi;
mod recordings;
mod requests;
pub mod room_events;
mod rooms;
pub mod share_links;
pub mod state;
mod storage_hook;
pub mod stream_connections;
pub mod system;
pub mod views;
pub mod web;
mod webhooks;

pub use state::{AppState, DevMode, RoomPresence};

use std::sync::Arc;

use axum::{
    Extension, Router,
    extract::DefaultBodyLimit,
    middleware,
    routing::{get, post},
};
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};

/// JSON bodies are small; webhooks and storage events have their own limit.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/auth/login/", post(accounts::login))
        .route("/auth/logout/", post(accounts::logout))
        .route("/authenticate/", get(oidc::authenticate))
        .route("/callback/", get(oidc::callback))
        .route("/users/me/", get(accounts::me).patch(accounts::update_me))
        .route(
            "/users/me/tokens/",
            get(accounts::list_tokens).post(accounts::create_token),
        )
        .route(
            "/users/me/tokens/{token}/",
            axum::routing::delete(accounts::revoke_token),
        )
        .route("/rooms/", get(rooms::list).post(rooms::create))
        .route(
            "/rooms/{room}/",
            get(rooms::retrieve)
                .patch(rooms::update)
                .delete(rooms::destroy),
        )
        .route("/rooms/{room}/token/", get(rooms::token))
        .route(
            "/rooms/{room}/recording-events/",
            get(room_events::recording_events),
        )
        .route(
            "/rooms/{room}/accesses/",
            get(rooms::list_accesses).post(rooms::add_access),
        )
        .route(
            "/rooms/{room}/accesses/{access}/",
            axum::routing::delete(rooms::remove_access),
        )
        .route("/rooms/{room}/start-recording/", post(recordings::start))
        .route("/rooms/{room}/stop-recording/", post(recordings::stop))
        .route("/rooms/{room}/pause-recording/", post(recordings::pause))
        .route("/rooms/{room}/resume-recording/", post(recordings::resume))
        .route(
            "/rooms/{room}/request-recording/",
            post(requests::request_recording),
        )
        .route("/rooms/{room}/recording-consent/", post(consent::answer))
        .route("/recordings/", get(recordings::list))
        .route("/recordings/{id}/consents/", get(consent::list))
        .route("/recordings/media-auth/", get(media_auth::media_auth))
        .route("/recordings/{id}/media/", get(media::media))
        .route(
            "/recordings/{id}/share-links/",
            get(share_links::list).post(share_links::create),
        )
        .route(
            "/recordings/{id}/share-links/{link}/",
            axum::routing::delete(share_links::revoke),
        )
        .route(
            "/recordings/{id}/",
            get(recordings::retrieve).delete(recordings::destroy),
        )
        .route("/config/", get(system::config))
        // Everything above is what browsers use, with the signed-in person's cookie.
        .route_layer(middleware::from_fn_with_state(
            Arc::new(guard::OriginPolicy::new(&state.config, state.dev.is_some())),
            guard::cross_site_guard,
        ))
        // Server-to-server: no browser, no cookie; each carries its own authentication
        // (a signed JWT, a bearer token).
        .route("/rooms/webhooks-livekit/", post(webhooks::livekit))
        .route(
            "/recordings/storage-hook/",
            post(storage_hook::storage_hook),
        )
        .route(
            "/recordings/external-process-hook/",
            post(external_process::external_process_hook),
        )
        .route("/openapi.json", get(openapi::openapi_json))
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed);
    let router = Router::new()
        .nest("/api/v1.0", api)
        .route("/healthz", get(system::healthz))
        .route("/s/{token}", get(share_links::page))
        .route("/s/{token}/media", get(share_links::media))
        .route("/readyz", get(system::readyz))
        .route("/metrics", get(system::metrics))
        .fallback(web::serve)
        .layer(middleware::from_fn_with_state(
            state.config.connections.body_timeout,
            guard::body_deadline,
        ))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(Extension(room_events::EventStreamLimiter::new(
            state.config.connections.event_streams_per_client,
        )));
    // A DNS-rebinding page reaches a local dev server under the attacker's host name.
    let router = match &state.dev {
        Some(_) => router.layer(middleware::from_fn_with_state(
            Arc::new(guard::DevHosts::new(&state.config)),
            guard::dev_host_guard,
        )),
        None => router,
    };
    router
        .layer(CatchPanicLayer::custom(system::panic_response))
        .layer(middleware::from_fn_with_state(
            Arc::new(guard::SecurityHeaders::new(&state.config)),
            guard::security_headers,
        ))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(state)
}

/// The span of one request: its id (`x-request-id`, given or made), method and path, with
/// share-link tokens masked and no query string, so no secret reaches the logs.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        request_id,
        method = %request.method(),
        path = %loggable_path(request.uri().path()),
    )
}

/// The path as logs may show it: the token of a share link (`/s/{token}`) is masked.
fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.strip_prefix("/s/") {
        Some(rest) => {
            let after_token = rest.find('/').map_or("", |i| &rest[i..]);
            format!("/s/{{token}}{after_token}").into()
        }
        None => path.into(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn share_tokens_never_reach_the_logs() {
        assert_eq!(super::loggable_path("/s/abcdef"), "/s/{token}");
        assert_eq!(super::loggable_path("/s/abcdef/media"), "/s/{token}/media");
        assert_eq!(super::loggable_path("/api/v1.0/rooms/"), "/api/v1.0/rooms/");
    }
}
