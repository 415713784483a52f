//! Asking for a recording: a participant without rights asks the room's hosts, who are
//! told on the room's pages (the change feed) and in LiveKit (a data message addressed to
//! them, `screenRecordingRequested` / `transcriptionRequested` as the reference sends).
//! One request per participant and room every [`REQUEST_INTERVAL_MS`].

use std::sync::Arc;

use meet_recorder_domain::{Mode, Role};
use serde_json::json;
use uuid::Uuid;

use crate::adapters::{
    change_feed::RoomEvents,
    db::{Asked, Db},
    livekit::LiveKit,
};

/// How often one participant may ask in one room.
pub const REQUEST_INTERVAL_MS: i64 = 30_000;

/// The data message type of a request for `mode`.
pub fn request_message_type(mode: Mode) -> &'static str {
    match mode {
        Mode::ScreenRecording => "screenRecordingRequested",
        Mode::Transcript => "transcriptionRequested",
    }
}

pub struct RecordingRequests {
    db: Db,
    livekit: Arc<LiveKit>,
    change_feed: Arc<RoomEvents>,
}

impl RecordingRequests {
    pub fn new(db: Db, livekit: Arc<LiveKit>, change_feed: Arc<RoomEvents>) -> Self {
        Self {
            db,
            livekit,
            change_feed,
        }
    }

    /// Records the request of `requester` (who asked, for the limit) going by `name`, and
    /// tells the hosts. LiveKit unreachable only costs its half of the telling.
    pub async fn ask(
        &self,
        room: Uuid,
        mode: Mode,
        requester: &str,
        name: &str,
    ) -> Result<Asked, sqlx::Error> {
        let asked = self
            .db
            .ask_for_recording(room, mode, requester, name, REQUEST_INTERVAL_MS)
            .await?;
        if let Asked::Recorded(request) = &asked {
            self.change_feed.publish(room).await;
            let hosts: Vec<String> = self
                .db
                .room_accesses(room)
                .await?
                .into_iter()
                .filter(|access| access.role.is_privileged())
                .map(|access| access.user_id.to_string())
                .collect();
            if !hosts.is_empty() {
                let message = json!({
                    "type": request_message_type(mode),
                    "id": request.id,
                    "name": name,
                });
                if let Err(error) = self
                    .livekit
                    .send_data_to(&room.to_string(), &message, &hosts)
                    .await
                {
                    tracing::warn!(%room, %error, "cannot tell the hosts about a recording request");
                }
            }
        }
        Ok(asked)
    }
}

/// Whether `role` is one a request is for: hosts record themselves.
pub fn may_ask(role: Option<Role>) -> bool {
    !role.is_some_and(Role::is_privileged)
}
