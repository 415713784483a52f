//! What the database keeps only for a while is pruned by age: handled webhook ids and
//! expired sessions, counted in the metrics.

use meet_recorder::adapters::db::now_ms;

use crate::app::*;

async fn count(app: &TestApp, table: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    n
}

#[tokio::test]
async fn old_webhook_ids_and_long_expired_sessions_are_pruned() {
    let app = spawn_app_with(
        &[("MEET_RECORDER_WEBHOOK_EVENT_RETENTION_HOURS", "1")],
        |_| {},
    )
    .await;
    let user = app.user("someone").await;
    let now = now_ms();
    let hour = 3_600_000;
    for (id, received_at) in [("EV_old", now - 2 * hour), ("EV_recent", now - 60_000)] {
        sqlx::query("INSERT INTO webhook_events (id, event, received_at) VALUES ($1, $2, $3)")
            .bind(id)
            .bind("room_started")
            .bind(received_at)
            .execute(app.db.pool())
            .await
            .unwrap();
    }
    for (hash, expires_at) in [
        ("long-expired", now - 8 * 24 * hour),
        ("just-expired", now - hour),
        ("valid", now + hour),
    ] {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(user.user.id.to_string())
        .bind(now - 9 * 24 * hour)
        .bind(expires_at)
        .execute(app.db.pool())
        .await
        .unwrap();
    }
    let webhooks_before = count(&app, "webhook_events").await;
    let sessions_before = count(&app, "sessions").await;

    let pruned = app.state.engine.expiry.prune().await.unwrap();
    assert_eq!((pruned.webhook_events, pruned.sessions), (1, 1));
    assert_eq!(count(&app, "webhook_events").await, webhooks_before - 1);
    assert_eq!(count(&app, "sessions").await, sessions_before - 1);
    let metrics = app
        .http
        .get(format!("http://{}/metrics", app.addr))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("meet_recorder_pruned_rows_total{table=\"webhook_events\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("meet_recorder_pruned_rows_total{table=\"sessions\"} 1"));
}
