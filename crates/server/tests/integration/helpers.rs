//! Test harness: spawns the real parts (the LiveKit emulator in-process, a webhook
//! receiver, clients for the Garage S3 server started by `scripts/test.sh`) and gives
//! tests typed helpers. Waiting is always bounded by a deadline, never a bare sleep.

use std::{
    future::Future,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use livekit_api::{
    access_token::{AccessToken, TokenVerifier, VideoGrants},
    services::{egress::EgressClient, room::RoomClient},
    webhooks::WebhookReceiver,
};
use livekit_emulator::{Emulator, EmulatorConfig, Fault};
use livekit_protocol as proto;
use serde_json::Value;

pub const API_KEY: &str = "test-key";
pub const API_SECRET: &str = "test-secret-that-is-long-enough-for-hs256";

/// Polls `check` until it returns `Some`, or panics after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One webhook request as it arrived.
#[derive(Clone, Debug)]
pub struct ReceivedWebhook {
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub user_agent: Option<String>,
    pub body: String,
}

impl ReceivedWebhook {
    /// Verifies and decodes it exactly as the `livekit-api` crate's receiver does.
    pub fn verify(&self) -> proto::WebhookEvent {
        let receiver = WebhookReceiver::new(TokenVerifier::with_api_key(API_KEY, API_SECRET));
        receiver
            .receive(
                &self.body,
                self.authorization.as_deref().unwrap_or_default(),
            )
            .unwrap_or_else(|error| panic!("webhook does not verify: {error}: {}", self.body))
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Default)]
struct SinkState {
    received: Vec<ReceivedWebhook>,
    /// Status codes to answer, in order, before answering 200 again.
    scripted: Vec<u16>,
    attempts: usize,
}

/// A webhook receiver on loopback that records every request.
pub struct WebhookSink {
    pub url: String,
    state: Arc<Mutex<SinkState>>,
}

impl WebhookSink {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(SinkState::default()));
        let app = Router::new()
            .route("/webhook", post(receive))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, state }
    }

    /// Answers the next requests with these statuses (not recorded as received).
    pub fn answer_next(&self, statuses: &[u16]) {
        self.state.lock().unwrap().scripted = statuses.to_vec();
    }

    pub fn attempts(&self) -> usize {
        self.state.lock().unwrap().attempts
    }

    pub fn received(&self) -> Vec<ReceivedWebhook> {
        self.state.lock().unwrap().received.clone()
    }

    /// Verified events for one egress, in arrival order.
    pub fn egress_events(&self, egress_id: &str) -> Vec<proto::WebhookEvent> {
        self.received()
            .iter()
            .map(ReceivedWebhook::verify)
            .filter(|event| {
                event
                    .egress_info
                    .as_ref()
                    .is_some_and(|info| info.egress_id == egress_id)
            })
            .collect()
    }

    /// Waits for the `egress_ended` webhook of `egress_id` and returns its egress info.
    pub async fn egress_ended(&self, egress_id: &str) -> proto::EgressInfo {
        eventually("egress_ended webhook", Duration::from_secs(60), || async {
            self.egress_events(egress_id)
                .into_iter()
                .find(|event| event.event == "egress_ended")
                .and_then(|event| event.egress_info)
        })
        .await
    }
}

async fn receive(
    State(state): State<Arc<Mutex<SinkState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut state = state.lock().unwrap();
    state.attempts += 1;
    if !state.scripted.is_empty() {
        let status = state.scripted.remove(0);
        return StatusCode::from_u16(status).unwrap();
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    state.received.push(ReceivedWebhook {
        authorization: header("authorization"),
        content_type: header("content-type"),
        user_agent: header("user-agent"),
        body: String::from_utf8(body.to_vec()).expect("webhook body is UTF-8"),
    });
    StatusCode::OK
}

/// An emulator with a webhook sink and its own storage directory.
pub struct TestEmulator {
    pub emulator: Emulator,
    pub sink: WebhookSink,
    pub storage: tempfile::TempDir,
    pub http: reqwest::Client,
}

pub async fn spawn_emulator() -> TestEmulator {
    spawn_emulator_with(|_| {}).await
}

pub async fn spawn_emulator_with(configure: impl FnOnce(&mut EmulatorConfig)) -> TestEmulator {
    let sink = WebhookSink::start().await;
    let storage = tempfile::tempdir().unwrap();
    let mut config = EmulatorConfig::new(API_KEY, API_SECRET);
    config.webhook_urls = vec![sink.url.clone()];
    config.storage_dir = storage.path().to_path_buf();
    config.start_delay = Duration::from_millis(200);
    config.webhook_retry_base = Duration::from_millis(50);
    configure(&mut config);
    let emulator = Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start emulator");
    TestEmulator {
        emulator,
        sink,
        storage,
        http: reqwest::Client::new(),
    }
}

impl TestEmulator {
    pub fn url(&self) -> String {
        self.emulator.url()
    }

    pub fn egress(&self) -> EgressClient {
        EgressClient::with_api_key(&self.url(), API_KEY, API_SECRET)
    }

    pub fn rooms(&self) -> RoomClient {
        RoomClient::with_api_key(&self.url(), API_KEY, API_SECRET)
    }

    pub fn storage_path(&self, key: &str) -> PathBuf {
        self.storage.path().join(key)
    }

    pub async fn join(&self, room: &str, identity: &str) {
        let response = self
            .http
            .post(format!("{}/admin/rooms/{room}/participants", self.url()))
            .json(&serde_json::json!({ "identity": identity }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "join {room}");
    }

    pub async fn leave(&self, room: &str, identity: &str) {
        let response = self
            .http
            .delete(format!(
                "{}/admin/rooms/{room}/participants/{identity}",
                self.url()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 204, "leave {room}");
    }

    /// What the room received, as the admin API shows it.
    pub async fn room_view(&self, room: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/admin/rooms/{room}", self.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn inject(&self, fault: Value) {
        let response = self
            .http
            .post(format!("{}/admin/faults", self.url()))
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "inject {fault}");
    }

    pub fn inject_fault(&self, fault: Fault) {
        self.emulator.inject(fault);
    }

    /// Waits until the egress is ACTIVE, as `ListEgress` reports it.
    pub async fn wait_active(&self, egress_id: &str) -> proto::EgressInfo {
        let client = self.egress();
        eventually("egress ACTIVE", Duration::from_secs(10), || async {
            let items = client
                .list_egress(livekit_api::services::egress::EgressListOptions {
                    filter: livekit_api::services::egress::EgressListFilter::Egress(
                        egress_id.to_owned(),
                    ),
                    ..Default::default()
                })
                .await
                .ok()?;
            items
                .into_iter()
                .find(|info| info.status() == proto::EgressStatus::EgressActive)
        })
        .await
    }

    /// A raw Twirp call, for what the SDK cannot send.
    pub async fn twirp(
        &self,
        method: &str,
        content_type: &str,
        authorization: Option<String>,
        body: Vec<u8>,
    ) -> (u16, Option<String>, String) {
        let mut request = self
            .http
            .post(format!("{}/twirp/{method}", self.url()))
            .header("content-type", content_type)
            .body(body);
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (status, content_type, response.text().await.unwrap())
    }
}

/// A bearer token with the given grants, signed like the SDKs sign them.
pub fn bearer(grants: VideoGrants) -> String {
    bearer_with(API_KEY, API_SECRET, grants, Duration::from_secs(600))
}

pub fn bearer_with(key: &str, secret: &str, grants: VideoGrants, ttl: Duration) -> String {
    let token = AccessToken::with_api_key(key, secret)
        .with_grants(grants)
        .with_ttl(ttl)
        .to_jwt()
        .unwrap();
    format!("Bearer {token}")
}

/// A token signed by hand, for claims the SDK will not produce (already expired,
/// no expiry at all).
pub fn hand_signed_bearer(claims: Value, secret: &str) -> String {
    use base64::Engine;
    use hmac::Mac;
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let header = b64(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = b64(claims.to_string().as_bytes());
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{header}.{payload}").as_bytes());
    let signature = b64(&mac.finalize().into_bytes());
    format!("Bearer {header}.{payload}.{signature}")
}

pub fn record_grant() -> VideoGrants {
    VideoGrants {
        room_record: true,
        ..Default::default()
    }
}

/// A file output to the emulator's storage directory.
pub fn local_file(filepath: &str, file_type: proto::EncodedFileType) -> proto::EncodedFileOutput {
    proto::EncodedFileOutput {
        file_type: file_type as i32,
        filepath: filepath.to_owned(),
        ..Default::default()
    }
}

/// The Garage server started by `scripts/test.sh`.
pub struct S3Env {
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret: String,
}

impl S3Env {
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: run the suite with scripts/test.sh, which starts Garage")
            })
        };
        Self {
            endpoint: var("MEETREC_TEST_S3_ENDPOINT"),
            region: var("MEETREC_TEST_S3_REGION"),
            bucket: var("MEETREC_TEST_S3_BUCKET"),
            access_key: var("MEETREC_TEST_S3_ACCESS_KEY_ID"),
            secret: var("MEETREC_TEST_S3_SECRET_ACCESS_KEY"),
        }
    }

    /// The service's settings for this bucket.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_S3_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_S3_ACCESS_KEY_ID", self.access_key.clone()),
            ("AWS_S3_SECRET_ACCESS_KEY", self.secret.clone()),
            ("AWS_S3_REGION_NAME", self.region.clone()),
            ("AWS_STORAGE_BUCKET_NAME", self.bucket.clone()),
        ]
    }

    pub fn upload(&self) -> proto::S3Upload {
        proto::S3Upload {
            access_key: self.access_key.clone(),
            secret: self.secret.clone(),
            region: self.region.clone(),
            endpoint: self.endpoint.clone(),
            bucket: self.bucket.clone(),
            force_path_style: true,
            ..Default::default()
        }
    }

    pub fn store(&self) -> object_store::aws::AmazonS3 {
        object_store::aws::AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_region(&self.region)
            .with_bucket_name(&self.bucket)
            .with_access_key_id(&self.access_key)
            .with_secret_access_key(&self.secret)
            .with_allow_http(true)
            .build()
            .unwrap()
    }
}

/// The media duration ffprobe reads from a file, in seconds.
pub fn ffprobe_duration(path: &Path) -> f64 {
    let output = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe (installed by scripts/ensure-test-deps.sh)");
    assert!(
        output.status.success(),
        "ffprobe failed on {}",
        path.display()
    );
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    json["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration in {json}"))
}

/// The codec types (`video`, `audio`) ffprobe finds in a file.
pub fn ffprobe_streams(path: &Path) -> Vec<String> {
    let output = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    let json: Value = serde_json::from_slice(&output.stdout).unwrap();
    json["streams"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["codec_name"].as_str().map(str::to_owned))
        .collect()
}

/// A unique room name per test, so tests can share nothing by accident.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}
