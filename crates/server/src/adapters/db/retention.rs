//! What the database keeps only for a while: the ids of webhooks already handled (a
//! duplicate LiveKit sends comes within minutes, never days later), requests for a
//! recording (shown to hosts for a minute, kept for the rate limit) and sessions past
//! their expiry. Pruned by age in the background, so neither table grows forever.

use super::{Db, now_ms};

/// Rows removed by one pruning pass.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub webhook_events: u64,
    pub recording_requests: u64,
    pub sessions: u64,
}

impl Db {
    /// Deletes webhook ids received more than `webhook_event_age_ms` ago and sessions that
    /// expired more than `session_grace_ms` ago.
    pub async fn prune(
        &self,
        webhook_event_age_ms: i64,
        session_grace_ms: i64,
    ) -> Result<Pruned, sqlx::Error> {
        let now = now_ms();
        let webhook_events = sqlx::query("DELETE FROM webhook_events WHERE received_at < $1")
            .bind(now - webhook_event_age_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        let recording_requests =
            sqlx::query("DELETE FROM recording_requests WHERE created_at < $1")
                .bind(now - webhook_event_age_ms)
                .execute(&self.pool)
                .await?
                .rows_affected();
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now - session_grace_ms)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(Pruned {
            webhook_events,
            recording_requests,
            sessions,
        })
    }
}
