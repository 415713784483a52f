//! Outbound webhooks: every step of a recording's life is announced to the configured
//! endpoints, signed per the Standard Webhooks specification and checked by its reference
//! library (`tests/receivers/standard_webhooks.py`), in order per recording, retried,
//! and left dead (listed and retried from the CLI) when an endpoint keeps refusing.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::Engine;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::{app::*, cli::meet_recorder, helpers::eventually};

/// A receiving endpoint run by the reference library.
struct Receiver {
    url: String,
    lines: Arc<Mutex<Vec<Value>>>,
    _child: Child,
}

impl Receiver {
    async fn start(secret: &str, fail_first: u32) -> Self {
        let python = std::env::var("MEETREC_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/receivers/standard_webhooks.py"
        );
        let mut child = Command::new(&python)
            .args([
                script,
                "--secret",
                secret,
                "--fail-first",
                &fail_first.to_string(),
            ])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("run {python} (set MEETREC_TEST_PYTHON): {e}"));
        let mut reader = BufReader::new(child.stdout.take().unwrap()).lines();
        let first: Value =
            serde_json::from_str(&reader.next_line().await.unwrap().expect("the port")).unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(value) = serde_json::from_str(&line) {
                    seen.lock().unwrap().push(value);
                }
            }
        });
        Self {
            url: format!("http://127.0.0.1:{}/hooks/meet", first["port"]),
            lines,
            _child: child,
        }
    }

    fn lines(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    /// The verified messages' types, in the order they arrived.
    fn verified_types(&self) -> Vec<String> {
        self.lines()
            .iter()
            .filter(|l| l["verified"] == true)
            .map(|l| l["type"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn wait_for(&self, count: usize) -> Vec<String> {
        eventually(
            &format!("{count} verified messages"),
            Duration::from_secs(30),
            || async {
                let types = self.verified_types();
                (types.len() >= count).then_some(types)
            },
        )
        .await
    }
}

fn new_secret() -> String {
    let key: [u8; 32] = rand::random();
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

async fn pause_or_resume(app: &TestApp, room: &Value, host: &TestUser, action: &str) {
    let path = format!("rooms/{}/{action}-recording/", room["id"].as_str().unwrap());
    let reply = app.post(&path, host, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn every_step_of_a_recording_is_announced_signed_and_in_order() {
    let secret = new_secret();
    let receiver = Receiver::start(&secret, 0).await;
    let app = spawn_app_with(
        &[
            ("MEET_RECORDER_WEBHOOK_URLS", receiver.url.as_str()),
            ("MEET_RECORDER_WEBHOOK_SECRETS", secret.as_str()),
        ],
        |_| {},
    )
    .await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["recording"]["id"].as_str().unwrap().to_owned();
    app.wait_status(&id, &host, "active").await;
    receiver.wait_for(1).await;
    // A recording pauses once its egress records (participants see "started").
    let room_id = room["id"].as_str().unwrap().to_owned();
    eventually("the egress to record", Duration::from_secs(10), || async {
        (app.room_metadata(&room_id).await["recording_status"] == "started").then_some(())
    })
    .await;
    pause_or_resume(&app, &room, &host, "pause").await;
    receiver.wait_for(2).await;
    pause_or_resume(&app, &room, &host, "resume").await;
    receiver.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.stop(&room, &host, json!({})).await.status, 200);
    app.wait_status(&id, &host, "notification_succeeded").await;

    let types = receiver.wait_for(5).await;
    assert_eq!(
        types,
        [
            "recording.started",
            "recording.paused",
            "recording.resumed",
            "recording.stopped",
            "recording.saved"
        ]
    );
    let lines = receiver.lines();
    assert!(lines.iter().all(|l| l["verified"] == true), "{lines:?}");
    let saved = lines.last().unwrap();
    assert_eq!(saved["data"]["id"], id);
    assert_eq!(saved["data"]["status"], "saved");
    assert_eq!(saved["data"]["room"]["id"], room["id"]);
    assert!(
        saved["data"]["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/recording/{id}"))
    );
    assert!(
        saved["data"]["duration_ms"].as_i64().unwrap() > 0,
        "{saved}"
    );
    let ids: std::collections::HashSet<&str> =
        lines.iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 5, "one message id per event");
}

#[tokio::test]
async fn a_refusing_endpoint_is_retried_in_order_and_a_wrong_secret_ends_dead_and_retryable() {
    let secret = new_secret();
    let flaky = Receiver::start(&secret, 3).await;
    // This one checks signatures with another secret than ours: every message fails.
    let mismatched = Receiver::start(&new_secret(), 0).await;
    let urls = format!("{},{}", flaky.url, mismatched.url);
    let secrets = format!("{secret},{secret}");
    let app = spawn_app_with(
        &[
            ("MEET_RECORDER_WEBHOOK_URLS", urls.as_str()),
            ("MEET_RECORDER_WEBHOOK_SECRETS", secrets.as_str()),
            ("MEET_RECORDER_JOB_MAX_ATTEMPTS", "4"),
        ],
        |_| {},
    )
    .await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let id = app.record(&host, &room, "screen_recording").await;
    app.wait_status(&id, &host, "notification_succeeded").await;

    // The first endpoint refused three times, and still got every message once, in order.
    let types = flaky.wait_for(3).await;
    assert_eq!(
        types,
        ["recording.started", "recording.stopped", "recording.saved"]
    );
    let refused = flaky
        .lines()
        .iter()
        .filter(|l| l["refused"] == true)
        .count();
    assert_eq!(refused, 3);

    // The other never verified one: each message died after its attempts, and a dead one
    // did not hold back the next.
    let dead = eventually("three dead deliveries", Duration::from_secs(30), || async {
        let dead: Vec<_> = app
            .db
            .jobs(true, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| j.kind == "deliver_webhook")
            .collect();
        (dead.len() == 3).then_some(dead)
    })
    .await;
    assert!(mismatched.lines().iter().all(|l| l["verified"] == false));
    let output = meet_recorder(&app, &["jobs", "list", "--dead"], &[]).await;
    let listed = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(listed.contains("deliver_webhook"), "{listed}");
    let output = meet_recorder(&app, &["jobs", "retry", &dead[0].id.to_string()], &[]).await;
    assert!(output.status.success(), "{output:?}");
    let retried = app.db.job(dead[0].id).await.unwrap().unwrap();
    assert_ne!(retried.status, "dead", "{retried:?}");
}
