//! Rooms and who may do what in them (owner, administrator, member).

use meet_recorder_domain::{Role, RoomSettings};
use sqlx::{AnyExecutor, Row, any::AnyRow};
use uuid::Uuid;

use super::{Backend, Db, Queries, StoreError, now_ms, parse_column};

/// What [`Db::remove_room_access`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessRemoval {
    Removed,
    /// The room has no such access.
    NotFound,
    /// The requester is (no longer) privileged on the room.
    NotPrivileged,
    /// Only an owner may remove an owner.
    OwnerRequired,
    /// The access is the room's last owner's.
    LastOwner,
}

#[derive(Debug, Clone)]
pub struct RoomRow {
    pub id: Uuid,
    pub name: String,
    pub slug: String,
    pub access_level: String,
    pub configuration: serde_json::Value,
    pub created_at: i64,
    pub updated_at: i64,
}

impl RoomRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let configuration: String = row.try_get("configuration")?;
        Ok(Self {
            id: parse_column(row, "id")?,
            name: row.try_get("name")?,
            slug: row.try_get("slug")?,
            access_level: row.try_get("access_level")?,
            configuration: serde_json::from_str(&configuration).unwrap_or_default(),
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct RoomAccessRow {
    pub id: Uuid,
    pub room_id: Uuid,
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
}

const ROOM_COLUMNS: &str =
    "r.id, r.name, r.slug, r.access_level, r.configuration, r.created_at, r.updated_at";

impl Db {
    /// Creates a room and makes `owner` its owner, in one transaction.
    pub async fn create_room(
        &self,
        name: &str,
        slug: &str,
        access_level: &str,
        owner: Uuid,
    ) -> Result<RoomRow, StoreError> {
        let mut tx = self.pool.begin().await?;
        let id = Uuid::new_v4();
        let now = now_ms();
        let row = sqlx::query(
            "INSERT INTO rooms (id, name, slug, access_level, configuration, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, '{}', $5, $6) \
             RETURNING id, name, slug, access_level, configuration, created_at, updated_at",
        )
        .bind(id.to_string())
        .bind(name)
        .bind(slug)
        .bind(access_level)
        .bind(now)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(StoreError::from_sqlx)?;
        sqlx::query(
            "INSERT INTO room_accesses (id, room_id, user_id, role, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(id.to_string())
        .bind(owner.to_string())
        .bind(Role::Owner.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(RoomRow::from_row(&row)?)
    }

    /// A room by its UUID or its slug.
    pub async fn room(&self, id_or_slug: &str) -> Result<Option<RoomRow>, sqlx::Error> {
        // No slug holds a NUL, and PostgreSQL refuses one in a query's text.
        if id_or_slug.contains('\0') {
            return Ok(None);
        }
        let row = match id_or_slug.parse::<Uuid>() {
            Ok(id) => {
                sqlx::query(&format!(
                    "SELECT {ROOM_COLUMNS} FROM rooms r WHERE r.id = $1"
                ))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
            }
            Err(_) => {
                sqlx::query(&format!(
                    "SELECT {ROOM_COLUMNS} FROM rooms r WHERE r.slug = $1"
                ))
                .bind(id_or_slug.to_lowercase())
                .fetch_optional(&self.pool)
                .await?
            }
        };
        row.as_ref().map(RoomRow::from_row).transpose()
    }

    pub async fn slug_taken(&self, slug: &str) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM rooms WHERE slug = $1")
            .bind(slug)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// The rooms `user` has any role on with that role, newest first, and how many there
    /// are. One query for the page, roles included, however long it is.
    pub async fn rooms_of(
        &self,
        user: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<(RoomRow, Role)>, i64), sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {ROOM_COLUMNS}, a.role AS access_role FROM rooms r \
             JOIN room_accesses a ON a.room_id = r.id \
             WHERE a.user_id = $1 ORDER BY r.created_at DESC, r.id LIMIT $2 OFFSET $3"
        ))
        .bind(user.to_string())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let count = sqlx::query("SELECT COUNT(*) AS n FROM room_accesses WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let rooms = rows
            .iter()
            .map(|row| Ok((RoomRow::from_row(row)?, parse_column(row, "access_role")?)))
            .collect::<Result<_, sqlx::Error>>()?;
        Ok((rooms, count))
    }

    pub async fn update_room(
        &self,
        id: Uuid,
        name: Option<&str>,
        access_level: Option<&str>,
        configuration: Option<&serde_json::Value>,
    ) -> Result<Option<RoomRow>, sqlx::Error> {
        // The columns that queries read follow the configuration they copy.
        let settings = configuration.map(|c| RoomSettings::parse(c).unwrap_or_default());
        let visible_to = settings.as_ref().map(|s| s.recordings_visible_to.as_str());
        let consent = settings.as_ref().map(|s| s.recording_consent.as_str());
        let row = sqlx::query(
            "UPDATE rooms SET name = COALESCE($1, name), access_level = COALESCE($2, access_level), \
             configuration = COALESCE($5, configuration), \
             recordings_visible_to = COALESCE($6, recordings_visible_to), \
             recording_consent = COALESCE($7, recording_consent), updated_at = $3 \
             WHERE id = $4 \
             RETURNING id, name, slug, access_level, configuration, created_at, updated_at",
        )
        .bind(name)
        .bind(access_level)
        .bind(now_ms())
        .bind(id.to_string())
        .bind(configuration.map(|c| c.to_string()))
        .bind(visible_to)
        .bind(consent)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(RoomRow::from_row).transpose()
    }

    /// The room's first owner (by when they became one), who owns what the room records by
    /// itself (auto-record).
    pub async fn first_room_owner(&self, room: Uuid) -> Result<Option<Uuid>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT user_id FROM room_accesses WHERE room_id = $1 AND role = 'owner' \
             ORDER BY created_at, user_id LIMIT 1",
        )
        .bind(room.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let id: String = row.try_get("user_id")?;
            id.parse().map_err(|e| sqlx::Error::Decode(Box::new(e)))
        })
        .transpose()
    }

    /// The user's role on the room, if any.
    pub async fn room_role(&self, room: Uuid, user: Uuid) -> Result<Option<Role>, sqlx::Error> {
        let row = sqlx::query("SELECT role FROM room_accesses WHERE room_id = $1 AND user_id = $2")
            .bind(room.to_string())
            .bind(user.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|row| parse_column(&row, "role")).transpose()
    }

    pub async fn room_accesses(&self, room: Uuid) -> Result<Vec<RoomAccessRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT a.id, a.room_id, a.user_id, u.email, a.role FROM room_accesses a \
             JOIN users u ON u.id = a.user_id WHERE a.room_id = $1 ORDER BY a.created_at, a.id",
        )
        .bind(room.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(RoomAccessRow {
                    id: parse_column(row, "id")?,
                    room_id: parse_column(row, "room_id")?,
                    user_id: parse_column(row, "user_id")?,
                    email: row.try_get("email")?,
                    role: parse_column(row, "role")?,
                })
            })
            .collect()
    }

    pub async fn add_room_access(
        &self,
        room: Uuid,
        user: Uuid,
        role: Role,
    ) -> Result<Uuid, StoreError> {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO room_accesses (id, room_id, user_id, role, created_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id.to_string())
        .bind(room.to_string())
        .bind(user.to_string())
        .bind(role.as_str())
        .bind(now_ms())
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(id)
    }

    /// Removes an access of this room; false when there was none.
    pub async fn delete_room_access(&self, room: Uuid, access: Uuid) -> Result<bool, sqlx::Error> {
        let result = sqlx::query("DELETE FROM room_accesses WHERE id = $1 AND room_id = $2")
            .bind(access.to_string())
            .bind(room.to_string())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    /// Removes an access as `requester`, in one transaction that holds the room's accesses
    /// still while it checks: the requester's role now (not when the request began), and
    /// that a room never loses its last owner, however many removals run at once.
    pub async fn remove_room_access(
        &self,
        room: Uuid,
        access: Uuid,
        requester: Uuid,
    ) -> Result<AccessRemoval, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        if !self.on(&mut *tx).lock_room(room).await? {
            return Ok(AccessRemoval::NotFound);
        }
        let requester_role: Option<Role> =
            sqlx::query("SELECT role FROM room_accesses WHERE room_id = $1 AND user_id = $2")
                .bind(room.to_string())
                .bind(requester.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| parse_column(&row, "role"))
                .transpose()?;
        if !requester_role.is_some_and(Role::is_privileged) {
            return Ok(AccessRemoval::NotPrivileged);
        }
        let target_role: Option<Role> =
            sqlx::query("SELECT role FROM room_accesses WHERE room_id = $1 AND id = $2")
                .bind(room.to_string())
                .bind(access.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| parse_column(&row, "role"))
                .transpose()?;
        let Some(target_role) = target_role else {
            return Ok(AccessRemoval::NotFound);
        };
        if target_role == Role::Owner {
            if requester_role != Some(Role::Owner) {
                return Ok(AccessRemoval::OwnerRequired);
            }
            let owners: i64 = sqlx::query(
                "SELECT COUNT(*) AS n FROM room_accesses WHERE room_id = $1 AND role = 'owner'",
            )
            .bind(room.to_string())
            .fetch_one(&mut *tx)
            .await?
            .try_get("n")?;
            if owners <= 1 {
                return Ok(AccessRemoval::LastOwner);
            }
        }
        sqlx::query("DELETE FROM room_accesses WHERE id = $1 AND room_id = $2")
            .bind(access.to_string())
            .bind(room.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(AccessRemoval::Removed)
    }

    /// How many owners the room has (the last one cannot be removed).
    pub async fn room_owner_count(&self, room: Uuid) -> Result<i64, sqlx::Error> {
        sqlx::query("SELECT COUNT(*) AS n FROM room_accesses WHERE room_id = $1 AND role = 'owner'")
            .bind(room.to_string())
            .fetch_one(&self.pool)
            .await?
            .try_get("n")
    }
}

/// The room queries a transaction may need (see [`Queries`]).
impl<'e, E: AnyExecutor<'e>> Queries<E> {
    /// Serialises changes of a room behind its row, for the rest of the caller's transaction:
    /// PostgreSQL locks it (`FOR UPDATE` also waits for a recording being inserted for
    /// it); SQLite takes the database's write lock with a first write (a transaction that
    /// only read first could not write later under WAL once another one did). Returns
    /// whether the room exists.
    pub async fn lock_room(self, room: Uuid) -> Result<bool, sqlx::Error> {
        Ok(match self.backend {
            Backend::Postgres => sqlx::query("SELECT id FROM rooms WHERE id = $1 FOR UPDATE")
                .bind(room.to_string())
                .fetch_optional(self.executor)
                .await?
                .is_some(),
            Backend::Sqlite => {
                sqlx::query("UPDATE rooms SET updated_at = updated_at WHERE id = $1")
                    .bind(room.to_string())
                    .execute(self.executor)
                    .await?
                    .rows_affected()
                    > 0
            }
        })
    }

    /// Deletes a room, its accesses and its recordings' rows (cascading).
    pub async fn delete_room(self, id: Uuid) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM rooms WHERE id = $1")
            .bind(id.to_string())
            .execute(self.executor)
            .await?;
        Ok(())
    }
}
