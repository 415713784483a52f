//! `POST rooms/webhooks-livekit/`: LiveKit webhooks are verified on the raw bytes (the JWT
//! in `Authorization`, without `Bearer`, and the body's SHA-256 in its `sha256` claim)
//! before anything is parsed. Every forged or broken request here targets a running
//! recording with an `egress_ended` FAILED, so that accepting it would visibly change it.

use base64::Engine;
use livekit_api::access_token::AccessToken;
use livekit_protocol as proto;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    app::*,
    helpers::{API_KEY, API_SECRET, hand_signed_bearer, unique},
};

/// A running recording: the app, its owner, the recording as the API shows it.
struct Running {
    app: TestApp,
    host: TestUser,
    recording: Value,
}

impl Running {
    async fn start() -> Self {
        let app = spawn_app().await;
        let host = app.user("host").await;
        let room = app.live_room(&host).await;
        let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let recording = reply.body["recording"].clone();
        assert_eq!(recording["status"], "active");
        assert!(recording["worker_id"].as_str().unwrap().starts_with("EG_"));
        Self {
            app,
            host,
            recording,
        }
    }

    fn id(&self) -> &str {
        self.recording["id"].as_str().unwrap()
    }

    fn egress_id(&self) -> &str {
        self.recording["worker_id"].as_str().unwrap()
    }

    fn room_id(&self) -> &str {
        self.recording["room"]["id"].as_str().unwrap()
    }

    /// The recording as the API shows it now.
    async fn now(&self) -> Value {
        self.app.recording(self.id(), &self.host).await
    }

    /// An `egress_ended` FAILED event for this recording's egress, with a fresh event id.
    fn failed_event(&self) -> proto::WebhookEvent {
        egress_ended(
            self.egress_id(),
            self.room_id(),
            proto::EgressStatus::EgressFailed,
        )
    }

    async fn send(&self, body: impl Into<Vec<u8>>, authorization: Option<&str>) -> Reply {
        post_webhook(&self.app, body.into(), authorization).await
    }
}

pub(crate) fn now_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn egress_ended(
    egress_id: &str,
    room_name: &str,
    status: proto::EgressStatus,
) -> proto::WebhookEvent {
    proto::WebhookEvent {
        event: "egress_ended".into(),
        id: unique("EV"),
        created_at: now_seconds(),
        egress_info: Some(proto::EgressInfo {
            egress_id: egress_id.into(),
            room_name: room_name.into(),
            status: status as i32,
            error: "egress crashed".into(),
            ended_at: now_seconds() * 1_000_000_000,
            ..Default::default()
        }),
        ..Default::default()
    }
}

pub(crate) fn body_of(event: &proto::WebhookEvent) -> String {
    serde_json::to_string(event).unwrap()
}

/// Standard base64 (with padding) of the body's SHA-256, as LiveKit puts in `sha256`.
fn body_hash(body: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
}

/// The `Authorization` value LiveKit sends: a raw JWT, no `Bearer`.
fn signature(body: &[u8], secret: &str) -> String {
    AccessToken::with_api_key(API_KEY, secret)
        .with_sha256(&body_hash(body))
        .to_jwt()
        .unwrap()
}

async fn post_webhook(app: &TestApp, body: Vec<u8>, authorization: Option<&str>) -> Reply {
    let mut request = app
        .http
        .post(format!("{}/rooms/webhooks-livekit/", app.api))
        .header("content-type", "application/webhook+json")
        .header("user-agent", "LiveKit")
        .body(body);
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.expect("request reaches the app");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Reply {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        headers,
    }
}

/// Sends a correctly signed body and returns the reply.
pub(crate) async fn send_signed(app: &TestApp, body: &str) -> Reply {
    let authorization = signature(body.as_bytes(), API_SECRET);
    post_webhook(app, body.as_bytes().to_vec(), Some(&authorization)).await
}

#[tokio::test]
async fn a_webhook_signed_with_another_secret_is_401_and_changes_nothing() {
    let running = Running::start().await;
    let before = running.now().await;
    let body = body_of(&running.failed_event());
    let forged = signature(
        body.as_bytes(),
        "another-secret-that-is-long-enough-for-hs256",
    );
    let reply = running.send(body.clone(), Some(&forged)).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.body["status"], "error");
    assert_eq!(running.now().await, before);

    // A token signed with the right secret but another API key is forged too.
    let other_key = AccessToken::with_api_key("another-key", API_SECRET)
        .with_sha256(&body_hash(body.as_bytes()))
        .to_jwt()
        .unwrap();
    let reply = running.send(body, Some(&other_key)).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(running.now().await, before);
}

#[tokio::test]
async fn a_body_changed_after_signing_is_401_and_changes_nothing() {
    let running = Running::start().await;
    let before = running.now().await;
    let body = body_of(&running.failed_event());
    let authorization = signature(body.as_bytes(), API_SECRET);

    // One byte of the error message changed: still valid JSON, still a FAILED event.
    let tampered = body.replacen("egress crashed", "egress crashes", 1);
    assert_ne!(tampered, body);
    assert_eq!(tampered.len(), body.len());
    let reply = running.send(tampered, Some(&authorization)).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.body["status"], "error");
    assert_eq!(running.now().await, before);

    // A re-serialisation with the same meaning is not the signed bytes either.
    let reformatted =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).unwrap()).unwrap();
    let reply = running.send(reformatted, Some(&authorization)).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(running.now().await, before);
}

#[tokio::test]
async fn a_missing_or_expired_authorization_is_401() {
    let running = Running::start().await;
    let before = running.now().await;
    let body = body_of(&running.failed_event());

    let reply = running.send(body.clone(), None).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.body["status"], "error");
    assert_eq!(running.now().await, before);

    // A hand-signed token with the right key, secret and hash, but expired 120 s ago
    // (past LiveKit's 60 s leeway).
    let hand_signed = |exp_offset: i64| {
        let now = now_seconds();
        let bearer = hand_signed_bearer(
            json!({
                "iss": API_KEY,
                "nbf": now - 600,
                "exp": now + exp_offset,
                "sha256": body_hash(body.as_bytes()),
            }),
            API_SECRET,
        );
        bearer.strip_prefix("Bearer ").unwrap().to_owned()
    };
    let reply = running.send(body.clone(), Some(&hand_signed(-120))).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(reply.body["status"], "error");
    assert_eq!(running.now().await, before);

    // The same token with the `Bearer ` prefix LiveKit never sends is not accepted.
    let reply = running
        .send(
            body.clone(),
            Some(&format!(
                "Bearer {}",
                signature(body.as_bytes(), API_SECRET)
            )),
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert_eq!(running.now().await, before);

    // The hand signing itself is right: the same token, still valid, is accepted.
    let reply = running.send(body.clone(), Some(&hand_signed(120))).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(running.now().await["status"], "failed");
}

#[tokio::test]
async fn an_oversized_webhook_is_413_and_changes_nothing() {
    let running = Running::start().await;
    let before = running.now().await;
    let mut event = running.failed_event();
    event.egress_info.as_mut().unwrap().error = "x".repeat(70 * 1024);
    let body = body_of(&event);
    assert!(body.len() > 64 * 1024);
    let reply = send_signed(&running.app, &body).await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert_eq!(running.now().await, before);
}

#[tokio::test]
async fn a_signed_body_that_is_not_a_webhook_event_is_400() {
    let app = spawn_app().await;
    for body in [
        "[1,2]",
        r#"{"event": 5}"#,
        r#"{"event": "egress_ended", "egressInfo": {"status": "EGRESS_EXPLODED"}}"#,
        "not json",
    ] {
        let reply = send_signed(&app, body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.body["status"], "error", "{body}");
    }
}

#[tokio::test]
async fn a_signed_event_about_an_unknown_egress_or_with_an_unknown_name_is_200() {
    let running = Running::start().await;
    let before = running.now().await;

    let unknown_egress = egress_ended(
        "EG_unknown",
        running.room_id(),
        proto::EgressStatus::EgressFailed,
    );
    let reply = send_signed(&running.app, &body_of(&unknown_egress)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "success");

    // An event name this service does not know, carrying a FAILED egress of ours.
    let mut unknown_name = running.failed_event();
    unknown_name.event = "something_new".into();
    let body = body_of(&unknown_name);
    assert!(body.contains(r#""event":"something_new""#), "{body}");
    let reply = send_signed(&running.app, &body).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "success");

    assert_eq!(running.now().await, before);
}

#[tokio::test]
async fn a_genuine_egress_failure_fails_the_recording_once() {
    let running = Running::start().await;
    let body = body_of(&running.failed_event());
    let authorization = signature(body.as_bytes(), API_SECRET);

    let reply = running.send(body.clone(), Some(&authorization)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "success");
    let failed = running.now().await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["abilities"]["destroy"], true);

    // LiveKit retrying the very same request: accepted, and nothing changes.
    let reply = running.send(body, Some(&authorization)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let again = running.now().await;
    assert_eq!(again["updated_at"], failed["updated_at"]);
    assert_eq!(again, failed);
}

#[tokio::test]
async fn an_event_id_seen_before_is_not_applied_again() {
    let running = Running::start().await;
    let before = running.now().await;

    // The id is first used by an event about an egress we do not know.
    let first = egress_ended(
        "EG_unknown",
        running.room_id(),
        proto::EgressStatus::EgressFailed,
    );
    let reply = send_signed(&running.app, &body_of(&first)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // A delivery reusing that id is a duplicate, whatever it carries.
    let mut replay = running.failed_event();
    replay.id = first.id.clone();
    let reply = send_signed(&running.app, &body_of(&replay)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(running.now().await, before);

    // The same event under a new id is applied: the duplicate was ignored for its id.
    let reply = send_signed(&running.app, &body_of(&running.failed_event())).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(running.now().await["status"], "failed");
}

#[tokio::test]
async fn events_about_connection_test_rooms_are_ignored() {
    let running = Running::start().await;
    let before = running.now().await;
    for room_name in [
        format!("connection-test-{}", running.room_id()),
        "connection-test".to_owned(),
    ] {
        let event = egress_ended(
            running.egress_id(),
            &room_name,
            proto::EgressStatus::EgressFailed,
        );
        let reply = send_signed(&running.app, &body_of(&event)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["status"], "success");
        assert_eq!(running.now().await, before, "{room_name}");

        // As LiveKit sends egress events: with a minimal `room` naming it too.
        let mut event = running.failed_event();
        event.room = Some(proto::Room {
            name: room_name.clone(),
            ..Default::default()
        });
        event.egress_info.as_mut().unwrap().room_name = room_name.clone();
        let reply = send_signed(&running.app, &body_of(&event)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(running.now().await, before, "{room_name}");
    }

    // The control: the same event about the recording's real room fails it.
    let reply = send_signed(&running.app, &body_of(&running.failed_event())).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(running.now().await["status"], "failed");
}

#[tokio::test]
async fn repeated_egress_updates_are_answered_without_a_write() {
    use sqlx::Row;
    let running = Running::start().await;
    let updated = || proto::WebhookEvent {
        event: "egress_updated".into(),
        id: unique("EV"),
        created_at: now_seconds(),
        egress_info: Some(proto::EgressInfo {
            egress_id: running.egress_id().into(),
            room_name: running.room_id().into(),
            status: proto::EgressStatus::EgressActive as i32,
            ..Default::default()
        }),
        ..Default::default()
    };
    let kept_event_ids = || async {
        sqlx::query("SELECT COUNT(*) AS n FROM webhook_events")
            .fetch_one(running.app.db.pool())
            .await
            .unwrap()
            .get::<i64, _>("n")
    };
    // The first may still have a room state to show; from then on nothing is left to do.
    let reply = send_signed(&running.app, &body_of(&updated())).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let before = running.now().await;
    let kept = kept_event_ids().await;
    for _ in 0..5 {
        let reply = send_signed(&running.app, &body_of(&updated())).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(running.now().await, before, "not even updated_at moved");
    assert_eq!(kept_event_ids().await, kept, "no event id needed keeping");

    // An event that changes something still goes through the lifecycle, once per id.
    let failed = running.failed_event();
    for _ in 0..2 {
        let reply = send_signed(&running.app, &body_of(&failed)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    assert_eq!(running.now().await["status"], "failed");
    assert_eq!(kept_event_ids().await, kept + 1);
}
