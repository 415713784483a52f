//! Share links: public, revocable URLs to one saved recording. Only the SHA-256 of a
//! link's token is stored (as for sessions and API tokens), and a link is found by that
//! hash, never by comparing secrets. Revoking sets `revoked_at` once and keeps the row, so
//! owners still see the link in the list and a revoked token can never be reused.

use sqlx::{Row, any::AnyRow};
use uuid::Uuid;

use super::{Db, RecordingRow, now_ms, parse_column};

#[derive(Debug, Clone)]
pub struct ShareLinkRow {
    pub id: Uuid,
    pub recording_id: Uuid,
    pub created_by: Uuid,
    pub created_at: i64,
    /// `None`: valid as long as the recording is.
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl ShareLinkRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: parse_column(row, "id")?,
            recording_id: parse_column(row, "recording_id")?,
            created_by: parse_column(row, "created_by")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            revoked_at: row.try_get("revoked_at")?,
        })
    }

    /// Whether the link's own expiry has passed at `now` (Unix ms).
    pub fn is_expired_at(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

const COLUMNS: &str = "id, recording_id, created_by, created_at, expires_at, revoked_at";

impl Db {
    /// Stores a new link for `recording`, identified by the hash of its token.
    pub async fn create_share_link(
        &self,
        recording: Uuid,
        token_hash: &str,
        created_by: Uuid,
        expires_at: Option<i64>,
    ) -> Result<ShareLinkRow, sqlx::Error> {
        let row = sqlx::query(&format!(
            "INSERT INTO share_links (id, recording_id, token_hash, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        ))
        .bind(Uuid::new_v4().to_string())
        .bind(recording.to_string())
        .bind(token_hash)
        .bind(created_by.to_string())
        .bind(now_ms())
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await?;
        ShareLinkRow::from_row(&row)
    }

    /// A recording's links (revoked ones included), newest first, and how many there are.
    pub async fn share_links_of(
        &self,
        recording: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<ShareLinkRow>, i64), sqlx::Error> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM share_links WHERE recording_id = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(recording.to_string())
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let count = sqlx::query("SELECT COUNT(*) AS n FROM share_links WHERE recording_id = $1")
            .bind(recording.to_string())
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let links = rows
            .iter()
            .map(ShareLinkRow::from_row)
            .collect::<Result<_, _>>()?;
        Ok((links, count))
    }

    /// Revokes a link of `recording`. Idempotent: a second revocation keeps the first
    /// `revoked_at`. False when the recording has no such link.
    pub async fn revoke_share_link(&self, recording: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
        let result = sqlx::query(
            "UPDATE share_links SET revoked_at = COALESCE(revoked_at, $1) \
             WHERE id = $2 AND recording_id = $3",
        )
        .bind(now_ms())
        .bind(id.to_string())
        .bind(recording.to_string())
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The link whose token hashes to `token_hash`, with its recording; revoked and
    /// expired links are returned too, for the caller to judge.
    pub async fn share_link_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ShareLinkRow, RecordingRow)>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM share_links WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(link) = row.as_ref().map(ShareLinkRow::from_row).transpose()? else {
            return Ok(None);
        };
        // A recording deleted in between took its links with it: the link is gone too.
        Ok(self
            .queries()
            .recording(link.recording_id)
            .await?
            .map(|recording| (link, recording)))
    }
}
