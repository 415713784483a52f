//! Auto-record: a room set to record by itself starts its modes when the first person
//! joins and stops them when the last one leaves (LiveKit's participant webhooks, through
//! a job), owned by the room's first owner; hosts still stop by hand.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    app::*,
    helpers::{eventually, unique},
};

async fn configure(app: &TestApp, room: &Value, user: &TestUser, configuration: Value) -> Reply {
    app.request(
        Method::PATCH,
        &format!("rooms/{}/", room["id"].as_str().unwrap()),
        Some(user),
        Some(json!({ "configuration": configuration })),
    )
    .await
}

/// The room's recordings as its owner lists them, newest first.
async fn recordings_of(app: &TestApp, owner: &TestUser, room: &Value) -> Vec<Value> {
    let reply = app.get("recordings/", owner).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["room"]["id"] == room["id"])
        .cloned()
        .collect()
}

/// Waits for the room's auto-started recording to be active.
async fn auto_started(app: &TestApp, owner: &TestUser, room: &Value) -> Value {
    eventually(
        "an auto-started recording",
        Duration::from_secs(20),
        || async {
            recordings_of(app, owner, room)
                .await
                .into_iter()
                .find(|r| r["status"] == "active")
        },
    )
    .await
}

#[tokio::test]
async fn an_auto_recorded_room_records_while_people_are_in_it() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.room(&host).await;
    let room_id = room["id"].as_str().unwrap().to_owned();
    let reply = configure(
        &app,
        &room,
        &host,
        json!({"auto_record": ["screen_recording"], "theme": "dark"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["configuration"]["auto_record"],
        json!(["screen_recording"])
    );
    assert_eq!(reply.body["configuration"]["theme"], "dark");

    // The first person in starts it, with nobody clicking anything.
    let people = app.livekit.participants();
    people.join(&room_id, &unique("alice"), "Alice");
    let recording = auto_started(&app, &host, &room).await;
    let recording_id = recording["id"].as_str().unwrap().to_owned();
    assert_eq!(recording["mode"], "screen_recording");
    eventually("participants see it", Duration::from_secs(10), || async {
        (app.room_metadata(&room_id).await["recording_status"] == "started").then_some(())
    })
    .await;

    // A second person joining starts nothing more.
    let bob = unique("bob");
    people.join(&room_id, &bob, "Bob");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(recordings_of(&app, &host, &room).await.len(), 1);

    // When the room empties it stops, and its owner gets the file.
    for participant in app.livekit_room(&room_id).await["participants"]
        .as_array()
        .unwrap()
        .clone()
    {
        people.leave(&room_id, participant["identity"].as_str().unwrap());
    }
    let saved = app
        .wait_status(&recording_id, &host, "notification_succeeded")
        .await;
    assert!(
        saved["size_bytes"].as_i64().unwrap_or_default() > 0,
        "{saved}"
    );
    assert!(
        app.sent_emails()
            .iter()
            .any(|email| email.contains(&recording_id)),
        "the owner is emailed the auto-recording"
    );
}

#[tokio::test]
async fn a_host_can_stop_an_auto_recording_and_it_does_not_start_again_while_people_stay() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.room(&host).await;
    let room_id = room["id"].as_str().unwrap().to_owned();
    let reply = configure(
        &app,
        &room,
        &host,
        json!({"auto_record": ["screen_recording"]}),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let people = app.livekit.participants();
    people.join(&room_id, &unique("alice"), "Alice");
    let recording = auto_started(&app, &host, &room).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let reply = app.stop(&room, &host, json!({})).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    app.wait_status(
        recording["id"].as_str().unwrap(),
        &host,
        "notification_succeeded",
    )
    .await;

    // Someone else joining a room with people in it is not a new meeting.
    people.join(&room_id, &unique("bob"), "Bob");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let recordings = recordings_of(&app, &host, &room).await;
    assert_eq!(recordings.len(), 1, "{recordings:?}");
}

#[tokio::test]
async fn auto_record_settings_are_checked_and_only_hosts_change_them() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.room(&host).await;
    for (configuration, expected) in [
        (json!("dark"), "configuration must be a JSON object."),
        (
            json!({"auto_record": "transcript"}),
            "configuration.auto_record must be a list",
        ),
        (json!({"auto_record": ["podcast"]}), "unknown mode: podcast"),
        (
            json!({"auto_record": ["transcript", "transcript"]}),
            "names transcript twice",
        ),
        (json!({"blob": "x".repeat(20_000)}), "at most 16384 bytes"),
    ] {
        let reply = configure(&app, &room, &host, configuration).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.body["code"], "invalid-configuration");
        assert!(
            reply.body["detail"].as_str().unwrap().contains(expected),
            "{}",
            reply.body
        );
    }
    // A participant without rights on the room cannot change it.
    let member = app.user("member").await;
    let reply = app
        .post(
            &format!("rooms/{}/accesses/", room["id"].as_str().unwrap()),
            &host,
            json!({"email": member.user.email, "role": "member"}),
        )
        .await;
    assert!(reply.status.is_success(), "{}", reply.body);
    let reply = configure(
        &app,
        &room,
        &member,
        json!({"auto_record": ["screen_recording"]}),
    )
    .await;
    assert_eq!(reply.status, 403, "{}", reply.body);

    // Nothing was stored.
    let reply = app
        .get(&format!("rooms/{}/", room["id"].as_str().unwrap()), &host)
        .await;
    assert_eq!(reply.body["configuration"], json!({}), "{}", reply.body);
}
