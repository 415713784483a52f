//! `meet-recorder config`: every setting of the table with its effective value, grouped,
//! defaults marked, secrets never shown.

use std::collections::BTreeMap;

use secrecy::{ExposeSecret, SecretString};

use super::{
    Config, EventParser, Origin, WorkerKind,
    settings::{Group, Kind, SETTINGS},
};

/// What a secret looks like in the output.
const HIDDEN: &str = "********";

impl Config {
    /// The effective configuration: per group a `# Title` line, then `NAME=value` for
    /// every setting, marked `(default)` when not given. Secrets show as `********`, and
    /// URLs that may carry a password without it.
    pub fn describe(&self) -> String {
        let effective: BTreeMap<&str, Option<String>> = self.effective().into_iter().collect();
        let mut out = String::new();
        for group in Group::ALL {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("# {}\n", group.title()));
            for setting in SETTINGS.iter().filter(|s| s.group == group) {
                let name = setting.name;
                let value = effective.get(name).cloned().flatten();
                let note = match (&value, self.given.get(name)) {
                    (Some(_), Some(Origin::Value)) => String::new(),
                    (Some(_), Some(Origin::File)) => format!("  (from {name}_FILE)"),
                    (Some(_), None) if self.download_url_from_alias(name) => {
                        "  (from SCREEN_RECORDING_BASE_URL)".to_owned()
                    }
                    (Some(_), None) => "  (default)".to_owned(),
                    // Unset, or its section is off: what it would be, from the table.
                    (None, None) if setting.default.is_empty() => "  (default: unset)".to_owned(),
                    (None, None) => format!("  (default: {})", setting.default),
                    (None, Some(_)) => "  (given, but not used with these settings)".to_owned(),
                };
                out.push_str(&format!(
                    "{name}={}{note}\n",
                    value.as_deref().unwrap_or_default()
                ));
            }
        }
        out
    }

    /// `RECORDING_DOWNLOAD_BASE_URL` took its value from the reference's name.
    fn download_url_from_alias(&self, name: &str) -> bool {
        name == "RECORDING_DOWNLOAD_BASE_URL"
            && !self.given.contains_key("RECORDING_DOWNLOAD_BASE_URL")
            && self.given.contains_key("SCREEN_RECORDING_BASE_URL")
    }

    /// Each setting's effective value as shown, `None` when unset or not in effect (its
    /// section is off). Lists every setting of the table; a test holds it to that.
    fn effective(&self) -> Vec<(&'static str, Option<String>)> {
        let secret = |value: Option<&SecretString>| {
            value
                .filter(|s| !s.expose_secret().is_empty())
                .map(|_| HIDDEN.to_owned())
        };
        let r = &self.recording;
        let encoding = r.encoding.as_ref();
        let livekit = &self.livekit;
        let s3 = self.s3.as_ref();
        let email = &self.email;
        let transcription = self.transcription.as_ref();
        let jobs = &self.jobs;
        let connections = &self.connections;
        let workers: BTreeMap<&str, &str> = r
            .worker_classes
            .iter()
            .map(|(mode, (_, kind))| {
                let kind = match kind {
                    WorkerKind::VideoComposite => "video_composite",
                    WorkerKind::AudioComposite => "audio_composite",
                };
                (*mode, kind)
            })
            .collect();
        let download_alias_used = self.download_url_from_alias("RECORDING_DOWNLOAD_BASE_URL");
        let some = |value: String| Some(value);
        let mut values = vec![
            (
                "MEET_RECORDER_CONFIG_FILE",
                self.config_file.as_ref().map(|f| f.display().to_string()),
            ),
            ("MEET_RECORDER_LISTEN", some(self.listen.to_string())),
            ("MEET_RECORDER_PUBLIC_URL", some(self.public_url.clone())),
            ("MEET_RECORDER_LOG_FORMAT", some(self.log_format.clone())),
            (
                "DATABASE_URL",
                some(redact(Kind::SecretUrl, self.database_url.expose_secret())),
            ),
            (
                "MEET_RECORDER_SESSION_TTL_HOURS",
                some((self.session_ttl.as_secs() / 3600).to_string()),
            ),
            (
                "MEET_RECORDER_SESSION_COOKIE_SECURE",
                some(self.session_cookie_secure.to_string()),
            ),
            (
                "MEET_RECORDER_STORAGE_DIR",
                some(self.storage_dir.display().to_string()),
            ),
            ("RECORDING_ENABLE", some(r.enable.to_string())),
            ("RECORDING_OUTPUT_FOLDER", some(r.output_folder.clone())),
            (
                "RECORDING_WORKER_CLASSES",
                some(serde_json::to_string(&workers).unwrap_or_default()),
            ),
            (
                "RECORDING_LAYOUT_DEFAULT",
                some(r.layout_default.to_string()),
            ),
            (
                "RECORDING_MAX_DURATION",
                r.max_duration_ms.map(|ms| ms.to_string()),
            ),
            (
                "RECORDING_EXPIRATION_DAYS",
                r.expiration_days.map(|days| days.to_string()),
            ),
            ("RECORDING_DOWNLOAD_BASE_URL", r.download_base_url.clone()),
            (
                "SCREEN_RECORDING_BASE_URL",
                r.download_base_url.clone().filter(|_| download_alias_used),
            ),
            (
                "RECORDING_MEDIA_REDIRECT",
                some(r.media_redirect.to_string()),
            ),
            (
                "RECORDING_ENCODING_ENABLED",
                some(encoding.is_some().to_string()),
            ),
            (
                "RECORDING_ENCODING_WIDTH",
                encoding.map(|e| e.width.to_string()),
            ),
            (
                "RECORDING_ENCODING_HEIGHT",
                encoding.map(|e| e.height.to_string()),
            ),
            (
                "RECORDING_ENCODING_FRAMERATE",
                encoding.map(|e| e.framerate.to_string()),
            ),
            (
                "RECORDING_ENCODING_VIDEO_BITRATE_KBPS",
                encoding.map(|e| e.video_bitrate_kbps.to_string()),
            ),
            (
                "RECORDING_ENCODING_AUDIO_BITRATE_KBPS",
                encoding.map(|e| e.audio_bitrate_kbps.to_string()),
            ),
            (
                "RECORDING_ENCODING_KEY_FRAME_INTERVAL_S",
                encoding.map(|e| e.key_frame_interval_s.to_string()),
            ),
            (
                "RECORDING_STORAGE_EVENT_ENABLE",
                some(r.storage_event_enable.to_string()),
            ),
            (
                "RECORDING_ENABLE_STORAGE_EVENT_AUTH",
                some(r.enable_storage_event_auth.to_string()),
            ),
            (
                "RECORDING_STORAGE_EVENT_TOKEN",
                secret(r.storage_event_token.as_ref()),
            ),
            (
                "RECORDING_EVENT_PARSER_CLASS",
                some(
                    match r.event_parser {
                        EventParser::Minio => "minio",
                        EventParser::S3 => "s3",
                        EventParser::AwsSns => "aws-sns",
                        EventParser::EventBridge => "eventbridge",
                    }
                    .to_owned(),
                ),
            ),
            ("LIVEKIT_API_URL", some(livekit.api_url.clone())),
            ("LIVEKIT_API_KEY", some(livekit.api_key.clone())),
            ("LIVEKIT_API_SECRET", secret(Some(&livekit.api_secret))),
            ("LIVEKIT_URL", some(livekit.public_url.clone())),
            ("LIVEKIT_VERIFY_SSL", some(livekit.verify_tls.to_string())),
            (
                "LIVEKIT_WEBHOOK_EVENTS_FILTER_REGEX",
                livekit
                    .webhook_events_filter
                    .as_ref()
                    .map(|filter| filter.to_string()),
            ),
            (
                "CONNECTION_TEST_ROOM_PREFIX",
                some(livekit.connection_test_room_prefix.clone()),
            ),
            ("AWS_S3_ENDPOINT_URL", s3.map(|s3| s3.endpoint.clone())),
            (
                "AWS_S3_ACCESS_KEY_ID",
                s3.map(|s3| s3.access_key_id.clone()),
            ),
            (
                "AWS_S3_SECRET_ACCESS_KEY",
                secret(s3.map(|s3| &s3.secret_access_key)),
            ),
            ("AWS_S3_REGION_NAME", s3.map(|s3| s3.region.clone())),
            ("AWS_STORAGE_BUCKET_NAME", s3.map(|s3| s3.bucket.clone())),
            // The only signature accepted, whatever alias was given.
            ("AWS_S3_SIGNATURE_VERSION", s3.map(|_| "s3v4".to_owned())),
            ("EMAIL_BACKEND", some(email.backend.clone())),
            ("EMAIL_HOST", some(email.host.clone())),
            ("EMAIL_PORT", some(email.port.to_string())),
            ("EMAIL_HOST_USER", email.user.clone()),
            ("EMAIL_HOST_PASSWORD", secret(email.password.as_ref())),
            ("EMAIL_USE_TLS", some(email.use_tls.to_string())),
            ("EMAIL_USE_SSL", some(email.use_ssl.to_string())),
            ("EMAIL_TIMEOUT", some(email.timeout.as_secs().to_string())),
            (
                "EMAIL_FILE_PATH",
                some(email.file_path.display().to_string()),
            ),
            ("EMAIL_FROM", some(email.from.clone())),
            ("EMAIL_BRAND_NAME", some(email.brand_name.clone())),
            ("EMAIL_SUPPORT_EMAIL", email.support_email.clone()),
            (
                "SUMMARY_SERVICE_ENDPOINT",
                transcription.map(|t| t.endpoint.clone()),
            ),
            (
                "SUMMARY_SERVICE_API_TOKEN",
                secret(transcription.map(|t| &t.api_token)),
            ),
            (
                "SUMMARY_SERVICE_WEBHOOK_API_TOKEN",
                secret(transcription.and_then(|t| t.webhook_token.as_ref())),
            ),
            (
                "SUMMARY_SERVICE_CLOUD_STORAGE_SIGNED_URL_EXPIRY_SECONDS",
                transcription.map(|t| t.signed_url_expiry.as_secs().to_string()),
            ),
            // The only version accepted.
            (
                "SUMMARY_SERVICE_VERSION",
                transcription.map(|_| "2".to_owned()),
            ),
            (
                "TRANSCRIPTION_SATISFACTION_FORM_BASE_URL",
                transcription.and_then(|t| t.form_base_url.clone()),
            ),
            ("MEET_RECORDER_RUN_JOBS", some(jobs.run.to_string())),
            (
                "MEET_RECORDER_JOB_POLL_MS",
                some(jobs.poll_interval.as_millis().to_string()),
            ),
            (
                "MEET_RECORDER_JOB_RETRY_BASE_MS",
                some(jobs.retry_base.as_millis().to_string()),
            ),
            (
                "MEET_RECORDER_JOB_MAX_ATTEMPTS",
                some(jobs.max_attempts.to_string()),
            ),
            (
                "MEET_RECORDER_CONFIRM_ATTEMPTS",
                some(jobs.confirm_attempts.to_string()),
            ),
            (
                "MEET_RECORDER_SWEEP_INTERVAL_MS",
                some(self.sweep_interval.as_millis().to_string()),
            ),
            (
                "MEET_RECORDER_RECONCILE_INTERVAL_S",
                some(self.reconcile_interval.as_secs().to_string()),
            ),
            (
                "MEET_RECORDER_RECONCILE_GRACE_S",
                some(self.reconcile_grace.as_secs().to_string()),
            ),
            (
                "MEET_RECORDER_PURGE_INTERVAL_S",
                some(self.purge_interval.as_secs().to_string()),
            ),
            (
                "MEET_RECORDER_WEBHOOK_EVENT_RETENTION_HOURS",
                some((self.webhook_event_retention.as_secs() / 3600).to_string()),
            ),
            (
                "MEET_RECORDER_EXPIRED_SESSION_RETENTION_DAYS",
                some((self.expired_session_retention.as_secs() / 86_400).to_string()),
            ),
            (
                "MEET_RECORDER_PRUNE_INTERVAL_S",
                some(self.prune_interval.as_secs().to_string()),
            ),
            (
                "MEET_RECORDER_TRUSTED_PROXIES",
                (!self.trusted_proxies.is_empty()).then(|| {
                    self.trusted_proxies
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                }),
            ),
            (
                "MEET_RECORDER_MAX_CONNECTIONS",
                some(connections.max_connections.to_string()),
            ),
            (
                "MEET_RECORDER_HEADER_TIMEOUT_S",
                some(connections.header_timeout.as_secs().to_string()),
            ),
            (
                "MEET_RECORDER_BODY_TIMEOUT_S",
                some(connections.body_timeout.as_secs().to_string()),
            ),
            (
                "MEET_RECORDER_EVENT_STREAMS_PER_CLIENT",
                some(connections.event_streams_per_client.to_string()),
            ),
            (
                "MEET_RECORDER_WEBHOOK_URLS",
                (!self.webhooks.is_empty()).then(|| {
                    let urls: Vec<&str> = self.webhooks.iter().map(|w| w.url.as_str()).collect();
                    urls.join(",")
                }),
            ),
            (
                "MEET_RECORDER_WEBHOOK_SECRETS",
                (!self.webhooks.is_empty()).then(|| HIDDEN.to_owned()),
            ),
            (
                "MEET_RECORDER_PASSWORD_SIGN_IN",
                some(self.password_sign_in.to_string()),
            ),
            (
                "MEET_RECORDER_SIGN_IN_ATTEMPTS_PER_MINUTE",
                some(self.sign_in_attempts_per_minute.to_string()),
            ),
        ];
        values.extend(self.oidc_values());
        values
    }

    /// The `OIDC_*` settings as they are in effect (all unset without a client id).
    fn oidc_values(&self) -> Vec<(&'static str, Option<String>)> {
        let oidc = self.oidc.as_ref();
        let url = |get: fn(&crate::config::OidcSettings) -> Option<&url::Url>| {
            oidc.and_then(get).map(ToString::to_string)
        };
        let flag = |get: fn(&crate::config::OidcSettings) -> bool| oidc.map(|o| get(o).to_string());
        vec![
            ("OIDC_RP_CLIENT_ID", oidc.map(|o| o.client_id.clone())),
            (
                "OIDC_RP_CLIENT_SECRET",
                oidc.and_then(|o| o.client_secret.as_ref())
                    .map(|_| HIDDEN.to_owned()),
            ),
            ("OIDC_OP_URL", url(|o| o.issuer.as_ref())),
            ("OIDC_RP_SIGN_ALGO", oidc.map(|o| o.sign_algo.clone())),
            ("OIDC_RP_SCOPES", oidc.map(|o| o.scopes.join(" "))),
            (
                "OIDC_OP_AUTHORIZATION_ENDPOINT",
                url(|o| o.authorization_endpoint.as_ref()),
            ),
            ("OIDC_OP_TOKEN_ENDPOINT", url(|o| o.token_endpoint.as_ref())),
            (
                "OIDC_OP_USER_ENDPOINT",
                url(|o| o.userinfo_endpoint.as_ref()),
            ),
            ("OIDC_OP_JWKS_ENDPOINT", url(|o| o.jwks_endpoint.as_ref())),
            (
                "OIDC_OP_LOGOUT_ENDPOINT",
                url(|o| o.logout_endpoint.as_ref()),
            ),
            (
                "OIDC_TOKEN_USE_BASIC_AUTH",
                flag(|o| o.token_use_basic_auth),
            ),
            ("OIDC_USE_PKCE", flag(|o| o.use_pkce)),
            ("OIDC_USE_NONCE", flag(|o| o.use_nonce)),
            ("OIDC_CREATE_USER", flag(|o| o.create_user)),
            (
                "OIDC_FALLBACK_TO_EMAIL_FOR_IDENTIFICATION",
                flag(|o| o.fallback_to_email),
            ),
            (
                "OIDC_USERINFO_FULLNAME_FIELDS",
                oidc.map(|o| o.fullname_fields.join(",")),
            ),
            (
                "OIDC_REDIRECT_ALLOWED_HOSTS",
                oidc.filter(|o| !o.redirect_allowed_hosts.is_empty())
                    .map(|o| o.redirect_allowed_hosts.join(",")),
            ),
        ]
    }
}

/// A value as it may be shown, by the kind of its setting.
fn redact(kind: Kind, value: &str) -> String {
    match kind {
        Kind::Plain => value.to_owned(),
        Kind::Secret => HIDDEN.to_owned(),
        Kind::SecretUrl => super::redact_url(value),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::config::{Source, settings::SETTINGS};

    /// Settings that turn every optional section on, so parsing reads everything.
    const EVERYTHING: &[(&str, &str)] = &[
        ("AWS_S3_ENDPOINT_URL", "http://s3.internal:9000"),
        ("AWS_S3_ACCESS_KEY_ID", "key"),
        ("AWS_S3_SECRET_ACCESS_KEY", "very-secret"),
        ("RECORDING_ENCODING_ENABLED", "true"),
        (
            "SUMMARY_SERVICE_ENDPOINT",
            "http://summary.internal/api/v2/",
        ),
        ("SUMMARY_SERVICE_API_TOKEN", "summary-token"),
        ("OIDC_RP_CLIENT_ID", "meet-recorder"),
        ("OIDC_RP_CLIENT_SECRET", "client-secret"),
        ("OIDC_OP_URL", "https://id.example.org/realms/org"),
    ];

    #[test]
    fn parsing_reads_exactly_the_settings_of_the_table() {
        let full = Source::from_pairs(EVERYTHING.iter().copied());
        Config::from_source(&full).unwrap();
        let mut read = full.read_settings();
        // The reference's name for the download URL is read only when ours is not given.
        let with_download_url = Source::from_pairs(
            EVERYTHING
                .iter()
                .copied()
                .chain([("RECORDING_DOWNLOAD_BASE_URL", "https://meet.example.org")]),
        );
        Config::from_source(&with_download_url).unwrap();
        read.extend(with_download_url.read_settings());
        let table: BTreeSet<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let unread: Vec<&&str> = table.difference(&read).collect();
        assert!(unread.is_empty(), "declared but never read: {unread:?}");
        // A variable read but not declared stops the getter itself (a debug assertion).
        assert_eq!(read, table);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "not declared")]
    fn reading_an_undeclared_variable_is_a_bug() {
        let _ = Source::from_pairs([("X", "y")]).get("MEET_RECORDER_NOT_A_SETTING");
    }

    #[test]
    fn describe_has_a_value_for_every_setting_of_the_table() {
        let config = Config::from_source(&Source::from_pairs(EVERYTHING.iter().copied())).unwrap();
        let effective: Vec<&str> = config.effective().into_iter().map(|(n, _)| n).collect();
        let table: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        let mut sorted_effective = effective.clone();
        sorted_effective.sort_unstable();
        let mut sorted_table = table.clone();
        sorted_table.sort_unstable();
        assert_eq!(sorted_effective, sorted_table);
        let text = config.describe();
        for name in table {
            assert_eq!(
                text.lines()
                    .filter(|line| line.starts_with(&format!("{name}=")))
                    .count(),
                1,
                "{name} once in\n{text}"
            );
        }
    }

    #[test]
    fn describe_marks_defaults_and_origins() {
        let dir = tempfile::tempdir().unwrap();
        let secret_file = dir.path().join("secret");
        std::fs::write(&secret_file, "from-a-file\n").unwrap();
        let secret_path = secret_file.display().to_string();
        let config = Config::from_source(&Source::from_pairs([
            ("RECORDING_MAX_DURATION", "60000"),
            ("LIVEKIT_API_SECRET_FILE", secret_path.as_str()),
            ("RECORDING_ENCODING_WIDTH", "1920"),
            (
                "SCREEN_RECORDING_BASE_URL",
                "https://meet.example.org/recording",
            ),
        ]))
        .unwrap();
        let text = config.describe();
        assert!(text.starts_with("# Service\n"), "{text}");
        assert!(text.contains("\n# LiveKit\n"), "{text}");
        assert!(text.contains("\nRECORDING_MAX_DURATION=60000\n"), "{text}");
        assert!(
            text.contains("\nMEET_RECORDER_LISTEN=127.0.0.1:8000  (default)\n"),
            "{text}"
        );
        assert!(
            text.contains("\nLIVEKIT_API_SECRET=********  (from LIVEKIT_API_SECRET_FILE)\n"),
            "{text}"
        );
        assert!(!text.contains("from-a-file"), "{text}");
        assert!(
            text.contains("\nRECORDING_EXPIRATION_DAYS=  (default: unset)\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "\nRECORDING_ENCODING_WIDTH=  (given, but not used with these settings)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\nRECORDING_ENCODING_HEIGHT=  (default: 720)\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "\nRECORDING_DOWNLOAD_BASE_URL=https://meet.example.org/recording  (from SCREEN_RECORDING_BASE_URL)\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("\nSCREEN_RECORDING_BASE_URL=https://meet.example.org/recording\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "\nRECORDING_WORKER_CLASSES={\"screen_recording\":\"video_composite\",\"transcript\":\"audio_composite\"}  (default)\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn describe_shows_no_secret() {
        let mut pairs = EVERYTHING.to_vec();
        pairs.extend([
            ("LIVEKIT_API_SECRET", "hunter2"),
            ("DATABASE_URL", "postgres://u:pw@db/x"),
            ("RECORDING_STORAGE_EVENT_TOKEN", "tok123"),
            ("EMAIL_HOST_PASSWORD", "mail-pass"),
            ("SUMMARY_SERVICE_WEBHOOK_API_TOKEN", "hook-token"),
        ]);
        let config = Config::from_source(&Source::from_pairs(pairs.iter().copied())).unwrap();
        let text = config.describe();
        for secret in [
            "hunter2",
            ":pw@",
            "tok123",
            "mail-pass",
            "hook-token",
            "summary-token",
            "very-secret",
        ] {
            assert!(!text.contains(secret), "{secret} in\n{text}");
        }
        assert!(
            text.contains("\nDATABASE_URL=postgres://u:********@db/x\n"),
            "{text}"
        );
        assert!(
            text.contains("\nAWS_S3_SECRET_ACCESS_KEY=********\n"),
            "{text}"
        );
    }
}
