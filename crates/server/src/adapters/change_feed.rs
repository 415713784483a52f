//! Live room state: after every committed recording change, the room's id is published;
//! each open server-sent-events stream of that room then re-reads the state and sends
//! it. On SQLite (one instance) the hint goes through an in-process broadcast; on
//! PostgreSQL it goes through `NOTIFY`, so every instance sharing the database hears it.
//! Each hint an instance hears gets its own number, so the streams of one room that hear
//! the same hint can share one reading of the state (see `http::room_events`).

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use tokio::sync::broadcast;
use uuid::Uuid;

use crate::adapters::db::{Backend, Db};

const CHANNEL: &str = "meet_recorder_rooms";

/// A room whose recordings changed, and the number of this hint on this instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoomChanged {
    pub room: Uuid,
    pub hint: u64,
}

pub struct RoomEvents {
    db: Db,
    local: broadcast::Sender<RoomChanged>,
    hints: AtomicU64,
}

impl RoomEvents {
    /// Creates the hub; on PostgreSQL also starts listening for other instances' hints.
    pub async fn start(db: Db, database_url: &str) -> anyhow::Result<Arc<Self>> {
        let (local, _) = broadcast::channel(1024);
        let events = Arc::new(Self {
            db,
            local,
            hints: AtomicU64::new(0),
        });
        if events.db.backend() == Backend::Postgres {
            let mut listener = sqlx::postgres::PgListener::connect(database_url).await?;
            listener.listen(CHANNEL).await?;
            // Weak: the listener ends with the hub instead of keeping it (and a connection
            // to a database that may be gone) alive forever.
            let hub = Arc::downgrade(&events);
            tokio::spawn(async move {
                loop {
                    let received = listener.recv().await;
                    let Some(hub) = hub.upgrade() else { return };
                    match received {
                        Ok(notification) => {
                            if let Ok(room) = notification.payload().parse::<Uuid>() {
                                hub.tell_local(room);
                            }
                        }
                        // PgListener reconnects by itself; a hint lost meanwhile only
                        // delays a page's update until the next change.
                        Err(error) => {
                            tracing::warn!(%error, "room events listener");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                        }
                    }
                }
            });
        }
        Ok(events)
    }

    /// Tells every stream of `room` (on every instance) that its recordings changed.
    /// Call it after the change is committed.
    pub async fn publish(&self, room: Uuid) {
        match self.db.backend() {
            Backend::Sqlite => self.tell_local(room),
            Backend::Postgres => {
                let sent = sqlx::query("SELECT pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(room.to_string())
                    .execute(self.db.pool())
                    .await;
                if let Err(error) = sent {
                    tracing::warn!(%error, "cannot publish a room event; delivering locally");
                    self.tell_local(room);
                }
            }
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<RoomChanged> {
        self.local.subscribe()
    }

    /// Tells this instance's streams, numbering the hint.
    fn tell_local(&self, room: Uuid) {
        let hint = self.hints.fetch_add(1, Ordering::Relaxed) + 1;
        let _ = self.local.send(RoomChanged { room, hint });
    }
}
