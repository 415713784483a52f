//! The service against the **real LiveKit server** (the pinned release built by
//! `scripts/ensure-test-deps.sh`, started per test by `scripts/livekit-server.sh` with a
//! Redis of its own), with real WebRTC participants: bots on LiveKit's Python real-time
//! SDK (`tests/participants/bot.py`) that join with tokens issued by the service and
//! report what a participant really sees.
//!
//! WebRTC needs a non-loopback interface, so these tests run inside the private network
//! namespace of `scripts/netns.sh` (`scripts/test.sh` runs them there, on both databases);
//! elsewhere they fail and say so. They take one LiveKit server at a time.
//!
//! No LiveKit Egress runs here: where a test needs an egress's life, it signs the egress
//! webhooks itself as the server would send them, and the parts participants see (room
//! metadata, data messages) go through the real server.

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use livekit_protocol as proto;
use meet_recorder::adapters::db::{NewRecording, RecordingPatch};
use meet_recorder_domain::{Mode, Status};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    process::{Child, ChildStdin, Command},
    sync::MutexGuard,
};

use crate::{
    app::{TestApp, TestUser, spawn_app_on},
    helpers::{API_KEY, API_SECRET, WebhookSink, eventually, unique},
    webhooks::{body_of, now_seconds, send_signed},
};

/// One real LiveKit server (and its WebRTC ports) at a time: two cores are enough for one
/// server and a few participants, not for several.
static ONE_SERVER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What LiveKit's participant permissions say of the sources the service's tokens allow.
const PUBLISHABLE: [&str; 4] = [
    "SOURCE_CAMERA",
    "SOURCE_MICROPHONE",
    "SOURCE_SCREENSHARE",
    "SOURCE_SCREENSHARE_AUDIO",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The real LiveKit server with its own Redis and, when asked, the stand-in egress worker
/// (`tools/egress-worker`) behind it; stopped on drop.
pub struct RealLiveKit {
    dir: tempfile::TempDir,
    pub api_url: String,
    pub ws_url: String,
    /// The egress worker's admin API (faults, kill), when one runs.
    pub worker_admin: Option<String>,
    /// Where the worker writes files that have no S3 upload.
    pub egress_dir: Option<PathBuf>,
}

/// The stand-in egress worker behind the server, with its session limit (`30s`, `3s`).
pub struct Worker {
    pub max_duration: &'static str,
}

impl RealLiveKit {
    /// Starts it with the test key pair, sending its webhooks to `webhook_urls`.
    pub fn start(webhook_urls: &[String], worker: Option<Worker>) -> Self {
        assert!(
            std::env::var_os("MEETREC_NETNS_IP").is_some(),
            "the real-LiveKit tests need WebRTC: run them inside scripts/netns.sh \
             (scripts/test.sh does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let mut command = std::process::Command::new(repo().join("scripts/livekit-server.sh"));
        command
            .arg("start")
            .arg(dir.path())
            .args(webhook_urls)
            .env("MEETREC_LIVEKIT_API_KEY", API_KEY)
            .env("MEETREC_LIVEKIT_API_SECRET", API_SECRET);
        if let Some(worker) = worker {
            let binary = std::env::var("MEETREC_TEST_EGRESS_WORKER")
                .unwrap_or_else(|_| repo().join("target/egress-worker").display().to_string());
            command
                .env("MEETREC_EGRESS_WORKER", binary)
                .env("MEETREC_EGRESS_MAX_DURATION", worker.max_duration);
        }
        let output = command.output().expect("run scripts/livekit-server.sh");
        assert!(
            output.status.success(),
            "the LiveKit server did not start: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        // Lines of `export NAME="value"`.
        let exports: HashMap<String, String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.strip_prefix("export "))
            .filter_map(|pair| pair.split_once('='))
            .map(|(name, value)| (name.to_owned(), value.trim_matches('"').to_owned()))
            .collect();
        Self {
            api_url: exports["MEETREC_LIVEKIT_API_URL"].clone(),
            ws_url: exports["MEETREC_LIVEKIT_WS_URL"].clone(),
            worker_admin: exports.get("MEETREC_EGRESS_WORKER_ADMIN").cloned(),
            egress_dir: exports.get("MEETREC_EGRESS_LOCAL_DIR").map(PathBuf::from),
            dir,
        }
    }

    /// Calls the egress worker's admin API.
    pub async fn worker(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::StatusCode {
        let admin = self.worker_admin.as_ref().expect("an egress worker runs");
        let mut request = reqwest::Client::new().request(method, format!("{admin}{path}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("the worker answers").status()
    }
}

impl Drop for RealLiveKit {
    fn drop(&mut self) {
        let _ = std::process::Command::new(repo().join("scripts/livekit-server.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// A real participant: `bot.py` on LiveKit's Python real-time SDK.
pub struct Bot {
    child: Child,
    stdin: Option<ChildStdin>,
    events: Arc<Mutex<Vec<Value>>>,
}

impl Bot {
    /// Joins with `token` at `url`, publishing `publish` (comma-separated sources), and
    /// waits until it is in the room.
    pub async fn join(url: &str, token: &str, publish: &str) -> Self {
        let python = std::env::var("MEETREC_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .arg(repo().join("crates/server/tests/participants/bot.py"))
            .args(["--url", url, "--token", token, "--publish", publish])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("run {python} (set MEETREC_TEST_PYTHON): {e}"));
        let events = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let seen = events.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(event) = serde_json::from_str::<Value>(&line) {
                    seen.lock().unwrap().push(event);
                }
            }
        });
        let bot = Self {
            stdin: child.stdin.take(),
            child,
            events,
        };
        let joined = bot
            .wait_for("the bot to join or fail", |e| {
                e["event"] == "connected" || e["event"] == "connect_failed"
            })
            .await;
        assert_eq!(joined["event"], "connected", "{joined}");
        bot
    }

    /// Everything it reported so far.
    pub fn events(&self) -> Vec<Value> {
        self.events.lock().unwrap().clone()
    }

    /// The first report matching `check`, waiting up to 40 s for it.
    pub async fn wait_for(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        eventually(what, Duration::from_secs(40), || async {
            self.events().into_iter().find(|e| check(e))
        })
        .await
    }

    pub fn connected(&self) -> Value {
        self.events()
            .into_iter()
            .find(|e| e["event"] == "connected")
            .unwrap()
    }

    /// The room metadata values it received, parsed, in order.
    pub fn metadata_seen(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == "room_metadata")
            .map(|e| serde_json::from_str(e["metadata"].as_str().unwrap_or("{}")).unwrap())
            .collect()
    }

    /// The data messages it received, parsed.
    pub fn data_seen(&self) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["event"] == "data")
            .filter_map(|e| serde_json::from_str(e["payload"].as_str()?).ok())
            .collect()
    }

    pub async fn command(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("the bot is still in the room");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// Leaves the room and waits for the process to end.
    pub async fn leave(mut self) {
        self.command("leave").await;
        self.stdin = None;
        let _ = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
    }
}

/// The app on the real LiveKit server, with a second webhook receiver that records what
/// the server sends.
struct Real {
    app: TestApp,
    sink: WebhookSink,
    livekit: RealLiveKit,
    _one_at_a_time: MutexGuard<'static, ()>,
}

async fn on_real_livekit(settings: &[(&str, &str)]) -> Real {
    on_real_livekit_with(settings, None).await
}

/// The app on the real LiveKit server with the stand-in egress worker behind it; the
/// worker writes files into the app's local storage.
async fn with_egress_worker(settings: &[(&str, &str)], max_duration: &'static str) -> Real {
    on_real_livekit_with(settings, Some(Worker { max_duration })).await
}

async fn on_real_livekit_with(settings: &[(&str, &str)], worker: Option<Worker>) -> Real {
    let guard = ONE_SERVER_AT_A_TIME.lock().await;
    let sink = WebhookSink::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_webhooks = format!(
        "http://{}/api/v1.0/rooms/webhooks-livekit/",
        listener.local_addr().unwrap()
    );
    let livekit = RealLiveKit::start(&[app_webhooks, sink.url.clone()], worker);
    let egress_dir = livekit
        .egress_dir
        .as_ref()
        .map(|dir| dir.display().to_string());
    let mut all = vec![
        ("LIVEKIT_API_URL", livekit.api_url.as_str()),
        ("LIVEKIT_URL", livekit.ws_url.as_str()),
    ];
    if let Some(dir) = &egress_dir {
        all.push(("MEET_RECORDER_STORAGE_DIR", dir.as_str()));
    }
    all.extend_from_slice(settings);
    let app = spawn_app_on(listener, &all, |_| {}, |_, _| {}).await;
    Real {
        app,
        sink,
        livekit,
        _one_at_a_time: guard,
    }
}

impl Real {
    async fn public_room(&self, owner: &TestUser) -> Value {
        let reply = self
            .app
            .post(
                "rooms/",
                owner,
                json!({"name": unique("Real"), "access_level": "public"}),
            )
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    /// A participant joining `room` with the token the service issues to `user`, or to a
    /// guest named `guest_name` when signed out.
    async fn join(&self, room: &Value, user: Option<&TestUser>, guest_name: &str) -> Bot {
        self.join_publishing(room, user, guest_name, "camera,microphone")
            .await
    }

    async fn join_publishing(
        &self,
        room: &Value,
        user: Option<&TestUser>,
        guest_name: &str,
        publish: &str,
    ) -> Bot {
        let path = format!(
            "rooms/{}/token/?name={}",
            room["id"].as_str().unwrap(),
            urlencoding(guest_name)
        );
        let reply = self.app.request(Method::GET, &path, user, None).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.body["url"], self.livekit.ws_url);
        Bot::join(
            reply.body["url"].as_str().unwrap(),
            reply.body["token"].as_str().unwrap(),
            publish,
        )
        .await
    }

    /// A recording the service believes is recording through egress `egress_id` (no
    /// LiveKit Egress runs here to start one).
    async fn open_recording(
        &self,
        room: &Value,
        owner: &TestUser,
        mode: Mode,
        egress_id: &str,
    ) -> String {
        let db = &self.app.db;
        let recording = db
            .create_recording(NewRecording {
                room_id: room["id"].as_str().unwrap().parse().unwrap(),
                mode,
                layout: None,
                options: json!({}),
                owner: owner.user.id,
            })
            .await
            .unwrap_or_else(|_| panic!("create a recording"));
        let mut conn = db.pool().acquire().await.unwrap();
        let moved = db
            .on(&mut *conn)
            .move_recording(
                recording.id,
                Status::Initiated,
                Status::Active,
                &RecordingPatch {
                    worker_id: Some(egress_id.to_owned()),
                    started_at: Some(now_seconds() * 1000),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(moved);
        recording.id.to_string()
    }

    /// Sends an egress webhook signed with the server's key pair, as LiveKit sends them.
    async fn egress_webhook(
        &self,
        event: &str,
        egress_id: &str,
        room: &Value,
        status: proto::EgressStatus,
    ) {
        let webhook = proto::WebhookEvent {
            event: event.into(),
            id: unique("EV"),
            created_at: now_seconds(),
            egress_info: Some(proto::EgressInfo {
                egress_id: egress_id.into(),
                room_name: room["id"].as_str().unwrap().into(),
                status: status as i32,
                ..Default::default()
            }),
            ..Default::default()
        };
        let reply = send_signed(&self.app, &body_of(&webhook)).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }

    /// Verified webhooks the server sent about `room`, as `(event, participant identity)`.
    fn room_webhooks(&self, room: &Value) -> Vec<(String, String)> {
        self.sink
            .received()
            .iter()
            .map(|w| w.verify())
            .filter(|e| {
                e.room
                    .as_ref()
                    .is_some_and(|r| r.name == room["id"].as_str().unwrap())
            })
            .map(|e| {
                let identity = e.participant.map(|p| p.identity).unwrap_or_default();
                (e.event, identity)
            })
            .collect()
    }

    async fn metric(&self, line_start: &str) -> u64 {
        let text = self
            .app
            .http
            .get(format!("http://{}/metrics", self.app.addr))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(line_start))
            .map_or(0, |value| value.trim().parse().unwrap())
    }
}

/// Percent-encodes a query value.
fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn join_tokens_are_accepted_with_identity_name_and_grants_as_issued() {
    let real = on_real_livekit(&[]).await;
    let host = real.app.user("host").await;
    let room = real.public_room(&host).await;

    let host_bot = real.join(&room, Some(&host), "").await;
    let joined = host_bot.connected();
    assert_eq!(joined["identity"], host.user.id.to_string());
    assert_eq!(joined["name"], "host");
    assert_eq!(joined["room"]["name"], room["id"]);
    let permissions = &joined["permissions"];
    assert_eq!(permissions["can_publish_sources"], json!(PUBLISHABLE));
    assert_eq!(permissions["can_subscribe"], true);
    assert_eq!(permissions["can_publish_data"], true);
    assert_eq!(permissions["can_update_metadata"], false);
    assert_eq!(permissions["hidden"], false);
    assert_eq!(permissions["recorder"], false);
    host_bot
        .wait_for("the host's camera to be published", |e| {
            e["event"] == "published" && e["source"] == "camera"
        })
        .await;

    // A guest of the public room, signed out, joins late with a name of their own.
    let mut guest = real
        .join_publishing(&room, None, "Zoë Invitée", "camera")
        .await;
    let joined = guest.connected();
    let guest_identity = joined["identity"].as_str().unwrap().to_owned();
    assert!(guest_identity.starts_with("guest-"), "{joined}");
    assert_eq!(joined["name"], "Zoë Invitée");
    assert_eq!(
        joined["permissions"]["can_publish_sources"],
        json!(PUBLISHABLE)
    );
    assert_eq!(joined["permissions"]["hidden"], false);
    assert_eq!(joined["permissions"]["recorder"], false);
    assert!(
        joined["remote"]
            .as_array()
            .unwrap()
            .contains(&json!(host.user.id.to_string())),
        "the late guest sees the host: {joined}"
    );

    // Real media flows both ways.
    host_bot
        .wait_for("the host to receive the guest's camera", |e| {
            e["event"] == "track_subscribed"
                && e["identity"] == guest_identity
                && e["kind"] == "KIND_VIDEO"
        })
        .await;
    guest
        .wait_for("the guest to receive the host's camera", |e| {
            e["event"] == "track_subscribed"
                && e["identity"] == host.user.id.to_string()
                && e["source"] == "SOURCE_CAMERA"
        })
        .await;

    // Nothing beyond the grants: a source outside the list is refused by the server, and
    // the join token is no key to the server's admin API.
    guest.command("publish unknown").await;
    let refused = guest
        .wait_for("the unknown source to be refused", |e| {
            e["source"] == "unknown"
                && (e["event"] == "published" || e["event"] == "publish_failed")
        })
        .await;
    assert_eq!(refused["event"], "publish_failed", "{refused}");
    let guest_token = real
        .app
        .request(
            Method::GET,
            &format!("rooms/{}/token/?name=x", room["id"].as_str().unwrap()),
            None,
            None,
        )
        .await
        .body["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let admin = real
        .app
        .http
        .post(format!(
            "{}/twirp/livekit.RoomService/UpdateRoomMetadata",
            real.livekit.api_url
        ))
        .bearer_auth(guest_token)
        .json(&json!({"room": room["id"], "metadata": "{\"recording_status\":\"started\"}"}))
        .send()
        .await
        .unwrap();
    assert!(
        admin.status() == 401 || admin.status() == 403,
        "a join token changed the room: {}",
        admin.status()
    );
    assert!(host_bot.metadata_seen().is_empty());

    guest.leave().await;
    host_bot.leave().await;
}

#[tokio::test]
async fn the_real_servers_webhooks_verify_and_room_finished_settles_open_recordings() {
    let real = on_real_livekit(&[]).await;
    let host = real.app.user("host").await;
    let room = real.public_room(&host).await;
    let room_id = room["id"].as_str().unwrap().to_owned();

    let bot = real.join(&room, Some(&host), "").await;
    // An egress whose worker vanished with every webhook about it: only the room's end is
    // left to tell.
    let recording = real
        .open_recording(&room, &host, Mode::ScreenRecording, "EG_worker_vanished")
        .await;
    bot.leave().await;

    eventually(
        "room_finished from the server",
        Duration::from_secs(40),
        || async {
            real.room_webhooks(&room)
                .iter()
                .any(|(event, _)| event == "room_finished")
                .then_some(())
        },
    )
    .await;
    let events = real.room_webhooks(&room);
    let names: Vec<&str> = events.iter().map(|(event, _)| event.as_str()).collect();
    let position = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("no {name} in {names:?}"))
    };
    assert!(
        position("room_started") < position("participant_joined"),
        "{names:?}"
    );
    assert!(
        position("participant_joined") < position("participant_left"),
        "{names:?}"
    );
    assert!(
        position("participant_left") < position("room_finished"),
        "{names:?}"
    );
    assert!(events.contains(&("participant_joined".into(), host.user.id.to_string())));
    for webhook in real.sink.received() {
        assert_eq!(
            webhook.content_type.as_deref(),
            Some("application/webhook+json")
        );
        let authorization = webhook.authorization.unwrap_or_default();
        assert!(
            !authorization.starts_with("Bearer"),
            "a raw JWT: {authorization}"
        );
    }

    // The app verified the same webhooks with its key and settled the recording: LiveKit
    // does not know its egress and no file exists, so it failed.
    let settled = real.app.wait_status(&recording, &host, "failed").await;
    assert_eq!(settled["room"]["id"], room_id);
    assert_eq!(
        real.metric("meet_recorder_webhooks_total{result=\"rejected\"}")
            .await,
        0
    );
    assert!(
        real.metric("meet_recorder_webhooks_total{result=\"processed\"}")
            .await
            >= 1
    );
}

#[tokio::test]
async fn starting_with_no_egress_worker_fails_cleanly_and_frees_the_room() {
    let real = on_real_livekit(&[]).await;
    let host = real.app.user("host").await;
    let room = real.public_room(&host).await;
    let guest = real.join(&room, None, "Watcher").await;

    let asked = Instant::now();
    let reply = real
        .app
        .start(
            &room,
            &host,
            json!({"mode": "screen_recording", "layout": "grid"}),
        )
        .await;
    let waited = asked.elapsed();
    println!("start-recording with no egress worker answered after {waited:?}");
    assert_eq!(reply.status, 502, "{}", reply.body);
    assert_eq!(reply.body["code"], "recording-failed-to-start");
    assert_eq!(reply.body["recording"]["status"], "failed_to_start");

    // The participant saw "starting", then the state go away.
    let seen = eventually(
        "the metadata to be cleared",
        Duration::from_secs(20),
        || async {
            let seen = guest.metadata_seen();
            (seen.len() >= 2 && seen.last().unwrap().get("recording_status").is_none())
                .then_some(seen)
        },
    )
    .await;
    assert_eq!(seen[0]["recording_status"], "starting", "{seen:?}");
    assert_eq!(seen[0]["recording_mode"], "screen_recording");

    // The room is free again: the next start is tried (and fails the same way), not 409.
    let again = real
        .app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(again.status, 502, "{}", again.body);
    assert!(
        real.app
            .db
            .recordings_awaiting_egress()
            .await
            .unwrap()
            .is_empty(),
        "no recording is left open"
    );
    guest.leave().await;
}

#[tokio::test]
async fn participants_see_the_recording_state_and_messages_through_the_real_server() {
    let real = on_real_livekit(&[]).await;
    let host = real.app.user("host").await;
    let room = real.public_room(&host).await;
    let bot = real.join(&room, None, "Listener").await;

    let video = real
        .open_recording(&room, &host, Mode::ScreenRecording, "EG_video")
        .await;
    let status = |state: &'static str| {
        move |seen: &Vec<Value>| seen.last().is_some_and(|m| m["recording_status"] == state)
    };
    real.egress_webhook(
        "egress_updated",
        "EG_video",
        &room,
        proto::EgressStatus::EgressActive,
    )
    .await;
    eventually(
        "recording_status started",
        Duration::from_secs(20),
        || async { status("started")(&bot.metadata_seen()).then_some(()) },
    )
    .await;
    assert_eq!(
        bot.metadata_seen().last().unwrap()["recording_mode"],
        "screen_recording"
    );
    real.egress_webhook(
        "egress_updated",
        "EG_video",
        &room,
        proto::EgressStatus::EgressEnding,
    )
    .await;
    eventually(
        "recording_status saving",
        Duration::from_secs(20),
        || async { status("saving")(&bot.metadata_seen()).then_some(()) },
    )
    .await;
    real.egress_webhook(
        "egress_ended",
        "EG_video",
        &room,
        proto::EgressStatus::EgressLimitReached,
    )
    .await;
    bot.wait_for("the limit message", |e| {
        e["event"] == "data"
            && e["payload"]
                .as_str()
                .unwrap_or("")
                .contains("screenRecordingLimitReached")
    })
    .await;
    eventually(
        "the metadata to be cleared",
        Duration::from_secs(20),
        || async {
            bot.metadata_seen()
                .last()
                .is_some_and(|m| m.get("recording_status").is_none())
                .then_some(())
        },
    )
    .await;
    assert_eq!(
        real.app.recording(&video, &host).await["stop_reason"],
        "limit"
    );

    let transcript = real
        .open_recording(&room, &host, Mode::Transcript, "EG_transcript")
        .await;
    real.egress_webhook(
        "egress_ended",
        "EG_transcript",
        &room,
        proto::EgressStatus::EgressFailed,
    )
    .await;
    bot.wait_for("the failure message", |e| {
        e["event"] == "data"
            && e["payload"]
                .as_str()
                .unwrap_or("")
                .contains("recordingFailed")
    })
    .await;
    assert!(
        bot.data_seen()
            .contains(&json!({"type": "recordingFailed", "mode": "transcript"})),
        "{:?}",
        bot.data_seen()
    );
    real.app.wait_status(&transcript, &host, "failed").await;
    bot.leave().await;
}

#[tokio::test]
async fn reconciliation_asks_the_real_server_and_settles_an_egress_it_does_not_know() {
    let real = on_real_livekit(&[]).await;
    let host = real.app.user("host").await;
    let room = real.public_room(&host).await;
    let recording = real
        .open_recording(&room, &host, Mode::ScreenRecording, "EG_unknown_to_livekit")
        .await;

    // The real server answers `not_found` for an egress it does not know, which means it
    // is gone, not that LiveKit is unreachable.
    real.app.state.engine.reconciler.reconcile(0).await.unwrap();
    let settled = real.app.wait_status(&recording, &host, "failed").await;
    assert_eq!(settled["worker_id"], "EG_unknown_to_livekit", "{settled}");
}

// ---------------------------------------------------------------------------------------
// The whole lifecycle with the stand-in egress worker behind the real server: the server
// assigns the egress ids, keeps the egress list and sends every egress webhook itself.

impl Real {
    /// The verified egress webhooks the server sent about `egress_id`, as
    /// `(event, status)`.
    fn egress_webhooks(&self, egress_id: &str) -> Vec<(String, proto::EgressStatus)> {
        self.sink
            .egress_events(egress_id)
            .into_iter()
            .map(|e| {
                let status = e.egress_info.as_ref().unwrap().status();
                (e.event, status)
            })
            .collect()
    }

    /// A ranged download of the recording's file, as the player asks for it.
    async fn download_range(&self, id: &str, user: &TestUser) -> reqwest::Response {
        self.app
            .http
            .get(format!("{}/recordings/{id}/media/", self.app.api))
            .bearer_auth(&user.token)
            .header("range", "bytes=0-99")
            .send()
            .await
            .unwrap()
    }

    fn file_of(&self, id: &str, extension: &str) -> PathBuf {
        self.livekit
            .egress_dir
            .as_ref()
            .unwrap()
            .join(format!("recordings/{id}.{extension}"))
    }
}

/// A public room on the real server with its host and one participant in it, and the
/// egress worker behind the server.
struct Scene {
    real: Real,
    host: TestUser,
    room: Value,
    participant: Bot,
}

async fn scene(settings: &[(&str, &str)], max_duration: &'static str) -> Scene {
    let real = with_egress_worker(settings, max_duration).await;
    let host = real.app.user("host").await;
    let room = real.public_room(&host).await;
    let participant = real.join(&room, None, "Participant").await;
    Scene {
        real,
        host,
        room,
        participant,
    }
}

impl Scene {
    /// Starts a recording of `mode` (201); returns its id and the server's egress id.
    async fn start(&self, mode: &str) -> (String, String) {
        let reply = self
            .real
            .app
            .start(&self.room, &self.host, json!({ "mode": mode }))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let egress_id = reply.body["recording"]["worker_id"].as_str().unwrap();
        (recording_id(&reply), egress_id.to_owned())
    }

    /// Waits until the participant received a data message whose payload mentions `needle`.
    async fn told(&self, needle: &str) {
        self.participant
            .wait_for(needle, |e| {
                e["event"] == "data" && e["payload"].as_str().unwrap_or("").contains(needle)
            })
            .await;
    }

    async fn wait_status(&self, id: &str, status: &str) -> Value {
        self.real.app.wait_status(id, &self.host, status).await
    }

    /// Waits until the participant saw the room metadata's `recording_status` become
    /// `status`.
    async fn told_state(&self, status: &str) {
        self.participant
            .wait_for(&format!("the participant to see {status}"), |e| {
                e["event"] == "room_metadata"
                    && e["metadata"]
                        .as_str()
                        .unwrap_or("")
                        .contains(&format!("\"recording_status\":\"{status}\""))
            })
            .await;
    }
}

fn recording_id(reply: &crate::app::Reply) -> String {
    reply.body["recording"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_recording_goes_its_whole_life_through_the_real_server_and_an_egress_worker() {
    let real = with_egress_worker(&[], "30s").await;
    let host = real.app.user("host").await;
    let room = real.public_room(&host).await;
    let participant = real.join(&room, None, "Participant").await;

    let reply = real
        .app
        .start(
            &room,
            &host,
            json!({"mode": "screen_recording", "layout": "grid"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = recording_id(&reply);
    let egress_id = reply.body["recording"]["worker_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        egress_id.starts_with("EG_"),
        "the server's egress id: {egress_id}"
    );
    assert_eq!(reply.body["recording"]["status"], "active");

    eventually(
        "the participant to see started",
        Duration::from_secs(20),
        || async {
            participant
                .metadata_seen()
                .last()
                .is_some_and(|m| m["recording_status"] == "started")
                .then_some(())
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let stopped = real.app.stop(&room, &host, json!({})).await;
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    let done = real
        .app
        .wait_status(&id, &host, "notification_succeeded")
        .await;
    assert!(done["duration_ms"].as_i64().unwrap() >= 1500, "{done}");
    assert!(done["size_bytes"].as_i64().unwrap() > 0, "{done}");

    // Every egress webhook came from the server, in order.
    let webhooks = real.egress_webhooks(&egress_id);
    let names: Vec<&str> = webhooks.iter().map(|(event, _)| event.as_str()).collect();
    assert_eq!(names.first(), Some(&"egress_started"), "{webhooks:?}");
    assert_eq!(names.last(), Some(&"egress_ended"), "{webhooks:?}");
    assert!(webhooks.contains(&("egress_updated".into(), proto::EgressStatus::EgressActive)));
    assert_eq!(
        webhooks.last().unwrap().1,
        proto::EgressStatus::EgressComplete
    );

    // What the participant saw: starting, started, saving, then nothing (the last
    // metadata update may still be on its way through the server).
    let states = eventually("the metadata cleared", Duration::from_secs(10), || async {
        let states: Vec<Value> = participant
            .metadata_seen()
            .iter()
            .map(|m| m.get("recording_status").cloned().unwrap_or(Value::Null))
            .collect();
        (states.last() == Some(&Value::Null)).then_some(states)
    })
    .await;
    let position = |state: &str| states.iter().position(|s| s == state);
    assert!(position("starting") < position("started"), "{states:?}");
    assert!(position("started") < position("saving"), "{states:?}");
    assert_eq!(states.last(), Some(&Value::Null), "{states:?}");

    // The owner's email links to it, and the player gets it in ranges.
    let emails = real.app.sent_emails();
    assert_eq!(emails.len(), 1, "{emails:?}");
    assert!(
        emails[0].contains(&format!("/recording/{id}")),
        "{}",
        emails[0]
    );
    let range = real.download_range(&id, &host).await;
    assert_eq!(range.status(), 206);
    assert_eq!(range.bytes().await.unwrap().len(), 100);
    let seconds = crate::helpers::ffprobe_duration(&real.file_of(&id, "mp4"));
    assert!(
        seconds >= 1.5,
        "the file is as long as the egress was active: {seconds}"
    );
    participant.leave().await;
}

#[tokio::test]
async fn the_maximum_duration_stops_the_real_egress_and_tells_the_room() {
    let scene = scene(&[("RECORDING_MAX_DURATION", "2500")], "30s").await;
    let (id, _) = scene.start("screen_recording").await;
    scene.told("screenRecordingLimitReached").await;
    let saved = scene.wait_status(&id, "notification_succeeded").await;
    assert_eq!(saved["stop_reason"], "limit");
    let seconds = crate::helpers::ffprobe_duration(&scene.real.file_of(&id, "mp4"));
    assert!(
        (1.5..6.0).contains(&seconds),
        "stopped near the limit: {seconds}"
    );
    scene.participant.leave().await;
}

#[tokio::test]
async fn the_egress_session_limit_ends_it_limit_reached_with_its_file() {
    let scene = scene(&[], "3s").await;
    let (id, egress_id) = scene.start("transcript").await;
    scene.told("transcriptionLimitReached").await;
    scene.wait_status(&id, "notification_succeeded").await;
    assert_eq!(
        scene.real.egress_webhooks(&egress_id).last().unwrap().1,
        proto::EgressStatus::EgressLimitReached
    );
    let streams = crate::helpers::ffprobe_streams(&scene.real.file_of(&id, "ogg"));
    assert_eq!(streams, ["opus"], "a transcript records audio only");
    scene.participant.leave().await;
}

#[tokio::test]
async fn an_egress_that_fails_midway_fails_the_recording_and_tells_everyone() {
    let scene = scene(&[], "30s").await;
    let queued = scene
        .real
        .livekit
        .worker(
            Method::POST,
            "/faults",
            Some(json!({"kind": "fail_midway", "delay_ms": 800})),
        )
        .await;
    assert!(queued.is_success());

    let (id, _) = scene.start("screen_recording").await;
    scene.wait_status(&id, "failed").await;
    scene.told("recordingFailed").await;
    eventually("the failure email", Duration::from_secs(20), || async {
        (scene.real.app.sent_emails().len() == 1).then_some(())
    })
    .await;
    let open = scene
        .real
        .app
        .db
        .recordings_awaiting_egress()
        .await
        .unwrap();
    assert!(open.is_empty(), "the room is free again");
    scene.participant.leave().await;
}

#[tokio::test]
async fn a_worker_killed_mid_recording_is_settled_by_reconciliation() {
    let scene = scene(&[], "30s").await;
    let (real, host) = (&scene.real, &scene.host);
    let (id, egress_id) = scene.start("screen_recording").await;
    eventually(
        "the egress to be active",
        Duration::from_secs(20),
        || async {
            real.egress_webhooks(&egress_id)
                .iter()
                .any(|(_, status)| *status == proto::EgressStatus::EgressActive)
                .then_some(())
        },
    )
    .await;
    let _ = real.livekit.worker(Method::POST, "/kill", None).await;

    // The server still lists the egress as running and no worker answers its stop: the
    // host's stop fails, and the recording shows it may still be recording.
    let stop = real.app.stop(&scene.room, host, json!({})).await;
    assert_eq!(stop.status, 500, "{}", stop.body);
    let info = real
        .app
        .state
        .livekit
        .egress_info(&egress_id)
        .await
        .unwrap()
        .expect("the server still knows the egress");
    assert_eq!(info.status(), proto::EgressStatus::EgressActive);
    assert_eq!(
        real.app.recording(&id, host).await["status"],
        "failed_to_stop"
    );

    // Reconciliation asks again; nobody answers, no file exists: failed, owners told.
    real.app.state.engine.reconciler.reconcile(0).await.unwrap();
    scene.wait_status(&id, "failed").await;
    eventually("the failure email", Duration::from_secs(20), || async {
        (real.app.sent_emails().len() == 1).then_some(())
    })
    .await;
    let open = real.app.db.recordings_awaiting_egress().await.unwrap();
    assert!(open.is_empty(), "the room is free again");
    scene.participant.leave().await;
}

#[tokio::test]
async fn a_video_recording_and_a_transcript_run_at_once_on_the_real_server() {
    let real = with_egress_worker(&[], "30s").await;
    let host = real.app.user("host").await;
    let room = real.public_room(&host).await;
    let participant = real.join(&room, None, "Participant").await;

    let video = real
        .app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(video.status, 201, "{}", video.body);
    let transcript = real
        .app
        .start(&room, &host, json!({"mode": "transcript"}))
        .await;
    assert_eq!(transcript.status, 201, "{}", transcript.body);
    assert_ne!(
        video.body["recording"]["worker_id"],
        transcript.body["recording"]["worker_id"]
    );
    let listed = real.app.state.livekit.active_egresses().await.unwrap();
    assert_eq!(
        listed.len(),
        2,
        "the server lists both egresses: {listed:?}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    for mode in ["transcript", "screen_recording"] {
        let reply = real.app.stop(&room, &host, json!({"mode": mode})).await;
        assert_eq!(reply.status, 200, "{mode}: {}", reply.body);
    }
    let video_id = recording_id(&video);
    let transcript_id = recording_id(&transcript);
    real.app
        .wait_status(&video_id, &host, "notification_succeeded")
        .await;
    real.app
        .wait_status(&transcript_id, &host, "notification_succeeded")
        .await;
    assert_eq!(
        crate::helpers::ffprobe_streams(&real.file_of(&video_id, "mp4")),
        ["h264", "aac"]
    );
    assert_eq!(
        crate::helpers::ffprobe_streams(&real.file_of(&transcript_id, "ogg")),
        ["opus"]
    );
    participant.leave().await;
}

#[tokio::test]
async fn an_auto_recorded_room_records_from_its_first_participant_until_it_empties() {
    let real = with_egress_worker(&[], "60s").await;
    let host = real.app.user("host").await;
    let room = real.public_room(&host).await;
    let reply = real
        .app
        .request(
            Method::PATCH,
            &format!("rooms/{}/", room["id"].as_str().unwrap()),
            Some(&host),
            Some(json!({"configuration": {"auto_record": ["screen_recording"]}})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // The real server's participant_joined starts it; nobody clicks anything.
    let participant = real.join(&room, None, "Participant").await;
    let recording = eventually(
        "an auto-started recording",
        Duration::from_secs(60),
        || async {
            let reply = real.app.get("recordings/", &host).await;
            reply.body["results"]
                .as_array()?
                .iter()
                .find(|r| r["room"]["id"] == room["id"] && r["status"] == "active")
                .cloned()
        },
    )
    .await;
    let id = recording["id"].as_str().unwrap().to_owned();
    participant
        .wait_for("the participant to see started", |e| {
            e["event"] == "room_metadata"
                && e["metadata"].as_str().unwrap_or("").contains("\"started\"")
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The last one leaving ends it, and the owner gets the file.
    participant.leave().await;
    let done = eventually("the recording saved", Duration::from_secs(90), || async {
        let recording = real.app.recording(&id, &host).await;
        (recording["status"] == "notification_succeeded").then_some(recording)
    })
    .await;
    assert!(done["size_bytes"].as_i64().unwrap() > 0, "{done}");
    assert_eq!(real.app.sent_emails().len(), 1);
}

#[tokio::test]
async fn a_request_for_a_recording_reaches_the_hosts_and_only_them_through_the_real_server() {
    let real = on_real_livekit(&[]).await;
    let host = real.app.user("host").await;
    let room = real.public_room(&host).await;
    let host_bot = real.join(&room, Some(&host), "Host").await;
    let guest_bot = real.join(&room, None, "Guest").await;

    let reply = real
        .app
        .request(
            Method::POST,
            &format!(
                "rooms/{}/request-recording/?name=Ada",
                room["id"].as_str().unwrap()
            ),
            None,
            Some(json!({"mode": "screen_recording"})),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);

    let told = host_bot
        .wait_for("the host to be asked", |e| {
            e["event"] == "data"
                && e["payload"]
                    .as_str()
                    .unwrap_or("")
                    .contains("screenRecordingRequested")
        })
        .await;
    let message: Value = serde_json::from_str(told["payload"].as_str().unwrap()).unwrap();
    assert_eq!(message["name"], "Ada", "{message}");
    assert_eq!(message["id"], reply.body["id"]);

    // Addressed to the hosts: the guest's bot never hears it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !guest_bot
            .data_seen()
            .iter()
            .any(|m| m["type"] == "screenRecordingRequested"),
        "{:?}",
        guest_bot.data_seen()
    );
    host_bot.leave().await;
    guest_bot.leave().await;
}

#[tokio::test]
async fn in_a_room_that_asks_the_real_server_withholds_publishing_until_consent() {
    let real = with_egress_worker(&[], "10m").await;
    let host = real.app.user("host").await;
    let room = real.public_room(&host).await;
    let room_id = room["id"].as_str().unwrap().to_owned();
    let reply = real
        .app
        .request(
            Method::PATCH,
            &format!("rooms/{room_id}/"),
            Some(&host),
            Some(json!({"configuration": {"recording_consent": "ask"}})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let host_bot = real.join(&room, Some(&host), "Host").await;
    let early = real.join_publishing(&room, None, "Early", "camera").await;
    early
        .wait_for("the early guest's camera", |e| e["event"] == "published")
        .await;

    // Recording withdraws the early guest's right to publish, through UpdateParticipant.
    let reply = real
        .app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let withheld =
        |e: &Value| e["event"] == "permissions" && e["permissions"]["can_publish"] == false;
    early.wait_for("the early guest withheld", withheld).await;

    // A late guest's token withholds it from the start: the real server refuses a camera.
    let token_path = format!("rooms/{room_id}/token/?name=Late");
    let token = real.app.request(Method::GET, &token_path, None, None).await;
    assert_eq!(token.status, 200, "{}", token.body);
    assert_eq!(token.body["may_publish"], false);
    let mut late = Bot::join(
        token.body["url"].as_str().unwrap(),
        token.body["token"].as_str().unwrap(),
        "camera",
    )
    .await;
    assert_eq!(late.connected()["permissions"]["can_publish"], false);
    late.wait_for("the late guest's camera refused", |e| {
        e["event"] == "publish_failed"
    })
    .await;

    // Accepting grants it at once; the camera goes out.
    let reply = real
        .app
        .request(
            Method::POST,
            &format!("rooms/{room_id}/recording-consent/"),
            None,
            Some(json!({"token": token.body["token"], "decision": "accepted"})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    late.wait_for("the late guest allowed", |e| {
        e["event"] == "permissions" && e["permissions"]["can_publish"] == true
    })
    .await;
    late.command("publish camera").await;
    late.wait_for("the late guest's camera", |e| e["event"] == "published")
        .await;
    // The host decided to record and was never held back.
    assert!(
        !host_bot
            .events()
            .iter()
            .any(|e| withheld(e) && e["identity"] == host.user.id.to_string()),
        "{:?}",
        host_bot.events()
    );

    // Once it stops, the early guest may publish again.
    let reply = real
        .app
        .stop(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    early
        .wait_for("the early guest allowed again", |e| {
            e["event"] == "permissions" && e["permissions"]["can_publish"] == true
        })
        .await;
    for bot in [host_bot, early, late] {
        bot.leave().await;
    }
}

#[tokio::test]
async fn a_paused_recording_is_two_real_egresses_joined_into_one_file() {
    let scene = scene(&[], "10m").await;
    let (id, first_egress) = scene.start("screen_recording").await;
    scene.told_state("started").await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let path = |action: &str| {
        format!(
            "rooms/{}/{action}-recording/",
            scene.room["id"].as_str().unwrap()
        )
    };
    let paused = scene
        .real
        .app
        .post(&path("pause"), &scene.host, json!({}))
        .await;
    assert_eq!(paused.status, 200, "{}", paused.body);
    assert_eq!(paused.body["recording"]["status"], "paused");
    scene.told("screenRecordingPaused").await;
    scene.told_state("paused").await;
    // The real server ended the first egress; the recording stays paused meanwhile.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        scene.real.app.recording(&id, &scene.host).await["status"],
        "paused"
    );

    let resumed = scene
        .real
        .app
        .post(&path("resume"), &scene.host, json!({}))
        .await;
    assert_eq!(resumed.status, 200, "{}", resumed.body);
    let second_egress = resumed.body["recording"]["worker_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(
        second_egress, first_egress,
        "a new egress for the second segment"
    );
    scene.told("screenRecordingResumed").await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let stopped = scene
        .real
        .app
        .stop(&scene.room, &scene.host, json!({}))
        .await;
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    let done = scene.wait_status(&id, "notification_succeeded").await;
    // One file of the two segments (about 6 s), not of the meeting (about 10 s).
    let seconds = crate::helpers::ffprobe_duration(&scene.real.file_of(&id, "mp4"));
    assert!(
        (4.0..8.5).contains(&seconds),
        "{seconds} s in the joined file"
    );
    let shown = done["duration_ms"].as_f64().unwrap() / 1000.0;
    assert!((shown - seconds).abs() < 0.5, "{shown} s shown");
    assert_eq!(scene.real.app.sent_emails().len(), 1);
}
