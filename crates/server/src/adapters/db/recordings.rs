//! Recordings and their accesses. Status changes are guarded updates
//! (`... WHERE id = $n AND status = $m`), so of two racing writers exactly one wins and
//! the other sees it changed nothing.

use meet_recorder_domain::{
    Layout, Mode, RecordingConsent, RecordingsVisibleTo, Role, Status, recording_role,
};
use sqlx::{AnyExecutor, Row, any::AnyRow};
use uuid::Uuid;

use super::{Backend, Db, Queries, StoreError, now_ms, parse_column};

/// `stop_reason` of a recording a host is pausing.
pub const STOP_REASON_PAUSE: &str = "pause";

#[derive(Debug, Clone)]
pub struct RecordingRow {
    pub id: Uuid,
    pub room_id: Uuid,
    pub room_name: String,
    pub room_slug: String,
    pub room_access_level: String,
    /// What the room asks of its participants while it records.
    pub room_consent: RecordingConsent,
    pub status: Status,
    pub mode: Mode,
    pub layout: Option<Layout>,
    pub options: serde_json::Value,
    pub worker_id: Option<String>,
    pub started_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<i64>,
    pub file_location: Option<String>,
    pub error: Option<String>,
    /// `Some("limit")` when the maximum duration stopped it.
    pub stop_reason: Option<String>,
    /// The transcription service's job, once the recording was handed to it.
    pub external_process_id: Option<String>,
    /// Where the transcript is, when the service's callback said.
    pub transcript_url: Option<String>,
    /// Egress segments started: more than one once it was paused and resumed.
    pub segments: i64,
    /// When the current pause began.
    pub paused_at: Option<i64>,
    /// Time spent paused before the current pause.
    pub paused_ms: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RecordingRow {
    /// Whether `other` is this row with at most its `updated_at` changed.
    pub fn same_except_update_time(&self, other: &RecordingRow) -> bool {
        let RecordingRow {
            id,
            room_id,
            room_name,
            room_slug,
            room_access_level,
            room_consent,
            status,
            mode,
            layout,
            options,
            worker_id,
            started_at,
            stopped_at,
            duration_ms,
            size_bytes,
            file_location,
            error,
            stop_reason,
            external_process_id,
            transcript_url,
            segments,
            paused_at,
            paused_ms,
            created_at,
            updated_at: _,
        } = self;
        *id == other.id
            && *room_id == other.room_id
            && *room_name == other.room_name
            && *room_slug == other.room_slug
            && *room_access_level == other.room_access_level
            && *room_consent == other.room_consent
            && *status == other.status
            && *mode == other.mode
            && *layout == other.layout
            && *options == other.options
            && *worker_id == other.worker_id
            && *started_at == other.started_at
            && *stopped_at == other.stopped_at
            && *duration_ms == other.duration_ms
            && *size_bytes == other.size_bytes
            && *file_location == other.file_location
            && *error == other.error
            && *stop_reason == other.stop_reason
            && *external_process_id == other.external_process_id
            && *transcript_url == other.transcript_url
            && *segments == other.segments
            && *paused_at == other.paused_at
            && *paused_ms == other.paused_ms
            && *created_at == other.created_at
    }

    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let options: String = row.try_get("options")?;
        let layout: Option<String> = row.try_get("layout")?;
        Ok(Self {
            id: parse_column(row, "id")?,
            room_id: parse_column(row, "room_id")?,
            room_name: row.try_get("room_name")?,
            room_slug: row.try_get("room_slug")?,
            room_access_level: row.try_get("room_access_level")?,
            room_consent: {
                let consent: String = row.try_get("room_consent")?;
                RecordingConsent::parse(&consent).unwrap_or_default()
            },
            status: parse_column(row, "status")?,
            mode: parse_column(row, "mode")?,
            layout: layout.and_then(|l| l.parse().ok()),
            options: serde_json::from_str(&options).unwrap_or_default(),
            worker_id: row.try_get("worker_id")?,
            started_at: row.try_get("started_at")?,
            stopped_at: row.try_get("stopped_at")?,
            duration_ms: row.try_get("duration_ms")?,
            size_bytes: row.try_get("size_bytes")?,
            file_location: row.try_get("file_location")?,
            error: row.try_get("error")?,
            stop_reason: row.try_get("stop_reason")?,
            external_process_id: row.try_get("external_process_id")?,
            transcript_url: row.try_get("transcript_url")?,
            segments: row.try_get::<i64, _>("segments")?,
            paused_at: row.try_get("paused_at")?,
            paused_ms: row.try_get("paused_ms")?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

/// What changes along with a status; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct RecordingPatch {
    pub worker_id: Option<String>,
    pub started_at: Option<i64>,
    pub stopped_at: Option<i64>,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<i64>,
    pub file_location: Option<String>,
    pub error: Option<String>,
    pub stop_reason: Option<String>,
    pub transcript_url: Option<String>,
}

impl RecordingPatch {
    /// Whether [`Queries::move_recording`] with this patch would change any of `row`'s
    /// values (it keeps a stored `started_at`, and replaces the others when given).
    pub fn changes(&self, row: &RecordingRow) -> bool {
        fn replaces<T: PartialEq>(given: &Option<T>, stored: &Option<T>) -> bool {
            given.is_some() && given != stored
        }
        replaces(&self.worker_id, &row.worker_id)
            || (row.started_at.is_none() && self.started_at.is_some())
            || replaces(&self.stopped_at, &row.stopped_at)
            || replaces(&self.duration_ms, &row.duration_ms)
            || replaces(&self.size_bytes, &row.size_bytes)
            || replaces(&self.file_location, &row.file_location)
            || replaces(&self.error, &row.error)
            || replaces(&self.stop_reason, &row.stop_reason)
            || replaces(&self.transcript_url, &row.transcript_url)
    }
}

pub struct NewRecording {
    pub room_id: Uuid,
    pub mode: Mode,
    pub layout: Option<Layout>,
    pub options: serde_json::Value,
    pub owner: Uuid,
}

/// What [`RecordingRow::from_row`] reads, from `recordings rec JOIN rooms r`. A macro, so
/// that [`SELECT`] is one literal and a query can add columns of its own.
macro_rules! recording_columns {
    () => {
        "rec.id, rec.room_id, r.name AS room_name, r.slug AS room_slug, \
         r.access_level AS room_access_level, r.recording_consent AS room_consent, rec.status, rec.mode, rec.layout, rec.options, \
         rec.worker_id, rec.started_at, rec.stopped_at, rec.duration_ms, rec.size_bytes, \
         rec.file_location, rec.error, rec.stop_reason, rec.external_process_id, \
         rec.transcript_url, rec.segments, rec.paused_at, rec.paused_ms, rec.created_at, \
         rec.updated_at"
    };
}

const SELECT: &str = concat!(
    "SELECT ",
    recording_columns!(),
    " FROM recordings rec JOIN rooms r ON r.id = rec.room_id"
);

impl Db {
    /// Creates an `initiated` recording and gives `owner` an owner access, in one
    /// transaction. `Conflict` when the room already has an open recording of this mode.
    pub async fn create_recording(&self, new: NewRecording) -> Result<RecordingRow, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id = Uuid::new_v4();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO recordings (id, room_id, status, mode, layout, options, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(new.room_id.to_string())
        .bind(Status::Initiated.as_str())
        .bind(new.mode.as_str())
        .bind(new.layout.map(|l| l.as_str()))
        .bind(new.options.to_string())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        sqlx::query(
            "INSERT INTO recording_accesses (id, recording_id, user_id, role, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(id.to_string())
        .bind(new.owner.to_string())
        .bind(Role::Owner.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let recording = self
            .on(&mut *tx)
            .recording(id)
            .await?
            .ok_or(sqlx::Error::RowNotFound)?;
        tx.commit().await?;
        Ok(recording)
    }

    /// The user's role on a recording, if any: the one its access gives, or the one its
    /// room gives ([`recording_role`]: the room's hosts own its recordings; its members
    /// see them when the room shows them to members).
    pub async fn recording_role(
        &self,
        recording: Uuid,
        user: Uuid,
    ) -> Result<Option<Role>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT a.role AS recording_role, ra.role AS room_role, r.recordings_visible_to \
             FROM recordings rec JOIN rooms r ON r.id = rec.room_id \
             LEFT JOIN recording_accesses a ON a.recording_id = rec.id AND a.user_id = $2 \
             LEFT JOIN room_accesses ra ON ra.room_id = rec.room_id AND ra.user_id = $2 \
             WHERE rec.id = $1",
        )
        .bind(recording.to_string())
        .bind(user.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let recording_access: Option<String> = row.try_get("recording_role")?;
        let room_role: Option<String> = row.try_get("room_role")?;
        let visible_to: String = row.try_get("recordings_visible_to")?;
        Ok(recording_role(
            recording_access.and_then(|r| r.parse().ok()),
            room_role.and_then(|r| r.parse().ok()),
            if visible_to == "members" {
                RecordingsVisibleTo::Members
            } else {
                RecordingsVisibleTo::Owners
            },
        ))
    }

    /// The recordings `user` may open with the user's role on each (see
    /// [`Db::recording_role`]), newest first, and how many there are. One query for the
    /// page, roles included, however long it is.
    pub async fn recordings_of(
        &self,
        user: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<(RecordingRow, Role)>, i64), sqlx::Error> {
        // The same rule as `recording_role`, in SQL.
        const ACCESS: &str = "LEFT JOIN recording_accesses a ON a.recording_id = rec.id AND a.user_id = $1 \
             LEFT JOIN room_accesses ra ON ra.room_id = rec.room_id AND ra.user_id = $1";
        const VISIBLE: &str = "(a.role IN ('owner', 'administrator') \
             OR ra.role IN ('owner', 'administrator') \
             OR (a.role = 'member' OR (ra.role = 'member' AND r.recordings_visible_to = 'members')))";
        const ROLE: &str = "CASE WHEN a.role IN ('owner', 'administrator') THEN a.role \
             WHEN ra.role IN ('owner', 'administrator') THEN 'owner' ELSE 'member' END";
        let rows = sqlx::query(&format!(
            "SELECT {}, {ROLE} AS access_role FROM recordings rec \
             JOIN rooms r ON r.id = rec.room_id {ACCESS} \
             WHERE {VISIBLE} ORDER BY rec.created_at DESC, rec.id DESC LIMIT $2 OFFSET $3",
            recording_columns!()
        ))
        .bind(user.to_string())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let count = sqlx::query(&format!(
            "SELECT COUNT(*) AS n FROM recordings rec JOIN rooms r ON r.id = rec.room_id \
             {ACCESS} WHERE {VISIBLE}"
        ))
        .bind(user.to_string())
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let recordings = rows
            .iter()
            .map(|row| {
                Ok((
                    RecordingRow::from_row(row)?,
                    parse_column(row, "access_role")?,
                ))
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok((recordings, count))
    }

    /// The recording a stop request targets: the room's running one (of `mode`, if given),
    /// or one whose previous stop failed.
    pub async fn stoppable_recording(
        &self,
        room: Uuid,
        mode: Option<Mode>,
    ) -> Result<Option<RecordingRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "{SELECT} WHERE rec.room_id = $1 AND rec.status IN {} \
             AND ($2 = '' OR rec.mode = $3) ORDER BY rec.created_at DESC LIMIT 1",
            sql_list(Status::STOPPABLE)
        ))
        .bind(room.to_string())
        .bind(mode.map_or("", |m| m.as_str()))
        .bind(mode.map_or("", |m| m.as_str()))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(RecordingRow::from_row).transpose()
    }

    /// Active recordings that have recorded since `cutoff` or longer, pauses not counted
    /// (max-duration enforcement).
    pub async fn active_since_before(&self, cutoff: i64) -> Result<Vec<RecordingRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE rec.status = '{}' AND rec.started_at IS NOT NULL \
             AND rec.started_at + rec.paused_ms <= $1 ORDER BY rec.started_at",
            Status::Active.as_str()
        ))
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(RecordingRow::from_row).collect()
    }

    /// Recordings whose egress may still be running, oldest first.
    pub async fn recordings_awaiting_egress(&self) -> Result<Vec<RecordingRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE rec.status IN {} ORDER BY rec.created_at",
            sql_list(Status::AWAITING_EGRESS)
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(RecordingRow::from_row).collect()
    }

    /// A host is pausing an active recording: its egress's stop or end will pause it
    /// (`stop_reason` = `pause`), and the pause counts from now. False when it is not
    /// active.
    pub async fn mark_pausing(&self, id: Uuid) -> Result<bool, sqlx::Error> {
        let result = sqlx::query(
            "UPDATE recordings SET stop_reason = $1, paused_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(STOP_REASON_PAUSE)
        .bind(now_ms())
        .bind(id.to_string())
        .bind(Status::Active.as_str())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The egress did not stop: the recording records on, not pausing.
    pub async fn clear_pausing(&self, id: Uuid) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE recordings SET stop_reason = NULL, paused_at = NULL \
             WHERE id = $1 AND status = $2 AND stop_reason = $3",
        )
        .bind(id.to_string())
        .bind(Status::Active.as_str())
        .bind(STOP_REASON_PAUSE)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records why an open recording is about to stop, before asking LiveKit to stop it:
    /// the egress's own `ENDING` webhook may move the status before our stop returns.
    pub async fn set_stop_reason(&self, id: Uuid, reason: &str) -> Result<(), sqlx::Error> {
        sqlx::query(&format!(
            "UPDATE recordings SET stop_reason = $1 WHERE id = $2 AND status IN {}",
            sql_list(Status::OPEN)
        ))
        .bind(reason)
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn delete_recording(&self, id: Uuid) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM recordings WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn set_external_process_id(&self, id: Uuid, job_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE recordings SET external_process_id = $1, updated_at = $2 WHERE id = $3",
        )
        .bind(job_id)
        .bind(now_ms())
        .bind(id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn recording_by_external_process(
        &self,
        job_id: &str,
    ) -> Result<Option<RecordingRow>, sqlx::Error> {
        let row = sqlx::query(&format!("{SELECT} WHERE rec.external_process_id = $1"))
            .bind(job_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(RecordingRow::from_row).transpose()
    }

    /// Saved recordings created at or before `cutoff`: expired once the retention is over.
    pub async fn saved_created_before(
        &self,
        cutoff: i64,
    ) -> Result<Vec<RecordingRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE rec.status IN {} AND rec.created_at <= $1 ORDER BY rec.created_at",
            sql_list(Status::SAVED)
        ))
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(RecordingRow::from_row).collect()
    }

    /// A room's latest recordings, newest first.
    pub async fn latest_recordings_of_room(
        &self,
        room: Uuid,
        limit: i64,
    ) -> Result<Vec<RecordingRow>, sqlx::Error> {
        let rows = sqlx::query(&format!(
            "{SELECT} WHERE rec.room_id = $1 ORDER BY rec.created_at DESC, rec.id DESC LIMIT $2"
        ))
        .bind(room.to_string())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(RecordingRow::from_row).collect()
    }

    /// How many recordings there are in each status.
    pub async fn recording_counts(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT status, COUNT(*) AS n FROM recordings GROUP BY status ORDER BY status",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get("status")?, row.try_get("n")?)))
            .collect()
    }

    /// Reads a recording and takes its write lock until the transaction ends, so that two
    /// status changes of one recording run one after the other. PostgreSQL: one
    /// `SELECT ... FOR UPDATE`. SQLite: a write first, because a transaction that starts
    /// with a read cannot always upgrade to a write when another process (the CLI) writes
    /// meanwhile (SQLITE_BUSY), while one that starts with a write waits its turn; within
    /// the service the pool's single connection already runs one transaction at a time.
    pub async fn locked_recording(
        &self,
        conn: &mut sqlx::AnyConnection,
        id: Uuid,
    ) -> Result<Option<RecordingRow>, sqlx::Error> {
        if self.backend == Backend::Sqlite {
            self.on(&mut *conn).lock_recording(id).await?;
        }
        self.on(conn).recording_for_update(id).await
    }
}

/// The recording queries a transaction may need (see [`Queries`]).
impl<'e, E: AnyExecutor<'e>> Queries<E> {
    pub async fn recording(self, id: Uuid) -> Result<Option<RecordingRow>, sqlx::Error> {
        let row = sqlx::query(&format!("{SELECT} WHERE rec.id = $1"))
            .bind(id.to_string())
            .fetch_optional(self.executor)
            .await?;
        row.as_ref().map(RecordingRow::from_row).transpose()
    }

    pub async fn recording_by_worker(
        self,
        egress_id: &str,
    ) -> Result<Option<RecordingRow>, sqlx::Error> {
        let row = sqlx::query(&format!("{SELECT} WHERE rec.worker_id = $1"))
            .bind(egress_id)
            .fetch_optional(self.executor)
            .await?;
        row.as_ref().map(RecordingRow::from_row).transpose()
    }

    /// Every recording of a room.
    pub async fn recordings_of_room(self, room: Uuid) -> Result<Vec<RecordingRow>, sqlx::Error> {
        let rows = sqlx::query(&format!("{SELECT} WHERE rec.room_id = $1"))
            .bind(room.to_string())
            .fetch_all(self.executor)
            .await?;
        rows.iter().map(RecordingRow::from_row).collect()
    }

    /// A paused recording records again through `egress_id`, its segment number `segment`:
    /// the pause is added to the time paused. In the transaction of the `Resumed` move.
    pub async fn resume_segment(
        self,
        id: Uuid,
        egress_id: &str,
        segment: i64,
    ) -> Result<(), sqlx::Error> {
        let now = now_ms();
        sqlx::query(
            "UPDATE recordings SET worker_id = $1, segments = $2, \
             paused_ms = paused_ms + ($3 - COALESCE(paused_at, $3)), paused_at = NULL, \
             stop_reason = NULL WHERE id = $4 AND status = $5",
        )
        .bind(egress_id)
        .bind(segment)
        .bind(now)
        .bind(id.to_string())
        .bind(Status::Paused.as_str())
        .execute(self.executor)
        .await?;
        Ok(())
    }

    /// Moves a recording from `from` to `to` if it is still `from`. Returns whether it moved.
    /// `started_at` keeps the first value it is given (a repeated `ACTIVE` does not restart
    /// the clock of the maximum duration); the patch's other fields overwrite.
    pub async fn move_recording(
        self,
        id: Uuid,
        from: Status,
        to: Status,
        patch: &RecordingPatch,
    ) -> Result<bool, sqlx::Error> {
        let result = sqlx::query(
            "UPDATE recordings SET status = $1, updated_at = $2, \
             worker_id = COALESCE($3, worker_id), started_at = COALESCE(started_at, $4), \
             stopped_at = COALESCE($5, stopped_at), duration_ms = COALESCE($6, duration_ms), \
             size_bytes = COALESCE($7, size_bytes), file_location = COALESCE($8, file_location), \
             error = COALESCE($9, error), stop_reason = COALESCE($10, stop_reason), \
             transcript_url = COALESCE($13, transcript_url) \
             WHERE id = $11 AND status = $12",
        )
        .bind(to.as_str())
        .bind(now_ms())
        .bind(patch.worker_id.clone())
        .bind(patch.started_at)
        .bind(patch.stopped_at)
        .bind(patch.duration_ms)
        .bind(patch.size_bytes)
        .bind(patch.file_location.clone())
        .bind(patch.error.clone())
        .bind(patch.stop_reason.clone())
        .bind(id.to_string())
        .bind(from.as_str())
        .bind(patch.transcript_url.clone())
        .execute(self.executor)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// Reads a recording for a status change (see [`Db::locked_recording`]): on PostgreSQL
    /// `SELECT ... FOR UPDATE`, which also locks the row until the transaction ends.
    pub async fn recording_for_update(self, id: Uuid) -> Result<Option<RecordingRow>, sqlx::Error> {
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE OF rec",
            Backend::Sqlite => "",
        };
        let row = sqlx::query(&format!("{SELECT} WHERE rec.id = $1{lock}"))
            .bind(id.to_string())
            .fetch_optional(self.executor)
            .await?;
        row.as_ref().map(RecordingRow::from_row).transpose()
    }

    /// Takes the recording's write lock with a write (SQLite; see [`Db::locked_recording`]).
    async fn lock_recording(self, id: Uuid) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE recordings SET updated_at = updated_at WHERE id = $1")
            .bind(id.to_string())
            .execute(self.executor)
            .await?;
        Ok(())
    }

    /// Records the egress id of a recording that does not have one yet.
    pub async fn set_worker_id(self, id: Uuid, egress_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE recordings SET worker_id = $1 WHERE id = $2 AND worker_id IS NULL")
            .bind(egress_id)
            .bind(id.to_string())
            .execute(self.executor)
            .await?;
        Ok(())
    }

    /// Notes a webhook event id; false when it was seen before.
    pub async fn first_time_event(self, event_id: &str, event: &str) -> Result<bool, sqlx::Error> {
        let result = sqlx::query(
            "INSERT INTO webhook_events (id, event, received_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(event_id)
        .bind(event)
        .bind(now_ms())
        .execute(self.executor)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}

/// A status set as an SQL list, `('a', 'b')`, from the domain's own sets: the statuses are
/// fixed names, never user input.
fn sql_list(statuses: &[Status]) -> String {
    let names: Vec<String> = statuses
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    format!("({})", names.join(", "))
}
