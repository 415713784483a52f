//! `spawn_app()`: the real application on a free port, against a fresh database (SQLite
//! file or a uniquely named PostgreSQL database, chosen by `MEETREC_TEST_DATABASE`, and
//! gone with the app), with the LiveKit emulator in-process sending its webhooks to the
//! app.

use std::time::Duration;

use livekit_emulator::{Emulator, EmulatorConfig};
use meet_recorder::{
    adapters::db::{Db, UserRow},
    app::Application,
    config::{Config, Source},
    engine::accounts as auth,
    http::AppState,
};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::helpers::{API_KEY, API_SECRET, eventually, unique};

/// The database backend the suite runs on: `sqlite` (default) or `postgres`.
pub fn test_database() -> String {
    std::env::var("MEETREC_TEST_DATABASE").unwrap_or_else(|_| "sqlite".into())
}

const POSTGRES_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh, empty database for one test: its URL, and for PostgreSQL the database to drop
/// when the test is over.
pub async fn fresh_database(dir: &std::path::Path) -> (String, Option<TestDatabase>) {
    match test_database().as_str() {
        "postgres" => {
            let admin = std::env::var("MEETREC_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| POSTGRES_ADMIN_URL.into());
            let name = format!("meetrec_test_{}", uuid::Uuid::new_v4().simple());
            sqlx::any::install_default_drivers();
            let pool = sqlx::AnyPool::connect(&admin)
                .await
                .expect("connect to PostgreSQL on 127.0.0.1:5432");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&pool)
                .await
                .unwrap();
            pool.close().await;
            // The database is the URL's path; a query (`?host=/socket/dir`) stays.
            let (url, query) = admin.split_once('?').unwrap_or((&admin, ""));
            let base = url.rsplit_once('/').unwrap().0;
            let url = match query {
                "" => format!("{base}/{name}"),
                query => format!("{base}/{name}?{query}"),
            };
            (url, Some(TestDatabase { admin, name }))
        }
        // In the test's temporary directory, which goes with it.
        "sqlite" => (format!("sqlite://{}/meet-recorder.db", dir.display()), None),
        other => panic!("MEETREC_TEST_DATABASE={other}: use sqlite or postgres"),
    }
}

/// A PostgreSQL database a test created, dropped with the [`TestApp`] that owns it (also
/// when the test fails), so test runs leave no `meetrec_test_*` databases behind.
pub struct TestDatabase {
    admin: String,
    name: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and the test's runtime cannot block on a future from inside:
        // a thread of its own, with its own runtime and a fresh admin connection, drops
        // the database while this one waits. `FORCE` ends the connections the app's pools
        // still hold (their tasks stop with the test's runtime, after this).
        let admin = self.admin.clone();
        let drop_sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let outcome = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::AnyConnection::connect(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(&drop_sql)
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok::<_, String>(())
            })
        })
        .join();
        // Never panic here: this may run while a failed test unwinds.
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop test database {}: {error}", self.name),
            Err(_) => eprintln!(
                "could not drop test database {}: the thread panicked",
                self.name
            ),
        }
    }
}

pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub api: String,
    pub http: reqwest::Client,
    pub state: AppState,
    pub db: Db,
    pub livekit: Emulator,
    /// The emulator's admin API base URL.
    pub livekit_url: String,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    /// Last, so it is dropped after everything else of the app.
    _database: Option<TestDatabase>,
}

/// A signed-in user: an account and an API token.
#[derive(Clone)]
pub struct TestUser {
    pub user: UserRow,
    pub token: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[], |_| {}).await
}

/// Spawns the app with extra settings, and a hook to change the emulator's configuration.
pub async fn spawn_app_with(
    settings: &[(&str, &str)],
    configure_livekit: impl FnOnce(&mut EmulatorConfig),
) -> TestApp {
    spawn_app_configured(settings, configure_livekit, |_, _| {}).await
}

/// As [`spawn_app_with`], with a last hook on the application state before it starts
/// (dev mode's parts, for instance).
pub async fn spawn_app_configured(
    settings: &[(&str, &str)],
    configure_livekit: impl FnOnce(&mut EmulatorConfig),
    configure_state: impl FnOnce(&mut AppState, &Emulator),
) -> TestApp {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    spawn_app_on(listener, settings, configure_livekit, configure_state).await
}

/// As [`spawn_app_configured`], on a listener the caller bound already (so a LiveKit
/// server started first can be given the app's webhook URL).
pub async fn spawn_app_on(
    listener: tokio::net::TcpListener,
    settings: &[(&str, &str)],
    configure_livekit: impl FnOnce(&mut EmulatorConfig),
    configure_state: impl FnOnce(&mut AppState, &Emulator),
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let addr = listener.local_addr().unwrap();

    let mut emulator_config = EmulatorConfig::new(API_KEY, API_SECRET);
    emulator_config.webhook_urls = vec![format!("http://{addr}/api/v1.0/rooms/webhooks-livekit/")];
    emulator_config.storage_dir = dir.path().join("egress");
    emulator_config.start_delay = Duration::from_millis(150);
    emulator_config.webhook_retry_base = Duration::from_millis(100);
    configure_livekit(&mut emulator_config);
    let livekit = Emulator::start(emulator_config, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();

    // A test that names a database (another instance's) gets no fresh one: it would be
    // created for nothing. The instance that created a database drops it.
    let (database_url, database) = match settings.iter().find(|(name, _)| *name == "DATABASE_URL") {
        Some((_, url)) => ((*url).to_owned(), None),
        None => fresh_database(dir.path()).await,
    };
    let livekit_url = livekit.url();
    let public_url = format!("http://{addr}");
    let mut pairs: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), database_url),
        ("MEET_RECORDER_LISTEN".into(), addr.to_string()),
        ("MEET_RECORDER_PUBLIC_URL".into(), public_url),
        ("RECORDING_ENABLE".into(), "true".into()),
        ("LIVEKIT_API_URL".into(), livekit_url.clone()),
        ("LIVEKIT_API_KEY".into(), API_KEY.into()),
        ("LIVEKIT_API_SECRET".into(), API_SECRET.into()),
        ("MEET_RECORDER_SWEEP_INTERVAL_MS".into(), "200".into()),
        (
            "MEET_RECORDER_STORAGE_DIR".into(),
            dir.path().join("egress").display().to_string(),
        ),
        ("EMAIL_BACKEND".into(), "file".into()),
        (
            "EMAIL_FILE_PATH".into(),
            dir.path().join("mail").display().to_string(),
        ),
        ("MEET_RECORDER_JOB_POLL_MS".into(), "50".into()),
        ("MEET_RECORDER_JOB_RETRY_BASE_MS".into(), "100".into()),
        ("MEET_RECORDER_CONFIRM_ATTEMPTS".into(), "4".into()),
    ];
    for (name, value) in settings {
        pairs.retain(|(n, _)| n != name);
        pairs.push(((*name).into(), (*value).into()));
    }
    let config = Config::from_source(&Source::from_pairs(pairs)).expect("valid test settings");
    let mut state = AppState::migrated(config)
        .await
        .expect("build the application");
    configure_state(&mut state, &livekit);
    let app = Application::with_listener(listener, state.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        app.run(async {
            let _ = stopped.await;
        })
        .await
        .expect("application runs");
    });
    TestApp {
        addr,
        api: format!("http://{addr}/api/v1.0"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        db: state.db.clone(),
        state,
        livekit,
        livekit_url,
        _dir: dir,
        stop: Some(stop),
        _database: database,
    }
}

impl TestApp {
    /// Stops the service (as a crash or a restart would) but keeps its database, storage
    /// and emulator, so another instance can take over.
    pub fn stop_service(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A JSON response: status and body (`Value::Null` when the body is not JSON).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl TestApp {
    /// Creates an account with an API token (no password: quick).
    pub async fn user(&self, email_prefix: &str) -> TestUser {
        let email = format!("{}@example.com", unique(email_prefix));
        let user = self
            .db
            .create_user(&email, email_prefix, None, "en", "UTC")
            .await
            .unwrap();
        let token = format!("{}{}", auth::API_TOKEN_PREFIX, auth::new_token());
        self.db
            .create_api_token(&auth::token_hash(&token), user.id, "test")
            .await
            .unwrap();
        TestUser { user, token }
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        user: Option<&TestUser>,
        body: Option<Value>,
    ) -> Reply {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}/{}", self.api, path.trim_start_matches('/'))
        };
        let mut request = self.http.request(method, url);
        if let Some(user) = user {
            request = request.bearer_auth(&user.token);
        }
        if let Some(body) = body {
            request = request.json(&body);
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

    /// A signed-out visitor's GET of a page outside the API (`/s/...`, the web app):
    /// no token, no cookie, redirects not followed.
    pub async fn visit(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.get(format!("http://{}{path}", self.addr));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("request reaches the app")
    }

    pub async fn get(&self, path: &str, user: &TestUser) -> Reply {
        self.request(Method::GET, path, Some(user), None).await
    }

    pub async fn post(&self, path: &str, user: &TestUser, body: Value) -> Reply {
        self.request(Method::POST, path, Some(user), Some(body))
            .await
    }

    /// Creates a room owned by `owner` and returns its JSON.
    pub async fn room(&self, owner: &TestUser) -> Value {
        let reply = self
            .post("rooms/", owner, serde_json::json!({"name": unique("Room")}))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        reply.body
    }

    /// Creates a room and puts a simulated participant in its LiveKit room.
    pub async fn live_room(&self, owner: &TestUser) -> Value {
        let room = self.room(owner).await;
        self.livekit.join(
            room["id"].as_str().unwrap(),
            &format!("participant-{}", unique("p")),
        );
        room
    }

    pub async fn start(&self, room: &Value, user: &TestUser, body: Value) -> Reply {
        self.post(
            &format!("rooms/{}/start-recording/", room["id"].as_str().unwrap()),
            user,
            body,
        )
        .await
    }

    pub async fn stop(&self, room: &Value, user: &TestUser, body: Value) -> Reply {
        self.post(
            &format!("rooms/{}/stop-recording/", room["id"].as_str().unwrap()),
            user,
            body,
        )
        .await
    }

    /// The recording as the API shows it to `user`.
    pub async fn recording(&self, id: &str, user: &TestUser) -> Value {
        let reply = self.get(&format!("recordings/{id}/"), user).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        reply.body
    }

    /// Waits until the recording has `status`.
    pub async fn wait_status(&self, id: &str, user: &TestUser, status: &str) -> Value {
        eventually(
            &format!("recording {id} to be {status}"),
            Duration::from_secs(30),
            || async {
                let recording = self.recording(id, user).await;
                (recording["status"] == status).then_some(recording)
            },
        )
        .await
    }

    /// What the LiveKit room received (the emulator's admin view).
    pub async fn livekit_room(&self, room_id: &str) -> Value {
        self.http
            .get(format!("{}/admin/rooms/{room_id}", self.livekit_url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Starts a recording of `mode` in `room`, waits until its egress records, stops it,
    /// and returns its id.
    pub async fn record(&self, host: &TestUser, room: &Value, mode: &str) -> String {
        let reply = self
            .start(room, host, serde_json::json!({ "mode": mode }))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
        let recording_id = reply.body["recording"]["id"].as_str().unwrap().to_owned();
        self.wait_status(&recording_id, host, "active").await;
        let room_id = room["id"].as_str().unwrap();
        eventually("egress recording", Duration::from_secs(10), || async {
            let metadata = self.room_metadata(room_id).await;
            (metadata["recording_status"] == "started").then_some(())
        })
        .await;
        let reply = self
            .stop(room, host, serde_json::json!({ "mode": mode }))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        recording_id
    }

    /// [`TestApp::record`], then waits until the recording is saved and its owners were
    /// told; returns it as the API shows it.
    pub async fn saved_recording(&self, host: &TestUser, room: &Value, mode: &str) -> Value {
        let recording_id = self.record(host, room, mode).await;
        self.wait_status(&recording_id, host, "notification_succeeded")
            .await
    }

    /// Waits until the room received a data message containing `needle`.
    pub async fn wait_data_message(&self, room_id: &str, needle: &str) {
        eventually(
            &format!("a data message with {needle}"),
            Duration::from_secs(10),
            || async {
                let room = self.livekit_room(room_id).await;
                room["data_messages"]
                    .as_array()?
                    .iter()
                    .any(|m| m["text"].as_str().is_some_and(|t| t.contains(needle)))
                    .then_some(())
            },
        )
        .await;
    }

    /// The room metadata as participants see it, parsed.
    pub async fn room_metadata(&self, room_id: &str) -> Value {
        let room = self.livekit_room(room_id).await;
        serde_json::from_str(room["metadata"].as_str().unwrap_or("{}")).unwrap_or(Value::Null)
    }

    pub async fn inject(&self, fault: Value) {
        let response = self
            .http
            .post(format!("{}/admin/faults", self.livekit_url))
            .json(&fault)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }

    /// The .eml files the file mailer wrote.
    pub fn sent_emails(&self) -> Vec<String> {
        let dir = self._dir.path().join("mail");
        let mut emails: Vec<(std::path::PathBuf, String)> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .map(|p| {
                        // Undo quoted-printable soft line breaks so links read whole.
                        let text = std::fs::read_to_string(&p)
                            .unwrap_or_default()
                            .replace("=\r\n", "")
                            .replace("=\n", "")
                            .replace("=3D", "=");
                        (p, text)
                    })
                    .collect()
            })
            .unwrap_or_default();
        emails.sort();
        emails.into_iter().map(|(_, text)| text).collect()
    }

    /// Counts the recordings of a room, straight from the database.
    pub async fn recording_count(&self, room_id: &str) -> i64 {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) AS n FROM recordings WHERE room_id = $1")
            .bind(room_id)
            .fetch_one(self.db.pool())
            .await
            .unwrap()
            .get("n")
    }
}
