//! Asking the hosts for a recording: members and guests ask, hosts are told on their
//! pages and through LiveKit, each participant at most every 30 seconds.

use std::time::Duration;

use futures::future::join_all;
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::{app::*, room_events::EventStream};

async fn ask(app: &TestApp, room: &Value, user: Option<&TestUser>, body: Value) -> Reply {
    app.request(
        Method::POST,
        &format!("rooms/{}/request-recording/", room["id"].as_str().unwrap()),
        user,
        Some(body),
    )
    .await
}

async fn add_member(app: &TestApp, room: &Value, host: &TestUser, member: &TestUser) {
    let reply = app
        .post(
            &format!("rooms/{}/accesses/", room["id"].as_str().unwrap()),
            host,
            json!({"email": member.user.email, "role": "member"}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

#[tokio::test]
async fn a_member_asks_and_the_hosts_are_told_on_their_pages_and_in_livekit() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let member = app.user("member").await;
    let room = app.live_room(&host).await;
    let room_id = room["id"].as_str().unwrap().to_owned();
    add_member(&app, &room, &host, &member).await;
    let mut hosts_page = EventStream::open(&app, &room_id, &host).await;
    let first = hosts_page.next(Duration::from_secs(5)).await;
    assert_eq!(first["requests"], json!([]), "{first}");
    let mut members_page = EventStream::open(&app, &room_id, &member).await;
    let members_first = members_page.next(Duration::from_secs(5)).await;

    let reply = ask(
        &app,
        &room,
        Some(&member),
        json!({"mode": "screen_recording"}),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["mode"], "screen_recording");
    assert_eq!(reply.body["name"], member.user.full_name.clone());

    // The host's page hears of it; the member's page never carries requests.
    let event = hosts_page.next(Duration::from_secs(5)).await;
    assert_eq!(event["requests"][0]["id"], reply.body["id"], "{event}");
    assert_eq!(event["requests"][0]["mode"], "screen_recording");
    assert!(members_first.get("requests").is_none(), "{members_first}");

    // LiveKit carries the reference's message to the hosts only.
    app.wait_data_message(&room_id, "screenRecordingRequested")
        .await;
    let messages = app.livekit_room(&room_id).await["data_messages"].clone();
    let message = messages
        .as_array()
        .unwrap()
        .iter()
        .find(|m| {
            m["text"]
                .as_str()
                .unwrap()
                .contains("screenRecordingRequested")
        })
        .unwrap()
        .clone();
    assert_eq!(
        message["destination_identities"],
        json!([host.user.id.to_string()]),
        "{message}"
    );

    // Asking again at once is refused, with when to come back.
    let again = ask(&app, &room, Some(&member), json!({"mode": "transcript"})).await;
    assert_eq!(again.status, 429, "{}", again.body);
    assert_eq!(again.body["code"], "too-many-requests");
    let retry: u64 = again.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
}

#[tokio::test]
async fn asking_many_times_at_once_records_one_request() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let member = app.user("member").await;
    let room = app.live_room(&host).await;
    add_member(&app, &room, &host, &member).await;
    let replies = join_all((0..8).map(|_| {
        ask(
            &app,
            &room,
            Some(&member),
            json!({"mode": "screen_recording"}),
        )
    }))
    .await;
    let statuses: Vec<u16> = replies.iter().map(|reply| reply.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        7,
        "{statuses:?}"
    );
    let room_id = Uuid::parse_str(room["id"].as_str().unwrap()).unwrap();
    let recorded = app.db.recording_requests_since(room_id, 0).await.unwrap();
    assert_eq!(recorded.len(), 1, "{recorded:?}");
}

#[tokio::test]
async fn guests_of_public_rooms_may_ask_and_nobody_asks_what_is_already_happening() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let room = app.live_room(&host).await;
    let path = format!(
        "rooms/{}/request-recording/?name=Ada",
        room["id"].as_str().unwrap()
    );
    let reply = app
        .request(
            Method::POST,
            &path,
            None,
            Some(json!({"mode": "transcript"})),
        )
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["name"], "Ada");

    // Hosts record themselves.
    let reply = ask(
        &app,
        &room,
        Some(&host),
        json!({"mode": "screen_recording"}),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["code"], "already-host");

    // A recording already running is not asked for.
    let member = app.user("member").await;
    add_member(&app, &room, &host, &member).await;
    let started = app
        .start(&room, &host, json!({"mode": "screen_recording"}))
        .await;
    assert_eq!(started.status, 201, "{}", started.body);
    let reply = ask(
        &app,
        &room,
        Some(&member),
        json!({"mode": "screen_recording"}),
    )
    .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert_eq!(reply.body["code"], "recording-in-progress");
}

#[tokio::test]
async fn bad_requests_for_a_recording_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let host = app.user("host").await;
    let member = app.user("member").await;
    let room = app.live_room(&host).await;
    add_member(&app, &room, &host, &member).await;
    for (body, code) in [
        (json!({"mode": "podcast"}), "invalid-mode"),
        (json!({}), "invalid-json"),
        (json!({"mode": "transcript", "extra": 1}), "invalid-json"),
    ] {
        let reply = ask(&app, &room, Some(&member), body).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert_eq!(reply.body["code"], code, "{}", reply.body);
    }
    // Restricted rooms are not for guests, nor for people without access.
    let restricted = app
        .post(
            "rooms/",
            &host,
            json!({"name": "Private", "access_level": "restricted"}),
        )
        .await
        .body;
    let reply = ask(&app, &restricted, None, json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    let outsider = app.user("outsider").await;
    let reply = ask(
        &app,
        &restricted,
        Some(&outsider),
        json!({"mode": "transcript"}),
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.body);

    // Nothing was recorded: the member may still ask.
    let reply = ask(&app, &room, Some(&member), json!({"mode": "transcript"})).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
}
