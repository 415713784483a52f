//! `GET recordings/{id}/media/`: streaming a saved recording from the local directory and
//! from a real S3 server (Garage), with every Range form, conditional requests, the
//! redirect mode, permissions, expiry, and flat memory for a 200 MB file.

use futures::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{app::*, helpers::S3Env};

/// An app on local storage and one on Garage.
async fn both_storages(extra: &[(&str, &str)]) -> Vec<(&'static str, TestApp)> {
    let s3 = S3Env::from_env();
    let mut s3_pairs = s3.settings();
    s3_pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let s3_refs: Vec<(&str, &str)> = s3_pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    vec![
        ("local", spawn_app_with(extra, |_| {}).await),
        ("s3", spawn_app_with(&s3_refs, |_| {}).await),
    ]
}

/// A saved transcript recording of `host`, in a room of its own.
pub async fn saved_recording(app: &TestApp, host: &TestUser) -> Value {
    let room = app.live_room(host).await;
    app.saved_recording(host, &room, "transcript").await
}

async fn get(
    app: &TestApp,
    path: &str,
    user: &TestUser,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app
        .http
        .get(format!("{}/{path}", app.api))
        .bearer_auth(&user.token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_range_form_is_served_from_both_storages() {
    for (storage, app) in both_storages(&[]).await {
        let host = app.user("host").await;
        let recording = saved_recording(&app, &host).await;
        let path = format!("recordings/{}/media/", recording["id"].as_str().unwrap());

        let whole = get(&app, &path, &host, &[]).await;
        assert_eq!(whole.status(), 200, "{storage}");
        assert_eq!(header(&whole, "accept-ranges"), "bytes");
        assert_eq!(header(&whole, "content-type"), "audio/ogg", "{storage}");
        assert!(header(&whole, "content-disposition").starts_with("inline; filename="));
        let e_tag = header(&whole, "etag");
        assert!(!e_tag.is_empty(), "{storage}");
        let bytes = whole.bytes().await.unwrap();
        let size = bytes.len();
        assert!(size > 200, "{storage}: {size}");
        assert_eq!(recording["size_bytes"].as_u64().unwrap() as usize, size);

        // (Range header, expected status, expected inclusive byte range if partial)
        type Case = (String, u16, Option<(usize, usize)>);
        let cases: Vec<Case> = vec![
            ("bytes=0-99".into(), 206, Some((0, 99))),
            ("bytes=100-".into(), 206, Some((100, size - 1))),
            ("bytes=-50".into(), 206, Some((size - 50, size - 1))),
            (format!("bytes=-{}", size + 10), 206, Some((0, size - 1))),
            (
                format!("bytes=10-{}", size + 500),
                206,
                Some((10, size - 1)),
            ),
            ("bytes=0-1,5-6".into(), 200, None),
        ];
        for (range, status, expected) in cases {
            let response = get(&app, &path, &host, &[("range", &range)]).await;
            assert_eq!(response.status().as_u16(), status, "{storage} {range}");
            if let Some((start, end)) = expected {
                assert_eq!(
                    header(&response, "content-range"),
                    format!("bytes {start}-{end}/{size}"),
                    "{storage} {range}"
                );
                let body = response.bytes().await.unwrap();
                assert_eq!(&body[..], &bytes[start..=end], "{storage} {range}");
            } else {
                assert_eq!(response.bytes().await.unwrap().len(), size);
            }
        }
        let unsatisfiable = get(&app, &path, &host, &[("range", &format!("bytes={size}-"))]).await;
        assert_eq!(unsatisfiable.status(), 416, "{storage}");
        assert_eq!(
            header(&unsatisfiable, "content-range"),
            format!("bytes */{size}")
        );

        let cached = get(&app, &path, &host, &[("if-none-match", &e_tag)]).await;
        assert_eq!(cached.status(), 304, "{storage}");
        let download = get(&app, &format!("{path}?download=1"), &host, &[]).await;
        assert!(header(&download, "content-disposition").starts_with("attachment; filename="));
    }
}

#[tokio::test]
async fn only_owners_get_saved_unexpired_files() {
    let app = spawn_app_with(&[("RECORDING_EXPIRATION_DAYS", "1")], |_| {}).await;
    let host = app.user("host").await;
    let recording = saved_recording(&app, &host).await;
    let id = recording["id"].as_str().unwrap();
    let path = format!("recordings/{id}/media/");
    let anonymous = app.request(Method::GET, &path, None, None).await;
    assert_eq!(anonymous.status, 401);
    let stranger = app.user("stranger").await;
    assert_eq!(get(&app, &path, &stranger, &[]).await.status(), 404);

    // Not saved yet: 409.
    let room = app.live_room(&host).await;
    let reply = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    let active = reply.body["recording"]["id"].as_str().unwrap().to_owned();
    let response = get(&app, &format!("recordings/{active}/media/"), &host, &[]).await;
    assert_eq!(response.status(), 409);

    // Past its expiry: 410, even before the purge ran.
    sqlx::query("UPDATE recordings SET created_at = created_at - 172800000 WHERE id = $1")
        .bind(id)
        .execute(app.db.pool())
        .await
        .unwrap();
    let response = get(&app, &path, &host, &[]).await;
    assert_eq!(response.status(), StatusCode::GONE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "recording-expired");
}

#[tokio::test]
async fn the_purge_deletes_expired_files_once() {
    for (storage, app) in both_storages(&[("RECORDING_EXPIRATION_DAYS", "1")]).await {
        let host = app.user("host").await;
        let old = saved_recording(&app, &host).await;
        let fresh = saved_recording(&app, &host).await;
        let old_id = old["id"].as_str().unwrap();
        sqlx::query("UPDATE recordings SET created_at = created_at - 172800000 WHERE id = $1")
            .bind(old_id)
            .execute(app.db.pool())
            .await
            .unwrap();
        let dry = app
            .state
            .engine
            .expiry
            .purge_expired(true, |_, _| {})
            .await
            .unwrap();
        assert_eq!((dry.candidates, dry.expired), (1, 0), "{storage}");
        let first = app
            .state
            .engine
            .expiry
            .purge_expired(false, |_, _| {})
            .await
            .unwrap();
        assert_eq!(
            (first.candidates, first.expired, first.failed),
            (1, 1, 0),
            "{storage}"
        );
        let second = app
            .state
            .engine
            .expiry
            .purge_expired(false, |_, _| {})
            .await
            .unwrap();
        assert_eq!(
            second.candidates, 0,
            "{storage}: purging twice changes nothing"
        );
        let old_now = app.recording(old_id, &host).await;
        assert_eq!(old_now["status"], "expired");
        assert_eq!(old_now["is_expired"], true);
        let old_key = old["key"].as_str().unwrap();
        assert!(
            matches!(
                app.state.storage.head(old_key).await,
                Err(meet_recorder::adapters::storage::StorageError::NotFound)
            ),
            "{storage}: the file is gone"
        );
        let fresh_key = fresh["key"].as_str().unwrap();
        assert!(app.state.storage.head(fresh_key).await.is_ok(), "{storage}");
    }
}

#[tokio::test]
async fn s3_can_answer_with_a_presigned_redirect() {
    let s3 = S3Env::from_env();
    let mut pairs = s3.settings();
    pairs.push(("RECORDING_MEDIA_REDIRECT", "true".into()));
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(&refs, |_| {}).await;
    let host = app.user("host").await;
    let recording = saved_recording(&app, &host).await;
    let response = get(
        &app,
        &format!("recordings/{}/media/", recording["id"].as_str().unwrap()),
        &host,
        &[],
    )
    .await;
    assert_eq!(response.status(), 302);
    let location = header(&response, "location");
    let fetched = reqwest::get(&location).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(
        fetched.bytes().await.unwrap().len() as u64,
        recording["size_bytes"].as_u64().unwrap()
    );
}

/// This process's resident memory, in bytes (Linux `VmRSS`).
fn resident_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

#[tokio::test]
async fn a_200_mb_file_streams_with_flat_memory() {
    const SIZE: u64 = 200 * 1024 * 1024;
    const BOUND: u64 = 64 * 1024 * 1024;
    for (storage, app) in both_storages(&[]).await {
        let host = app.user("host").await;
        let recording = saved_recording(&app, &host).await;
        let key = recording["key"].as_str().unwrap().to_owned();
        // Replace the file with a 200 MB one, written in 8 MiB parts.
        let file = tempfile::NamedTempFile::new().unwrap();
        {
            use std::io::Write;
            let mut writer = std::io::BufWriter::new(file.as_file());
            let chunk = vec![0x5au8; 8 * 1024 * 1024];
            for _ in 0..(SIZE / chunk.len() as u64) {
                writer.write_all(&chunk).unwrap();
            }
        }
        if storage == "local" {
            std::fs::copy(file.path(), app.state.config.storage_dir.join(&key)).unwrap();
        } else {
            let target = livekit_emulator::storage::UploadTarget::S3(
                livekit_emulator::storage::S3Target::from_proto(&S3Env::from_env().upload()),
            );
            target
                .upload_file(&key, file.path(), "audio/ogg")
                .await
                .unwrap();
        }
        drop(file);

        let baseline = resident_bytes();
        let response = get(
            &app,
            &format!("recordings/{}/media/", recording["id"].as_str().unwrap()),
            &host,
            &[],
        )
        .await;
        assert_eq!(response.status(), 200, "{storage}");
        assert_eq!(header(&response, "content-length"), SIZE.to_string());
        let mut stream = response.bytes_stream();
        let (mut received, mut peak) = (0u64, baseline);
        while let Some(chunk) = stream.next().await {
            received += chunk.unwrap().len() as u64;
            peak = peak.max(resident_bytes());
        }
        assert_eq!(received, SIZE, "{storage}");
        assert!(
            peak.saturating_sub(baseline) < BOUND,
            "{storage}: resident memory grew by {} MiB while streaming 200 MiB",
            peak.saturating_sub(baseline) / 1024 / 1024
        );
    }
}
