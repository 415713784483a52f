//! The admin API under `/admin/`: what a test (or the dev UI) needs that LiveKit's own
//! API does not offer. Simulated participants join and leave, faults are injected, and
//! what each room received (metadata, data messages) and every webhook delivery can be
//! read back. It has no authentication: the emulator is a development and test tool.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::{Path, State, rejection::JsonRejection},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{delete, get},
};
use serde::Deserialize;
use serde_json::json;

use crate::{Fault, state::Shared};

const MAX_ADMIN_BODY_BYTES: usize = 64 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(|| async { "OK" }))
        .route("/admin/rooms", get(list_rooms))
        .route("/admin/rooms/{room}", get(get_room))
        .route(
            "/admin/rooms/{room}/participants",
            axum::routing::post(join),
        )
        .route("/admin/rooms/{room}/participants/{identity}", delete(leave))
        .route("/admin/egress", get(list_egress))
        .route(
            "/admin/faults",
            get(list_faults).post(add_fault).delete(clear_faults),
        )
        .route("/admin/webhooks", get(webhook_log))
        .route("/admin/calls", get(calls))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_ADMIN_BODY_BYTES))
        .with_state(shared)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn room_json(room: &crate::rooms::RoomState) -> serde_json::Value {
    json!({
        "room": room.snapshot(),
        "participants": room.participants,
        "metadata": room.info.metadata,
        "metadata_updates": room.metadata_updates,
        "data_messages": room.data_messages,
    })
}

async fn list_rooms(State(shared): State<Arc<Shared>>) -> Response {
    let inner = shared.inner.lock().unwrap();
    let rooms: Vec<_> = inner.rooms.values().map(room_json).collect();
    Json(rooms).into_response()
}

async fn get_room(State(shared): State<Arc<Shared>>, Path(room): Path<String>) -> Response {
    let inner = shared.inner.lock().unwrap();
    match inner.rooms.get(&room) {
        Some(state) => Json(room_json(state)).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            format!("room {room:?} does not exist"),
        ),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JoinRequest {
    identity: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    metadata: Option<String>,
}

async fn join(
    State(shared): State<Arc<Shared>>,
    Path(room): Path<String>,
    body: Result<Json<JoinRequest>, JsonRejection>,
) -> Response {
    let Json(request) = match body {
        Ok(body) => body,
        Err(rejection) => return error(rejection.status(), rejection.body_text()),
    };
    if request.identity.trim().is_empty() || room.trim().is_empty() {
        return error(
            StatusCode::BAD_REQUEST,
            "room and identity must not be empty",
        );
    }
    let participant = shared.join_participant(
        &room,
        &request.identity,
        request.name.as_deref().unwrap_or(&request.identity),
        request.metadata.as_deref().unwrap_or_default(),
    );
    (StatusCode::CREATED, Json(participant)).into_response()
}

async fn leave(
    State(shared): State<Arc<Shared>>,
    Path((room, identity)): Path<(String, String)>,
) -> Response {
    if shared.leave_participant(&room, &identity) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        error(
            StatusCode::NOT_FOUND,
            format!("no participant {identity:?} in room {room:?}"),
        )
    }
}

async fn list_egress(State(shared): State<Arc<Shared>>) -> Response {
    let inner = shared.inner.lock().unwrap();
    let items: Vec<_> = inner.egresses.values().map(|e| e.info.clone()).collect();
    Json(items).into_response()
}

async fn list_faults(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.faults()).into_response()
}

async fn add_fault(
    State(shared): State<Arc<Shared>>,
    body: Result<Json<Fault>, JsonRejection>,
) -> Response {
    match body {
        Ok(Json(fault)) => {
            shared.add_fault(fault);
            (StatusCode::CREATED, Json(shared.faults())).into_response()
        }
        Err(rejection) => error(rejection.status(), rejection.body_text()),
    }
}

async fn clear_faults(State(shared): State<Arc<Shared>>) -> Response {
    shared.clear_faults();
    StatusCode::NO_CONTENT.into_response()
}

async fn webhook_log(State(shared): State<Arc<Shared>>) -> Response {
    Json(shared.webhooks.log()).into_response()
}

/// `GET /admin/calls`: how many authenticated API calls each method answered so far.
async fn calls(State(shared): State<Arc<Shared>>) -> Json<serde_json::Value> {
    Json(json!(*shared.calls.lock().unwrap()))
}
