//! The operator's commands, run as the real binary against a running test app.

use std::process::Output;

use tokio::process::Command;

use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::{
    app::*,
    helpers::{API_KEY, API_SECRET, unique},
};

/// Runs the binary without blocking the runtime the app and the emulator serve on.
pub async fn meet_recorder(app: &TestApp, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_meet-recorder"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            app.state.config.database_url.expose_secret(),
        )
        .env("LIVEKIT_API_URL", &app.livekit_url)
        .env("LIVEKIT_API_KEY", API_KEY)
        .env("LIVEKIT_API_SECRET", API_SECRET)
        .env("RUST_LOG", "error");
    for (name, value) in extra_env {
        command.env(name, value);
    }
    command.output().await.expect("run meet-recorder")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn config_prints_settings_with_secrets_redacted() {
    let app = spawn_app().await;
    let output = meet_recorder(&app, &["config"], &[("RECORDING_MAX_DURATION", "60000")]).await;
    assert!(output.status.success());
    let text = stdout(&output);
    assert!(text.contains("\nRECORDING_MAX_DURATION=60000\n"), "{text}");
    assert!(text.contains("\nLIVEKIT_API_SECRET=********\n"), "{text}");
    assert!(!text.contains(API_SECRET));
    // Every setting is listed, the ones not given marked as defaults.
    for setting in meet_recorder::config::settings::SETTINGS {
        assert!(
            text.contains(&format!("\n{}=", setting.name)),
            "{} missing from\n{text}",
            setting.name
        );
    }
    assert!(
        text.contains("\nRECORDING_OUTPUT_FOLDER=recordings  (default)\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_naming_the_variable() {
    let app = spawn_app().await;
    let output = meet_recorder(&app, &["serve"], &[("RECORDING_EXPIRATION_DAYS", "soon")]).await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("RECORDING_EXPIRATION_DAYS"), "{stderr}");
}

#[tokio::test]
async fn healthcheck_reports_a_ready_service() {
    let app = spawn_app().await;
    let url = format!("http://{}", app.addr);
    let output = meet_recorder(&app, &["healthcheck", "--url", &url], &[]).await;
    assert!(output.status.success(), "{output:?}");
    let output = meet_recorder(&app, &["healthcheck", "--url", "http://127.0.0.1:9"], &[]).await;
    assert!(!output.status.success());
}

#[tokio::test]
async fn users_create_makes_an_account_that_can_sign_in_and_use_its_token() {
    let app = spawn_app().await;
    let email = format!("{}@example.com", unique("cli"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_meet-recorder"))
        .args([
            "users",
            "create",
            &email,
            "--password-stdin",
            "--language",
            "fr",
            "--api-token",
        ])
        .env(
            "DATABASE_URL",
            app.state.config.database_url.expose_secret(),
        )
        .env("RUST_LOG", "error")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"s3cret-passw0rd\n").await.unwrap();
    drop(stdin);
    let output = child.wait_with_output().await.unwrap();
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let token = text
        .lines()
        .find_map(|l| l.strip_prefix("API token: "))
        .expect("token printed")
        .to_owned();

    let login = app
        .request(
            Method::POST,
            "auth/login/",
            None,
            Some(json!({"email": email, "password": "s3cret-passw0rd"})),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_eq!(login.body["language"], "fr");
    let me = app
        .http
        .get(format!("{}/users/me/", app.api))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
}

#[tokio::test]
async fn egress_list_joins_running_egresses_with_their_recordings() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(reply.status, 201);
    let recording = &reply.body["recording"];
    let output = meet_recorder(&app, &["egress", "list"], &[]).await;
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with("EGRESS ID") && header.contains("RECORDING STATUS"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with(recording["worker_id"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("egress listed: {text}"));
    assert!(line.contains(recording["id"].as_str().unwrap()), "{line}");
    assert!(line.contains(room["slug"].as_str().unwrap()), "{line}");
    assert!(
        line.contains("screen_recording") && line.contains("active"),
        "{line}"
    );
}

#[tokio::test]
async fn jobs_list_shows_dead_jobs_and_retry_requeues_them() {
    let app = spawn_app_with(&[("MEET_RECORDER_RUN_JOBS", "false")], |_| {}).await;
    let mut conn = app.db.pool().acquire().await.unwrap();
    app.db
        .on(&mut *conn)
        .enqueue_job(
            "no_such_kind",
            &json!({"recording_id": uuid::Uuid::new_v4()}),
            None,
            1,
        )
        .await
        .unwrap();
    drop(conn);
    app.state.engine.jobs.drain().await.unwrap();
    let output = meet_recorder(&app, &["jobs", "list", "--dead"], &[]).await;
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    let line = text
        .lines()
        .find(|l| l.contains("no_such_kind"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        line.contains("dead") && line.contains("unknown job kind"),
        "{line}"
    );
    let id = line.split_whitespace().next().unwrap();
    let output = meet_recorder(&app, &["jobs", "retry", id], &[]).await;
    assert!(output.status.success(), "{output:?}");
    assert_eq!(app.db.queue_depth().await.unwrap().queued, 1);
    let output = meet_recorder(&app, &["jobs", "retry", id], &[]).await;
    assert!(!output.status.success(), "a queued job is not dead");
}

#[tokio::test]
async fn send_test_email_reaches_a_real_smtp_server() {
    let app = spawn_app().await;
    let smtp = crate::smtp::SmtpServer::start().await;
    let port = smtp.port().to_string();
    let output = meet_recorder(
        &app,
        &["send-test-email", "ops@example.com"],
        &[
            ("EMAIL_BACKEND", "smtp"),
            ("EMAIL_HOST", "127.0.0.1"),
            ("EMAIL_PORT", &port),
        ],
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    let messages = smtp.wait_for(1, std::time::Duration::from_secs(10)).await;
    let email = crate::smtp::ParsedEmail::parse(&messages[0]);
    assert_eq!(email.header("To").as_deref(), Some("ops@example.com"));
}

#[tokio::test]
async fn purge_expired_reports_then_purges_with_a_progress_bar() {
    let app = spawn_app_with(&[("RECORDING_EXPIRATION_DAYS", "1")], |_| {}).await;
    let host = app.user("host").await;
    let recording = crate::media::saved_recording(&app, &host).await;
    let id = recording["id"].as_str().unwrap();
    sqlx::query("UPDATE recordings SET created_at = created_at - 172800000 WHERE id = $1")
        .bind(id)
        .execute(app.db.pool())
        .await
        .unwrap();
    let storage_dir = app.state.config.storage_dir.display().to_string();
    let env = [
        ("RECORDING_EXPIRATION_DAYS", "1"),
        ("MEET_RECORDER_STORAGE_DIR", storage_dir.as_str()),
    ];
    let output = meet_recorder(&app, &["purge-expired", "--dry-run"], &env).await;
    assert!(output.status.success(), "{output:?}");
    assert!(
        stdout(&output).contains("1 recording(s)"),
        "{}",
        stdout(&output)
    );
    assert_eq!(
        app.recording(id, &host).await["status"],
        "notification_succeeded"
    );
    let output = meet_recorder(&app, &["purge-expired"], &env).await;
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("] 1/1"),
        "progress shown"
    );
    assert!(
        stdout(&output).contains("Purged 1 recording(s)"),
        "{}",
        stdout(&output)
    );
    assert_eq!(app.recording(id, &host).await["status"], "expired");
    let output = meet_recorder(&app, &["purge-expired"], &[]).await;
    assert!(
        !output.status.success(),
        "without RECORDING_EXPIRATION_DAYS there is nothing to purge"
    );
}

/// Runs `serve` until it logs that it listens (and two seconds more), and returns what it
/// logged.
async fn serve_start_up_log(app: &TestApp, extra_env: &[(&str, &str)]) -> String {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut command = Command::new(env!("CARGO_BIN_EXE_meet-recorder"));
    command
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "DATABASE_URL",
            app.state.config.database_url.expose_secret(),
        )
        .env("MEET_RECORDER_LISTEN", "127.0.0.1:0")
        .env("LIVEKIT_API_URL", &app.livekit_url)
        .env("LIVEKIT_API_KEY", API_KEY)
        .env("LIVEKIT_API_SECRET", API_SECRET)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("run meet-recorder serve");
    // The log goes to stdout (tracing's default writer).
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = String::new();
    let listening = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            log.push_str(&line);
            log.push('\n');
            if line.contains("meet-recorder listening") {
                return true;
            }
        }
        false
    })
    .await;
    // What it logs as it starts serving comes right after.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        while let Ok(Some(line)) = lines.next_line().await {
            log.push_str(&line);
            log.push('\n');
        }
    })
    .await;
    let _ = child.kill().await;
    assert_eq!(listening, Ok(true), "serve did not start: {log}");
    log
}

#[tokio::test]
async fn serve_warns_loudly_when_the_storage_hook_has_no_authentication() {
    let app = spawn_app().await;
    let open = serve_start_up_log(
        &app,
        &[
            ("RECORDING_STORAGE_EVENT_ENABLE", "true"),
            ("RECORDING_ENABLE_STORAGE_EVENT_AUTH", "false"),
        ],
    )
    .await;
    assert!(open.contains("WITHOUT AUTHENTICATION"), "{open}");
    let guarded = serve_start_up_log(
        &app,
        &[
            ("RECORDING_STORAGE_EVENT_ENABLE", "true"),
            ("RECORDING_STORAGE_EVENT_TOKEN", "a-token"),
        ],
    )
    .await;
    assert!(!guarded.contains("WITHOUT AUTHENTICATION"), "{guarded}");
}

/// The tables of the database at `url`, straight from its catalogue.
async fn table_names(url: &str) -> Vec<String> {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let query = if url.starts_with("sqlite:") {
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
    } else {
        "SELECT table_name AS name FROM information_schema.tables \
         WHERE table_schema = current_schema() ORDER BY table_name"
    };
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let names = sqlx::query(query)
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("name"))
        .collect();
    pool.close().await;
    names
}

/// Runs the binary on `url` with no other settings.
async fn meet_recorder_on(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meet-recorder"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .env("RUST_LOG", "error")
        .output()
        .await
        .expect("run meet-recorder")
}

/// Refused, with the operator's next step, and the database left as it was.
async fn assert_read_only_commands_refuse(url: &str) {
    for args in [
        &["jobs", "list"][..],
        &["users", "tokens", "list", "nobody@example.com"][..],
    ] {
        let output = meet_recorder_on(url, args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} ran: {output:?}");
        assert!(
            stderr.contains("the database schema is behind: run `meet-recorder migrate`"),
            "{args:?}: {stderr}"
        );
    }
    assert_eq!(
        table_names(url).await,
        Vec::<String>::new(),
        "tables created"
    );
}

#[tokio::test]
async fn read_only_commands_refuse_an_unmigrated_database_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();

    // An empty SQLite file, whatever the suite's database.
    let file = dir.path().join("empty.db");
    std::fs::File::create(&file).unwrap();
    let url = format!("sqlite://{}", file.display());
    assert_read_only_commands_refuse(&url).await;
    // A missing file is not created either.
    let missing = dir.path().join("missing.db");
    let output = meet_recorder_on(
        &format!("sqlite://{}", missing.display()),
        &["jobs", "list"],
    )
    .await;
    assert!(!output.status.success());
    assert!(!missing.exists(), "the database file was created");

    // `migrate` is what the message says to run; then the same command works.
    let output = meet_recorder_on(&url, &["migrate"]).await;
    assert!(output.status.success(), "{output:?}");
    let output = meet_recorder_on(&url, &["jobs", "list"]).await;
    assert!(output.status.success(), "{output:?}");

    // The suite's PostgreSQL, when it runs on it: an empty database stays empty.
    if test_database() == "postgres" {
        let (url, _database) = fresh_database(dir.path()).await;
        assert_read_only_commands_refuse(&url).await;
    }
}
