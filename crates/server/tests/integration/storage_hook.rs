//! `POST recordings/storage-hook/`: storage events as the completion signal, with the
//! reference's authentication, status codes and bodies.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{app::*, helpers::eventually};

const TOKEN: &str = "storage-event-token";

async fn hook(
    app: &TestApp,
    authorization: Option<&str>,
    body: &str,
) -> (StatusCode, Value, Option<String>) {
    let mut request = app
        .http
        .post(format!("{}/recordings/storage-hook/", app.api))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let www = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body, www)
}

/// A MinIO webhook-target body for one object (key form-urlencoded, as MinIO sends it).
fn minio_event(bucket: &str, key: &str, content_type: &str) -> String {
    let encoded = key.replace('/', "%2F");
    json!({
        "EventName": "s3:ObjectCreated:CompleteMultipartUpload",
        "Key": format!("{bucket}/{key}"),
        "Records": [{
            "eventVersion": "2.0",
            "eventSource": "minio:s3",
            "awsRegion": "",
            "eventTime": "2026-11-23T10:00:00.000Z",
            "eventName": "s3:ObjectCreated:CompleteMultipartUpload",
            "userIdentity": {"principalId": "minio"},
            "requestParameters": {},
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0",
                "configurationId": "Config",
                "bucket": {"name": bucket, "ownerIdentity": {"principalId": "minio"}, "arn": format!("arn:aws:s3:::{bucket}")},
                "object": {"key": encoded, "size": 1234, "eTag": "abc-2", "contentType": content_type, "userMetadata": {}, "sequencer": "1"}
            },
            "source": {"host": "127.0.0.1", "port": "", "userAgent": "MinIO"}
        }]
    })
    .to_string()
}

async fn hook_app() -> TestApp {
    spawn_app_with(
        &[
            ("RECORDING_STORAGE_EVENT_ENABLE", "true"),
            ("RECORDING_STORAGE_EVENT_TOKEN", TOKEN),
        ],
        |_| {},
    )
    .await
}

#[tokio::test]
async fn the_hook_authenticates_with_the_bearer_token() {
    let app = hook_app().await;
    let body = minio_event("meet-media-storage", "recordings/x.mp4", "video/mp4");
    for authorization in [None, Some("Bearer wrong"), Some("Basic abc"), Some(TOKEN)] {
        let (status, body, www) = hook(&app, authorization, &body).await;
        assert_eq!(status, 401, "{authorization:?}");
        assert_eq!(www.as_deref(), Some("Bearer realm='Storage event API'"));
        assert!(body["detail"].is_string() && body["code"].is_string());
    }
    for authorization in [format!("Bearer {TOKEN}"), format!("bearer   {TOKEN} ")] {
        let (status, body, _) = hook(&app, Some(&authorization), &body).await;
        assert_eq!(status, 200, "{authorization}: {body}");
        assert_eq!(
            body["message"], "Notification ignored.",
            "not a recording key"
        );
    }

    // No token configured: everything is refused. Auth disabled: nothing is needed.
    let app = spawn_app_with(&[("RECORDING_STORAGE_EVENT_ENABLE", "true")], |_| {}).await;
    let (status, _, _) = hook(&app, Some("Bearer anything"), &body).await;
    assert_eq!(status, 401);
    let app = spawn_app_with(
        &[
            ("RECORDING_STORAGE_EVENT_ENABLE", "true"),
            ("RECORDING_ENABLE_STORAGE_EVENT_AUTH", "false"),
        ],
        |_| {},
    )
    .await;
    let (status, _, _) = hook(&app, None, &body).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_hook_is_404_when_storage_events_are_off() {
    let app = spawn_app_with(&[("RECORDING_STORAGE_EVENT_TOKEN", TOKEN)], |_| {}).await;
    let body = minio_event("meet-media-storage", "recordings/x.mp4", "video/mp4");
    let (status, _, _) = hook(&app, Some(&format!("Bearer {TOKEN}")), &body).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_events_get_the_reference_answers() {
    let app = hook_app().await;
    let auth = format!("Bearer {TOKEN}");
    let (status, body, _) = hook(&app, Some(&auth), "{not json").await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::FORBIDDEN, Some("Invalid request data."))
    );
    let (status, body, _) = hook(
        &app,
        Some(&auth),
        &minio_event("other-bucket", "recordings/x.mp4", "video/mp4"),
    )
    .await;
    assert_eq!(
        (status, body["detail"].as_str()),
        (StatusCode::FORBIDDEN, Some("Invalid bucket specified."))
    );
    let unknown = uuid::Uuid::new_v4();
    let (status, body, _) = hook(
        &app,
        Some(&auth),
        &minio_event(
            "meet-media-storage",
            &format!("recordings/{unknown}.mp4"),
            "video/mp4",
        ),
    )
    .await;
    // The reference answers 404; a refused event would block a MinIO event queue.
    assert_eq!(
        (status, body["message"].as_str()),
        (StatusCode::OK, Some("Notification ignored."))
    );
    for ignored in [
        minio_event(
            "meet-media-storage",
            "recordings/EG_abc.json",
            "application/json",
        ),
        minio_event(
            "meet-media-storage",
            &format!("elsewhere/{unknown}.mp4"),
            "video/mp4",
        ),
        minio_event(
            "meet-media-storage",
            &format!("recordings/{unknown}.mp4"),
            "image/png",
        ),
    ] {
        let (status, body, _) = hook(&app, Some(&auth), &ignored).await;
        assert_eq!(
            (status, body["message"].as_str()),
            (StatusCode::OK, Some("Notification ignored."))
        );
    }
}

#[tokio::test]
async fn a_storage_event_saves_the_recording_and_a_second_one_changes_nothing() {
    let app = hook_app().await;
    let auth = format!("Bearer {TOKEN}");
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    let recording = reply.body["recording"].clone();
    let recording_id = recording["id"].as_str().unwrap().to_owned();
    let key = recording["key"].as_str().unwrap().to_owned();
    // A nested prefix before the folder is accepted, as the reference does.
    let event = minio_event("meet-media-storage", &format!("tenant/{key}"), "video/mp4");

    // While the egress records, its file cannot be complete: an event is premature or
    // forged, and saves nothing. Nor does one for the file of the other mode.
    app.wait_status(&recording_id, &host, "active").await;
    let (status, body, _) = hook(&app, Some(&auth), &event).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (StatusCode::OK, Some("Notification ignored.")),
        "{body}"
    );
    assert_eq!(
        app.recording(&recording_id, &host).await["status"],
        "active"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let other_mode = minio_event(
        "meet-media-storage",
        &key.replace(".mp4", ".ogg"),
        "audio/ogg",
    );
    let (status, body, _) = hook(&app, Some(&auth), &other_mode).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (StatusCode::OK, Some("Notification ignored.")),
        "{body}"
    );

    // Stopped, its file written: the event saves it.
    let (status, body, _) = hook(&app, Some(&auth), &event).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    let (status, _, _) = hook(&app, Some(&auth), &event).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.sent_emails().len(), 1, "no second email");

    // A recording in an error state cannot be saved by an event; the event is answered
    // 2xx all the same (a refused event would block a MinIO queue), and changes nothing.
    app.inject(json!({"fault": "egress_failure", "after_ms": 100}))
        .await;
    let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
    let failed = reply.body["recording"].clone();
    app.wait_status(failed["id"].as_str().unwrap(), &host, "failed")
        .await;
    let event = minio_event(
        "meet-media-storage",
        failed["key"].as_str().unwrap(),
        "audio/ogg",
    );
    let (status, body, _) = hook(&app, Some(&auth), &event).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (StatusCode::OK, Some("Notification ignored.")),
        "{body}"
    );
    assert_eq!(
        app.recording(failed["id"].as_str().unwrap(), &host).await["status"],
        "failed"
    );
    eventually("failure email", Duration::from_secs(10), || async {
        (app.sent_emails().len() == 2).then_some(())
    })
    .await;
}
