//! The one list of settings. Everything that needs to know which variables exist asks
//! this table: the unknown-variable warning, `NAME_FILE` secrets, redaction, and
//! `meet-recorder config`. Parsing stays typed code in `mod.rs`, and tests check that it
//! reads exactly the variables listed here, and that README documents each of them.

/// How a setting's value is treated outside its parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Shown as it is.
    Plain,
    /// Never shown; may also be read from the file named by `NAME_FILE`.
    Secret,
    /// A URL that may carry a password: may be read from `NAME_FILE`, shown with its
    /// password redacted.
    SecretUrl,
}

impl Kind {
    /// Whether `NAME_FILE` is honoured.
    pub fn from_file(self) -> bool {
        matches!(self, Kind::Secret | Kind::SecretUrl)
    }
}

/// The headers `meet-recorder config` groups settings under, in print order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    Service,
    Recording,
    Encoding,
    StorageEvents,
    LiveKit,
    S3,
    Email,
    Transcription,
    Jobs,
    Webhooks,
    SignIn,
    Connections,
}

impl Group {
    pub const ALL: [Group; 12] = [
        Group::Service,
        Group::Recording,
        Group::Encoding,
        Group::StorageEvents,
        Group::LiveKit,
        Group::S3,
        Group::Email,
        Group::Transcription,
        Group::Jobs,
        Group::Webhooks,
        Group::SignIn,
        Group::Connections,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Group::Service => "Service",
            Group::Recording => "Recording",
            Group::Encoding => "Recording encoding",
            Group::StorageEvents => "Storage events",
            Group::LiveKit => "LiveKit",
            Group::S3 => "Object storage (S3)",
            Group::Email => "Email",
            Group::Transcription => "Transcription service",
            Group::Jobs => "Background jobs and maintenance",
            Group::Webhooks => "Outbound webhooks",
            Group::SignIn => "Sign-in (OpenID Connect)",
            Group::Connections => "HTTP clients and limits",
        }
    }
}

/// One setting: its variable, how it is treated, the default as documented, and what it
/// does in one line.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub name: &'static str,
    pub kind: Kind,
    pub group: Group,
    /// The default as a person reads it; `""` when unset by default.
    pub default: &'static str,
    pub about: &'static str,
}

const fn setting(
    name: &'static str,
    kind: Kind,
    group: Group,
    default: &'static str,
    about: &'static str,
) -> Setting {
    Setting {
        name,
        kind,
        group,
        default,
        about,
    }
}

use Group::*;
use Kind::*;

/// Every variable the service reads, grouped as `meet-recorder config` prints them.
// One line per setting reads best as a table.
#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    setting("MEET_RECORDER_CONFIG_FILE", Plain, Service, "", "a KEY=VALUE file read under the environment (also --config-file)"),
    setting("MEET_RECORDER_LISTEN", Plain, Service, "127.0.0.1:8000", "HTTP listen address"),
    setting("MEET_RECORDER_PUBLIC_URL", Plain, Service, "http://127.0.0.1:8000", "the service's public base URL"),
    setting("MEET_RECORDER_LOG_FORMAT", Plain, Service, "text", "text or json log lines (read from the environment before anything else)"),
    setting("DATABASE_URL", SecretUrl, Service, "sqlite://data/meet-recorder.db", "sqlite://PATH or postgres://USER:PASSWORD@HOST/DB"),
    setting("MEET_RECORDER_SESSION_TTL_HOURS", Plain, Service, "336", "how long a sign-in lasts"),
    setting("MEET_RECORDER_SESSION_COOKIE_SECURE", Plain, Service, "true when the public URL is https", "mark the session cookie Secure"),
    setting("MEET_RECORDER_STORAGE_DIR", Plain, Service, "data/egress", "where recordings are when no S3 bucket is configured"),
    setting("RECORDING_ENABLE", Plain, Recording, "false", "the feature switch: recording endpoints answer 404 when off"),
    setting("RECORDING_OUTPUT_FOLDER", Plain, Recording, "recordings", "key prefix of recording files"),
    setting("RECORDING_WORKER_CLASSES", Plain, Recording, "both modes", "JSON map mode -> video_composite / audio_composite"),
    setting("RECORDING_LAYOUT_DEFAULT", Plain, Recording, "speaker-light", "layout when the host picks none"),
    setting("RECORDING_MAX_DURATION", Plain, Recording, "", "maximum length in milliseconds, enforced"),
    setting("RECORDING_EXPIRATION_DAYS", Plain, Recording, "", "days until a recording expires"),
    setting("RECORDING_DOWNLOAD_BASE_URL", Plain, Recording, "the service's /recording page", "base of the link in emails"),
    setting("SCREEN_RECORDING_BASE_URL", Plain, Recording, "", "the reference's name for RECORDING_DOWNLOAD_BASE_URL"),
    setting("RECORDING_MEDIA_REDIRECT", Plain, Recording, "false", "with S3, redirect media requests to a presigned URL"),
    setting("RECORDING_ENCODING_ENABLED", Plain, Encoding, "false", "send the encoding options below instead of LiveKit's 720p30 preset"),
    setting("RECORDING_ENCODING_WIDTH", Plain, Encoding, "1280", "video width"),
    setting("RECORDING_ENCODING_HEIGHT", Plain, Encoding, "720", "video height"),
    setting("RECORDING_ENCODING_FRAMERATE", Plain, Encoding, "30", "frames per second"),
    setting("RECORDING_ENCODING_VIDEO_BITRATE_KBPS", Plain, Encoding, "3000", "video bitrate"),
    setting("RECORDING_ENCODING_AUDIO_BITRATE_KBPS", Plain, Encoding, "128", "audio bitrate"),
    setting("RECORDING_ENCODING_KEY_FRAME_INTERVAL_S", Plain, Encoding, "4", "seconds between key frames"),
    setting("RECORDING_STORAGE_EVENT_ENABLE", Plain, StorageEvents, "false", "accept storage events on the storage hook"),
    setting("RECORDING_ENABLE_STORAGE_EVENT_AUTH", Plain, StorageEvents, "true", "the storage hook requires the bearer token"),
    setting("RECORDING_STORAGE_EVENT_TOKEN", Secret, StorageEvents, "", "the storage hook's bearer token"),
    setting("RECORDING_EVENT_PARSER_CLASS", Plain, StorageEvents, "minio", "storage event format: minio, s3, aws-sns, eventbridge"),
    setting("LIVEKIT_API_URL", Plain, LiveKit, "http://127.0.0.1:7880", "LiveKit server (Twirp API)"),
    setting("LIVEKIT_API_KEY", Plain, LiveKit, "devkey", "API key; also verifies webhooks"),
    setting("LIVEKIT_API_SECRET", Secret, LiveKit, "secret", "API secret of the key"),
    setting("LIVEKIT_URL", Plain, LiveKit, "the API URL as ws(s)://", "what browsers connect to"),
    setting("LIVEKIT_VERIFY_SSL", Plain, LiveKit, "true", "verify the LiveKit API's TLS certificate"),
    setting("LIVEKIT_WEBHOOK_EVENTS_FILTER_REGEX", Plain, LiveKit, "", "only rooms whose name matches are handled"),
    setting("CONNECTION_TEST_ROOM_PREFIX", Plain, LiveKit, "connection-test", "rooms with this prefix are ignored"),
    setting("AWS_S3_ENDPOINT_URL", Plain, S3, "", "S3 endpoint; unset: Egress's own storage"),
    setting("AWS_S3_ACCESS_KEY_ID", Plain, S3, "", "access key (required with an endpoint)"),
    setting("AWS_S3_SECRET_ACCESS_KEY", Secret, S3, "", "secret key (required with an endpoint)"),
    setting("AWS_S3_REGION_NAME", Plain, S3, "us-east-1", "region"),
    setting("AWS_STORAGE_BUCKET_NAME", Plain, S3, "meet-media-storage", "bucket"),
    setting("AWS_S3_SIGNATURE_VERSION", Plain, S3, "s3v4", "request signing: only s3v4 (alias v4)"),
    setting("EMAIL_BACKEND", Plain, Email, "console", "console, file or smtp"),
    setting("EMAIL_HOST", Plain, Email, "localhost", "SMTP host"),
    setting("EMAIL_PORT", Plain, Email, "25 (587 with TLS, 465 with SSL)", "SMTP port"),
    setting("EMAIL_HOST_USER", Plain, Email, "", "SMTP user"),
    setting("EMAIL_HOST_PASSWORD", Secret, Email, "", "SMTP password"),
    setting("EMAIL_USE_TLS", Plain, Email, "false", "require STARTTLS"),
    setting("EMAIL_USE_SSL", Plain, Email, "false", "implicit TLS"),
    setting("EMAIL_TIMEOUT", Plain, Email, "10", "SMTP timeout in seconds"),
    setting("EMAIL_FILE_PATH", Plain, Email, "data/mail", "where the file backend writes .eml files"),
    setting("EMAIL_FROM", Plain, Email, "from@example.com", "sender"),
    setting("EMAIL_BRAND_NAME", Plain, Email, "meet-recorder", "brand line of the emails"),
    setting("EMAIL_SUPPORT_EMAIL", Plain, Email, "", "support address in the emails"),
    setting("SUMMARY_SERVICE_ENDPOINT", Plain, Transcription, "", "the transcription service; unset: none"),
    setting("SUMMARY_SERVICE_API_TOKEN", Secret, Transcription, "", "token we present to it (required with an endpoint)"),
    setting("SUMMARY_SERVICE_WEBHOOK_API_TOKEN", Secret, Transcription, "", "token it presents on its callback"),
    setting("SUMMARY_SERVICE_CLOUD_STORAGE_SIGNED_URL_EXPIRY_SECONDS", Plain, Transcription, "86400", "lifetime of the presigned URL handed to it"),
    setting("SUMMARY_SERVICE_VERSION", Plain, Transcription, "2", "its API version: only 2"),
    setting("TRANSCRIPTION_SATISFACTION_FORM_BASE_URL", Plain, Transcription, "", "satisfaction form link sent along"),
    setting("MEET_RECORDER_RUN_JOBS", Plain, Jobs, "true", "whether this instance runs background jobs"),
    setting("MEET_RECORDER_JOB_POLL_MS", Plain, Jobs, "500", "how often an idle job runner looks for due jobs"),
    setting("MEET_RECORDER_JOB_RETRY_BASE_MS", Plain, Jobs, "2000", "first retry delay of a failed job"),
    setting("MEET_RECORDER_JOB_MAX_ATTEMPTS", Plain, Jobs, "10", "attempts before a job is dead"),
    setting("MEET_RECORDER_CONFIRM_ATTEMPTS", Plain, Jobs, "8", "looks for a finished egress's file before the recording fails"),
    setting("MEET_RECORDER_SWEEP_INTERVAL_MS", Plain, Jobs, "1000", "how often running recordings are checked against the maximum duration"),
    setting("MEET_RECORDER_RECONCILE_INTERVAL_S", Plain, Jobs, "60", "how often open recordings are compared with LiveKit"),
    setting("MEET_RECORDER_RECONCILE_GRACE_S", Plain, Jobs, "60", "how long a recording is untouched before reconciliation looks at it"),
    setting("MEET_RECORDER_PURGE_INTERVAL_S", Plain, Jobs, "3600", "how often expired recordings are purged"),
    setting("MEET_RECORDER_WEBHOOK_EVENT_RETENTION_HOURS", Plain, Jobs, "72", "how long handled webhook ids are kept"),
    setting("MEET_RECORDER_EXPIRED_SESSION_RETENTION_DAYS", Plain, Jobs, "7", "how long expired sessions are kept"),
    setting("MEET_RECORDER_PRUNE_INTERVAL_S", Plain, Jobs, "3600", "how often those are pruned"),
    setting("MEET_RECORDER_WEBHOOK_URLS", Plain, Webhooks, "", "comma-separated endpoints told of recording events"),
    setting("MEET_RECORDER_WEBHOOK_SECRETS", Secret, Webhooks, "", "their Standard Webhooks secrets (whsec_...), in the same order"),
    setting("MEET_RECORDER_PASSWORD_SIGN_IN", Plain, SignIn, "true", "whether local accounts may sign in with a password"),
    setting("MEET_RECORDER_SIGN_IN_ATTEMPTS_PER_MINUTE", Plain, SignIn, "10", "password sign-ins per client address and minute, failed or not (that many at once, then one every minute / that many)"),
    setting("OIDC_RP_CLIENT_ID", Plain, SignIn, "", "the client id at the provider; set: sign-in through OpenID Connect"),
    setting("OIDC_RP_CLIENT_SECRET", Secret, SignIn, "", "the client secret"),
    setting("OIDC_OP_URL", Plain, SignIn, "", "the provider's issuer URL, for discovery"),
    setting("OIDC_RP_SIGN_ALGO", Plain, SignIn, "RS256", "the algorithm ID tokens are signed with"),
    setting("OIDC_RP_SCOPES", Plain, SignIn, "openid email", "space-separated scopes asked for"),
    setting("OIDC_OP_AUTHORIZATION_ENDPOINT", Plain, SignIn, "discovered", "the authorization endpoint"),
    setting("OIDC_OP_TOKEN_ENDPOINT", Plain, SignIn, "discovered", "the token endpoint"),
    setting("OIDC_OP_USER_ENDPOINT", Plain, SignIn, "discovered", "the userinfo endpoint"),
    setting("OIDC_OP_JWKS_ENDPOINT", Plain, SignIn, "discovered", "the provider's signing keys"),
    setting("OIDC_OP_LOGOUT_ENDPOINT", Plain, SignIn, "discovered", "where sign-out also ends the provider's session"),
    setting("OIDC_TOKEN_USE_BASIC_AUTH", Plain, SignIn, "false", "send the client's credentials to the token endpoint with HTTP Basic, not in the body"),
    setting("OIDC_USE_PKCE", Plain, SignIn, "true", "PKCE (S256) on the authorization request"),
    setting("OIDC_USE_NONCE", Plain, SignIn, "true", "a nonce bound to the ID token"),
    setting("OIDC_CREATE_USER", Plain, SignIn, "true", "a first sign-in creates the account"),
    setting("OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION", Plain, SignIn, "true", "link an identity seen for the first time to the account with its email"),
    setting("OIDC_USERINFO_FULLNAME_FIELDS", Plain, SignIn, "given_name,family_name", "claims joined into the full name"),
    setting("OIDC_REDIRECT_ALLOWED_HOSTS", Plain, SignIn, "", "other hosts returnTo may lead to after sign-in"),
    setting("MEET_RECORDER_TRUSTED_PROXIES", Plain, Connections, "", "reverse proxies whose X-Forwarded-For is believed"),
    setting("MEET_RECORDER_MAX_CONNECTIONS", Plain, Connections, "512", "open HTTP connections at most"),
    setting("MEET_RECORDER_HEADER_TIMEOUT_S", Plain, Connections, "10", "seconds to send a request's headers; idle keep-alive"),
    setting("MEET_RECORDER_BODY_TIMEOUT_S", Plain, Connections, "10", "seconds to send a request's whole body; beyond, 408"),
    setting("MEET_RECORDER_EVENT_STREAMS_PER_CLIENT", Plain, Connections, "32", "open recording-events streams per client"),
];

/// Prefixes of our variables: an unknown variable with one of them is likely a typo.
pub const PREFIXES: &[&str] = &[
    "MEET_RECORDER_",
    "SUMMARY_SERVICE_",
    "EMAIL_",
    "RECORDING_",
    "LIVEKIT_",
    "AWS_S3_",
    "AWS_STORAGE_",
    "OIDC_",
];

/// The setting called `name`, if there is one.
pub fn find(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.name == name)
}

/// Whether `name` is a variable we know: a setting, or `NAME_FILE` of a secret.
pub fn is_known(name: &str) -> bool {
    find(name).is_some()
        || name
            .strip_suffix("_FILE")
            .and_then(find)
            .is_some_and(|setting| setting.kind.from_file())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn names_are_unique_and_groups_all_printed() {
        let mut seen = BTreeSet::new();
        for setting in SETTINGS {
            assert!(seen.insert(setting.name), "{} twice", setting.name);
            assert!(Group::ALL.contains(&setting.group));
        }
        // Settings of one group are listed together, so the table reads like the output.
        let groups: Vec<Group> = SETTINGS.iter().map(|s| s.group).collect();
        let mut sorted = groups.clone();
        sorted.sort();
        assert_eq!(
            groups, sorted,
            "keep each group's settings together, in Group::ALL order"
        );
    }

    /// The `### Settings` section of README.md, up to the next heading of its level.
    fn readme_settings_section() -> String {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
        let readme = std::fs::read_to_string(path).expect("read README.md");
        let start = readme
            .find("\n### Settings\n")
            .expect("README.md has a ### Settings section");
        let rest = &readme[start + 1..];
        let end = rest[4..]
            .find("\n## ")
            .into_iter()
            .chain(rest[4..].find("\n### "))
            .min()
            .map_or(rest.len(), |end| end + 4);
        rest[..end].to_owned()
    }

    /// Backticked names that look like settings in the first column of the section's tables.
    fn documented_names(section: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for line in section.lines() {
            let Some(row) = line.strip_prefix('|') else {
                continue;
            };
            let first_cell = row.split('|').next().unwrap_or_default();
            for (index, piece) in first_cell.split('`').enumerate() {
                let looks_like_a_setting = index % 2 == 1
                    && piece.contains('_')
                    && piece
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
                if looks_like_a_setting {
                    names.insert(piece.to_owned());
                }
            }
        }
        names
    }

    #[test]
    fn readme_documents_every_setting_and_no_other() {
        let section = readme_settings_section();
        let documented = documented_names(&section);
        let undocumented: Vec<&str> = SETTINGS
            .iter()
            .map(|s| s.name)
            .filter(|name| !documented.contains(*name))
            .collect();
        assert!(
            undocumented.is_empty(),
            "README.md's Settings tables do not list: {undocumented:?}"
        );
        let unknown: Vec<&String> = documented.iter().filter(|name| !is_known(name)).collect();
        assert!(
            unknown.is_empty(),
            "README.md's Settings tables list names the service does not read: {unknown:?}"
        );
    }

    #[test]
    fn secrets_can_come_from_files_and_nothing_else_can() {
        assert!(is_known("LIVEKIT_API_SECRET_FILE"));
        assert!(is_known("DATABASE_URL_FILE"));
        assert!(!is_known("LIVEKIT_API_KEY_FILE"));
        assert!(!is_known("RECORDING_ENABLED"));
    }
}
