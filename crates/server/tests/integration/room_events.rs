//! `GET rooms/{id}/recording-events/`: pages follow a room's recording state live, on
//! one instance and, with PostgreSQL, across instances sharing the database.

use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::app::*;

/// An open event stream, yielding each event's JSON.
struct EventStream {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl EventStream {
    async fn open(app: &TestApp, room_id: &str, user: &TestUser) -> Self {
        let response = app
            .http
            .get(format!("{}/rooms/{room_id}/recording-events/", app.api))
            .bearer_auth(&user.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Self {
            stream: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next `recording-state` event, within `timeout`.
    async fn next(&mut self, timeout: Duration) -> Value {
        tokio::time::timeout(timeout, async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                        return serde_json::from_str(data.trim()).unwrap();
                    }
                    continue;
                }
                let chunk = self.stream.next().await.expect("stream open").unwrap();
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        })
        .await
        .expect("an event in time")
    }

    /// Waits for an event in which `mode`'s recording has `status`.
    async fn until(&mut self, mode: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let event = self.next(left).await;
            if event["recordings"][mode]["status"] == status {
                return event;
            }
        }
    }
}

#[tokio::test]
async fn a_page_follows_the_recording_state_live() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let room_id = room["id"].as_str().unwrap();
    let mut events = EventStream::open(&app, room_id, &host).await;
    let first = events.next(Duration::from_secs(5)).await;
    assert_eq!(first["recordings"], json!({}), "nothing recorded yet");

    let recording_id = app.record(&host, &room, "screen_recording").await;
    let active = events.until("screen_recording", "active").await;
    assert_eq!(
        active["recordings"]["screen_recording"]["id"],
        recording_id.as_str()
    );
    assert_eq!(active["recordings"]["screen_recording"]["is_open"], true);
    let done = events
        .until("screen_recording", "notification_succeeded")
        .await;
    assert_eq!(done["recordings"]["screen_recording"]["is_open"], false);
}

#[tokio::test]
async fn only_people_who_can_see_the_room_can_follow_it() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let reply = app
        .post(
            "rooms/",
            &host,
            json!({"name": "Private", "access_level": "restricted"}),
        )
        .await;
    let room_id = reply.body["id"].as_str().unwrap().to_owned();
    let path = format!("rooms/{room_id}/recording-events/");
    assert_eq!(
        app.request(Method::GET, &path, None, None).await.status,
        401
    );
    let stranger = app.user("stranger").await;
    assert_eq!(app.get(&path, &stranger).await.status, 404);
}

#[tokio::test]
async fn with_postgres_every_instance_hears_the_change() {
    if test_database() != "postgres" {
        // SQLite is the one-instance embedded default: there is no other instance.
        return;
    }
    let first = spawn_app().await;
    let database_url =
        secrecy::ExposeSecret::expose_secret(&first.state.config.database_url).to_owned();
    let second = spawn_app_with(&[("DATABASE_URL", &database_url)], |_| {}).await;
    let host = first.user("host").await;
    let room = first.live_room(&host).await;
    let room_id = room["id"].as_str().unwrap();
    let mut events = EventStream::open(&second, room_id, &host).await;
    events.next(Duration::from_secs(5)).await;
    let reply = first
        .start(&room, &host, json!({"mode": "transcript"}))
        .await;
    assert_eq!(reply.status, 201);
    events.until("transcript", "active").await;
}
