//! `recordings/media-auth/` and `storage apply-lifecycle` against Garage. The media-auth
//! tests make recordings through the API with the egress uploading to Garage, ask for
//! authorization as nginx would (`X-Original-URL`), and then use the returned SigV4 headers
//! to fetch the object from Garage themselves: the headers are only right if Garage
//! accepts them. Every refusal of the reference's §2.6 table is checked, plus our 410 for
//! expired recordings. The lifecycle tests put the expiration rule on the test bucket and
//! read it back.

use meet_recorder::config::{Config, Source};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{
    app::{TestApp, TestUser, spawn_app_with},
    helpers::S3Env,
};

const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

async fn spawn_s3_app(s3: &S3Env, extra: &[(&'static str, &str)]) -> TestApp {
    let mut settings = s3.settings();
    settings.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(&settings, |_| {}).await
}

fn media_url(id: &str, extension: &str) -> String {
    format!("https://meet.example.com/media/recordings/{id}.{extension}")
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

/// Asks as nginx's `auth_request` would: the user's credentials and the original URL.
async fn media_auth(app: &TestApp, user: Option<&TestUser>, original_url: Option<&str>) -> Answer {
    let mut request = app.http.get(format!("{}/recordings/media-auth/", app.api));
    if let Some(user) = user {
        request = request.bearer_auth(&user.token);
    }
    if let Some(url) = original_url {
        request = request.header("X-Original-URL", url);
    }
    let response = request.send().await.expect("the app answers");
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

/// Starts a recording and waits until the egress runs.
async fn start_active(app: &TestApp, host: &TestUser, room: &Value, mode: &str) -> String {
    let reply = app.start(room, host, json!({ "mode": mode })).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let recording_id = id(&reply.body["recording"]);
    app.wait_status(&recording_id, host, "active").await;
    recording_id
}

/// A screen recording made through the API and saved (owners notified).
async fn saved_recording(app: &TestApp, host: &TestUser) -> Value {
    let room = app.live_room(host).await;
    app.saved_recording(host, &room, "screen_recording").await
}

/// GETs `{endpoint}/{bucket}/{key}` from Garage with the given headers.
async fn fetch_from_s3(s3: &S3Env, key: &str, headers: &[(&str, String)]) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{}/{}/{key}", s3.endpoint, s3.bucket));
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    request.send().await.expect("Garage answers")
}

fn signed_headers(answer: &Answer) -> Vec<(&'static str, String)> {
    ["Authorization", "X-Amz-Date", "X-Amz-Content-SHA256"]
        .into_iter()
        .map(|name| {
            let value = answer
                .headers
                .get(name)
                .unwrap_or_else(|| panic!("media-auth returns {name}"))
                .to_str()
                .unwrap()
                .to_owned();
            (name, value)
        })
        .collect()
}

#[tokio::test]
async fn an_owner_gets_headers_that_fetch_the_file_from_garage() {
    let s3 = S3Env::from_env();
    let app = spawn_s3_app(&s3, &[]).await;
    let host = app.user("host").await;
    let recording = saved_recording(&app, &host).await;
    let recording_id = id(&recording);
    let key = recording["key"].as_str().unwrap();
    assert_eq!(key, format!("recordings/{recording_id}.mp4"));

    let answer = media_auth(&app, Some(&host), Some(&media_url(&recording_id, "mp4"))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body, json!("authorized"));
    let headers = signed_headers(&answer);
    let authorization = &headers[0].1;
    assert!(
        authorization.starts_with(&format!("AWS4-HMAC-SHA256 Credential={}/", s3.access_key)),
        "{authorization}"
    );
    assert!(
        authorization.contains("SignedHeaders=host;x-amz-content-sha256;x-amz-date,"),
        "{authorization}"
    );
    assert!(
        !authorization.contains(&s3.secret),
        "the secret never leaves"
    );
    assert_eq!(headers[2].1, EMPTY_SHA256);

    // What nginx does next: GET the object from S3 with exactly these headers.
    let response = fetch_from_s3(&s3, key, &headers).await;
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    assert_eq!(
        bytes.len() as i64,
        recording["size_bytes"].as_i64().unwrap()
    );
    assert_eq!(&bytes[4..8], b"ftyp", "an MP4 file");

    // Garage does check: no headers, or the same headers for another key, are refused.
    assert_eq!(fetch_from_s3(&s3, key, &[]).await.status(), 403);
    let other_key = format!("recordings/{}.mp4", uuid::Uuid::new_v4());
    assert_eq!(fetch_from_s3(&s3, &other_key, &headers).await.status(), 403);
}

#[tokio::test]
async fn media_auth_refuses_what_the_reference_refuses() {
    let s3 = S3Env::from_env();
    let app = spawn_s3_app(&s3, &[]).await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let recording_id = start_active(&app, &host, &room, "screen_recording").await;
    let url = media_url(&recording_id, "mp4");

    let anonymous = media_auth(&app, None, Some(&url)).await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.body);

    let no_header = media_auth(&app, Some(&host), None).await;
    assert_eq!(no_header.status, 403, "{}", no_header.body);
    assert_eq!(no_header.body["code"], "media-url-missing");

    for bad in [
        format!("https://meet.example.com/files/recordings/{recording_id}.mp4"),
        format!("https://meet.example.com/media/other/{recording_id}.mp4"),
        "https://meet.example.com/media/recordings/not-a-uuid.mp4".to_owned(),
    ] {
        let answer = media_auth(&app, Some(&host), Some(&bad)).await;
        assert_eq!(answer.status, 403, "{bad}: {}", answer.body);
        assert_eq!(answer.body["code"], "media-url-invalid");
    }

    let txt = media_auth(&app, Some(&host), Some(&media_url(&recording_id, "txt"))).await;
    assert_eq!(txt.status, 400, "{}", txt.body);
    assert_eq!(txt.body["detail"], "Unsupported extension.");

    let unknown = uuid::Uuid::new_v4().to_string();
    let answer = media_auth(&app, Some(&host), Some(&media_url(&unknown, "mp4"))).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["detail"], "No recording found for this event.");

    let answer = media_auth(&app, Some(&host), Some(&media_url(&recording_id, "ogg"))).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(
        answer.body["detail"],
        "No recording found with this extension."
    );

    let stranger = app.user("stranger").await;
    let answer = media_auth(&app, Some(&stranger), Some(&url)).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.body["code"], "permission-denied");

    // The owner, but the recording is still running: nothing to serve yet.
    let answer = media_auth(&app, Some(&host), Some(&url)).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
    assert_eq!(answer.body["code"], "recording-not-saved");
    for name in ["authorization", "x-amz-date", "x-amz-content-sha256"] {
        assert!(answer.headers.get(name).is_none(), "no {name} on a refusal");
    }

    let reply = app
        .stop(&room, &host, json!({ "mode": "screen_recording" }))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn an_expired_recording_is_gone() {
    let s3 = S3Env::from_env();
    let app = spawn_s3_app(&s3, &[("RECORDING_EXPIRATION_DAYS", "1")]).await;
    let host = app.user("host").await;
    let recording = saved_recording(&app, &host).await;
    let recording_id = id(&recording);
    let url = media_url(&recording_id, "mp4");
    let answer = media_auth(&app, Some(&host), Some(&url)).await;
    assert_eq!(answer.status, 200, "not expired yet: {}", answer.body);

    let set = |sql: &'static str, value: Value| {
        let app = &app;
        let recording_id = recording_id.clone();
        async move {
            let query = sqlx::query(sql);
            let query = match value {
                Value::String(s) => query.bind(s),
                other => query.bind(other.as_i64().unwrap()),
            };
            query
                .bind(recording_id)
                .execute(app.db.pool())
                .await
                .unwrap();
        }
    };

    // Past created_at + RECORDING_EXPIRATION_DAYS (the reference would still say 200).
    let three_days_ago = chrono::Utc::now().timestamp_millis() - 3 * 86_400_000;
    set(
        "UPDATE recordings SET created_at = $1 WHERE id = $2",
        json!(three_days_ago),
    )
    .await;
    let answer = media_auth(&app, Some(&host), Some(&url)).await;
    assert_eq!(answer.status, 410, "{}", answer.body);
    assert_eq!(answer.body["code"], "recording-expired");
    assert!(answer.headers.get("authorization").is_none());

    // Marked `expired` (file purged) though recent: gone as well, not a mere 403.
    set(
        "UPDATE recordings SET created_at = $1 WHERE id = $2",
        json!(chrono::Utc::now().timestamp_millis()),
    )
    .await;
    set(
        "UPDATE recordings SET status = $1 WHERE id = $2",
        json!("expired"),
    )
    .await;
    let answer = media_auth(&app, Some(&host), Some(&url)).await;
    assert_eq!(answer.status, 410, "{}", answer.body);

    // Expiry is not revealed to others: they get 403 as before.
    let stranger = app.user("stranger").await;
    let answer = media_auth(&app, Some(&stranger), Some(&url)).await;
    assert_eq!(answer.status, 403, "{}", answer.body);
}

#[tokio::test]
async fn media_auth_without_s3_says_there_is_nothing_to_sign() {
    let app = spawn_app_with(&[], |_| {}).await;
    let host = app.user("host").await;
    let id = uuid::Uuid::new_v4().to_string();
    let answer = media_auth(&app, Some(&host), Some(&media_url(&id, "mp4"))).await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    assert_eq!(answer.body["code"], "media-auth-needs-s3");
    assert!(answer.body["detail"].as_str().unwrap().contains("S3"));
    // Authentication still comes first.
    assert_eq!(media_auth(&app, None, None).await.status, 401);
}

fn lifecycle_config(s3: &S3Env, extra: &[(&str, &str)]) -> Config {
    let mut pairs: Vec<(String, String)> = s3
        .settings()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Config::from_source(&Source::from_pairs(pairs)).expect("valid settings")
}

#[tokio::test]
async fn the_expiration_rule_is_put_on_the_bucket_with_a_day_of_slack() {
    let s3 = S3Env::from_env();
    // A first rule, then the real one: the second replaces the first.
    let first = lifecycle_config(&s3, &[("RECORDING_EXPIRATION_DAYS", "2")]);
    let summary = meet_recorder::adapters::storage::expiration_rule::apply_expiration_rule(&first)
        .await
        .expect("the rule is applied");
    assert!(summary.contains("expire after 3 days"), "{summary}");

    let config = lifecycle_config(&s3, &[("RECORDING_EXPIRATION_DAYS", "7")]);
    let summary = meet_recorder::adapters::storage::expiration_rule::apply_expiration_rule(&config)
        .await
        .expect("the rule is applied");
    assert!(
        summary.starts_with(&format!(
            "Set rule meet-recorder-expiration on bucket {}: objects under recordings/ \
             expire after 8 days",
            s3.bucket
        )),
        "{summary}"
    );
    let read_back = summary
        .split_once("read back:\n")
        .expect("the summary shows the configuration read back")
        .1;
    assert!(
        read_back.contains("<ID>meet-recorder-expiration</ID>"),
        "{read_back}"
    );
    assert!(
        read_back.contains("<Prefix>recordings/</Prefix>"),
        "{read_back}"
    );
    assert!(read_back.contains("<Days>8</Days>"), "{read_back}");
    assert!(!read_back.contains("<Days>3</Days>"), "{read_back}");
}

#[tokio::test]
async fn the_expiration_rule_names_what_is_missing() {
    let s3 = S3Env::from_env();
    let error = meet_recorder::adapters::storage::expiration_rule::apply_expiration_rule(
        &lifecycle_config(&s3, &[]),
    )
    .await
    .expect_err("no expiration configured");
    assert!(
        error.to_string().contains("RECORDING_EXPIRATION_DAYS"),
        "{error}"
    );

    let no_s3 =
        Config::from_source(&Source::from_pairs([("RECORDING_EXPIRATION_DAYS", "7")])).unwrap();
    let error = meet_recorder::adapters::storage::expiration_rule::apply_expiration_rule(&no_s3)
        .await
        .expect_err("no bucket configured");
    assert!(error.to_string().contains("AWS_S3_ENDPOINT_URL"), "{error}");

    // A wrong secret: S3's own answer is in the error.
    let wrong = lifecycle_config(
        &s3,
        &[
            ("RECORDING_EXPIRATION_DAYS", "7"),
            ("AWS_S3_SECRET_ACCESS_KEY", "not-the-secret"),
        ],
    );
    let error = meet_recorder::adapters::storage::expiration_rule::apply_expiration_rule(&wrong)
        .await
        .expect_err("a wrong secret is refused");
    let message = format!("{error:#}");
    assert!(message.contains("HTTP 403"), "{message}");
    assert!(message.contains("AccessDenied"), "{message}");
}
