//! Requests for a recording: a participant without rights asks the room's hosts.

use meet_recorder_domain::Mode;
use sqlx::Row;
use uuid::Uuid;

use super::{Db, now_ms, parse_column};

#[derive(Debug, Clone)]
pub struct RecordingRequestRow {
    pub id: Uuid,
    pub room_id: Uuid,
    pub mode: Mode,
    pub requester_name: String,
    pub created_at: i64,
}

impl RecordingRequestRow {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: parse_column(row, "id")?,
            room_id: parse_column(row, "room_id")?,
            mode: parse_column(row, "mode")?,
            requester_name: row.try_get("requester_name")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// What asking did.
pub enum Asked {
    Recorded(RecordingRequestRow),
    /// The same requester asked in this room less than the interval ago: how many
    /// milliseconds until they may ask again.
    TooSoon(i64),
    /// The room was deleted meanwhile.
    RoomGone,
}

impl Db {
    /// Records a request unless `requester` made one in this room within `interval_ms`. The
    /// check and the insert hold the room's lock together, so requests sent at once (two
    /// tabs, a double click, another instance) record one request, never one each.
    pub async fn ask_for_recording(
        &self,
        room: Uuid,
        mode: Mode,
        requester: &str,
        requester_name: &str,
        interval_ms: i64,
    ) -> Result<Asked, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        if !self.on(&mut *tx).lock_room(room).await? {
            return Ok(Asked::RoomGone);
        }
        // Read after the lock: the last request of whoever held it before is seen.
        let now = now_ms();
        let last: Option<i64> = sqlx::query(
            "SELECT MAX(created_at) AS last FROM recording_requests \
             WHERE requester = $1 AND room_id = $2",
        )
        .bind(requester)
        .bind(room.to_string())
        .fetch_one(&mut *tx)
        .await?
        .try_get("last")?;
        if let Some(last) = last.filter(|last| now - last < interval_ms) {
            return Ok(Asked::TooSoon(last + interval_ms - now));
        }
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO recording_requests (id, room_id, mode, requester, requester_name, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id.to_string())
        .bind(room.to_string())
        .bind(mode.as_str())
        .bind(requester)
        .bind(requester_name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Asked::Recorded(RecordingRequestRow {
            id,
            room_id: room,
            mode,
            requester_name: requester_name.to_owned(),
            created_at: now,
        }))
    }

    /// The room's requests since `since` (Unix milliseconds), oldest first, at most 20.
    pub async fn recording_requests_since(
        &self,
        room: Uuid,
        since: i64,
    ) -> Result<Vec<RecordingRequestRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, room_id, mode, requester_name, created_at FROM recording_requests \
             WHERE room_id = $1 AND created_at >= $2 ORDER BY created_at, id LIMIT 20",
        )
        .bind(room.to_string())
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(RecordingRequestRow::from_row).collect()
    }
}
