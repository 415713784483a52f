//! Storage events from a real MinIO: each test starts its own single-node MinIO
//! (`scripts/minio.sh`, binary from `~/.cache/meet-recorder/bin/minio` or
//! `MEETREC_TEST_MINIO`) whose webhook target points at the storage hook, with the
//! bucket's notification bound by `mc event add … --event put --prefix recordings/`, as an
//! operator would. The app uses that MinIO as its S3 storage, so the LiveKit emulator's
//! egress uploads the recording there for real (multipart above 5 MiB) and MinIO itself
//! tells the app the file exists.
//!
//! Most tests put a [`Tap`] between MinIO and the app: a pass-through proxy that keeps
//! each delivery (MinIO's headers and body, the app's answer), so the tests can assert
//! what MinIO really sent and replay it. One test lets MinIO call the app directly.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode, Uri},
    response::IntoResponse,
};
use bytes::Bytes as ObjectBytes;
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload, path::Path as Key,
};
use serde_json::{Value, json};
use sqlx::Row;

use crate::{
    app::*,
    helpers::{S3Env, eventually},
};

const TOKEN: &str = "minio-storage-event-token";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ---------------------------------------------------------------------------------------
// MinIO
// ---------------------------------------------------------------------------------------

/// A MinIO started by `scripts/minio.sh` for one test; stopped when dropped.
struct Minio {
    dir: tempfile::TempDir,
    s3: S3Env,
}

impl Minio {
    /// Starts MinIO with its webhook target at `webhook_url`; with `queue_dir`, the target
    /// keeps undelivered events in a queue directory and re-sends them.
    async fn start(webhook_url: &str, queue_dir: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let output = tokio::process::Command::new(repo_root().join("scripts/minio.sh"))
            .arg("start")
            .arg(dir.path().join("minio"))
            .arg(webhook_url)
            .arg(TOKEN)
            .env("MINIO_QUEUE_DIR", if queue_dir { "1" } else { "0" })
            .output()
            .await
            .expect("run scripts/minio.sh");
        let minio_dir = dir.path().join("minio");
        if !output.status.success() {
            let log = std::fs::read_to_string(minio_dir.join("minio.log")).unwrap_or_default();
            stop_minio(&minio_dir);
            panic!(
                "scripts/minio.sh start failed: {}\n{log}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let stdout = String::from_utf8(output.stdout).unwrap();
        let var = |name: &str| {
            stdout
                .lines()
                .find_map(|line| {
                    line.strip_prefix(&format!("export MEETREC_TEST_MINIO_{name}=\""))
                        .and_then(|rest| rest.strip_suffix('"'))
                })
                .unwrap_or_else(|| panic!("minio.sh printed no MEETREC_TEST_MINIO_{name}"))
                .to_owned()
        };
        let s3 = S3Env {
            endpoint: var("ENDPOINT"),
            region: var("REGION"),
            bucket: var("BUCKET"),
            access_key: var("ACCESS_KEY_ID"),
            secret: var("SECRET_ACCESS_KEY"),
        };
        Self { dir, s3 }
    }

    /// Writes an object with the S3 API (PutObject: an `s3:ObjectCreated:Put` event).
    async fn put(&self, key: &str, body: &[u8], content_type: &str) {
        let mut attributes = Attributes::new();
        attributes.insert(Attribute::ContentType, content_type.to_owned().into());
        self.s3
            .store()
            .put_opts(
                &Key::parse(key).unwrap(),
                PutPayload::from(ObjectBytes::from(body.to_vec())),
                PutOptions {
                    attributes,
                    ..Default::default()
                },
            )
            .await
            .unwrap_or_else(|e| panic!("put {key} into MinIO: {e}"));
    }

    /// The object's size and ETag as MinIO reports them.
    async fn head(&self, key: &str) -> (u64, String) {
        let meta = self
            .s3
            .store()
            .head(&Key::parse(key).unwrap())
            .await
            .unwrap_or_else(|e| panic!("head {key} in MinIO: {e}"));
        (meta.size, meta.e_tag.unwrap_or_default())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("minio/minio.log")).unwrap_or_default()
    }
}

fn stop_minio(dir: &Path) {
    let _ = std::process::Command::new(repo_root().join("scripts/minio.sh"))
        .arg("stop")
        .arg(dir)
        .status();
}

impl Drop for Minio {
    fn drop(&mut self) {
        stop_minio(&self.dir.path().join("minio"));
    }
}

// ---------------------------------------------------------------------------------------
// The tap between MinIO and the app
// ---------------------------------------------------------------------------------------

/// One request MinIO made, and what the app (or the tap) answered.
#[derive(Clone, Debug)]
struct Delivery {
    authorization: Option<String>,
    content_type: Option<String>,
    raw: Bytes,
    body: Value,
    status: u16,
    answer: Value,
}

impl Delivery {
    fn event_name(&self) -> &str {
        self.body["EventName"].as_str().unwrap_or_default()
    }
    /// The top-level `Key`: `bucket/name`, not encoded.
    fn key(&self) -> &str {
        self.body["Key"].as_str().unwrap_or_default()
    }
    fn record(&self) -> &Value {
        &self.body["Records"][0]
    }
}

#[derive(Default)]
struct TapState {
    deliveries: Vec<Delivery>,
    /// Events whose `Key` contains one of these are answered 503 without reaching the app.
    refuse: Vec<String>,
}

/// A pass-through proxy in front of the app: forwards each request unchanged (path,
/// `Authorization`, `Content-Type`, body) and answers with the app's status and body.
struct Tap {
    url: String,
    hook: String,
    state: Arc<Mutex<TapState>>,
}

#[derive(Clone)]
struct TapContext {
    app: std::net::SocketAddr,
    http: reqwest::Client,
    state: Arc<Mutex<TapState>>,
}

impl Tap {
    async fn start(app: std::net::SocketAddr) -> Self {
        let state = Arc::new(Mutex::new(TapState::default()));
        let context = TapContext {
            app,
            http: reqwest::Client::new(),
            state: state.clone(),
        };
        let router = Router::new().fallback(forward).with_state(context);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            url: format!("http://{addr}/api/v1.0/recordings/storage-hook/"),
            hook: format!("http://{app}/api/v1.0/recordings/storage-hook/"),
            state,
        }
    }

    fn deliveries(&self) -> Vec<Delivery> {
        self.state.lock().unwrap().deliveries.clone()
    }

    /// Deliveries whose top-level `Key` ends with `suffix`.
    fn for_key(&self, suffix: &str) -> Vec<Delivery> {
        self.deliveries()
            .into_iter()
            .filter(|d| d.key().ends_with(suffix))
            .collect()
    }

    /// Waits for the `n`-th delivery about a key ending with `suffix`.
    async fn wait_for(&self, suffix: &str, n: usize) -> Delivery {
        eventually(
            &format!("MinIO to deliver event #{n} for …{suffix}"),
            Duration::from_secs(30),
            || async { self.for_key(suffix).into_iter().nth(n - 1) },
        )
        .await
    }

    fn refuse(&self, key_part: &str) {
        self.state.lock().unwrap().refuse.push(key_part.to_owned());
    }
}

async fn forward(
    State(context): State<TapContext>,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> impl IntoResponse {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let body: Value = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    let refused = {
        let state = context.state.lock().unwrap();
        let key = body["Key"].as_str().unwrap_or_default();
        state.refuse.iter().any(|part| key.contains(part.as_str()))
    };
    let (status, answer) = if refused {
        (503, json!({"detail": "refused by the test tap"}))
    } else {
        let mut request = context
            .http
            .post(format!("http://{}{uri}", context.app))
            .body(raw.clone());
        for name in ["authorization", "content-type"] {
            if let Some(value) = header(name) {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.expect("the app answers the tap");
        let status = response.status().as_u16();
        let answer = response.json().await.unwrap_or(Value::Null);
        (status, answer)
    };
    context.state.lock().unwrap().deliveries.push(Delivery {
        authorization: header("authorization"),
        content_type: header("content-type"),
        raw,
        body,
        status,
        answer: answer.clone(),
    });
    (StatusCode::from_u16(status).unwrap(), axum::Json(answer))
}

// ---------------------------------------------------------------------------------------
// The app on MinIO
// ---------------------------------------------------------------------------------------

struct Setup {
    app: TestApp,
    minio: Minio,
    tap: Option<Tap>,
    /// Holds the ffmpeg wrapper of `big_files`, run when an egress renders.
    _wrapper_dir: tempfile::TempDir,
}

impl Setup {
    fn tap(&self) -> &Tap {
        self.tap.as_ref().expect("this test has a tap")
    }
}

#[derive(Default)]
struct Options<'a> {
    /// MinIO calls the app itself, with no tap in between.
    direct: bool,
    queue_dir: bool,
    settings: &'a [(&'a str, &'a str)],
    /// Renders the egress's MP4 at ~40 Mb/s, so a second or two of recording is larger
    /// than the 5 MiB multipart threshold.
    big_files: bool,
}

/// Binds the app's listener first (MinIO drops an event it cannot deliver, so the hook
/// must be reachable from MinIO's start on), starts MinIO pointed at it (or at a tap in
/// front of it), then starts the app on that listener with MinIO as its S3 storage and
/// storage events as the completion signal.
async fn setup(options: Options<'_>) -> Setup {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_addr = listener.local_addr().unwrap();
    let tap = if options.direct {
        None
    } else {
        Some(Tap::start(app_addr).await)
    };
    let webhook_url = match &tap {
        Some(tap) => tap.url.clone(),
        None => format!("http://{app_addr}/api/v1.0/recordings/storage-hook/"),
    };
    let minio = Minio::start(&webhook_url, options.queue_dir).await;
    let mut pairs = minio.s3.settings();
    pairs.push(("RECORDING_STORAGE_EVENT_ENABLE", "true".into()));
    pairs.push(("RECORDING_STORAGE_EVENT_TOKEN", TOKEN.into()));
    for (name, value) in options.settings {
        pairs.retain(|(n, _)| n != name);
        pairs.push((name, (*value).to_owned()));
    }
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let wrapper_dir = tempfile::tempdir().unwrap();
    let ffmpeg = options.big_files.then(|| big_ffmpeg(wrapper_dir.path()));
    let app = spawn_app_on(
        listener,
        &pairs,
        |config| {
            if let Some(ffmpeg) = ffmpeg {
                config.ffmpeg = ffmpeg;
            }
        },
        |_, _| {},
    )
    .await;
    Setup {
        app,
        minio,
        tap,
        _wrapper_dir: wrapper_dir,
    }
}

/// An ffmpeg that encodes video at a constant 40 Mb/s (x264 filler data), so the
/// emulator's files pass the multipart threshold after a second or two.
fn big_ffmpeg(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v ffmpeg"])
        .output()
        .expect("find ffmpeg");
    let real = String::from_utf8(real.stdout).unwrap().trim().to_owned();
    assert!(!real.is_empty(), "ffmpeg is not installed");
    let path = dir.join("ffmpeg-40M");
    std::fs::write(
        &path,
        format!(
            "#!/usr/bin/env bash\n\
             # The output file is the last argument; the rate options go just before it.\n\
             out=\"${{@: -1}}\"\n\
             case \"$out\" in\n\
             *.mp4) exec '{real}' \"${{@:1:$#-1}}\" -b:v 40M -minrate 40M -maxrate 40M \
             -bufsize 4M -x264-params nal-hrd=cbr \"$out\" ;;\n\
             *) exec '{real}' \"$@\" ;;\n\
             esac\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// Starts a recording, lets its egress record for `duration`, stops it; returns the
/// recording as the start answered it.
async fn record(
    app: &TestApp,
    host: &TestUser,
    room: &Value,
    mode: &str,
    duration: Duration,
) -> Value {
    let reply = app.start(room, host, json!({ "mode": mode })).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let recording = reply.body["recording"].clone();
    let id = recording["id"].as_str().unwrap();
    app.wait_status(id, host, "active").await;
    wait_egress_recording(app, room).await;
    tokio::time::sleep(duration).await;
    let reply = app.stop(room, host, json!({ "mode": mode })).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    recording
}

async fn wait_egress_recording(app: &TestApp, room: &Value) {
    let room_id = room["id"].as_str().unwrap();
    eventually("egress recording", Duration::from_secs(10), || async {
        let metadata = app.room_metadata(room_id).await;
        (metadata["recording_status"] == "started").then_some(())
    })
    .await;
}

async fn count(app: &TestApp, sql: &str, bind: &str) -> i64 {
    sqlx::query(sql)
        .bind(bind.to_owned())
        .fetch_one(app.db.pool())
        .await
        .unwrap()
        .get::<i64, _>("n")
}

/// How many `egress_ended` webhooks the app has handled.
async fn egress_ended_webhooks(app: &TestApp) -> i64 {
    count(
        app,
        "SELECT COUNT(*) AS n FROM webhook_events WHERE event = $1",
        "egress_ended",
    )
    .await
}

async fn jobs_of_kind(app: &TestApp, kind: &str) -> i64 {
    count(app, "SELECT COUNT(*) AS n FROM jobs WHERE kind = $1", kind).await
}

/// Waits a little for anything that should not happen (a second email, a job).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1500)).await;
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

/// MinIO calls the hook itself: a small recording (one PutObject) is saved from MinIO's
/// event alone (no `confirm_recording` job exists with storage events on), its size is
/// the object's, and its owner gets one email.
#[tokio::test]
async fn a_single_part_upload_event_from_minio_saves_the_recording() {
    let Setup { app, minio, .. } = setup(Options {
        direct: true,
        ..Default::default()
    })
    .await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording = record(
        &app,
        &host,
        &room,
        "screen_recording",
        Duration::from_millis(300),
    )
    .await;
    let id = recording["id"].as_str().unwrap();
    let key = recording["key"].as_str().unwrap();
    assert_eq!(key, format!("recordings/{id}.mp4"));

    let saved = app.wait_status(id, &host, "notification_succeeded").await;
    let (size, e_tag) = minio.head(key).await;
    assert!(
        size as usize <= livekit_emulator::storage::MULTIPART_THRESHOLD,
        "a single-part file: {size} bytes"
    );
    assert!(!e_tag.contains('-'), "single-part ETag {e_tag}");
    assert_eq!(saved["size_bytes"], json!(size), "the size MinIO announced");
    settle().await;
    let emails = app.sent_emails();
    assert_eq!(emails.len(), 1, "one email");
    assert!(
        emails[0].contains(&format!("/recording/{id}")),
        "{}",
        emails[0]
    );
    assert!(
        !minio.log().contains("storage-hook"),
        "MinIO logged a failed delivery:\n{}",
        minio.log()
    );
}

/// A recording above 5 MiB is uploaded in parts; MinIO announces it with
/// `s3:ObjectCreated:CompleteMultipartUpload` (one event for the whole object, with its
/// full size and a multipart ETag), which saves it.
#[tokio::test]
async fn a_multipart_upload_event_from_minio_saves_the_recording() {
    let setup = setup(Options {
        big_files: true,
        ..Default::default()
    })
    .await;
    let (app, minio, tap) = (&setup.app, &setup.minio, setup.tap());
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording = record(
        app,
        &host,
        &room,
        "screen_recording",
        Duration::from_millis(1500),
    )
    .await;
    let id = recording["id"].as_str().unwrap();
    let key = recording["key"].as_str().unwrap();

    let saved = app.wait_status(id, &host, "notification_succeeded").await;
    let (size, e_tag) = minio.head(key).await;
    assert!(
        size as usize > livekit_emulator::storage::MULTIPART_THRESHOLD,
        "the file must be multipart: {size} bytes"
    );
    let deliveries = tap.for_key(key);
    assert_eq!(
        deliveries.len(),
        1,
        "one event for the whole object: {deliveries:?}"
    );
    let event = &deliveries[0];
    assert_eq!(
        event.event_name(),
        "s3:ObjectCreated:CompleteMultipartUpload"
    );
    assert_eq!(
        event.record()["eventName"],
        "s3:ObjectCreated:CompleteMultipartUpload"
    );
    assert_eq!(event.record()["s3"]["object"]["size"], json!(size));
    let event_e_tag = event.record()["s3"]["object"]["eTag"].as_str().unwrap();
    assert_eq!(event_e_tag, e_tag.trim_matches('"'));
    let parts = size.div_ceil(livekit_emulator::storage::MULTIPART_THRESHOLD as u64);
    assert!(
        event_e_tag.ends_with(&format!("-{parts}")),
        "multipart ETag {event_e_tag}"
    );
    assert_eq!(event.record()["s3"]["object"]["contentType"], "video/mp4");
    assert_eq!(
        (event.status, event.answer["message"].as_str()),
        (200, Some("Event processed."))
    );
    assert_eq!(saved["size_bytes"], json!(size));
    settle().await;
    assert_eq!(app.sent_emails().len(), 1, "one email");
}

/// MinIO `url.QueryEscape`s `s3.object.key` (`/` → `%2F`, space → `+`, `+` → `%2B`) and
/// sends the top-level `Key` decoded. With an output folder that has a space and a plus,
/// only a correct decoding finds the recording; its manifest (`.json`) next to it is
/// ignored.
#[tokio::test]
async fn minio_key_encoding_is_decoded() {
    let folder = "recordings/Team A+B";
    let setup = setup(Options {
        settings: &[("RECORDING_OUTPUT_FOLDER", folder)],
        ..Default::default()
    })
    .await;
    let (app, minio, tap) = (&setup.app, &setup.minio, setup.tap());
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording = record(app, &host, &room, "transcript", Duration::from_millis(300)).await;
    let id = recording["id"].as_str().unwrap();
    let key = recording["key"].as_str().unwrap();
    assert_eq!(key, format!("{folder}/{id}.ogg"));

    app.wait_status(id, &host, "notification_succeeded").await;
    minio.head(key).await;
    let event = tap.wait_for(key, 1).await;
    assert_eq!(
        event.record()["s3"]["object"]["key"],
        format!("recordings%2FTeam+A%2BB%2F{id}.ogg"),
        "MinIO's encoding of the key"
    );
    assert_eq!(event.key(), format!("{}/{key}", minio.s3.bucket));
    assert_eq!(event.record()["s3"]["bucket"]["name"], minio.s3.bucket);
    assert_eq!(event.record()["s3"]["object"]["contentType"], "audio/ogg");
    assert_eq!(event.event_name(), "s3:ObjectCreated:Put");
    assert_eq!(event.record()["eventSource"], "minio:s3");
    assert_eq!(
        event.authorization.as_deref(),
        Some(&*format!("Bearer {TOKEN}"))
    );
    assert_eq!(event.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        (event.status, event.answer["message"].as_str()),
        (200, Some("Event processed."))
    );

    // The egress manifest lands beside the file and is announced too: ignored.
    let manifest = eventually("the manifest's event", Duration::from_secs(30), || async {
        tap.deliveries()
            .into_iter()
            .find(|d| d.key().ends_with(".json"))
    })
    .await;
    assert!(
        manifest
            .key()
            .starts_with(&format!("{}/{folder}/EG_", minio.s3.bucket)),
        "{}",
        manifest.key()
    );
    assert!(
        manifest.record()["s3"]["object"]["key"]
            .as_str()
            .unwrap()
            .starts_with("recordings%2FTeam+A%2BB%2FEG_"),
        "{:?}",
        manifest.record()
    );
    assert_eq!(
        (manifest.status, manifest.answer["message"].as_str()),
        (200, Some("Notification ignored."))
    );
    settle().await;
    assert_eq!(app.sent_emails().len(), 1);
}

/// The same object written again (an egress retry, a copy by hand) sends a second real
/// event; so does a replay of the body MinIO sent. Neither sends a second email.
#[tokio::test]
async fn a_duplicate_minio_event_sends_no_second_email() {
    let setup = setup(Options::default()).await;
    let (app, minio, tap) = (&setup.app, &setup.minio, setup.tap());
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording = record(
        app,
        &host,
        &room,
        "screen_recording",
        Duration::from_millis(300),
    )
    .await;
    let id = recording["id"].as_str().unwrap();
    let key = recording["key"].as_str().unwrap();
    let saved = app.wait_status(id, &host, "notification_succeeded").await;
    let first = tap.wait_for(key, 1).await;
    assert_eq!(app.sent_emails().len(), 1);

    // Re-upload the object with the S3 API: MinIO sends a new event.
    minio
        .put(key, b"the same key written again", "video/mp4")
        .await;
    let second = tap.wait_for(key, 2).await;
    assert_eq!(second.event_name(), "s3:ObjectCreated:Put");
    assert_ne!(
        second.record()["s3"]["object"]["sequencer"],
        first.record()["s3"]["object"]["sequencer"],
        "a new event, not a resend"
    );
    assert_eq!(second.status, 200, "{:?}", second.answer);

    // Replay the first body, byte for byte, with MinIO's headers.
    let replay = app
        .http
        .post(&tap.hook)
        .header("authorization", first.authorization.clone().unwrap())
        .header("content-type", first.content_type.clone().unwrap())
        .body(first.raw.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 200);

    settle().await;
    assert_eq!(app.sent_emails().len(), 1, "no second email");
    let now = app.recording(id, &host).await;
    assert_eq!(now["status"], "notification_succeeded");
    assert_eq!(
        now["size_bytes"], saved["size_bytes"],
        "the first size is kept"
    );
    assert_eq!(now["updated_at"], saved["updated_at"], "nothing changed");
    assert_eq!(
        jobs_of_kind(app, meet_recorder::engine::jobs::NOTIFY_OWNERS).await,
        1
    );
}

/// While a recording is running, objects that are not its file are written: in another
/// folder (MinIO's prefix filter never sends it), in a subfolder of `recordings/`, with
/// another extension, a manifest, and a recording id nobody knows. MinIO announces those
/// under `recordings/`; the app acknowledges and ignores them (the unknown id too, where
/// the reference answers 404) and nothing changes. The recording then completes normally.
#[tokio::test]
async fn minio_events_for_other_keys_change_nothing() {
    let setup = setup(Options::default()).await;
    let (app, minio, tap) = (&setup.app, &setup.minio, setup.tap());
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.body["recording"]["id"].as_str().unwrap().to_owned();
    app.wait_status(&id, &host, "active").await;
    wait_egress_recording(app, &room).await;
    // The egress's own webhooks have all been handled.
    settle().await;
    let before = app.recording(&id, &host).await;

    let unknown = uuid::Uuid::new_v4();
    let announced = [
        (
            format!("recordings/sub/{id}.mp4"),
            "video/mp4",
            200,
            "Notification ignored.",
        ),
        (
            format!("recordings/{id}.mp4.part"),
            "video/mp4",
            200,
            "Notification ignored.",
        ),
        (
            format!("recordings/{id}.json"),
            "application/json",
            200,
            "Notification ignored.",
        ),
        (
            "recordings/EG_notours.json".to_owned(),
            "application/json",
            200,
            "Notification ignored.",
        ),
        (
            format!("recordings/{id}.webm"),
            "video/webm",
            200,
            "Notification ignored.",
        ),
        (
            format!("recordings/{unknown}.mp4"),
            "video/mp4",
            200,
            "Notification ignored.",
        ),
    ];
    for (key, content_type, _, _) in &announced {
        minio.put(key, b"not a recording", content_type).await;
    }
    // Outside the prefix bound with `mc event add`: MinIO sends nothing.
    minio
        .put(&format!("elsewhere/{id}.mp4"), b"x", "video/mp4")
        .await;
    for (key, _, status, message) in &announced {
        let delivery = tap.wait_for(key, 1).await;
        let text = delivery.answer["message"]
            .as_str()
            .or(delivery.answer["detail"].as_str());
        assert_eq!((delivery.status, text), (*status, Some(*message)), "{key}");
    }
    settle().await;
    assert!(
        tap.for_key(&format!("elsewhere/{id}.mp4")).is_empty(),
        "MinIO filtered by prefix"
    );
    assert_eq!(
        tap.deliveries().len(),
        announced.len(),
        "{:?}",
        tap.deliveries()
    );

    let now = app.recording(&id, &host).await;
    assert_eq!(now["status"], "active");
    assert_eq!(now["updated_at"], before["updated_at"], "nothing changed");
    assert_eq!(app.recording_count(room["id"].as_str().unwrap()).await, 1);
    assert_eq!(
        jobs_of_kind(app, meet_recorder::engine::jobs::NOTIFY_OWNERS).await,
        0
    );
    assert!(app.sent_emails().is_empty());
    let unknown_count = count(
        app,
        "SELECT COUNT(*) AS n FROM recordings WHERE id = $1",
        &unknown.to_string(),
    )
    .await;
    assert_eq!(unknown_count, 0);

    // The real file still completes it.
    let reply = app
        .stop(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    app.wait_status(&id, &host, "notification_succeeded").await;
    settle().await;
    assert_eq!(app.sent_emails().len(), 1);
}

/// The egress uploads its file before LiveKit sends `egress_ended`, so MinIO's event
/// usually comes first; here `egress_ended` is held back 6 s to make sure. As documented,
/// the event saves a recording whose egress was stopped (its file is written while it
/// ends) without waiting for `egress_ended`; when that arrives it only adds the file's
/// information (no second email, no file check) and the room's recording status is cleared.
#[tokio::test]
async fn a_minio_event_before_egress_ended_saves_the_recording_and_egress_ended_changes_nothing() {
    let setup = setup(Options::default()).await;
    let (app, tap) = (&setup.app, setup.tap());
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let room_id = room["id"].as_str().unwrap();
    app.inject(json!({"fault": "webhook", "action": "delay", "events": ["egress_ended"], "delay_ms": 6000, "count": 1}))
        .await;
    let recording = record(
        app,
        &host,
        &room,
        "screen_recording",
        Duration::from_millis(300),
    )
    .await;
    let id = recording["id"].as_str().unwrap();
    let key = recording["key"].as_str().unwrap();

    let saved = app.wait_status(id, &host, "notification_succeeded").await;
    assert_eq!(
        egress_ended_webhooks(app).await,
        0,
        "saved before egress_ended arrived"
    );
    let event = tap.wait_for(key, 1).await;
    assert_eq!(
        (event.status, event.answer["message"].as_str()),
        (200, Some("Event processed."))
    );
    assert_eq!(app.sent_emails().len(), 1);

    eventually(
        "the delayed egress_ended",
        Duration::from_secs(20),
        || async { (egress_ended_webhooks(app).await == 1).then_some(()) },
    )
    .await;
    eventually(
        "the room's recording status cleared",
        Duration::from_secs(5),
        || async {
            app.room_metadata(room_id)
                .await
                .get("recording_status")
                .is_none()
                .then_some(())
        },
    )
    .await;
    settle().await;
    let now = app.recording(id, &host).await;
    assert_eq!(now["status"], "notification_succeeded");
    assert_eq!(now["size_bytes"], saved["size_bytes"]);
    assert_eq!(app.sent_emails().len(), 1, "no second email");
    assert_eq!(
        jobs_of_kind(app, meet_recorder::engine::jobs::CONFIRM_RECORDING).await,
        0
    );
}

// ---------------------------------------------------------------------------------------
// Where real MinIO and the product disagree. These tests state what the product should
// do; they fail until it does (see each comment).
// ---------------------------------------------------------------------------------------

/// MinIO's event usually beats `egress_ended` (the file is uploaded first). Once the
/// event has saved the recording, `egress_ended` no longer applies, and the file details
/// only it carries (`duration_ms`, `file_location`) are dropped: the recording pages show
/// no duration. The product should keep them from a late `egress_ended`.
#[tokio::test]
async fn a_late_egress_ended_still_records_the_duration() {
    let setup = setup(Options::default()).await;
    let app = &setup.app;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    app.inject(json!({"fault": "webhook", "action": "delay", "events": ["egress_ended"], "delay_ms": 4000, "count": 1}))
        .await;
    let recording = record(
        app,
        &host,
        &room,
        "screen_recording",
        Duration::from_millis(1000),
    )
    .await;
    let id = recording["id"].as_str().unwrap();
    app.wait_status(id, &host, "notification_succeeded").await;
    assert_eq!(
        egress_ended_webhooks(app).await,
        0,
        "saved before egress_ended"
    );
    eventually(
        "the delayed egress_ended",
        Duration::from_secs(20),
        || async { (egress_ended_webhooks(app).await == 1).then_some(()) },
    )
    .await;
    settle().await;
    let now = app.recording(id, &host).await;
    assert_eq!(now["status"], "notification_succeeded");
    let duration = now["duration_ms"].as_i64();
    assert!(
        duration.is_some_and(|ms| ms >= 1000),
        "the egress's duration is kept: {now}"
    );
}

/// With a queue directory (MinIO's advice for reliable delivery), MinIO re-sends an event
/// every 3 s until the endpoint answers 2xx, one event at a time: an event refused (as the
/// reference answers 404 for an object under `recordings/` named like a recording nobody
/// knows, or a recording deleted before its file arrived) would be re-sent forever and
/// hold back every later event. The hook acknowledges (2xx) events it will never use.
#[tokio::test]
async fn with_a_queue_dir_a_refused_event_does_not_hold_back_later_ones() {
    let setup = setup(Options {
        queue_dir: true,
        ..Default::default()
    })
    .await;
    let (app, minio, tap) = (&setup.app, &setup.minio, setup.tap());
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let unknown = format!("recordings/{}.mp4", uuid::Uuid::new_v4());
    minio.put(&unknown, b"stray", "video/mp4").await;
    tap.wait_for(&unknown, 1).await;
    let recording = record(app, &host, &room, "transcript", Duration::from_millis(300)).await;
    let id = recording["id"].as_str().unwrap();
    let key = recording["key"].as_str().unwrap();
    let saved = tokio::time::timeout(Duration::from_secs(20), async {
        while app.recording(id, &host).await["status"] != "notification_succeeded" {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let answers = |key: &str| -> Vec<u16> { tap.for_key(key).iter().map(|d| d.status).collect() };
    assert!(
        saved.is_ok(),
        "the recording was not saved: MinIO sent the stray event {} times (answered {:?}) \
         and the recording's event {:?}",
        answers(&unknown).len(),
        answers(&unknown),
        answers(key),
    );
    assert!(
        answers(&unknown)
            .iter()
            .all(|status| (200..300).contains(status)),
        "{:?}",
        answers(&unknown)
    );
}

/// Without a queue directory, MinIO sends an event once and drops it when the endpoint
/// does not answer 2xx (the service restarting, a proxy in between failing). With storage
/// events on, `egress_ended` still enqueues the file check, which saves the recording when
/// no event came.
#[tokio::test]
async fn a_minio_event_lost_on_the_way_is_made_up_for() {
    let setup = setup(Options::default()).await;
    let (app, minio, tap) = (&setup.app, &setup.minio, setup.tap());
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    tap.refuse(".ogg");
    let recording = record(app, &host, &room, "transcript", Duration::from_millis(300)).await;
    let id = recording["id"].as_str().unwrap();
    let key = recording["key"].as_str().unwrap();
    let lost = tap.wait_for(key, 1).await;
    assert_eq!(lost.status, 503);
    eventually("egress_ended", Duration::from_secs(20), || async {
        (egress_ended_webhooks(app).await == 1).then_some(())
    })
    .await;
    minio.head(key).await;
    eventually(
        "the recording saved anyway",
        Duration::from_secs(30),
        || async {
            let _ = app.state.engine.reconciler.reconcile(0).await;
            let now = app.recording(id, &host).await;
            (now["status"] == "notification_succeeded").then_some(())
        },
    )
    .await;
    assert_eq!(app.sent_emails().len(), 1);
}
