//! Dev mode's stand-in for joining a room: the LiveKit emulator has no media connection
//! for a browser to open, so an open room page (its live-state stream) counts as a
//! participant of the emulator's room. That is what lets a newcomer record in the
//! browser: egresses need someone in the room, and the recording ends when everyone has
//! left, as with a real LiveKit.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use livekit_emulator::Participants;

use crate::http::RoomPresence;

/// How long someone stays in the room after their last page closed. A reload or a
/// dropped connection reconnects well within it, so it does not end a recording; it
/// plays the part of LiveKit's departure timeout.
pub const DEPARTURE_GRACE: Duration = Duration::from_secs(10);

pub struct SimulatedPresence {
    participants: Participants,
    grace: Duration,
    /// Open pages per (room, identity).
    open_pages: Mutex<HashMap<(String, String), usize>>,
}

impl SimulatedPresence {
    pub fn new(participants: Participants, grace: Duration) -> Arc<Self> {
        Arc::new(Self {
            participants,
            grace,
            open_pages: Mutex::default(),
        })
    }

    /// One more page of `identity` is open in `room`; the first one joins the room. The
    /// participant leaves `grace` after the last guard is dropped.
    pub fn enter(self: &Arc<Self>, room: &str, identity: &str, name: &str) -> PresenceGuard {
        let key = (room.to_owned(), identity.to_owned());
        let first = {
            let mut open = self.open_pages.lock().unwrap();
            let count = open.entry(key.clone()).or_insert(0);
            *count += 1;
            *count == 1
        };
        if first {
            self.participants.join(room, identity, name);
        }
        PresenceGuard {
            presence: self.clone(),
            key: Some(key),
        }
    }

    fn close_page(&self, key: &(String, String)) {
        let last = {
            let mut open = self.open_pages.lock().unwrap();
            match open.get_mut(key) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => {
                    open.remove(key);
                    true
                }
                None => false,
            }
        };
        if last {
            self.participants.leave(&key.0, &key.1);
        }
    }
}

impl RoomPresence for Arc<SimulatedPresence> {
    fn enter(&self, room: &str, identity: &str, name: &str) -> Box<dyn Send + Sync> {
        Box::new(SimulatedPresence::enter(self, room, identity, name))
    }
}

/// Keeps a page's participant in the room while it lives.
pub struct PresenceGuard {
    presence: Arc<SimulatedPresence>,
    key: Option<(String, String)>,
}

impl Drop for PresenceGuard {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        let presence = self.presence.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    tokio::time::sleep(presence.grace).await;
                    presence.close_page(&key);
                });
            }
            Err(_) => presence.close_page(&key),
        }
    }
}
