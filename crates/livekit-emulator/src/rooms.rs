//! Rooms and simulated participants, and what a room received (metadata, data messages),
//! so tests can assert what participants would have seen.
//!
//! Rooms look like the real server's (`turn_password`, `enabled_codecs`) and close like
//! them: once a second, a room nobody is in closes `departure_timeout` seconds after the
//! last person left, or `empty_timeout` seconds after it was created if nobody ever joined
//! (`rtc.Room.CloseIfEmpty`), with `room_finished`. Simulated participants look like a
//! client that joined with a plain join token and publishes nothing.

// `ParticipantPermission.recorder` is deprecated but still set for egress recorders.
#![allow(deprecated)]

use base64::Engine;
use livekit_protocol as proto;
use serde::Serialize;

use crate::{
    egress::EndSignal,
    state::{Inner, Shared, new_id, now_nanos, random_alphanumeric},
};

/// The codecs the real server enables by default (its `room.enabled_codecs`), in its order.
const ENABLED_CODECS: [&str; 10] = [
    "audio/PCMU",
    "audio/PCMA",
    "audio/opus",
    "audio/red",
    "video/VP8",
    "video/H264",
    "video/VP9",
    "video/AV1",
    "video/H265",
    "video/rtx",
];

/// `ParticipantInfo.version` once a client is ACTIVE (the real server counts updates).
const JOINED_VERSION: u32 = 2;

pub(crate) struct RoomState {
    pub info: proto::Room,
    pub participants: Vec<proto::ParticipantInfo>,
    pub data_messages: Vec<DataMessage>,
    /// Every metadata value the room was given, oldest first.
    pub metadata_updates: Vec<String>,
    /// When the last person left (Unix seconds); `None` while nobody has left yet.
    pub last_left_at: Option<i64>,
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
            turn_password: random_alphanumeric(43),
            enabled_codecs: ENABLED_CODECS
                .iter()
                .map(|mime| proto::Codec {
                    mime: (*mime).to_owned(),
                    fmtp_line: String::new(),
                })
                .collect(),
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
            last_left_at: None,
        }
    }

    /// The room as `ListRooms` shows it, with live counters (the real server refreshes
    /// them at most every 5 s).
    pub fn snapshot(&self) -> proto::Room {
        proto::Room {
            num_participants: self.people().count() as u32,
            num_publishers: self.people().filter(|p| p.is_publisher).count() as u32,
            ..self.info.clone()
        }
    }

    /// Whether the real server's idle check would close the room at `now` (Unix seconds).
    fn is_idle(&self, now: i64) -> bool {
        if self.people().next().is_some() {
            return false;
        }
        let (since, timeout) = match self.last_left_at {
            Some(left_at) => (left_at, self.info.departure_timeout),
            None => (self.info.creation_time, self.info.empty_timeout),
        };
        now - since >= i64::from(timeout)
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
        let now = chrono::Utc::now();
        let participant = proto::ParticipantInfo {
            sid: new_id("PA_"),
            identity: identity.to_owned(),
            name: name.to_owned(),
            metadata: metadata.to_owned(),
            state: proto::participant_info::State::Active as i32,
            joined_at: now.timestamp(),
            joined_at_ms: now.timestamp_millis(),
            version: JOINED_VERSION,
            // What a join token with the default grants gives; nothing is published.
            permission: Some(proto::ParticipantPermission {
                can_subscribe: true,
                can_publish: true,
                can_publish_data: true,
                ..Default::default()
            }),
            is_publisher: false,
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
        participant.version += 1;
        participant.disconnect_reason = proto::DisconnectReason::ClientInitiated as i32;
        let snapshot = room.snapshot();
        let empty = room.people().next().is_none();
        if participant.kind() != proto::participant_info::Kind::Egress {
            room.last_left_at = Some(chrono::Utc::now().timestamp());
        }
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
        self.close_room(&mut inner, room_name)
    }

    /// Closes every room the real server's once-a-second idle check would close.
    pub fn close_idle_rooms(&self) {
        let now = chrono::Utc::now().timestamp();
        let mut inner = self.inner.lock().unwrap();
        let idle: Vec<String> = inner
            .rooms
            .iter()
            .filter(|(_, room)| room.is_idle(now))
            .map(|(name, _)| name.clone())
            .collect();
        for name in idle {
            self.close_room(&mut inner, &name);
        }
    }

    fn close_room(&self, inner: &mut Inner, room_name: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn room(empty_timeout: u32, departure_timeout: u32) -> RoomState {
        RoomState::new(
            "r",
            Some(&proto::CreateRoomRequest {
                name: "r".into(),
                empty_timeout,
                departure_timeout,
                ..Default::default()
            }),
        )
    }

    #[test]
    fn rooms_close_after_their_empty_or_departure_timeout() {
        let mut never_joined = room(10, 1);
        let created = never_joined.info.creation_time;
        assert!(!never_joined.is_idle(created + 9));
        assert!(never_joined.is_idle(created + 10));

        never_joined.participants.push(proto::ParticipantInfo {
            identity: "alice".into(),
            ..Default::default()
        });
        assert!(
            !never_joined.is_idle(created + 100),
            "someone is in the room"
        );

        let mut departed = room(10, 1);
        departed.last_left_at = Some(created + 3);
        assert!(!departed.is_idle(created + 3));
        assert!(
            departed.is_idle(created + 4),
            "departure timeout, not empty timeout"
        );
    }

    #[test]
    fn rooms_look_like_the_real_servers() {
        let info = room(0, 0).info;
        assert_eq!((info.empty_timeout, info.departure_timeout), (300, 20));
        assert_eq!(info.turn_password.len(), 43);
        assert_eq!(info.enabled_codecs.len(), ENABLED_CODECS.len());
        assert_eq!(info.enabled_codecs[2].mime, "audio/opus");
    }
}
