//! Accounts, sign-in sessions and API tokens. Session and API tokens are stored as
//! SHA-256 hashes: a leaked database does not sign anyone in.

use sqlx::{Row, any::AnyRow};
use uuid::Uuid;

use super::{Db, StoreError, now_ms, parse_column};

#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub password_hash: Option<String>,
    pub language: String,
    pub timezone: String,
}

impl UserRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: parse_column(row, "id")?,
            email: row.try_get("email")?,
            full_name: row.try_get("full_name")?,
            password_hash: row.try_get("password_hash")?,
            language: row.try_get("language")?,
            timezone: row.try_get("timezone")?,
        })
    }
}

pub(super) fn user_from_row(row: &AnyRow) -> Result<UserRow, sqlx::Error> {
    UserRow::from_row(row)
}

const USER_COLUMNS: &str = "id, email, full_name, password_hash, language, timezone";

/// An API token as its owner sees it: never its secret (only a hash is stored anyway).
#[derive(Debug, Clone)]
pub struct ApiTokenRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: i64,
    /// Unix ms; `None`: valid until revoked.
    pub expires_at: Option<i64>,
    /// Unix ms, recorded at most once a minute.
    pub last_used_at: Option<i64>,
}

impl ApiTokenRow {
    fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: parse_column(row, "id")?,
            name: row.try_get("name")?,
            created_at: row.try_get("created_at")?,
            expires_at: row.try_get("expires_at")?,
            last_used_at: row.try_get("last_used_at")?,
        })
    }
}

const TOKEN_COLUMNS: &str = "id, name, created_at, expires_at, last_used_at";

impl Db {
    pub async fn create_user(
        &self,
        email: &str,
        full_name: &str,
        password_hash: Option<&str>,
        language: &str,
        timezone: &str,
    ) -> Result<UserRow, StoreError> {
        let id = Uuid::new_v4();
        let row = sqlx::query(&format!(
            "INSERT INTO users (id, email, full_name, password_hash, language, timezone, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {USER_COLUMNS}"
        ))
        .bind(id.to_string())
        .bind(email.to_lowercase())
        .bind(full_name)
        .bind(password_hash)
        .bind(language)
        .bind(timezone)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(UserRow::from_row(&row)?)
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE email = $1"
        ))
        .bind(email.to_lowercase())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(UserRow::from_row).transpose()
    }

    pub async fn user_by_id(&self, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(UserRow::from_row).transpose()
    }

    pub async fn update_user_preferences(
        &self,
        id: Uuid,
        full_name: Option<&str>,
        language: Option<&str>,
        timezone: Option<&str>,
    ) -> Result<Option<UserRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "UPDATE users SET full_name = COALESCE($1, full_name), \
             language = COALESCE($2, language), timezone = COALESCE($3, timezone) \
             WHERE id = $4 RETURNING {USER_COLUMNS}"
        ))
        .bind(full_name)
        .bind(language)
        .bind(timezone)
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(UserRow::from_row).transpose()
    }

    /// A sign-in session; `id_token` is the provider's ID token when the sign-in came
    /// through OpenID Connect (signing out hands it back to the provider).
    pub async fn create_session(
        &self,
        token_hash: &str,
        user_id: Uuid,
        expires_at: i64,
        id_token: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at, id_token) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(user_id.to_string())
        .bind(now_ms())
        .bind(expires_at)
        .bind(id_token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn user_by_session(&self, token_hash: &str) -> Result<Option<UserRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {} FROM users u JOIN sessions s ON s.user_id = u.id \
             WHERE s.token_hash = $1 AND s.expires_at > $2",
            USER_COLUMNS
                .split(", ")
                .map(|c| format!("u.{c}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .bind(token_hash)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(UserRow::from_row).transpose()
    }

    /// Ends a session; answers the ID token it was signed in with, if any.
    pub async fn delete_session(&self, token_hash: &str) -> Result<Option<String>, sqlx::Error> {
        let row = sqlx::query("DELETE FROM sessions WHERE token_hash = $1 RETURNING id_token")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(row) => row.try_get("id_token")?,
            None => None,
        })
    }

    // ----- Accounts from an identity provider (OpenID Connect) ------------------------

    /// The account an identity provider's subject is linked to.
    pub async fn user_by_external_sub(&self, sub: &str) -> Result<Option<UserRow>, sqlx::Error> {
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE external_sub = $1"
        ))
        .bind(sub)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(UserRow::from_row).transpose()
    }

    /// Links an account to a subject, only if it is linked to none yet: `false` when it
    /// already is (to another identity). `Conflict` when another account has the subject.
    pub async fn link_external_sub(&self, user_id: Uuid, sub: &str) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "UPDATE users SET external_sub = $1 WHERE id = $2 AND external_sub IS NULL",
        )
        .bind(sub)
        .bind(user_id.to_string())
        .execute(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(result.rows_affected() == 1)
    }

    /// A new account for an identity: no password, linked to `sub`.
    pub async fn create_external_user(
        &self,
        email: &str,
        full_name: &str,
        sub: &str,
    ) -> Result<UserRow, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO users (id, email, full_name, external_sub, created_at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING {USER_COLUMNS}"
        ))
        .bind(Uuid::new_v4().to_string())
        .bind(email.to_lowercase())
        .bind(full_name)
        .bind(sub)
        .bind(now_ms())
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(UserRow::from_row(&row)?)
    }

    /// The email and name the provider gives now. `Conflict` when another account has
    /// that email.
    pub async fn refresh_external_user(
        &self,
        user_id: Uuid,
        email: &str,
        full_name: &str,
    ) -> Result<Option<UserRow>, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE users SET email = $1, full_name = $2 WHERE id = $3 RETURNING {USER_COLUMNS}"
        ))
        .bind(email.to_lowercase())
        .bind(full_name)
        .bind(user_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::from_sqlx)?;
        Ok(row.as_ref().map(UserRow::from_row).transpose()?)
    }

    /// Creates an API token that never expires (see [`Db::create_api_token_expiring`]).
    pub async fn create_api_token(
        &self,
        token_hash: &str,
        user_id: Uuid,
        name: &str,
    ) -> Result<Uuid, sqlx::Error> {
        Ok(self
            .create_api_token_expiring(token_hash, user_id, name, None)
            .await?
            .id)
    }

    /// Creates an API token, valid until `expires_at` (Unix ms) when given.
    pub async fn create_api_token_expiring(
        &self,
        token_hash: &str,
        user_id: Uuid,
        name: &str,
        expires_at: Option<i64>,
    ) -> Result<ApiTokenRow, sqlx::Error> {
        let row = sqlx::query(&format!(
            "INSERT INTO api_tokens (id, token_hash, user_id, name, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {TOKEN_COLUMNS}"
        ))
        .bind(Uuid::new_v4().to_string())
        .bind(token_hash)
        .bind(user_id.to_string())
        .bind(name)
        .bind(now_ms())
        .bind(expires_at)
        .fetch_one(&self.pool)
        .await?;
        ApiTokenRow::from_row(&row)
    }

    /// The user an API token signs in as, and the token, unless it expired at `now`.
    pub async fn user_by_api_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<(UserRow, ApiTokenRow)>, sqlx::Error> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.full_name, u.password_hash, u.language, u.timezone, \
             t.id AS token_id, t.name AS token_name, t.created_at AS token_created_at, \
             t.expires_at AS token_expires_at, t.last_used_at AS token_last_used_at \
             FROM users u JOIN api_tokens t ON t.user_id = u.id \
             WHERE t.token_hash = $1 AND (t.expires_at IS NULL OR t.expires_at > $2)",
        )
        .bind(token_hash)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            let token = ApiTokenRow {
                id: parse_column(&row, "token_id")?,
                name: row.try_get("token_name")?,
                created_at: row.try_get("token_created_at")?,
                expires_at: row.try_get("token_expires_at")?,
                last_used_at: row.try_get("token_last_used_at")?,
            };
            Ok((UserRow::from_row(&row)?, token))
        })
        .transpose()
    }

    /// Records that a token was used at `now`, unless that was already recorded after
    /// `stale_before` (so a busy token costs one write per interval, not one per request).
    pub async fn touch_api_token(
        &self,
        id: Uuid,
        now: i64,
        stale_before: i64,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE api_tokens SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(now)
        .bind(id.to_string())
        .bind(stale_before)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A user's API tokens (expired ones included), newest first.
    pub async fn api_tokens_of(&self, user_id: Uuid) -> Result<Vec<ApiTokenRow>, sqlx::Error> {
        sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens WHERE user_id = $1 \
             ORDER BY created_at DESC, id"
        ))
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(ApiTokenRow::from_row)
        .collect()
    }

    /// Deletes one of the user's API tokens; false when the user has no such token.
    pub async fn delete_api_token(&self, user_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
        let result = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
            .bind(id.to_string())
            .bind(user_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }
}
