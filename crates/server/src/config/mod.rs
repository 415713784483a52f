//! Settings: one typed struct, read from the environment (and optionally a `KEY=VALUE`
//! file under it), with the reference system's names and defaults. Secrets can also come
//! from `NAME_FILE`. A bad value stops start-up with an error naming the variable; secret
//! values never appear in errors, logs or `meet-recorder config`.
//!
//! Which settings exist is declared once, in `settings::SETTINGS`; this file parses them
//! into typed values and describes the effective configuration.

mod describe;
mod oidc;
pub mod settings;
mod source;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use meet_recorder_domain::{Layout, Mode};
use secrecy::SecretString;

pub use oidc::OidcSettings;
pub use source::{Origin, Source};

/// What each mode records with (`RECORDING_WORKER_CLASSES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerKind {
    /// Room composite, video + audio, MP4.
    VideoComposite,
    /// Room composite, audio only, OGG.
    AudioComposite,
}

/// Which storage-event format the storage hook parses (`RECORDING_EVENT_PARSER_CLASS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventParser {
    Minio,
    S3,
    AwsSns,
    EventBridge,
}

#[derive(Debug, Clone)]
pub struct EncodingSettings {
    pub width: i32,
    pub height: i32,
    pub framerate: i32,
    pub video_bitrate_kbps: i32,
    pub audio_bitrate_kbps: i32,
    pub key_frame_interval_s: f64,
}

#[derive(Debug, Clone)]
pub struct RecordingSettings {
    pub enable: bool,
    pub output_folder: String,
    pub worker_classes: BTreeMap<&'static str, (Mode, WorkerKind)>,
    pub event_parser: EventParser,
    pub enable_storage_event_auth: bool,
    pub storage_event_enable: bool,
    pub storage_event_token: Option<SecretString>,
    pub expiration_days: Option<u32>,
    /// `RECORDING_MAX_DURATION`, in milliseconds.
    pub max_duration_ms: Option<u64>,
    pub layout_default: Layout,
    pub encoding: Option<EncodingSettings>,
    pub download_base_url: Option<String>,
    /// Answer media requests with a redirect to a presigned S3 URL instead of streaming.
    pub media_redirect: bool,
}

impl RecordingSettings {
    pub fn available_modes(&self) -> Vec<Mode> {
        self.worker_classes
            .values()
            .map(|(mode, _)| *mode)
            .collect()
    }

    pub fn worker(&self, mode: Mode) -> Option<WorkerKind> {
        self.worker_classes
            .get(mode.as_str())
            .map(|(_, kind)| *kind)
    }

    /// The object key of a recording: `{RECORDING_OUTPUT_FOLDER}/{id}.{ext}`.
    pub fn key(&self, id: uuid::Uuid, mode: Mode) -> String {
        format!("{}/{id}.{}", self.output_folder, mode.extension())
    }

    /// The object key of egress segment `segment` of a recording that was paused: the
    /// first is the recording's own key, the next `{RECORDING_OUTPUT_FOLDER}/{id}/part-{n}.{ext}`
    /// until they are joined into it.
    pub fn segment_key(&self, id: uuid::Uuid, mode: Mode, segment: i64) -> String {
        if segment <= 1 {
            self.key(id, mode)
        } else {
            format!(
                "{}/{id}/part-{segment}.{}",
                self.output_folder,
                mode.extension()
            )
        }
    }

    /// When a recording created at `created_at` expires (`RECORDING_EXPIRATION_DAYS`
    /// later), if ever.
    pub fn expires_at(&self, created_at: i64) -> Option<i64> {
        self.expiration_days
            .map(|days| created_at + i64::from(days) * 86_400_000)
    }
}

#[derive(Debug, Clone)]
pub struct LiveKitSettings {
    /// Where the Twirp API is (`LIVEKIT_API_URL`).
    pub api_url: String,
    pub api_key: String,
    pub api_secret: SecretString,
    /// The URL browsers connect to (`LIVEKIT_URL`); defaults to the API URL as ws(s).
    pub public_url: String,
    pub webhook_events_filter: Option<regex::Regex>,
    pub connection_test_room_prefix: String,
    /// Whether the API's TLS certificate is verified (`LIVEKIT_VERIFY_SSL`); off only for
    /// self-signed or privately issued certificates, as La Suite Meet allows.
    pub verify_tls: bool,
}

#[derive(Debug, Clone)]
pub struct S3Settings {
    pub endpoint: String,
    pub access_key_id: String,
    pub secret_access_key: SecretString,
    pub region: String,
    pub bucket: String,
}

/// Email (`EMAIL_*`, the reference's names where it has them).
#[derive(Debug, Clone)]
pub struct EmailSettings {
    /// `console` (default: print), `file` (write .eml files) or `smtp`.
    pub backend: String,
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<SecretString>,
    /// STARTTLS required (`EMAIL_USE_TLS`).
    pub use_tls: bool,
    /// Implicit TLS, usually port 465 (`EMAIL_USE_SSL`).
    pub use_ssl: bool,
    pub timeout: Duration,
    pub file_path: std::path::PathBuf,
    pub from: String,
    pub brand_name: String,
    pub support_email: Option<String>,
}

/// The job queue's timing.
#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Whether this instance runs jobs (`MEET_RECORDER_RUN_JOBS`); instances that only
    /// serve HTTP can leave them to others sharing the database.
    pub run: bool,
    /// How often an idle runner looks for due jobs.
    pub poll_interval: Duration,
    /// First retry delay; doubles per attempt (with jitter), capped at 10 minutes.
    pub retry_base: Duration,
    pub max_attempts: i64,
    /// How many times a finished egress's file is looked for before the recording fails.
    pub confirm_attempts: i64,
}

/// The optional transcription service (`SUMMARY_SERVICE_*`, the reference's v2 API).
#[derive(Debug, Clone)]
pub struct TranscriptionSettings {
    pub endpoint: String,
    pub api_token: SecretString,
    /// The token the service presents on `recordings/external-process-hook/`.
    pub webhook_token: Option<SecretString>,
    pub signed_url_expiry: Duration,
    pub form_base_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub public_url: String,
    pub database_url: SecretString,
    pub recording: RecordingSettings,
    pub livekit: LiveKitSettings,
    /// `None`: recordings go to the LiveKit side's own storage (the emulator's directory).
    pub s3: Option<S3Settings>,
    pub session_ttl: Duration,
    pub session_cookie_secure: bool,
    /// How often open recordings are checked against `RECORDING_MAX_DURATION`.
    pub sweep_interval: Duration,
    /// Where recordings are when there is no S3 bucket (the LiveKit side's directory).
    pub storage_dir: std::path::PathBuf,
    pub email: EmailSettings,
    pub jobs: JobSettings,
    /// How often open recordings are compared with LiveKit.
    pub reconcile_interval: Duration,
    /// How long a recording must be untouched before reconciliation looks at it.
    pub reconcile_grace: Duration,
    pub transcription: Option<TranscriptionSettings>,
    /// How often expired recordings are purged.
    pub purge_interval: Duration,
    /// How long the ids of handled webhooks are kept (deduplication needs minutes).
    pub webhook_event_retention: Duration,
    /// How long expired sessions are kept before they are deleted.
    pub expired_session_retention: Duration,
    /// How often the tables above are pruned.
    pub prune_interval: Duration,
    /// Reverse proxies whose `X-Forwarded-For` is believed (`MEET_RECORDER_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// What HTTP clients may hold of the machine.
    pub connections: ConnectionSettings,
    /// Endpoints told of recording events (`MEET_RECORDER_WEBHOOK_*`).
    pub webhooks: Vec<WebhookEndpoint>,
    /// Sign-in through an OpenID Connect provider (`OIDC_*`).
    pub oidc: Option<OidcSettings>,
    /// Whether local accounts may sign in with a password (`MEET_RECORDER_PASSWORD_SIGN_IN`).
    pub password_sign_in: bool,
    /// Password sign-ins each client address may attempt per minute, failed or not: that
    /// many at once, then one every minute / that many
    /// (`MEET_RECORDER_SIGN_IN_ATTEMPTS_PER_MINUTE`); beyond, 429.
    pub sign_in_attempts_per_minute: usize,
    /// `MEET_RECORDER_LOG_FORMAT`, shown by `meet-recorder config` (logging reads the
    /// environment itself, before any configuration).
    pub log_format: String,
    /// The `KEY=VALUE` file read under the environment, if any.
    pub config_file: Option<PathBuf>,
    /// Which settings were given (the others are at their defaults), for `describe`.
    pub given: BTreeMap<&'static str, Origin>,
}

/// What HTTP clients may hold: connections (each a file descriptor), the time to send a
/// request's headers, and event streams (long-lived connections) per client.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Open connections at most (`MEET_RECORDER_MAX_CONNECTIONS`); beyond, a new one is
    /// answered 503 and closed.
    pub max_connections: usize,
    /// How long a client has to send a request's headers, and how long an idle keep-alive
    /// connection is kept (`MEET_RECORDER_HEADER_TIMEOUT_S`).
    pub header_timeout: Duration,
    /// How long a client has to send a request's whole body
    /// (`MEET_RECORDER_BODY_TIMEOUT_S`); beyond, 408.
    pub body_timeout: Duration,
    /// Open `recording-events` streams per client address
    /// (`MEET_RECORDER_EVENT_STREAMS_PER_CLIENT`); beyond, 429.
    pub event_streams_per_client: usize,
}

fn connection_settings(source: &Source) -> Result<ConnectionSettings, ConfigError> {
    let positive = |name: &str, default: u64| -> Result<u64, ConfigError> {
        match source.number::<u64>(name)? {
            None => Ok(default),
            Some(0) => Err(invalid(name, "must be at least 1")),
            Some(value) => Ok(value),
        }
    };
    Ok(ConnectionSettings {
        max_connections: positive("MEET_RECORDER_MAX_CONNECTIONS", 512)? as usize,
        header_timeout: Duration::from_secs(positive("MEET_RECORDER_HEADER_TIMEOUT_S", 10)?),
        body_timeout: Duration::from_secs(positive("MEET_RECORDER_BODY_TIMEOUT_S", 10)?),
        event_streams_per_client: positive("MEET_RECORDER_EVENT_STREAMS_PER_CLIENT", 32)? as usize,
    })
}

/// `MEET_RECORDER_TRUSTED_PROXIES`: comma-separated addresses or CIDR blocks.
fn trusted_proxies(source: &Source) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    const NAME: &str = "MEET_RECORDER_TRUSTED_PROXIES";
    let Some(value) = source.get(NAME)? else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| invalid(NAME, format!("{item:?} is not an address or a CIDR block")))
        })
        .collect()
}

/// A setting that cannot be used, named so the operator can fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {variable}: {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

fn invalid(variable: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        problem: problem.into(),
    }
}

fn worker_kind(value: &str) -> Option<WorkerKind> {
    match value {
        "video_composite" | "core.recording.worker.services.VideoCompositeEgressService" => {
            Some(WorkerKind::VideoComposite)
        }
        "audio_composite" | "core.recording.worker.services.AudioCompositeEgressService" => {
            Some(WorkerKind::AudioComposite)
        }
        _ => None,
    }
}

fn parse_worker_classes(
    value: Option<String>,
) -> Result<BTreeMap<&'static str, (Mode, WorkerKind)>, ConfigError> {
    const NAME: &str = "RECORDING_WORKER_CLASSES";
    let Some(value) = value else {
        return Ok(BTreeMap::from([
            (
                Mode::ScreenRecording.as_str(),
                (Mode::ScreenRecording, WorkerKind::VideoComposite),
            ),
            (
                Mode::Transcript.as_str(),
                (Mode::Transcript, WorkerKind::AudioComposite),
            ),
        ]));
    };
    let map: BTreeMap<String, String> = serde_json::from_str(&value)
        .map_err(|_| invalid(NAME, "must be a JSON object mapping modes to worker kinds"))?;
    let mut classes = BTreeMap::new();
    for (mode, kind) in map {
        let mode: Mode = mode
            .parse()
            .map_err(|_| invalid(NAME, format!("unknown mode {mode:?}")))?;
        let kind = worker_kind(&kind).ok_or_else(|| {
            invalid(
                NAME,
                format!("unknown worker {kind:?} (video_composite or audio_composite)"),
            )
        })?;
        classes.insert(mode.as_str(), (mode, kind));
    }
    Ok(classes)
}

fn parse_event_parser(value: Option<String>) -> Result<EventParser, ConfigError> {
    let Some(value) = value else {
        return Ok(EventParser::Minio);
    };
    match value.as_str() {
        "minio" | "rustfs" | "core.recording.event.parsers.MinioParser" => Ok(EventParser::Minio),
        "s3" | "core.recording.event.parsers.S3Parser" => Ok(EventParser::S3),
        "aws-sns" | "sns" => Ok(EventParser::AwsSns),
        "eventbridge" => Ok(EventParser::EventBridge),
        other => Err(invalid(
            "RECORDING_EVENT_PARSER_CLASS",
            format!("unknown parser {other:?} (minio, s3, aws-sns, eventbridge)"),
        )),
    }
}

/// `AWS_S3_SIGNATURE_VERSION`: requests to S3 are signed with AWS Signature Version 4
/// only. The reference's default is `s3v4`; older versions (`s3`, v2) would silently be
/// signed differently from what the operator asked, so they stop start-up.
fn signature_version(source: &Source) -> Result<(), ConfigError> {
    const NAME: &str = "AWS_S3_SIGNATURE_VERSION";
    match source.get(NAME)?.map(|v| v.to_ascii_lowercase()).as_deref() {
        None | Some("s3v4" | "v4") => Ok(()),
        Some(other) => Err(invalid(
            NAME,
            format!("{other:?} is not supported: only s3v4 (AWS Signature Version 4) is"),
        )),
    }
}

fn http_url(name: &str, value: String) -> Result<String, ConfigError> {
    let parsed =
        url::Url::parse(&value).map_err(|_| invalid(name, format!("{value:?} is not a URL")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(name, "must be an http:// or https:// URL"));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

impl Config {
    pub fn from_source(source: &Source) -> Result<Self, ConfigError> {
        let listen = source
            .string("MEET_RECORDER_LISTEN", "127.0.0.1:8000")?
            .parse()
            .map_err(|_| {
                invalid(
                    "MEET_RECORDER_LISTEN",
                    "must be an address like 0.0.0.0:8000",
                )
            })?;
        let public_url = http_url(
            "MEET_RECORDER_PUBLIC_URL",
            source.string("MEET_RECORDER_PUBLIC_URL", "http://127.0.0.1:8000")?,
        )?;
        let database_url = source.string("DATABASE_URL", "sqlite://data/meet-recorder.db")?;
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "DATABASE_URL",
                "must start with sqlite:, postgres:// or postgresql://",
            ));
        }

        let encoding = if source.bool("RECORDING_ENCODING_ENABLED", false)? {
            Some(EncodingSettings {
                width: source.number("RECORDING_ENCODING_WIDTH")?.unwrap_or(1280),
                height: source.number("RECORDING_ENCODING_HEIGHT")?.unwrap_or(720),
                framerate: source.number("RECORDING_ENCODING_FRAMERATE")?.unwrap_or(30),
                video_bitrate_kbps: source
                    .number("RECORDING_ENCODING_VIDEO_BITRATE_KBPS")?
                    .unwrap_or(3000),
                audio_bitrate_kbps: source
                    .number("RECORDING_ENCODING_AUDIO_BITRATE_KBPS")?
                    .unwrap_or(128),
                key_frame_interval_s: source
                    .number("RECORDING_ENCODING_KEY_FRAME_INTERVAL_S")?
                    .unwrap_or(4.0),
            })
        } else {
            None
        };
        let layout_default = source
            .string("RECORDING_LAYOUT_DEFAULT", "speaker-light")?
            .parse()
            .map_err(|_| {
                invalid(
                    "RECORDING_LAYOUT_DEFAULT",
                    "must be speaker, grid or single-speaker, optionally with -light",
                )
            })?;
        let output_folder = source
            .string("RECORDING_OUTPUT_FOLDER", "recordings")?
            .trim_matches('/')
            .to_owned();
        if output_folder.is_empty() || output_folder.contains("..") {
            return Err(invalid(
                "RECORDING_OUTPUT_FOLDER",
                "must be a non-empty relative key prefix",
            ));
        }
        let max_duration_ms = source.number::<u64>("RECORDING_MAX_DURATION")?;
        if max_duration_ms == Some(0) {
            return Err(invalid(
                "RECORDING_MAX_DURATION",
                "must be positive (milliseconds)",
            ));
        }
        let download_base_url = match source.get("RECORDING_DOWNLOAD_BASE_URL")? {
            Some(url) => Some(url),
            None => source.get("SCREEN_RECORDING_BASE_URL")?,
        }
        .map(|url| http_url("RECORDING_DOWNLOAD_BASE_URL", url))
        .transpose()?;
        let recording = RecordingSettings {
            enable: source.bool("RECORDING_ENABLE", false)?,
            output_folder,
            worker_classes: parse_worker_classes(source.get("RECORDING_WORKER_CLASSES")?)?,
            event_parser: parse_event_parser(source.get("RECORDING_EVENT_PARSER_CLASS")?)?,
            enable_storage_event_auth: source.bool("RECORDING_ENABLE_STORAGE_EVENT_AUTH", true)?,
            storage_event_enable: source.bool("RECORDING_STORAGE_EVENT_ENABLE", false)?,
            storage_event_token: source.secret("RECORDING_STORAGE_EVENT_TOKEN")?,
            expiration_days: source.number("RECORDING_EXPIRATION_DAYS")?,
            max_duration_ms,
            layout_default,
            encoding,
            download_base_url,
            media_redirect: source.bool("RECORDING_MEDIA_REDIRECT", false)?,
        };

        let api_url = http_url(
            "LIVEKIT_API_URL",
            source.string("LIVEKIT_API_URL", "http://127.0.0.1:7880")?,
        )?;
        let public_livekit_url =
            source.string("LIVEKIT_URL", &api_url.replacen("http", "ws", 1))?;
        let webhook_events_filter = source
            .get("LIVEKIT_WEBHOOK_EVENTS_FILTER_REGEX")?
            .map(|pattern| {
                regex::Regex::new(&pattern)
                    .map_err(|e| invalid("LIVEKIT_WEBHOOK_EVENTS_FILTER_REGEX", e.to_string()))
            })
            .transpose()?;
        let livekit = LiveKitSettings {
            api_url,
            api_key: source.string("LIVEKIT_API_KEY", "devkey")?,
            api_secret: source
                .secret("LIVEKIT_API_SECRET")?
                .unwrap_or_else(|| SecretString::from("secret")),
            public_url: public_livekit_url,
            webhook_events_filter,
            connection_test_room_prefix: source
                .string("CONNECTION_TEST_ROOM_PREFIX", "connection-test")?,
            verify_tls: source.bool("LIVEKIT_VERIFY_SSL", true)?,
        };

        let s3 = match source.get("AWS_S3_ENDPOINT_URL")? {
            None => None,
            Some(endpoint) => {
                let endpoint = http_url("AWS_S3_ENDPOINT_URL", endpoint)?;
                let required = |name: &str| {
                    source
                        .get(name)?
                        .ok_or_else(|| invalid(name, "is required when AWS_S3_ENDPOINT_URL is set"))
                };
                signature_version(source)?;
                Some(S3Settings {
                    endpoint,
                    access_key_id: required("AWS_S3_ACCESS_KEY_ID")?,
                    secret_access_key: SecretString::from(required("AWS_S3_SECRET_ACCESS_KEY")?),
                    region: source.string("AWS_S3_REGION_NAME", "us-east-1")?,
                    bucket: source.string("AWS_STORAGE_BUCKET_NAME", "meet-media-storage")?,
                })
            }
        };

        let log_format = source.string("MEET_RECORDER_LOG_FORMAT", "text")?;
        if !matches!(log_format.as_str(), "text" | "json") {
            return Err(invalid("MEET_RECORDER_LOG_FORMAT", "must be text or json"));
        }

        Ok(Self {
            log_format,
            config_file: source.config_file().map(Path::to_path_buf),
            given: source.given(),
            listen,
            public_url,
            database_url: SecretString::from(database_url),
            recording,
            livekit,
            s3,
            session_ttl: Duration::from_secs(
                3600 * source
                    .number::<u64>("MEET_RECORDER_SESSION_TTL_HOURS")?
                    .unwrap_or(24 * 14),
            ),
            session_cookie_secure: source.bool(
                "MEET_RECORDER_SESSION_COOKIE_SECURE",
                public_url_is_https(source)?,
            )?,
            sweep_interval: Duration::from_millis(
                source
                    .number("MEET_RECORDER_SWEEP_INTERVAL_MS")?
                    .unwrap_or(1000),
            ),
            storage_dir: source
                .string("MEET_RECORDER_STORAGE_DIR", "data/egress")?
                .into(),
            email: email_settings(source)?,
            reconcile_interval: Duration::from_secs(
                source
                    .number("MEET_RECORDER_RECONCILE_INTERVAL_S")?
                    .unwrap_or(60),
            ),
            transcription: transcription_settings(source)?,
            purge_interval: Duration::from_secs(
                source
                    .number("MEET_RECORDER_PURGE_INTERVAL_S")?
                    .unwrap_or(3600),
            ),
            trusted_proxies: trusted_proxies(source)?,
            webhook_event_retention: Duration::from_secs(
                3600 * source
                    .number("MEET_RECORDER_WEBHOOK_EVENT_RETENTION_HOURS")?
                    .unwrap_or(72),
            ),
            expired_session_retention: Duration::from_secs(
                86_400
                    * source
                        .number("MEET_RECORDER_EXPIRED_SESSION_RETENTION_DAYS")?
                        .unwrap_or(7),
            ),
            prune_interval: Duration::from_secs(
                source
                    .number("MEET_RECORDER_PRUNE_INTERVAL_S")?
                    .unwrap_or(3600),
            ),
            connections: connection_settings(source)?,
            webhooks: webhook_endpoints(source)?,
            oidc: oidc::oidc_settings(source)?,
            password_sign_in: source.bool("MEET_RECORDER_PASSWORD_SIGN_IN", true)?,
            sign_in_attempts_per_minute: match source
                .number::<usize>("MEET_RECORDER_SIGN_IN_ATTEMPTS_PER_MINUTE")?
            {
                None => 10,
                Some(0) => {
                    return Err(invalid(
                        "MEET_RECORDER_SIGN_IN_ATTEMPTS_PER_MINUTE",
                        "must be at least 1",
                    ));
                }
                Some(value) => value,
            },
            reconcile_grace: Duration::from_secs(
                source
                    .number("MEET_RECORDER_RECONCILE_GRACE_S")?
                    .unwrap_or(60),
            ),
            jobs: JobSettings {
                run: source.bool("MEET_RECORDER_RUN_JOBS", true)?,
                poll_interval: Duration::from_millis(
                    source.number("MEET_RECORDER_JOB_POLL_MS")?.unwrap_or(500),
                ),
                retry_base: Duration::from_millis(
                    source
                        .number("MEET_RECORDER_JOB_RETRY_BASE_MS")?
                        .unwrap_or(2000),
                ),
                max_attempts: source
                    .number("MEET_RECORDER_JOB_MAX_ATTEMPTS")?
                    .unwrap_or(10),
                confirm_attempts: source
                    .number("MEET_RECORDER_CONFIRM_ATTEMPTS")?
                    .unwrap_or(8),
            },
        })
    }
}

/// An endpoint told of recording events, signed per the Standard Webhooks specification.
#[derive(Debug, Clone)]
pub struct WebhookEndpoint {
    pub url: String,
    /// The signing key: the secret's bytes, base64-decoded from after `whsec_`.
    pub key: SecretBytes,
}

/// Key bytes that never appear in logs or `Debug` output.
#[derive(Clone)]
pub struct SecretBytes(Vec<u8>);

impl SecretBytes {
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBytes(********)")
    }
}

fn webhook_endpoints(source: &Source) -> Result<Vec<WebhookEndpoint>, ConfigError> {
    use base64::Engine;
    let list = |value: &str| -> Vec<String> {
        value
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()
    };
    let urls = list(
        &source
            .get("MEET_RECORDER_WEBHOOK_URLS")?
            .unwrap_or_default(),
    );
    let secrets = source
        .secret("MEET_RECORDER_WEBHOOK_SECRETS")?
        .map(|s| list(secrecy::ExposeSecret::expose_secret(&s)))
        .unwrap_or_default();
    if urls.len() != secrets.len() {
        return Err(invalid(
            "MEET_RECORDER_WEBHOOK_SECRETS",
            format!(
                "needs one secret per URL of MEET_RECORDER_WEBHOOK_URLS ({} URLs, {} secrets)",
                urls.len(),
                secrets.len()
            ),
        ));
    }
    urls.into_iter()
        .zip(secrets)
        .map(|(url, secret)| {
            let parsed = url::Url::parse(&url).map_err(|_| {
                invalid(
                    "MEET_RECORDER_WEBHOOK_URLS",
                    format!("{url:?} is not a URL"),
                )
            })?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid(
                    "MEET_RECORDER_WEBHOOK_URLS",
                    "must be http:// or https:// URLs",
                ));
            }
            // `whsec_` and the key in base64, 24 to 64 bytes, as the specification says.
            let key = secret
                .strip_prefix("whsec_")
                .and_then(|key| base64::engine::general_purpose::STANDARD.decode(key).ok())
                .filter(|key| (24..=64).contains(&key.len()))
                .ok_or_else(|| {
                    invalid(
                        "MEET_RECORDER_WEBHOOK_SECRETS",
                        "each secret must be whsec_ and 24 to 64 bytes in base64",
                    )
                })?;
            Ok(WebhookEndpoint {
                url,
                key: SecretBytes(key),
            })
        })
        .collect()
}

fn transcription_settings(source: &Source) -> Result<Option<TranscriptionSettings>, ConfigError> {
    let Some(endpoint) = source.get("SUMMARY_SERVICE_ENDPOINT")? else {
        return Ok(None);
    };
    if let Some(version) = source.get("SUMMARY_SERVICE_VERSION")?
        && version != "2"
    {
        return Err(invalid(
            "SUMMARY_SERVICE_VERSION",
            "only version 2 of the transcription API is supported",
        ));
    }
    Ok(Some(TranscriptionSettings {
        // The endpoint is used as given: its trailing slash is part of the route.
        endpoint: {
            http_url("SUMMARY_SERVICE_ENDPOINT", endpoint.clone())?;
            endpoint
        },
        api_token: source.secret("SUMMARY_SERVICE_API_TOKEN")?.ok_or_else(|| {
            invalid(
                "SUMMARY_SERVICE_API_TOKEN",
                "is required when SUMMARY_SERVICE_ENDPOINT is set",
            )
        })?,
        webhook_token: source.secret("SUMMARY_SERVICE_WEBHOOK_API_TOKEN")?,
        signed_url_expiry: Duration::from_secs(
            source
                .number("SUMMARY_SERVICE_CLOUD_STORAGE_SIGNED_URL_EXPIRY_SECONDS")?
                .unwrap_or(86_400),
        ),
        form_base_url: source.get("TRANSCRIPTION_SATISFACTION_FORM_BASE_URL")?,
    }))
}

fn email_settings(source: &Source) -> Result<EmailSettings, ConfigError> {
    let backend = source
        .string("EMAIL_BACKEND", "console")?
        .to_ascii_lowercase();
    if !matches!(backend.as_str(), "console" | "file" | "smtp") {
        return Err(invalid("EMAIL_BACKEND", "must be console, file or smtp"));
    }
    let use_tls = source.bool("EMAIL_USE_TLS", false)?;
    let use_ssl = source.bool("EMAIL_USE_SSL", false)?;
    if use_tls && use_ssl {
        return Err(invalid(
            "EMAIL_USE_SSL",
            "EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other",
        ));
    }
    let from = source.string("EMAIL_FROM", "from@example.com")?;
    if !from.contains('@') {
        return Err(invalid("EMAIL_FROM", "must be an email address"));
    }
    Ok(EmailSettings {
        backend,
        host: source.string("EMAIL_HOST", "localhost")?,
        port: source.number("EMAIL_PORT")?.unwrap_or(if use_ssl {
            465
        } else if use_tls {
            587
        } else {
            25
        }),
        user: source.get("EMAIL_HOST_USER")?,
        password: source.secret("EMAIL_HOST_PASSWORD")?,
        use_tls,
        use_ssl,
        timeout: Duration::from_secs(source.number("EMAIL_TIMEOUT")?.unwrap_or(10)),
        file_path: source.string("EMAIL_FILE_PATH", "data/mail")?.into(),
        from,
        brand_name: source.string("EMAIL_BRAND_NAME", "meet-recorder")?,
        support_email: source.get("EMAIL_SUPPORT_EMAIL")?,
    })
}

fn public_url_is_https(source: &Source) -> Result<bool, ConfigError> {
    Ok(source
        .get("MEET_RECORDER_PUBLIC_URL")?
        .is_some_and(|url| url.starts_with("https://")))
}

/// A database URL without its password, whether in the user part or a query parameter
/// (`?password=`, `?sslpassword=`).
fn redact_url(value: &str) -> String {
    let Ok(mut url) = url::Url::parse(value) else {
        return value.to_owned();
    };
    if url.password().is_some() {
        let _ = url.set_password(Some("********"));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(name, value)| {
                let secret = name.to_ascii_lowercase().contains("password");
                let shown = if secret {
                    "********".into()
                } else {
                    value.into_owned()
                };
                (name.into_owned(), shown)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_source(&Source::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults_are_the_reference_systems() {
        let config = config(&[]).unwrap();
        assert!(!config.recording.enable);
        assert_eq!(config.recording.output_folder, "recordings");
        assert_eq!(config.recording.event_parser, EventParser::Minio);
        assert!(config.recording.enable_storage_event_auth);
        assert!(!config.recording.storage_event_enable);
        assert_eq!(config.recording.layout_default, Layout::SpeakerLight);
        assert_eq!(
            config.recording.available_modes(),
            vec![Mode::ScreenRecording, Mode::Transcript]
        );
        assert!(config.s3.is_none());
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = config(&[("RECORDING_ENABLE", "maybe")]).unwrap_err();
        assert_eq!(error.variable, "RECORDING_ENABLE");
        let error = config(&[("RECORDING_MAX_DURATION", "ten")]).unwrap_err();
        assert_eq!(error.variable, "RECORDING_MAX_DURATION");
        let error = config(&[("AWS_S3_ENDPOINT_URL", "http://s3:9000")]).unwrap_err();
        assert_eq!(error.variable, "AWS_S3_ACCESS_KEY_ID");
        let error = config(&[("RECORDING_WORKER_CLASSES", r#"{"video":"x"}"#)]).unwrap_err();
        assert_eq!(error.variable, "RECORDING_WORKER_CLASSES");
        let error = config(&[("MEET_RECORDER_MAX_CONNECTIONS", "0")]).unwrap_err();
        assert_eq!(error.variable, "MEET_RECORDER_MAX_CONNECTIONS");
        let error = config(&[("MEET_RECORDER_HEADER_TIMEOUT_S", "soon")]).unwrap_err();
        assert_eq!(error.variable, "MEET_RECORDER_HEADER_TIMEOUT_S");
    }

    #[test]
    fn reference_class_paths_are_accepted() {
        let config = config(&[
            (
                "RECORDING_WORKER_CLASSES",
                r#"{"transcript":"core.recording.worker.services.AudioCompositeEgressService"}"#,
            ),
            (
                "RECORDING_EVENT_PARSER_CLASS",
                "core.recording.event.parsers.S3Parser",
            ),
        ])
        .unwrap();
        assert_eq!(config.recording.available_modes(), vec![Mode::Transcript]);
        assert_eq!(config.recording.event_parser, EventParser::S3);
    }

    #[test]
    fn secrets_never_show() {
        let config = config(&[
            ("LIVEKIT_API_SECRET", "hunter2"),
            ("DATABASE_URL", "postgres://u:pw@db/x"),
            ("RECORDING_STORAGE_EVENT_TOKEN", "tok123"),
        ])
        .unwrap();
        let text = config.describe();
        assert!(!text.contains("hunter2") && !text.contains(":pw@") && !text.contains("tok123"));
        let in_query = Config::from_source(&Source::from_pairs([(
            "DATABASE_URL",
            "postgres://u@db/x?sslmode=require&password=s3cret&sslpassword=k3y",
        )]))
        .unwrap()
        .describe();
        assert!(
            !in_query.contains("s3cret") && !in_query.contains("k3y"),
            "{in_query}"
        );
        assert!(in_query.contains("sslmode=require"), "{in_query}");
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn only_signature_version_4_is_accepted_for_s3() {
        let s3 = [
            ("AWS_S3_ENDPOINT_URL", "http://s3:9000"),
            ("AWS_S3_ACCESS_KEY_ID", "key"),
            ("AWS_S3_SECRET_ACCESS_KEY", "secret"),
        ];
        for accepted in ["s3v4", "v4", "S3V4"] {
            let mut pairs = s3.to_vec();
            pairs.push(("AWS_S3_SIGNATURE_VERSION", accepted));
            assert!(config(&pairs).unwrap().s3.is_some(), "{accepted}");
        }
        for refused in ["s3", "v2", "s3v2"] {
            let mut pairs = s3.to_vec();
            pairs.push(("AWS_S3_SIGNATURE_VERSION", refused));
            let error = config(&pairs).unwrap_err();
            assert_eq!(error.variable, "AWS_S3_SIGNATURE_VERSION", "{refused}");
            assert!(error.to_string().contains("s3v4"), "{error}");
        }
    }

    #[test]
    fn livekit_tls_verification_is_on_unless_turned_off() {
        assert!(config(&[]).unwrap().livekit.verify_tls);
        // The reference's settings are Python booleans.
        let off = config(&[("LIVEKIT_VERIFY_SSL", "False")]).unwrap();
        assert!(!off.livekit.verify_tls);
        let error = config(&[("LIVEKIT_VERIFY_SSL", "sometimes")]).unwrap_err();
        assert_eq!(error.variable, "LIVEKIT_VERIFY_SSL");
    }

    #[test]
    fn log_format_is_text_or_json() {
        assert_eq!(config(&[]).unwrap().log_format, "text");
        let error = config(&[("MEET_RECORDER_LOG_FORMAT", "xml")]).unwrap_err();
        assert_eq!(error.variable, "MEET_RECORDER_LOG_FORMAT");
    }

    #[test]
    fn unknown_prefixed_variables_are_reported() {
        let source = Source::from_pairs([
            ("RECORDING_ENABLED", "1"),
            ("LIVEKIT_API_SECRET_FILE", "/x"),
            ("HOME", "/root"),
        ]);
        assert_eq!(
            source.unknown_variables(),
            vec!["RECORDING_ENABLED".to_owned()]
        );
    }

    #[test]
    fn webhook_endpoints_pair_each_url_with_its_secret() {
        let key = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYqr";
        let two = config(&[
            (
                "MEET_RECORDER_WEBHOOK_URLS",
                "https://a.example/in, http://b.example/hook/",
            ),
            ("MEET_RECORDER_WEBHOOK_SECRETS", &format!("{key},{key}")),
        ])
        .unwrap();
        let urls: Vec<&str> = two.webhooks.iter().map(|w| w.url.as_str()).collect();
        assert_eq!(urls, ["https://a.example/in", "http://b.example/hook/"]);
        assert_eq!(two.webhooks[0].key.expose().len(), 33);
        assert!(!format!("{:?}", two.webhooks[0]).contains("MfKQ"));
        assert!(config(&[]).unwrap().webhooks.is_empty());
        for (urls, secrets) in [
            ("https://a.example/in", ""),
            ("https://a.example/in", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            ("https://a.example/in", "whsec_c2hvcnQ="),
            ("ftp://a.example/in", key),
            ("not a url", key),
        ] {
            let error = config(&[
                ("MEET_RECORDER_WEBHOOK_URLS", urls),
                ("MEET_RECORDER_WEBHOOK_SECRETS", secrets),
            ])
            .unwrap_err();
            assert!(
                error.variable.starts_with("MEET_RECORDER_WEBHOOK_"),
                "{urls} {secrets}"
            );
        }
    }
}
