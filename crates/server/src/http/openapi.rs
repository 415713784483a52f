//! `GET openapi.json`: the API's OpenAPI 3.1 document, so that clients can be generated
//! and the service fuzzed against what it promises (`tests/integration/openapi.rs` runs
//! schemathesis on it).
//!
//! The document is built from the handlers' own `#[utoipa::path]` annotations (beside each
//! handler: its parameters, body, and every status with the error `code`s it can carry)
//! and the response types of [`super::views`]. What every request can meet before or
//! around a handler (the body deadline, the cross-site guard, a database failure) is added
//! here once, by [`SharedErrors`], rather than repeated on each handler.
//!
//! A route without documentation fails `every_route_is_documented` below, which reads the
//! router's table in `mod.rs`.

use std::sync::OnceLock;

use axum::{
    http::header,
    response::{IntoResponse, Response},
};
use serde::Serialize;
use utoipa::{
    Modify, OpenApi, ToSchema,
    openapi::{
        Content, HttpMethod, RefOr, ResponseBuilder,
        path::{Operation, ParameterIn},
        security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    },
};

use super::{
    accounts, consent, external_process, media, media_auth, oidc, recordings, requests,
    room_events, rooms, share_links, storage_hook, system, views, webhooks,
};

/// Where the API is mounted; the document's paths include it.
pub const API_PREFIX: &str = "/api/v1.0";

/// The API's paths that servers call rather than browsers: each carries its own
/// authentication, and the cross-site guard does not apply to them.
const SERVER_TO_SERVER: &[&str] = &[
    "/api/v1.0/rooms/webhooks-livekit/",
    "/api/v1.0/recordings/storage-hook/",
    "/api/v1.0/recordings/external-process-hook/",
];

#[derive(OpenApi)]
#[openapi(
    info(
        title = "meet-recorder",
        description = "Records LiveKit rooms. Browsers sign in with the session cookie \
            (`POST /api/v1.0/auth/login/`); scripts use an API token \
            (`Authorization: Bearer mrt_...`, made with `POST /api/v1.0/users/me/tokens/` or \
            `meet-recorder users token create`). Every error is JSON with a human `detail` \
            and a stable `code`; each response below lists the codes it can carry. \
            Unsafe methods from a browser are accepted from the service's own origin only, \
            with JSON bodies.",
    ),
    paths(
        accounts::login,
        accounts::logout,
        oidc::authenticate,
        oidc::callback,
        accounts::me,
        accounts::update_me,
        accounts::list_tokens,
        accounts::create_token,
        accounts::revoke_token,
        rooms::list,
        rooms::create,
        rooms::retrieve,
        rooms::update,
        rooms::destroy,
        rooms::token,
        room_events::recording_events,
        rooms::list_accesses,
        rooms::add_access,
        rooms::remove_access,
        recordings::start,
        recordings::stop,
        recordings::pause,
        recordings::resume,
        requests::request_recording,
        consent::answer,
        recordings::list,
        consent::list,
        media_auth::media_auth,
        media::media,
        share_links::list,
        share_links::create,
        share_links::revoke,
        recordings::retrieve,
        recordings::destroy,
        system::config,
        webhooks::livekit,
        storage_hook::storage_hook,
        external_process::external_process_hook,
        openapi_json,
    ),
    components(schemas(
        views::ErrorView,
        views::RoomStateView,
        HookMessage,
        WebhookStatus,
    )),
    modifiers(&SecuritySchemes, &SharedErrors),
    tags(
        (name = "accounts", description = "Sign in and out, the current user, API tokens."),
        (name = "rooms", description = "Rooms, their accesses, LiveKit join tokens, live state."),
        (name = "recordings", description = "Start, stop, pause and resume; list, watch, delete."),
        (name = "consent", description = "Participants' answers about a room's recordings."),
        (name = "share-links", description = "Public links to watch a saved recording."),
        (name = "system", description = "The front end's configuration; this document."),
        (name = "hooks", description = "Server-to-server callbacks: LiveKit, storage, transcription."),
    ),
)]
pub struct ApiDoc;

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(ApiDoc::openapi)
}

/// `GET openapi.json`: the document (see the module documentation).
#[utoipa::path(
    get,
    path = "/api/v1.0/openapi.json",
    tag = "system",
    security(()),
    responses(
        (status = 200, description = "This document (OpenAPI 3.1).", content_type = "application/json", body = Object),
    ),
)]
pub async fn openapi_json() -> Response {
    static JSON: OnceLock<String> = OnceLock::new();
    let json = JSON.get_or_init(|| {
        serde_json::to_string(document()).expect("the OpenAPI document serialises")
    });
    ([(header::CONTENT_TYPE, "application/json")], json.as_str()).into_response()
}

/// `{"message"}`: what the storage and transcription hooks answer.
#[derive(Serialize, ToSchema)]
pub struct HookMessage {
    /// `Event processed.`, `Notification ignored.`, or for an SNS subscription
    /// `Subscription confirmation logged for the operator.`
    pub message: String,
}

/// `{"status": "success"}`: what the LiveKit webhook answers.
#[derive(Serialize, ToSchema)]
pub struct WebhookStatus {
    pub status: String,
}

/// The security schemes the operations name.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str, format: Option<&str>| {
            let mut builder = HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(description));
            if let Some(format) = format {
                builder = builder.bearer_format(format);
            }
            SecurityScheme::Http(builder.build())
        };
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::engine::accounts::SESSION_COOKIE,
                "The session cookie `POST auth/login/` sets (HttpOnly, SameSite=Lax).",
            ))),
        );
        components.add_security_scheme(
            "api_token",
            bearer(
                "An API token, `mrt_` and 43 characters: `POST users/me/tokens/` or \
                 `meet-recorder users token create`.",
                Some("mrt_..."),
            ),
        );
        components.add_security_scheme(
            "livekit_webhook",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "LiveKit's webhook JWT, signed with LIVEKIT_API_SECRET, whose `sha256` claim \
                 is the body's SHA-256.",
            ))),
        );
        components.add_security_scheme(
            "storage_token",
            bearer(
                "STORAGE_EVENT_TOKEN, when RECORDING_ENABLE_STORAGE_EVENT_AUTH is on.",
                None,
            ),
        );
        components.add_security_scheme(
            "transcription_token",
            bearer("SUMMARY_SERVICE_WEBHOOK_API_TOKEN.", None),
        );
    }
}

/// The errors a request can meet outside its handler, added to every operation they
/// apply to (merged into a status the handler documents already).
struct SharedErrors;

impl Modify for SharedErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let guarded = !SERVER_TO_SERVER.contains(&path.as_str());
            let operations = [
                (HttpMethod::Get, &mut item.get),
                (HttpMethod::Post, &mut item.post),
                (HttpMethod::Put, &mut item.put),
                (HttpMethod::Patch, &mut item.patch),
                (HttpMethod::Delete, &mut item.delete),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    add_shared_errors(operation, &method, guarded);
                }
            }
        }
    }
}

fn add_shared_errors(operation: &mut Operation, method: &HttpMethod, guarded: bool) {
    let unsafe_method = !matches!(method, HttpMethod::Get);
    let json_body = operation.request_body.as_ref().is_some_and(|body| {
        body.content
            .keys()
            .any(|content_type| content_type == "application/json")
    });
    let has_query = operation
        .parameters
        .iter()
        .flatten()
        .any(|parameter| matches!(parameter.parameter_in, ParameterIn::Query));
    add_error(
        operation,
        400,
        "`invalid-body`: the request body could not be read.",
    );
    if json_body {
        add_error(
            operation,
            400,
            "`invalid-json`: the body is not JSON of the documented shape.",
        );
    }
    if has_query {
        add_error(
            operation,
            400,
            "`invalid-query`: the query string does not parse.",
        );
    }
    if guarded && unsafe_method {
        add_error(
            operation,
            403,
            "`cross-origin-request`: a browser's request from another origin (without a \
             bearer token).",
        );
    }
    if json_body || (guarded && unsafe_method) {
        add_error(
            operation,
            415,
            "`unsupported-media-type`: a body that is not declared \
             `Content-Type: application/json`.",
        );
    }
    add_error(
        operation,
        408,
        "`body-timeout`: the body did not arrive within MEET_RECORDER_BODY_TIMEOUT_S.",
    );
    add_error(
        operation,
        413,
        "`body-too-large`: a body over the limit (64 KiB).",
    );
    add_error(
        operation,
        500,
        "`internal-error`: the service failed (the details are logged, not sent).",
    );
}

/// Adds `line` to the description of the operation's `status` response, creating it (an
/// [`views::ErrorView`] body) when the handler documents no such status.
fn add_error(operation: &mut Operation, status: u16, line: &str) {
    let response = operation
        .responses
        .responses
        .entry(status.to_string())
        .or_insert_with(|| {
            ResponseBuilder::new()
                .description("")
                .content("application/json", Content::new(Some(error_body())))
                .into()
        });
    if let RefOr::T(response) = response {
        if response.description.is_empty() {
            response.description = line.to_owned();
        } else {
            response.description = format!("{}\n\n{line}", response.description);
        }
    }
}

fn error_body() -> RefOr<utoipa::openapi::schema::Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
        <views::ErrorView as ToSchema>::name(),
    ))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The API's routes as `mod.rs` declares them: `(path, method)`, path under
    /// [`API_PREFIX`], methods in lower case.
    fn routed() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let start = source
            .find("let api = Router::new()")
            .expect("the API router in mod.rs");
        let end = start
            + source[start..]
                .find(".fallback(")
                .expect("the API router's fallback");
        let table = &source[start..end];
        let mut routes = BTreeSet::new();
        for route in table.split(".route(").skip(1) {
            let path = route
                .split('"')
                .nth(1)
                .expect("a route's path is a string literal");
            // The method routers end where the route's own call does.
            let mut depth = 1;
            let call_end = route
                .char_indices()
                .find(|(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(route.len(), |(i, _)| i);
            let call = &route[..call_end];
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = call.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0
                        || !call.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && call.as_bytes()[i - 1] != b'_'
                });
                if called {
                    routes.insert((format!("{API_PREFIX}{path}"), method.to_owned()));
                }
            }
        }
        routes
    }

    fn documented() -> BTreeSet<(String, String)> {
        let mut operations = BTreeSet::new();
        for (path, item) in &document().paths.paths {
            let methods = [
                ("get", &item.get),
                ("post", &item.post),
                ("put", &item.put),
                ("patch", &item.patch),
                ("delete", &item.delete),
            ];
            for (method, operation) in methods {
                if operation.is_some() {
                    operations.insert((path.clone(), method.to_owned()));
                }
            }
        }
        operations
    }

    #[test]
    fn every_route_is_documented() {
        let routed = routed();
        assert!(
            routed.len() > 30,
            "the route table was not read: {routed:?}"
        );
        let documented = documented();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routes without a #[utoipa::path] listed in ApiDoc: {undocumented:?}"
        );
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            unrouted.is_empty(),
            "documented operations the router does not have: {unrouted:?}"
        );
    }

    #[test]
    fn every_operation_documents_its_errors_with_their_codes() {
        let document = serde_json::to_value(document()).unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.contains_key("500"), "{method} {path}");
                for (status, response) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let description = response["description"].as_str().unwrap();
                        assert!(
                            description.contains('`'),
                            "{method} {path} {status} names no code: {description}"
                        );
                    }
                }
                assert!(
                    operation.get("security").is_some(),
                    "{method} {path} says nothing of its security"
                );
            }
        }
    }
}
