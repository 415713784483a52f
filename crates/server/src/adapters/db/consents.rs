//! Participants' answers to a recording room's notice or question, per recording.

use meet_recorder_domain::{ConsentDecision, RecordingConsent, Status};
use sqlx::Row;
use uuid::Uuid;

use super::{Db, now_ms, parse_column};

#[derive(Debug, Clone)]
pub struct ConsentRow {
    pub recording_id: Uuid,
    pub identity: String,
    pub name: String,
    /// The room's setting when they answered.
    pub consent: RecordingConsent,
    pub decision: ConsentDecision,
    pub decided_at: i64,
}

impl ConsentRow {
    fn from_row(row: &sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            recording_id: parse_column(row, "recording_id")?,
            identity: row.try_get("identity")?,
            name: row.try_get("name")?,
            consent: named(row, "consent", RecordingConsent::parse)?,
            decision: named(row, "decision", ConsentDecision::parse)?,
            decided_at: row.try_get("decided_at")?,
        })
    }
}

/// A column holding one of a domain enumeration's names.
fn named<T>(
    row: &sqlx::any::AnyRow,
    column: &str,
    parse: fn(&str) -> Option<T>,
) -> Result<T, sqlx::Error> {
    let text: String = row.try_get(column)?;
    parse(&text).ok_or_else(|| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: format!("unknown value {text:?}").into(),
    })
}

impl Db {
    /// The recordings of a room that may be capturing it now, oldest first.
    pub async fn recordings_capturing_room(&self, room: Uuid) -> Result<Vec<Uuid>, sqlx::Error> {
        let statuses: Vec<String> = Status::MAY_BE_RECORDING
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect();
        let rows = sqlx::query(&format!(
            "SELECT id FROM recordings WHERE room_id = $1 AND status IN ({}) \
             ORDER BY created_at, id",
            statuses.join(", ")
        ))
        .bind(room.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|row| parse_column(row, "id")).collect()
    }

    /// Records `identity`'s answer for each of `recordings`, replacing an earlier one.
    pub async fn record_consent(
        &self,
        recordings: &[Uuid],
        identity: &str,
        name: &str,
        consent: RecordingConsent,
        decision: ConsentDecision,
    ) -> Result<(), sqlx::Error> {
        let now = now_ms();
        let mut tx = self.pool.begin().await?;
        for recording in recordings {
            sqlx::query(
                "INSERT INTO recording_consents \
                 (recording_id, identity, name, consent, decision, decided_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (recording_id, identity) DO UPDATE SET name = excluded.name, \
                 consent = excluded.consent, decision = excluded.decision, \
                 decided_at = excluded.decided_at",
            )
            .bind(recording.to_string())
            .bind(identity)
            .bind(name)
            .bind(consent.as_str())
            .bind(decision.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await
    }

    /// The answers given for these recordings.
    pub async fn consents_for(&self, recordings: &[Uuid]) -> Result<Vec<ConsentRow>, sqlx::Error> {
        let mut all = Vec::new();
        for recording in recordings {
            all.extend(self.consents_of(*recording).await?);
        }
        Ok(all)
    }

    /// A recording's answers, in the order they were given.
    pub async fn consents_of(&self, recording: Uuid) -> Result<Vec<ConsentRow>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT recording_id, identity, name, consent, decision, decided_at \
             FROM recording_consents WHERE recording_id = $1 ORDER BY decided_at, identity",
        )
        .bind(recording.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(ConsentRow::from_row).collect()
    }
}
