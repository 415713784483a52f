//! Rooms and simulated participants, and what a room received (metadata, data messages),
//! so tests can assert what participants would have seen.

// `ParticipantPermission.recorder` is deprecated but still set for egress recorders.
#![allow(deprecated)]

use base64::Engine;
use livekit_protocol as proto;
use serde::Serialize;

use crate::{
    egress::EndSignal,
    state::{Shared, new_id, now_nanos},
};

pub(crate) struct RoomState {
    pub info: proto::Room,
    pub participants: Vec<proto::ParticipantInfo>,
    pub data_messages: Vec<DataMessage>,
    /// Every metadata value the room was given, oldest first.
    pub metadata_updates: Vec<String>,
}

/// A `SendData` call as a participant would have received it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DataMessage {
    /// The payload as UTF-8 text (lossy), which is what recording notifications use.
    pub text: String,
    pub data_base64: String,
    pub kind: String,
    pub topic: Option<String>,
    pub destination_identities: Vec<String>,
    pub received_at_ms: i64,
}

impl DataMessage {
    pub fn from_request(request: &proto::SendDataRequest) -> Self {
        Self {
            text: String::from_utf8_lossy(&request.data).into_owned(),
            data_base64: base64::engine::general_purpose::STANDARD.encode(&request.data),
            kind: request.kind().as_str_name().to_owned(),
            topic: request.topic.clone(),
            destination_identities: request.destination_identities.clone(),
            received_at_ms: chrono::Utc::now().timestamp_millis(),
        }
    }
}

impl RoomState {
    fn new(name: &str, request: Option<&proto::CreateRoomRequest>) -> Self {
        let now = chrono::Utc::now();
        let mut info = proto::Room {
            sid: new_id("RM_"),
            name: name.to_owned(),
            empty_timeout: 300,
            departure_timeout: 20,
            creation_time: now.timestamp(),
            creation_time_ms: now.timestamp_millis(),
            ..Default::default()
        };
        if let Some(request) = request {
            if request.empty_timeout > 0 {
                info.empty_timeout = request.empty_timeout;
            }
            if request.departure_timeout > 0 {
                info.departure_timeout = request.departure_timeout;
            }
            info.max_participants = request.max_participants;
            info.metadata = request.metadata.clone();
        }
        Self {
            info,
            participants: Vec::new(),
            data_messages: Vec::new(),
            metadata_updates: Vec::new(),
        }
    }

    /// The room as `ListRooms` shows it, with live counters.
    pub fn snapshot(&self) -> proto::Room {
        let people = self.people().count() as u32;
        proto::Room {
            num_participants: people,
            num_publishers: people,
            ..self.info.clone()
        }
    }

    /// Participants other than egress recorders, who do not keep a room alive.
    pub fn people(&self) -> impl Iterator<Item = &proto::ParticipantInfo> {
        self.participants
            .iter()
            .filter(|p| p.kind() != proto::participant_info::Kind::Egress)
    }
}

impl Shared {
    /// `CreateRoom`: returns the existing room unchanged when it already exists.
    pub fn create_room(&self, request: &proto::CreateRoomRequest) -> proto::Room {
        let mut inner = self.inner.lock().unwrap();
        if let Some(room) = inner.rooms.get(&request.name) {
            return room.snapshot();
        }
        let room = RoomState::new(&request.name, Some(request));
        let snapshot = room.snapshot();
        inner.rooms.insert(request.name.clone(), room);
        self.room_webhook("room_started", &snapshot, None);
        snapshot
    }

    /// A simulated participant joins, creating the room as a real join would.
    pub fn join_participant(
        &self,
        room_name: &str,
        identity: &str,
        name: &str,
        metadata: &str,
    ) -> proto::ParticipantInfo {
        let mut inner = self.inner.lock().unwrap();
        let created = !inner.rooms.contains_key(room_name);
        let room = inner
            .rooms
            .entry(room_name.to_owned())
            .or_insert_with(|| RoomState::new(room_name, None));
        if created {
            self.room_webhook("room_started", &room.snapshot(), None);
        }
        if let Some(existing) = room.participants.iter().find(|p| p.identity == identity) {
            return existing.clone();
        }
        let participant = proto::ParticipantInfo {
            sid: new_id("PA_"),
            identity: identity.to_owned(),
            name: name.to_owned(),
            metadata: metadata.to_owned(),
            state: proto::participant_info::State::Active as i32,
            joined_at: chrono::Utc::now().timestamp(),
            joined_at_ms: chrono::Utc::now().timestamp_millis(),
            is_publisher: true,
            ..Default::default()
        };
        room.participants.push(participant.clone());
        let snapshot = room.snapshot();
        self.room_webhook("participant_joined", &snapshot, Some(participant.clone()));
        participant
    }

    /// A simulated participant leaves. When the last person leaves, running room
    /// composite egresses end by themselves ("Source closed"), as the real recorder does.
    /// Returns false when there was no such participant.
    pub fn leave_participant(&self, room_name: &str, identity: &str) -> bool {
        let mut inner = self.inner.lock().unwrap();
        let Some(room) = inner.rooms.get_mut(room_name) else {
            return false;
        };
        let Some(position) = room
            .participants
            .iter()
            .position(|p| p.identity == identity)
        else {
            return false;
        };
        let mut participant = room.participants.remove(position);
        participant.state = proto::participant_info::State::Disconnected as i32;
        let snapshot = room.snapshot();
        let empty = room.people().next().is_none();
        self.room_webhook("participant_left", &snapshot, Some(participant));
        if empty {
            for egress in inner.egresses.values() {
                if egress.info.room_name == room_name
                    && let Some(control) = &egress.control
                {
                    let _ = control.send(EndSignal::SourceClosed);
                }
            }
        }
        true
    }

    /// The hidden recorder participant (identity = egress id) joins or leaves the room.
    pub fn set_recorder_present(&self, room_name: &str, egress_id: &str, present: bool) {
        let mut inner = self.inner.lock().unwrap();
        let Some(room) = inner.rooms.get_mut(room_name) else {
            return;
        };
        room.participants.retain(|p| p.identity != egress_id);
        if present {
            room.participants.push(proto::ParticipantInfo {
                sid: new_id("PA_"),
                identity: egress_id.to_owned(),
                state: proto::participant_info::State::Active as i32,
                joined_at: now_nanos() / 1_000_000_000,
                kind: proto::participant_info::Kind::Egress as i32,
                permission: Some(proto::ParticipantPermission {
                    can_subscribe: true,
                    hidden: true,
                    recorder: true,
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        room.info.active_recording = room
            .participants
            .iter()
            .any(|p| p.kind() == proto::participant_info::Kind::Egress);
    }

    /// `DeleteRoom`: participants are disconnected, egresses end, `room_finished` is sent.
    pub fn delete_room(&self, room_name: &str) -> bool {
        let mut inner = self.inner.lock().unwrap();
        let Some(room) = inner.rooms.remove(room_name) else {
            return false;
        };
        for egress in inner.egresses.values() {
            if egress.info.room_name == room_name
                && let Some(control) = &egress.control
            {
                let _ = control.send(EndSignal::SourceClosed);
            }
        }
        self.room_webhook("room_finished", &room.snapshot(), None);
        true
    }
}
