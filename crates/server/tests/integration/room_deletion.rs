//! Deleting a room: refused while one of its recordings may still be recording; otherwise
//! its recordings' files are deleted through the job queue with the rows.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use crate::{app::*, helpers::eventually};

#[tokio::test]
async fn a_room_being_recorded_cannot_be_deleted_and_a_finished_one_takes_its_files_along() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let room_id = room["id"].as_str().unwrap();
    let path = format!("rooms/{room_id}/");

    let reply = app.start(&room, &host, json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let running = reply.body["recording"]["id"].as_str().unwrap().to_owned();
    app.wait_status(&running, &host, "active").await;
    let refused = app.request(Method::DELETE, &path, Some(&host), None).await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.body["code"], "recording-in-progress");
    assert_eq!(app.recording(&running, &host).await["status"], "active");
    assert_eq!(
        app.get(&path, &host).await.status,
        200,
        "the room is still there"
    );

    tokio::time::sleep(Duration::from_millis(500)).await;
    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let saved = app
        .wait_status(&running, &host, "notification_succeeded")
        .await;
    let file = app
        .state
        .config
        .storage_dir
        .join(saved["key"].as_str().unwrap());
    assert!(file.exists(), "{}", file.display());

    let deleted = app.request(Method::DELETE, &path, Some(&host), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(app.get(&path, &host).await.status, 404);
    assert_eq!(app.recording_count(room_id).await, 0);
    eventually("the file deleted", Duration::from_secs(10), || async {
        (!file.exists()).then_some(())
    })
    .await;
}
