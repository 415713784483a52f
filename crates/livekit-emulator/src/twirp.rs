//! The Twirp transport: `POST /twirp/livekit.{Service}/{Method}` with protobuf or JSON
//! bodies, Twirp JSON errors with the real codes and messages, and the dispatch to the RPCs.
//!
//! The checks run in the real server's order: the auth middleware (plain-text 401s), then
//! the Twirp handler: method, service and method name, Content-Type, body, and the RPC.
//! A service the real server does not register at all (`/twirp/livekit.Nope/...`) never
//! reaches Twirp: Go's mux answers a plain-text 404 "404 page not found".
//! Errors that reach the real server's Twirp layer from its internal RPC system (psrpc)
//! carry the prefix "twirp error unknown: " in their message; the emulator keeps it.

use std::{collections::BTreeMap, sync::Arc};

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

/// How the real server words an error that came back from psrpc through Twirp.
const PSRPC_PREFIX: &str = "twirp error unknown: ";

/// A Twirp error: `{"code": ..., "msg": ..., "meta": {...}}` with the code's fixed HTTP
/// status; `meta` only when the real server sends one (bad routes).
#[derive(Debug, Serialize)]
pub(crate) struct TwirpError {
    code: &'static str,
    msg: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta: Option<BTreeMap<&'static str, String>>,
}

impl TwirpError {
    fn new(code: &'static str, msg: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            meta: None,
        }
    }
    /// Twirp's `badRouteError`: the route is echoed in `meta.twirp_invalid_route`.
    pub fn bad_route(msg: impl Into<String>, method: &Method, path: &str) -> Self {
        Self {
            meta: Some(BTreeMap::from([(
                "twirp_invalid_route",
                format!("{} {path}", method.as_str()),
            )])),
            ..Self::new("bad_route", msg)
        }
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
    pub fn failed_precondition(msg: impl Into<String>) -> Self {
        Self::new("failed_precondition", msg)
    }
    pub fn internal(msg: impl Into<String>) -> Self {
        Self::new("internal", msg)
    }
    /// An error the real server gets from psrpc, with the prefix Twirp gives it there.
    pub fn from_psrpc(code: &'static str, msg: &str) -> Self {
        Self::new(code, format!("{PSRPC_PREFIX}{msg}"))
    }
    /// psrpc's `ErrNoResponse`: the real server's answer when no node handles a request
    /// (after its psrpc timeout; the emulator answers at once).
    pub fn no_response() -> Self {
        Self::from_psrpc("unavailable", "no response from servers")
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
    let caller = match auth::authenticate(
        request.headers(),
        request.uri().query(),
        &shared.config.keys,
    ) {
        Ok(caller) => caller,
        Err(unauthorized) => return unauthorized.into_response(),
    };
    let path = request.uri().path().to_owned();
    let route = path.trim_start_matches("/twirp/");
    let method = request.method().clone();
    if method != Method::POST {
        return TwirpError::bad_route(
            format!(
                "unsupported method {:?} (only POST is allowed)",
                method.as_str()
            ),
            &method,
            &path,
        )
        .into_response();
    }
    let Some(rpc) = Rpc::from_route(route) else {
        let service = route.split('/').next().unwrap_or_default();
        if !SERVER_SERVICES.contains(&service) {
            return (
                StatusCode::NOT_FOUND,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                "404 page not found\n",
            )
                .into_response();
        }
        return TwirpError::bad_route(format!("no handler for path {path:?}"), &method, &path)
            .into_response();
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let media_type = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let encoding = match media_type.as_str() {
        "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        _ => {
            return TwirpError::bad_route(
                format!("unexpected Content-Type: {content_type:?}"),
                &method,
                &path,
            )
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
    *shared.calls.lock().unwrap().entry(rpc.route()).or_default() += 1;
    let call = Call {
        encoding,
        caller,
        body,
    };
    let result = match rpc {
        Rpc::StartRoomCompositeEgress => shared.start_room_composite(&call).await,
        Rpc::StopEgress => shared.stop_egress(&call),
        Rpc::ListEgress => shared.list_egress(&call),
        Rpc::UpdateLayout => shared.update_layout(&call),
        Rpc::CreateRoom => create_room(&shared, &call),
        Rpc::ListRooms => list_rooms(&shared, &call),
        Rpc::DeleteRoom => delete_room(&shared, &call),
        Rpc::UpdateRoomMetadata => update_room_metadata(&shared, &call),
        Rpc::SendData => send_data(&shared, &call),
        Rpc::ListParticipants => list_participants(&shared, &call),
        Rpc::UpdateParticipant => update_participant(&shared, &call),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

/// The Twirp services the real server registers (v1.13.5 `pkg/service/server.go`).
const SERVER_SERVICES: &[&str] = &[
    "livekit.RoomService",
    "livekit.AgentDispatchService",
    "livekit.Egress",
    "livekit.Ingress",
    "livekit.SIP",
];

/// The RPCs the emulator serves; every other method of a real service is `bad_route`.
#[derive(Clone, Copy)]
enum Rpc {
    StartRoomCompositeEgress,
    StopEgress,
    ListEgress,
    UpdateLayout,
    CreateRoom,
    ListRooms,
    DeleteRoom,
    UpdateRoomMetadata,
    SendData,
    ListParticipants,
    UpdateParticipant,
}

impl Rpc {
    fn route(self) -> &'static str {
        match self {
            Self::StartRoomCompositeEgress => "livekit.Egress/StartRoomCompositeEgress",
            Self::StopEgress => "livekit.Egress/StopEgress",
            Self::ListEgress => "livekit.Egress/ListEgress",
            Self::UpdateLayout => "livekit.Egress/UpdateLayout",
            Self::CreateRoom => "livekit.RoomService/CreateRoom",
            Self::ListRooms => "livekit.RoomService/ListRooms",
            Self::DeleteRoom => "livekit.RoomService/DeleteRoom",
            Self::UpdateRoomMetadata => "livekit.RoomService/UpdateRoomMetadata",
            Self::SendData => "livekit.RoomService/SendData",
            Self::ListParticipants => "livekit.RoomService/ListParticipants",
            Self::UpdateParticipant => "livekit.RoomService/UpdateParticipant",
        }
    }

    fn from_route(route: &str) -> Option<Self> {
        Some(match route {
            "livekit.Egress/StartRoomCompositeEgress" => Self::StartRoomCompositeEgress,
            "livekit.Egress/StopEgress" => Self::StopEgress,
            "livekit.Egress/ListEgress" => Self::ListEgress,
            "livekit.Egress/UpdateLayout" => Self::UpdateLayout,
            "livekit.RoomService/CreateRoom" => Self::CreateRoom,
            "livekit.RoomService/ListRooms" => Self::ListRooms,
            "livekit.RoomService/DeleteRoom" => Self::DeleteRoom,
            "livekit.RoomService/UpdateRoomMetadata" => Self::UpdateRoomMetadata,
            "livekit.RoomService/SendData" => Self::SendData,
            "livekit.RoomService/ListParticipants" => Self::ListParticipants,
            "livekit.RoomService/UpdateParticipant" => Self::UpdateParticipant,
            _ => return None,
        })
    }
}

pub(crate) fn room_not_found() -> TwirpError {
    TwirpError::from_psrpc("not_found", "requested room does not exist")
}

pub(crate) fn egress_not_found() -> TwirpError {
    TwirpError::from_psrpc("not_found", "egress does not exist")
}

fn create_room(shared: &Shared, call: &Call) -> Result<Response, TwirpError> {
    call.require(Grant::Create)?;
    // The real server accepts an empty name too (and creates a room called "").
    let request: proto::CreateRoomRequest = call.decode()?;
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
        return Err(TwirpError::invalid_argument(format!(
            "nonce should be 16-bytes or not present, got: {} bytes",
            request.nonce.len()
        )));
    }
    let mut inner = shared.inner.lock().unwrap();
    // The real server sends the message to the room's node over psrpc; for a room no
    // node has, nobody answers.
    let room = inner
        .rooms
        .get_mut(&request.room)
        .ok_or_else(TwirpError::no_response)?;
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
    // The real server reads the participant list from its store, where a room that does
    // not exist simply has nobody.
    let response = proto::ListParticipantsResponse {
        participants: inner
            .rooms
            .get(&request.room)
            .map(|room| room.participants.clone())
            .unwrap_or_default(),
    };
    Ok(call.respond(&response, "livekit.ListParticipantsResponse"))
}

fn update_participant(shared: &Shared, call: &Call) -> Result<Response, TwirpError> {
    let request: proto::UpdateParticipantRequest = call.decode()?;
    call.require(Grant::Admin {
        room: &request.room,
    })?;
    let mut inner = shared.inner.lock().unwrap();
    // The real server looks the participant up in its store first.
    let participant = inner
        .rooms
        .get_mut(&request.room)
        .and_then(|room| {
            room.participants
                .iter_mut()
                .find(|p| p.identity == request.identity)
        })
        .ok_or_else(|| TwirpError::from_psrpc("not_found", "participant does not exist"))?;
    // Empty fields leave what they name unchanged, as the real server does.
    if let Some(permission) = request.permission {
        participant.permission = Some(permission);
    }
    if !request.metadata.is_empty() {
        participant.metadata = request.metadata;
    }
    if !request.name.is_empty() {
        participant.name = request.name;
    }
    participant.attributes.extend(request.attributes);
    participant.version += 1;
    Ok(call.respond(&*participant, "livekit.ParticipantInfo"))
}
