//! The Twirp transport: `POST /twirp/livekit.{Service}/{Method}` with protobuf or JSON
//! bodies, Twirp JSON errors with the real codes, and the dispatch to the RPCs.

use std::sync::Arc;

use axum::{
    Router,
    body::Bytes,
    extract::{Request, State},
    http::{Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::any,
};
use livekit_protocol as proto;
use serde::{Serialize, de::DeserializeOwned};

use crate::{
    auth::{self, Grant},
    protojson,
    state::Shared,
};

/// Larger bodies are refused before decoding; real requests are a few kilobytes.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/twirp/{*path}", any(handle))
        .with_state(shared)
}

/// A Twirp error: `{"code": ..., "msg": ...}` with the code's fixed HTTP status.
#[derive(Debug, Serialize)]
pub(crate) struct TwirpError {
    code: &'static str,
    msg: String,
}

impl TwirpError {
    fn new(code: &'static str, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
        }
    }
    pub fn bad_route(msg: impl Into<String>) -> Self {
        Self::new("bad_route", msg)
    }
    pub fn malformed(msg: impl Into<String>) -> Self {
        Self::new("malformed", msg)
    }
    pub fn invalid_argument(msg: impl Into<String>) -> Self {
        Self::new("invalid_argument", msg)
    }
    pub fn unauthenticated(msg: impl Into<String>) -> Self {
        Self::new("unauthenticated", msg)
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::new("not_found", msg)
    }
    pub fn failed_precondition(msg: impl Into<String>) -> Self {
        Self::new("failed_precondition", msg)
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new("internal", msg)
    }
    pub fn unavailable(msg: impl Into<String>) -> Self {
        Self::new("unavailable", msg)
    }

    fn status(&self) -> StatusCode {
        match self.code {
            "invalid_argument" | "malformed" | "out_of_range" => StatusCode::BAD_REQUEST,
            "unauthenticated" => StatusCode::UNAUTHORIZED,
            "permission_denied" => StatusCode::FORBIDDEN,
            "not_found" | "bad_route" => StatusCode::NOT_FOUND,
            "already_exists" | "aborted" => StatusCode::CONFLICT,
            "failed_precondition" => StatusCode::PRECONDITION_FAILED,
            "resource_exhausted" => StatusCode::TOO_MANY_REQUESTS,
            "unimplemented" => StatusCode::NOT_IMPLEMENTED,
            "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for TwirpError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = serde_json::to_vec(&self).expect("serialize Twirp error");
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// The two encodings Twirp allows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Protobuf,
    Json,
}

/// One decoded call: its encoding, the caller's grants and the raw body.
pub(crate) struct Call {
    pub encoding: Encoding,
    pub caller: auth::Caller,
    body: Bytes,
}

impl Call {
    pub fn decode<M: prost::Message + Default + DeserializeOwned>(&self) -> Result<M, TwirpError> {
        match self.encoding {
            Encoding::Protobuf => M::decode(self.body.as_ref())
                .map_err(|_| TwirpError::malformed("the protobuf request could not be decoded")),
            // pbjson accepts proto and JSON names, enum names or numbers, int64 as string
            // or number, and ignores unknown fields: what protojson's DiscardUnknown does.
            Encoding::Json => serde_json::from_slice(&self.body)
                .map_err(|_| TwirpError::malformed("the json request could not be decoded")),
        }
    }

    pub fn respond<M: prost::Message>(&self, message: &M, name: &str) -> Response {
        match self.encoding {
            Encoding::Protobuf => (
                [(header::CONTENT_TYPE, "application/protobuf")],
                message.encode_to_vec(),
            )
                .into_response(),
            Encoding::Json => (
                [(header::CONTENT_TYPE, "application/json")],
                protojson::encode(message, name),
            )
                .into_response(),
        }
    }

    pub fn require(&self, grant: Grant<'_>) -> Result<(), TwirpError> {
        self.caller.require(grant)
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    // The auth middleware runs first on the real server, for every path.
    let caller = match auth::authenticate(request.headers(), &shared.config.keys) {
        Ok(caller) => caller,
        Err(unauthorized) => return unauthorized.into_response(),
    };
    let path = request.uri().path().to_owned();
    if request.method() != Method::POST {
        return TwirpError::bad_route(format!(
            "unsupported method {:?} (only POST is allowed)",
            request.method().as_str()
        ))
        .into_response();
    }
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let encoding = match content_type.split(';').next().unwrap_or_default().trim() {
        "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        _ => {
            return TwirpError::bad_route(format!("unexpected Content-Type: {content_type:?}"))
                .into_response();
        }
    };
    let body = match axum::body::to_bytes(request.into_body(), MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(_) => {
            return TwirpError::malformed(format!(
                "the request body is larger than {MAX_BODY_BYTES} bytes"
            ))
            .into_response();
        }
    };
    let call = Call {
        encoding,
        caller,
        body,
    };
    let result = match path.trim_start_matches("/twirp/") {
        "livekit.Egress/StartRoomCompositeEgress" => shared.start_room_composite(&call).await,
        "livekit.Egress/StopEgress" => shared.stop_egress(&call),
        "livekit.Egress/ListEgress" => shared.list_egress(&call),
        "livekit.Egress/UpdateLayout" => shared.update_layout(&call),
        "livekit.RoomService/CreateRoom" => create_room(&shared, &call),
        "livekit.RoomService/ListRooms" => list_rooms(&shared, &call),
        "livekit.RoomService/DeleteRoom" => delete_room(&shared, &call),
        "livekit.RoomService/UpdateRoomMetadata" => update_room_metadata(&shared, &call),
        "livekit.RoomService/SendData" => send_data(&shared, &call),
        "livekit.RoomService/ListParticipants" => list_participants(&shared, &call),
        _ => Err(TwirpError::bad_route(format!(
            "no handler for path {path:?}"
        ))),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

pub(crate) fn room_not_found() -> TwirpError {
    TwirpError::not_found("requested room does not exist")
}

fn create_room(shared: &Shared, call: &Call) -> Result<Response, TwirpError> {
    call.require(Grant::Create)?;
    let request: proto::CreateRoomRequest = call.decode()?;
    if request.name.is_empty() {
        return Err(TwirpError::invalid_argument("room name is required"));
    }
    let room = shared.create_room(&request);
    Ok(call.respond(&room, "livekit.Room"))
}

fn list_rooms(shared: &Shared, call: &Call) -> Result<Response, TwirpError> {
    call.require(Grant::List)?;
    let request: proto::ListRoomsRequest = call.decode()?;
    let inner = shared.inner.lock().unwrap();
    let rooms = inner
        .rooms
        .values()
        .filter(|room| request.names.is_empty() || request.names.contains(&room.info.name))
        .map(|room| room.snapshot())
        .collect();
    let response = proto::ListRoomsResponse { rooms };
    Ok(call.respond(&response, "livekit.ListRoomsResponse"))
}

fn delete_room(shared: &Shared, call: &Call) -> Result<Response, TwirpError> {
    call.require(Grant::Create)?;
    let request: proto::DeleteRoomRequest = call.decode()?;
    if !shared.delete_room(&request.room) {
        return Err(room_not_found());
    }
    Ok(call.respond(&proto::DeleteRoomResponse {}, "livekit.DeleteRoomResponse"))
}

fn update_room_metadata(shared: &Shared, call: &Call) -> Result<Response, TwirpError> {
    let request: proto::UpdateRoomMetadataRequest = call.decode()?;
    call.require(Grant::Admin {
        room: &request.room,
    })?;
    let mut inner = shared.inner.lock().unwrap();
    let room = inner
        .rooms
        .get_mut(&request.room)
        .ok_or_else(room_not_found)?;
    room.info.metadata = request.metadata.clone();
    room.metadata_updates.push(request.metadata);
    Ok(call.respond(&room.snapshot(), "livekit.Room"))
}

fn send_data(shared: &Shared, call: &Call) -> Result<Response, TwirpError> {
    let request: proto::SendDataRequest = call.decode()?;
    call.require(Grant::Admin {
        room: &request.room,
    })?;
    if !request.nonce.is_empty() && request.nonce.len() != 16 {
        return Err(TwirpError::invalid_argument(
            "nonce should be 16-bytes or not present",
        ));
    }
    let mut inner = shared.inner.lock().unwrap();
    let room = inner
        .rooms
        .get_mut(&request.room)
        .ok_or_else(room_not_found)?;
    room.data_messages
        .push(crate::rooms::DataMessage::from_request(&request));
    Ok(call.respond(&proto::SendDataResponse {}, "livekit.SendDataResponse"))
}

fn list_participants(shared: &Shared, call: &Call) -> Result<Response, TwirpError> {
    let request: proto::ListParticipantsRequest = call.decode()?;
    call.require(Grant::Admin {
        room: &request.room,
    })?;
    let inner = shared.inner.lock().unwrap();
    let room = inner.rooms.get(&request.room).ok_or_else(room_not_found)?;
    let response = proto::ListParticipantsResponse {
        participants: room.participants.clone(),
    };
    Ok(call.respond(&response, "livekit.ListParticipantsResponse"))
}
