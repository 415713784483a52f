//! `GET rooms/{id}/recording-events/`: pages follow a room's recording state live, on
//! one instance and, with PostgreSQL, across instances sharing the database.

use std::time::Duration;

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use crate::{app::*, helpers::eventually};

/// An open event stream, yielding each event's JSON.
pub(crate) struct EventStream {
    stream: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl EventStream {
    pub(crate) async fn open(app: &TestApp, room_id: &str, user: &TestUser) -> Self {
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
    pub(crate) async fn next(&mut self, timeout: Duration) -> Value {
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

/// The claims of a LiveKit join token (no need to verify: we only read what we issued).
fn token_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn guests_of_a_public_room_see_it_and_join_under_their_name() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.room(&host).await;
    assert_eq!(room["access_level"], "public");
    let room_id = room["id"].as_str().unwrap();

    let seen = app
        .request(Method::GET, &format!("rooms/{room_id}/"), None, None)
        .await;
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.body["role"], Value::Null);
    assert_eq!(seen.body["is_administrable"], false);

    let joined = app
        .request(
            Method::GET,
            &format!("rooms/{room_id}/token/?name=Ada%20Lovelace"),
            None,
            None,
        )
        .await;
    assert_eq!(joined.status, 200, "{}", joined.body);
    let claims = token_claims(joined.body["token"].as_str().unwrap());
    assert_eq!(claims["name"], "Ada Lovelace");
    assert!(claims["sub"].as_str().unwrap().starts_with("guest-"));
    assert_eq!(claims["video"]["room"], room_id);

    let too_long = format!("rooms/{room_id}/token/?name={}", "x".repeat(65));
    let reply = app.request(Method::GET, &too_long, None, None).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["code"], "invalid-name");

    // Guests follow the recording state like everyone in the room.
    let response = app
        .http
        .get(format!("{}/rooms/{room_id}/recording-events/", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A guest cannot record.
    let start = app
        .request(
            Method::POST,
            &format!("rooms/{room_id}/start-recording/"),
            None,
            Some(json!({"mode": "screen_recording"})),
        )
        .await;
    assert_eq!(start.status, 401);
    assert_eq!(app.recording_count(room_id).await, 0);
}

#[tokio::test]
async fn guests_are_asked_to_sign_in_for_other_rooms_whether_or_not_they_exist() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    for level in ["trusted", "restricted"] {
        let reply = app
            .post(
                "rooms/",
                &host,
                json!({"name": level, "access_level": level}),
            )
            .await;
        let room_id = reply.body["id"].as_str().unwrap().to_owned();
        for path in ["", "token/", "recording-events/"] {
            let reply = app
                .request(Method::GET, &format!("rooms/{room_id}/{path}"), None, None)
                .await;
            assert_eq!(reply.status, 401, "{level} rooms/{path}");
            assert_eq!(reply.body["code"], "not-authenticated");
        }
    }
    let missing = app
        .request(Method::GET, "rooms/no-such-room/", None, None)
        .await;
    assert_eq!(missing.status, 401);
}

#[tokio::test]
async fn a_recording_its_limit_stopped_says_so() {
    let app = spawn_app_with(&[("RECORDING_MAX_DURATION", "1500")], |_| {}).await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let mut events = EventStream::open(&app, room["id"].as_str().unwrap(), &host).await;
    events.next(Duration::from_secs(5)).await;
    let started = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    let id = started.body["recording"]["id"].as_str().unwrap().to_owned();
    let active = events.until("screen_recording", "active").await;
    assert_eq!(
        active["recordings"]["screen_recording"]["stop_reason"],
        Value::Null
    );
    let stopped = events.until("screen_recording", "stopped").await;
    assert_eq!(
        stopped["recordings"]["screen_recording"]["stop_reason"],
        "limit"
    );
    let saved = app.wait_status(&id, &host, "notification_succeeded").await;
    assert_eq!(
        saved["stop_reason"], "limit",
        "kept after the file is saved"
    );
}

#[tokio::test]
async fn a_recording_stopped_by_its_host_has_no_stop_reason() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording = app.saved_recording(&host, &room, "screen_recording").await;
    assert_eq!(recording["stop_reason"], Value::Null);
}

/// Who the emulator has in a room, leaving out its egress recorders (`EG_...`).
async fn identities_in(app: &TestApp, room_id: &str) -> Vec<String> {
    app.livekit_room(room_id).await["participants"]
        .as_array()
        .map(|people| {
            people
                .iter()
                .filter_map(|p| p["identity"].as_str().map(str::to_owned))
                .filter(|identity| !identity.starts_with("EG_"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn in_dev_mode_an_open_room_page_is_a_participant_until_it_has_been_gone_a_while() {
    let app = spawn_app_configured(
        &[],
        |_| {},
        |state, emulator| {
            state.dev = Some(std::sync::Arc::new(meet_recorder::http::DevMode {
                presence: std::sync::Arc::new(
                    meet_recorder::dev::presence::SimulatedPresence::new(
                        emulator.participants(),
                        Duration::from_millis(300),
                    ),
                ),
                demo_email: "demo@example.com",
                demo_password: "demo",
            }));
        },
    )
    .await;
    let config = app.request(Method::GET, "config/", None, None).await.body;
    assert_eq!(config["room_media"], "simulated");
    assert_eq!(config["demo"]["email"], "demo@example.com");

    let host = app.user("host").await;
    let room = app.room(&host).await;
    let room_id = room["id"].as_str().unwrap();
    let host_id = host.user.id.to_string();

    let mut first_page = EventStream::open(&app, room_id, &host).await;
    first_page.next(Duration::from_secs(5)).await;
    assert_eq!(identities_in(&app, room_id).await, vec![host_id.clone()]);

    // With someone in the room, the host can record from the page alone.
    let started = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    first_page.until("screen_recording", "active").await;

    // A reload (a second page, then the first one closing) keeps one participant.
    let mut second_page = EventStream::open(&app, room_id, &host).await;
    second_page.next(Duration::from_secs(5)).await;
    drop(first_page);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(identities_in(&app, room_id).await, vec![host_id.clone()]);

    // The last page gone, the participant leaves after the grace period, and the
    // recording ends with the room, as with a real LiveKit.
    drop(second_page);
    eventually("the host to leave", Duration::from_secs(10), || async {
        identities_in(&app, room_id).await.is_empty().then_some(())
    })
    .await;
    let id = started.body["recording"]["id"].as_str().unwrap();
    app.wait_status(id, &host, "notification_succeeded").await;
}

#[tokio::test]
async fn outside_dev_mode_pages_use_livekit_and_join_nobody() {
    let app = spawn_app().await;
    let config = app.request(Method::GET, "config/", None, None).await.body;
    assert_eq!(config["room_media"], "livekit");
    assert_eq!(config["demo"], Value::Null);
    let host = app.user("host").await;
    let room = app.room(&host).await;
    let room_id = room["id"].as_str().unwrap();
    let mut page = EventStream::open(&app, room_id, &host).await;
    page.next(Duration::from_secs(5)).await;
    assert!(identities_in(&app, room_id).await.is_empty());
}
